"""The KPI dashboard's figures, computed from metric_events over a date range (support time zone)."""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any, Optional
from zoneinfo import ZoneInfo

from sqlalchemy import select

from intents import NOT_TOPICS
from .models import Agent, Conversation, MetricEvent
from .transcript import iso


def percentile(values: list[float], share: float) -> Optional[float]:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(share * len(ordered))))
    return round(ordered[rank - 1], 1)


def _rate(part: int, whole: int) -> Optional[float]:
    return round(part / whole, 4) if whole else None


def _mean(values: list[float]) -> Optional[float]:
    return round(sum(values) / len(values), 2) if values else None


def day_range(first: date, last: date, timezone: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(timezone)
    return (datetime.combine(first, time.min, zone), datetime.combine(last + timedelta(days=1), time.min, zone))


def dashboard(session, first: date, last: date, timezone: str) -> dict[str, Any]:
    start, end = day_range(first, last, timezone)
    rows = session.execute(select(MetricEvent.name, MetricEvent.label, MetricEvent.value, MetricEvent.agent_id,
                                  MetricEvent.conversation_id, MetricEvent.at)
                           .where(MetricEvent.at >= start, MetricEvent.at < end)).all()
    by_name: dict[str, list] = defaultdict(list)
    for row in rows:
        by_name[row.name].append(row)

    conversations = len(by_name["conversation_started"])
    handoffs = by_name["handoff"]
    handed_off = {r.conversation_id for r in handoffs}
    answered, fallbacks = by_name["topic_answered"], by_name["fallback"]
    bot_turns = len(answered) + len(fallbacks)
    waits = [r.value for r in by_name["claimed"] if r.value is not None]
    first_replies = [r.value for r in by_name["first_agent_reply"] if r.value is not None]
    handles = [r.value for r in by_name["resolved"] if r.value is not None]
    csat = [int(r.value) for r in by_name["rated"] if r.label == "csat"]
    ces = [int(r.value) for r in by_name["rated"] if r.label == "ces"]
    topics = Counter(r.label for r in answered if r.label not in NOT_TOPICS)

    per_agent: dict[int, dict[str, Any]] = defaultdict(lambda: {"claimed": 0, "resolved": 0, "handle_seconds": []})
    for r in by_name["claimed"]:
        if r.agent_id is not None:
            per_agent[r.agent_id]["claimed"] += 1
    for r in by_name["resolved"]:
        if r.agent_id is not None and r.value is not None:
            per_agent[r.agent_id]["resolved"] += 1
            per_agent[r.agent_id]["handle_seconds"].append(r.value)
    agents = dict(session.execute(select(Agent.id, Agent.name)).all())
    open_now = Counter(session.scalars(select(Conversation.agent_id).where(Conversation.status == "assigned")))
    for agent_id in open_now:
        per_agent[agent_id]  # noqa: B018 - an agent with open work but no claim in range still shows

    return {
        "from": first.isoformat(), "to": last.isoformat(), "timezone": timezone,
        "conversations": conversations,
        "containment_rate": _rate(conversations - len(handed_off), conversations),
        "handoff_rate": _rate(len(handed_off), conversations),
        "handoffs": len(handoffs),
        "handoff_reasons": dict(Counter(r.label for r in handoffs)),
        "fallback_rate": _rate(len(fallbacks), bot_turns),
        "top_topics": [{"topic": topic, "count": count} for topic, count in topics.most_common(10)],
        "queue_wait_seconds": {"p50": percentile(waits, 0.5), "p90": percentile(waits, 0.9), "count": len(waits)},
        "first_response_seconds": {"p50": percentile(first_replies, 0.5), "p90": percentile(first_replies, 0.9),
                                   "count": len(first_replies)},
        "handle_seconds": {"p50": percentile(handles, 0.5), "p90": percentile(handles, 0.9),
                           "mean": _mean(handles), "count": len(handles)},
        "csat": {"average": _mean(csat), "count": len(csat),
                 "distribution": {str(score): csat.count(score) for score in range(1, 6)},
                 "satisfied_rate": _rate(sum(1 for s in csat if s >= 4), len(csat))},
        "effort": {"average": _mean(ces), "count": len(ces),
                   "distribution": {str(score): ces.count(score) for score in range(1, 6)}},
        "per_day": _per_day(by_name, first, last, timezone),
        "recent_ratings": _recent_ratings(session, start, end, agents),
        "agents": [{"agent_id": agent_id, "name": agents.get(agent_id, ""), "claimed": figures["claimed"],
                    "resolved": figures["resolved"], "open": open_now.get(agent_id, 0),
                    "handle_seconds_mean": _mean(figures["handle_seconds"])}
                   for agent_id, figures in sorted(per_agent.items())],
    }


def _per_day(by_name: dict[str, list], first: date, last: date, timezone: str) -> list[dict[str, Any]]:
    """Conversations started and handoffs on each day of the range (support time zone), zeros included."""
    zone = ZoneInfo(timezone)
    days = {first + timedelta(days=n): {"conversations": 0, "handoffs": 0} for n in range((last - first).days + 1)}
    for name, key in (("conversation_started", "conversations"), ("handoff", "handoffs")):
        for row in by_name[name]:
            day = days.get(row.at.astimezone(zone).date())
            if day is not None:
                day[key] += 1
    return [{"date": day.isoformat(), **counts} for day, counts in days.items()]


def _recent_ratings(session, start: datetime, end: datetime, agents: dict[int, str], limit: int = 20) -> list[dict]:
    """The latest ratings in the range, newest first, with the customer's comment."""
    rows = session.execute(select(Conversation.id, Conversation.csat, Conversation.ces, Conversation.rating_comment,
                                  Conversation.rated_at, Conversation.agent_id)
                           .where(Conversation.rated_at >= start, Conversation.rated_at < end)
                           .order_by(Conversation.rated_at.desc()).limit(limit)).all()
    return [{"conversation_id": r.id, "csat": r.csat, "ces": r.ces, "comment": r.rating_comment,
             "rated_at": iso(r.rated_at), "agent_name": agents.get(r.agent_id) if r.agent_id is not None else None}
            for r in rows]
