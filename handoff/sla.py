"""Service-level targets: how soon a handed-off conversation gets its first reply and is resolved,
per priority (SLA_FIRST_RESPONSE, SLA_RESOLUTION), counted in support hours only.

Both clocks start when the conversation joined the queue (or became an offline ticket) and run only
while support is open (SUPPORT_HOURS, minus SUPPORT_CLOSED_DATES and SUPPORT_HOLIDAYS): a question
left at 23:00 on a Friday is not late on Saturday. The first-response clock stops at the agent's
first reply, the resolution clock at the resolve. Nothing is stored: the clocks are read from the
conversation's own times, so the queue, the console and the dashboard always agree. The clock is
injectable (SlaPolicy.clock) for tests.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Optional

from support_hours import SupportHours

FIRST_RESPONSE, RESOLUTION = "first_response", "resolution"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_TARGET = re.compile(r"^(?P<priority>[a-z_]+)\s*=\s*(?P<amount>\d+)\s*(?P<unit>[smhd])$")
# Searching for the due time gives up after this many days without enough open time (SUPPORT_HOURS=never).
_HORIZON_DAYS = 800


def parse_targets(text: str, setting: str) -> dict[str, int]:
    """"high=5m,normal=15m" -> {"high": 300, "normal": 900}. Raises ValueError naming the setting."""
    targets: dict[str, int] = {}
    for part in (p.strip() for p in (text or "").split(",")):
        if not part:
            continue
        match = _TARGET.match(part.lower())
        if not match or int(match["amount"]) <= 0:
            raise ValueError(f"{setting} must look like 'high=5m,normal=15m' (units s, m, h, d; above zero), "
                             f"not {text!r}")
        targets[match["priority"]] = int(match["amount"]) * _UNITS[match["unit"]]
    return targets


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class SlaPolicy:
    hours: SupportHours
    first_response: dict[str, int] = field(default_factory=dict)
    resolution: dict[str, int] = field(default_factory=dict)
    clock: Callable[[], datetime] = _utcnow

    @classmethod
    def from_config(cls, config, hours: SupportHours, clock: Optional[Callable[[], datetime]] = None) -> "SlaPolicy":
        return cls(hours, parse_targets(config["SLA_FIRST_RESPONSE"], "SLA_FIRST_RESPONSE"),
                   parse_targets(config["SLA_RESOLUTION"], "SLA_RESOLUTION"), clock or _utcnow)

    def now(self) -> datetime:
        return self.clock()

    # Support-hours arithmetic

    def _days_from(self, start: datetime):
        day = start.astimezone(self.hours.zone).date() - timedelta(days=1)  # a window may start the day before in UTC
        for offset in range(_HORIZON_DAYS):
            yield day + timedelta(days=offset)

    def open_seconds(self, start: datetime, end: datetime) -> float:
        """Seconds of support hours between two instants."""
        if end <= start:
            return 0.0
        total = 0.0
        last_day: date = end.astimezone(self.hours.zone).date()
        for day in self._days_from(start):
            if day > last_day:
                break
            for opens, closes in self.hours.open_intervals(day):
                overlap = (min(closes, end) - max(opens, start)).total_seconds()
                if overlap > 0:
                    total += overlap
        return total

    def due_at(self, start: datetime, seconds: float) -> Optional[datetime]:
        """The instant `seconds` of support hours after `start` (None if support never opens)."""
        left = seconds
        for day in self._days_from(start):
            for opens, closes in self.hours.open_intervals(day):
                opens = max(opens, start)
                if closes <= opens:
                    continue
                span = (closes - opens).total_seconds()
                if span >= left:
                    return (opens + timedelta(seconds=left)).astimezone(timezone.utc)
                left -= span
        return None

    # One conversation

    def clock_of(self, kind: str, priority: Optional[str], started: Optional[datetime],
                 stopped: Optional[datetime], now: Optional[datetime] = None,
                 reached: bool = True) -> Optional[dict[str, Any]]:
        """One SLA clock: its target, due time, seconds left (negative: late by that much), whether
        it is running now and whether it was met or breached; None when the priority has no target.
        reached=False: the clock stopped without its goal (ended before any reply), so it can be
        breached (it ran out first) but never met."""
        targets = self.first_response if kind == FIRST_RESPONSE else self.resolution
        target = targets.get(priority or "normal")
        if target is None or started is None:
            return None
        now = now or self.now()
        end = stopped if stopped is not None else now
        used = self.open_seconds(started, end)
        due = self.due_at(started, target)
        return {
            "target_seconds": target,
            "due_at": due.isoformat().replace("+00:00", "Z") if due else None,
            "seconds_left": int(round(target - used)),
            "running": stopped is None and self.hours.is_open(now),
            "stopped": stopped is not None,
            "breached": used > target,
            "met": stopped is not None and reached and used <= target,
        }

    def status(self, conversation, now: Optional[datetime] = None) -> Optional[dict[str, Any]]:
        """Both clocks of a handed-off conversation (None for one the bot still has)."""
        if conversation.queued_at is None or conversation.status == "bot":
            return None
        now = now or self.now()
        # Ended before any reply (the customer left the queue, spam resolved): that clock stops too.
        first = self.clock_of(FIRST_RESPONSE, conversation.priority, conversation.queued_at,
                              conversation.first_reply_at or conversation.resolved_at, now,
                              reached=conversation.first_reply_at is not None)
        resolution = self.clock_of(RESOLUTION, conversation.priority, conversation.queued_at,
                                   conversation.resolved_at, now)
        return {FIRST_RESPONSE: first, RESOLUTION: resolution,
                "breached": bool((first and first["breached"]) or (resolution and resolution["breached"]))}
