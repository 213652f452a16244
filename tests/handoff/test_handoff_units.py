"""Pure pieces: card masking, support hours, rate limiting, parsing Rasa's answers."""
from __future__ import annotations

import random
import secrets
import time
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings, strategies as st

from handoff.config import parse_rate
from handoff.errors import RateLimited
from handoff.masking import luhn_valid, mask_card_numbers
from handoff.rasa import RasaUnavailable, parse_turn
from handoff.live import RedisBroker
from handoff.rate_limits import MemoryCounter, RateLimiter, RedisCounter
from support_hours import SupportHours


def luhn_complete(prefix: str) -> str:
    for check in "0123456789":
        if luhn_valid(prefix + check):
            return prefix + check
    raise AssertionError


@pytest.mark.parametrize("text, expected", [
    ("4111 1111 1111 1111", "**** **** **** 1111"),
    ("4111-1111-1111-1111", "****-****-****-1111"),
    ("card:4111111111111111.", "card:************1111."),
    ("４１１１１１１１１１１１１１１１", "************１１１１"),
    ("amex 3782 822463 10005 ok", "amex **** ****** *0005 ok"),
    ("4111 1111 1111 1111 2025", "**** **** **** 1111 2025"),  # a card followed by a year
    ("4111111111111112", "4111111111111112"),  # fails Luhn: an order number, not a card
    ("090-1234-5678", "090-1234-5678"),  # a phone number is too short
    ("123456789012", "123456789012"),
    ("41111111111111111111111", "41111111111111111111111"),  # 23 digits in one run: not a card
    ("", ""),
])
def test_masking_examples(text, expected):
    assert mask_card_numbers(text) == expected


@settings(max_examples=200, deadline=None, database=None)
@given(length=st.integers(13, 19), seed=st.integers(0, 2**32), separator=st.sampled_from(["", " ", "-"]),
       before=st.text(alphabet="abc ", max_size=10), after=st.text(alphabet="xyz ", max_size=10))
def test_any_card_number_in_any_text_is_masked(length, seed, separator, before, after):
    rng = random.Random(seed)
    number = luhn_complete("".join(rng.choice("0123456789") for _ in range(length - 1)))
    groups = [number[i:i + 4] for i in range(0, length, 4)]
    masked = mask_card_numbers(f"{before} {separator.join(groups)} {after}")
    digits = "".join(c for c in masked if c.isdigit())
    assert digits == number[-4:]  # only the last four digits survive
    assert masked.startswith(before) and masked.endswith(after)


def test_support_hours_default_is_weekdays_ten_to_six_in_tokyo():
    hours = SupportHours.parse("Mon-Fri 10:00-18:00", "Asia/Tokyo", ("12-29", "12-30", "12-31", "01-01", "01-02", "01-03"))
    tuesday_noon_jst = datetime(2025, 6, 3, 3, 0, tzinfo=timezone.utc)
    assert hours.is_open(tuesday_noon_jst)
    assert not hours.is_open(datetime(2025, 6, 3, 9, 30, tzinfo=timezone.utc))  # 18:30 JST
    assert not hours.is_open(datetime(2025, 6, 7, 3, 0, tzinfo=timezone.utc))  # Saturday
    assert not hours.is_open(datetime(2025, 12, 30, 3, 0, tzinfo=timezone.utc))  # year-end holiday, a Tuesday
    assert SupportHours.parse("always", "Asia/Tokyo", ()).is_open(datetime(2025, 12, 30, tzinfo=timezone.utc))
    assert not SupportHours.parse("never", "Asia/Tokyo", ()).is_open(tuesday_noon_jst)
    weekend = SupportHours.parse("Mon-Fri 10:00-18:00; Sat 10:00-14:00", "Asia/Tokyo", ())
    assert weekend.is_open(datetime(2025, 6, 7, 3, 0, tzinfo=timezone.utc))
    with pytest.raises(ValueError):
        SupportHours.parse("weekdays 9 to 5", "Asia/Tokyo", ())


def test_rate_limiter_counts_per_key_and_window():
    limiter = RateLimiter(MemoryCounter())
    for _ in range(3):
        limiter.check("conversation", "a", "3/minute", now=150.0)
    with pytest.raises(RateLimited) as refused:
        limiter.check("conversation", "a", "3/minute", now=170.0)
    assert refused.value.headers["Retry-After"] == "40"
    limiter.check("conversation", "b", "3/minute", now=170.0)  # another key
    # The window runs from the first hit, not from the clock's minute: 180 s is still inside it.
    with pytest.raises(RateLimited):
        limiter.check("conversation", "a", "3/minute", now=180.0)
    limiter.check("conversation", "a", "3/minute", now=210.0)  # the next window
    assert parse_rate("10/second") == (10, 1) and parse_rate("5/hours") == (5, 3600)


def test_rasa_answers_in_both_channel_shapes_and_garbage_is_unavailable():
    gateway = parse_turn({"messages": [{"recipient_id": "c", "text": "hi"},
                                       {"recipient_id": "c", "custom": {"handoff": {"reason": "complaint"}}}],
                          "nlu": {"intent": {"name": "greet", "confidence": 0.9}}})
    assert gateway.messages == [{"text": "hi", "buttons": None}]
    assert gateway.handoff == {"reason": "complaint"} and gateway.nlu["intent"]["name"] == "greet"
    rest = parse_turn([{"recipient_id": "c", "text": "hello", "buttons": [{"title": "Yes", "payload": "/affirm"}]}])
    assert rest.nlu is None and rest.messages[0]["buttons"] == [{"title": "Yes", "payload": "/affirm"}]
    with pytest.raises(RasaUnavailable):
        parse_turn("oops")


def test_redis_rate_limits_are_shared_by_processes_and_start_at_the_first_hit(redis_url):
    prefix = f"tsunagi-test-{secrets.token_hex(4)}:"
    one, two = (RateLimiter(RedisCounter(RedisBroker(redis_url, prefix)), prefix) for _ in range(2))
    one.check("login", "10.0.0.1", "3/minute")
    two.check("login", "10.0.0.1", "3/minute")
    one.check("login", "10.0.0.1", "3/minute")
    with pytest.raises(RateLimited) as refused:
        two.check("login", "10.0.0.1", "3/minute")  # the other process counted the first three
    assert 1 <= int(refused.value.headers["Retry-After"]) <= 60
    two.check("login", "10.0.0.2", "3/minute")  # another address
    two.check("login", "10.0.0.3", "2/second")
    two.check("login", "10.0.0.3", "2/second")
    with pytest.raises(RateLimited):
        one.check("login", "10.0.0.3", "2/second")
    # Time passing is the subject here, so a sleep, not a wait on a condition: the 1-second window
    # that began at the first hit is over (Redis expired its count) and the address may try again.
    time.sleep(1.1)
    two.check("login", "10.0.0.3", "2/second")
