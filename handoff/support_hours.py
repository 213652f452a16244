"""Support hours: when agents are online (shared with the bot, see docs/architecture.md)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_RANGE = re.compile(r"^(?P<d1>[a-z]{3})(?:-(?P<d2>[a-z]{3}))?\s+(?P<t1>\d{1,2}:\d{2})-(?P<t2>\d{1,2}:\d{2})$")


@dataclass(frozen=True)
class SupportHours:
    spec: str
    timezone: str
    closed_dates: tuple[str, ...]

    def __post_init__(self):
        ZoneInfo(self.timezone)  # fail at start-up on a misspelt zone, not on the first handoff
        self.windows  # same for a malformed SUPPORT_HOURS

    @property
    def windows(self) -> list[tuple[set[int], time, time]]:
        text = self.spec.strip().lower()
        if text in ("always", "never"):
            return []
        windows = []
        for part in text.split(";"):
            match = _RANGE.match(part.strip())
            if not match or match["d1"] not in _DAYS or (match["d2"] and match["d2"] not in _DAYS):
                raise ValueError(f"SUPPORT_HOURS: cannot read {part.strip()!r} (expected e.g. 'Mon-Fri 10:00-18:00')")
            first = _DAYS.index(match["d1"])
            last = _DAYS.index(match["d2"] or match["d1"])
            days = {d % 7 for d in range(first, last + 1 if last >= first else last + 8)}
            start = time.fromisoformat(match["t1"].zfill(5))
            end = time.fromisoformat(match["t2"].zfill(5)) if match["t2"] != "24:00" else time.max
            windows.append((days, start, end))
        return windows

    def is_open(self, moment: datetime) -> bool:
        text = self.spec.strip().lower()
        if text == "always":
            return True
        if text == "never":
            return False
        local = moment.astimezone(ZoneInfo(self.timezone))
        if local.strftime("%m-%d") in self.closed_dates:
            return False
        return any(local.weekday() in days and start <= local.time() < end for days, start, end in self.windows)
