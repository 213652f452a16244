"""When human agents are online: SUPPORT_HOURS, SUPPORT_TIMEZONE and SUPPORT_CLOSED_DATES.

Shared by the bot's actions and the handoff service (both import this module), so the
bot's "agents are offline" and the service's offline tickets always agree.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime, time, timezone
from typing import FrozenSet, Optional
from zoneinfo import ZoneInfo

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DEFAULT_HOURS = "Mon-Fri 10:00-18:00"
DEFAULT_TIMEZONE = "Asia/Tokyo"
DEFAULT_CLOSED = "12-29,12-30,12-31,01-01,01-02,01-03"

_SPEC = re.compile(r"^\s*(\w{3})(?:-(\w{3}))?\s+(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class SupportHours:
    always: bool
    never: bool
    days: FrozenSet[int]
    start: time
    end: time
    zone: ZoneInfo
    closed: FrozenSet[str]

    @classmethod
    def parse(cls, hours: str = DEFAULT_HOURS, zone: str = DEFAULT_TIMEZONE,
              closed: str = DEFAULT_CLOSED) -> "SupportHours":
        """Reads "Mon-Fri 10:00-18:00" (or "always" / "never"); raises ValueError when malformed."""
        spec = hours.strip().lower()
        closed_days = frozenset(d.strip() for d in closed.split(",") if d.strip())
        for day in closed_days:
            if not re.fullmatch(r"\d{2}-\d{2}", day):
                raise ValueError(f"SUPPORT_CLOSED_DATES: {day!r} is not MM-DD")
        if spec in ("always", "never"):
            return cls(spec == "always", spec == "never", frozenset(), time(0), time(0),
                       ZoneInfo(zone), closed_days)
        match = _SPEC.match(spec)
        if not match or match.group(1) not in DAYS or (match.group(2) and match.group(2) not in DAYS):
            raise ValueError(f"SUPPORT_HOURS must look like 'Mon-Fri 10:00-18:00', not {hours!r}")
        first = DAYS.index(match.group(1))
        last = DAYS.index(match.group(2) or match.group(1))
        days = frozenset(d % 7 for d in range(first, last + 1 if last >= first else last + 8))
        start = time(int(match.group(3)), int(match.group(4)))
        end = time(int(match.group(5)), int(match.group(6)))
        if end <= start:
            raise ValueError(f"SUPPORT_HOURS: the end {end} must be after the start {start}")
        return cls(False, False, days, start, end, ZoneInfo(zone), closed_days)

    @classmethod
    def from_env(cls, environ=os.environ) -> "SupportHours":
        return cls.parse(environ.get("SUPPORT_HOURS", DEFAULT_HOURS),
                         environ.get("SUPPORT_TIMEZONE", DEFAULT_TIMEZONE),
                         environ.get("SUPPORT_CLOSED_DATES", DEFAULT_CLOSED))

    def is_open(self, when: Optional[datetime] = None) -> bool:
        if self.always or self.never:
            return self.always
        local = (when or datetime.now(timezone.utc)).astimezone(self.zone)
        if local.strftime("%m-%d") in self.closed:
            return False
        return local.weekday() in self.days and self.start <= local.time() < self.end
