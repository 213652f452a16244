"""When human agents are online: SUPPORT_HOURS, SUPPORT_TIMEZONE, SUPPORT_CLOSED_DATES (every year)
and SUPPORT_HOLIDAYS (single dates).

One module for the bot's actions and the handoff service (both run from the repo root), so the
bot's "agents are offline" and the service's offline tickets always agree. Standard library only:
the bot's environment must not need the service's packages. Parsed once; is_open() only compares.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import FrozenSet, Iterable, List, Optional, Tuple, Union
from zoneinfo import ZoneInfo

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DEFAULT_HOURS = "Mon-Fri 10:00-18:00"
DEFAULT_TIMEZONE = "Asia/Tokyo"
DEFAULT_CLOSED = "12-29,12-30,12-31,01-01,01-02,01-03"

_RANGE = re.compile(r"^(?P<d1>[a-z]{3})(?:-(?P<d2>[a-z]{3}))?\s+(?P<h1>\d{1,2}):(?P<m1>\d{2})-(?P<h2>\d{1,2}):(?P<m2>\d{2})$")


@dataclass(frozen=True)
class Window:
    """Some days of the week, from one minute of the day up to (not including) another; 24:00 is 1440."""
    days: FrozenSet[int]
    start_minute: int
    end_minute: int

    def covers(self, weekday: int, minute: int) -> bool:
        return weekday in self.days and self.start_minute <= minute < self.end_minute


@dataclass(frozen=True)
class SupportHours:
    always: bool
    windows: Tuple[Window, ...]  # empty with always=False: never open
    zone: ZoneInfo
    closed: FrozenSet[str]       # MM-DD
    holidays: FrozenSet[str] = frozenset()  # YYYY-MM-DD

    @classmethod
    def parse(cls, hours: str = DEFAULT_HOURS, zone: str = DEFAULT_TIMEZONE,
              closed: Union[str, Iterable[str]] = DEFAULT_CLOSED,
              holidays: Union[str, Iterable[str]] = "") -> "SupportHours":
        """Reads "Mon-Fri 10:00-18:00", several ranges separated by ";" ("Mon-Fri 10:00-18:00;
        Sat 10:00-14:00"), "always" or "never"; `closed` is "MM-DD,MM-DD" or a list of MM-DD.
        Raises ValueError (naming the variable) when something is malformed."""
        closed_days = frozenset(d.strip() for d in (closed.split(",") if isinstance(closed, str) else closed)
                                if d.strip())
        for day in closed_days:
            if not re.fullmatch(r"(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])", day):
                raise ValueError(f"SUPPORT_CLOSED_DATES: {day!r} is not MM-DD")
        holiday_days = frozenset(d.strip() for d in (holidays.split(",") if isinstance(holidays, str) else holidays)
                                 if d.strip())
        for day in holiday_days:
            try:
                date.fromisoformat(day)
            except ValueError:
                raise ValueError(f"SUPPORT_HOLIDAYS: {day!r} is not a date YYYY-MM-DD") from None
        try:
            tz = ZoneInfo(zone)
        except Exception as error:  # ZoneInfoNotFoundError, or a malformed key
            raise ValueError(f"SUPPORT_TIMEZONE: unknown time zone {zone!r}") from error
        spec = hours.strip().lower()
        if spec in ("always", "never"):
            return cls(spec == "always", (), tz, closed_days, holiday_days)
        return cls(False, tuple(_window(part.strip(), hours) for part in spec.split(";")), tz, closed_days,
                   holiday_days)

    @classmethod
    def from_env(cls, environ=os.environ) -> "SupportHours":
        return cls.parse(environ.get("SUPPORT_HOURS", DEFAULT_HOURS),
                         environ.get("SUPPORT_TIMEZONE", DEFAULT_TIMEZONE),
                         environ.get("SUPPORT_CLOSED_DATES", DEFAULT_CLOSED),
                         environ.get("SUPPORT_HOLIDAYS", ""))

    def is_open(self, when: Optional[datetime] = None) -> bool:
        if self.always:
            return True
        local = (when or datetime.now(timezone.utc)).astimezone(self.zone)
        if self.closed_on(local.date()):
            return False
        minute = local.hour * 60 + local.minute
        return any(window.covers(local.weekday(), minute) for window in self.windows)

    def closed_on(self, day: date) -> bool:
        """A closed day of the year or a holiday (`always` ignores both: a 24h shop never closes)."""
        return day.strftime("%m-%d") in self.closed or day.isoformat() in self.holidays

    def open_intervals(self, day: date) -> List[Tuple[datetime, datetime]]:
        """The open stretches of one local day, as aware datetimes in the support time zone, in
        order and merged where windows touch or overlap (the SLA clocks add these up)."""
        start_of_day = datetime.combine(day, time.min, self.zone)
        if self.always:
            return [(start_of_day, datetime.combine(day + timedelta(days=1), time.min, self.zone))]
        if self.closed_on(day):
            return []
        spans = sorted((w.start_minute, w.end_minute) for w in self.windows if day.weekday() in w.days)
        merged: List[List[int]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        return [(_at_minute(day, start, self.zone), _at_minute(day, end, self.zone)) for start, end in merged]


def _window(part: str, whole: str) -> Window:
    match = _RANGE.match(part)
    if not match or match["d1"] not in DAYS or (match["d2"] and match["d2"] not in DAYS):
        raise ValueError(f"SUPPORT_HOURS must look like 'Mon-Fri 10:00-18:00' (ranges separated by ';'), "
                         f"not {whole!r}")
    first, last = DAYS.index(match["d1"]), DAYS.index(match["d2"] or match["d1"])
    days = frozenset(d % 7 for d in range(first, last + 1 if last >= first else last + 8))
    start, end = _minute(match["h1"], match["m1"], whole), _minute(match["h2"], match["m2"], whole)
    if end <= start or start >= 24 * 60:
        raise ValueError(f"SUPPORT_HOURS: in {part!r} the end must be after the start")
    return Window(days, start, end)


def _at_minute(day: date, minute: int, zone: ZoneInfo) -> datetime:
    if minute >= 24 * 60:
        return datetime.combine(day + timedelta(days=1), time.min, zone)
    return datetime.combine(day, time(minute // 60, minute % 60), zone)


def _minute(hour: str, minute: str, whole: str) -> int:
    value = int(hour) * 60 + int(minute)
    if int(minute) > 59 or value > 24 * 60:
        raise ValueError(f"SUPPORT_HOURS: {hour}:{minute} is not a time of day (00:00 to 24:00), in {whole!r}")
    return value
