from datetime import datetime, timezone

import pytest

from actions.support_hours import SupportHours

JST_WEDNESDAY_NOON = datetime(2026, 11, 18, 3, 0, tzinfo=timezone.utc)  # 12:00 JST


def test_default_hours_weekday_daytime_is_open():
    assert SupportHours.parse().is_open(JST_WEDNESDAY_NOON)


@pytest.mark.parametrize("utc", [
    datetime(2026, 11, 18, 9, 0, tzinfo=timezone.utc),   # 18:00 JST: closed (end is exclusive)
    datetime(2026, 11, 18, 0, 59, tzinfo=timezone.utc),  # 09:59 JST
    datetime(2026, 11, 21, 3, 0, tzinfo=timezone.utc),   # Saturday noon JST
    datetime(2026, 12, 30, 3, 0, tzinfo=timezone.utc),   # year-end holiday
])
def test_default_hours_closed(utc):
    assert not SupportHours.parse().is_open(utc)


def test_always_and_never():
    assert SupportHours.parse("always").is_open(datetime(2026, 12, 31, tzinfo=timezone.utc))
    assert not SupportHours.parse("never").is_open(JST_WEDNESDAY_NOON)


def test_other_zone_and_days():
    hours = SupportHours.parse("Sat-Sun 09:00-12:00", "Europe/Paris", "")
    assert hours.is_open(datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc))  # Sat 10:00 Paris
    assert not hours.is_open(datetime(2026, 11, 18, 9, 0, tzinfo=timezone.utc))


@pytest.mark.parametrize("spec", ["weekdays", "Mon-Fri 18:00-10:00", "Mon-Xyz 10:00-18:00", "Mon-Fri 10-18"])
def test_malformed_hours_are_refused_clearly(spec):
    with pytest.raises(ValueError, match="SUPPORT_HOURS"):
        SupportHours.parse(spec)
