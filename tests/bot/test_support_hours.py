from datetime import datetime, timezone

import pytest

from support_hours import SupportHours

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


def test_several_ranges_and_midnight():
    hours = SupportHours.parse("Mon-Fri 10:00-18:00; Sat 10:00-14:00", "Asia/Tokyo", "")
    assert hours.is_open(datetime(2026, 11, 21, 3, 0, tzinfo=timezone.utc))      # Saturday noon JST
    assert not hours.is_open(datetime(2026, 11, 21, 6, 0, tzinfo=timezone.utc))  # Saturday 15:00 JST
    late = SupportHours.parse("Fri 20:00-24:00", "Asia/Tokyo", ["12-31"])
    assert late.is_open(datetime(2026, 11, 20, 14, 59, tzinfo=timezone.utc))      # Friday 23:59 JST
    assert not late.is_open(datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc))  # Saturday 00:00 JST


@pytest.mark.parametrize("spec", ["weekdays", "Mon-Fri 18:00-10:00", "Mon-Xyz 10:00-18:00", "Mon-Fri 10-18",
                                  "Mon-Fri 10:00-18:00; Sun", "Mon 10:00-24:30", "Mon 10:75-12:00"])
def test_malformed_hours_are_refused_clearly(spec):
    with pytest.raises(ValueError, match="SUPPORT_HOURS"):
        SupportHours.parse(spec)


def test_malformed_zone_and_closed_dates_are_refused():
    with pytest.raises(ValueError, match="SUPPORT_TIMEZONE"):
        SupportHours.parse(zone="Asia/Tokio")
    with pytest.raises(ValueError, match="SUPPORT_CLOSED_DATES"):
        SupportHours.parse(closed="12/31")
