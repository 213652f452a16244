"""The queue agents work from, and what a waiting customer is told about it.

Order: priority (high first), then the time the conversation joined the queue.

The estimated wait comes from how fast the queue is actually served: the live claims of the last
QUEUE_ETA_WINDOW_MINUTES, per agent who made them, times the agents online now. Offline tickets
(opened outside support hours or with nobody there) never count: one claimed the next morning
says nothing about how fast the live queue moves. With no claims in the window, each position
counts QUEUE_DEFAULT_WAIT_SECONDS shared by the agents online; with no agent online there is no
estimate (None), since nobody is serving the queue at any rate.

"Online" is the agents' presence (handoff/presence.py): online in the console, whose console was
heard from in the last PRESENCE_TIMEOUT_SECONDS. Away agents are not serving the queue.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Optional

from sqlalchemy import func, or_, select

from .database import utcnow
from .lifecycle import Status
from .presence import online_agent_ids
from .models import Conversation, Message, MetricEvent
from .listeners.metrics_listener import OFFLINE_CLAIM
from .transcript import iso


@dataclass(frozen=True)
class WaitEstimate:
    """The wait estimate's settings (handoff/config.py)."""
    window_minutes: int = 60
    presence_timeout: float = 90
    default_wait: int = 120

    @classmethod
    def from_config(cls, config) -> "WaitEstimate":
        return cls(config["QUEUE_ETA_WINDOW_MINUTES"], config["PRESENCE_TIMEOUT_SECONDS"],
                   config["QUEUE_DEFAULT_WAIT_SECONDS"])


def live_claims():
    """metric_events rows of claims from the live queue (not offline tickets)."""
    return (MetricEvent.name == "claimed", or_(MetricEvent.label.is_(None), MetricEvent.label != OFFLINE_CLAIM))


def queue_order():
    return (Conversation.priority_rank, Conversation.queued_at, Conversation.id)


def waiting_ids(session) -> list[str]:
    """Live customers waiting for an agent, in the order they will be served."""
    return list(session.scalars(select(Conversation.id).where(Conversation.status == Status.WAITING.value)
                                .order_by(*queue_order())))


def seconds_per_position(session, estimate: WaitEstimate, now: Optional[datetime] = None) -> Optional[float]:
    """Seconds each place in the queue adds to the wait, or None when no agent is online."""
    now = now or utcnow()
    online = len(online_agent_ids(session, now, estimate.presence_timeout))
    if not online:
        return None
    window = estimate.window_minutes * 60
    claimers = list(session.scalars(select(MetricEvent.agent_id).where(
        *live_claims(), MetricEvent.at >= now - timedelta(seconds=window), MetricEvent.at <= now)))
    if not claimers:
        return estimate.default_wait / online
    # Claims per second per agent who claimed in the window, times the agents there now.
    staff_then = len({agent_id for agent_id in claimers if agent_id is not None}) or 1
    return window * staff_then / (len(claimers) * online)


def position_of(conversation_id: str, positions: dict[str, int],
                per_position: Optional[float]) -> Optional[dict[str, Any]]:
    position = positions.get(conversation_id)
    if position is None:
        return None
    eta = None if per_position is None else int(round(position * per_position))
    return {"position": position, "eta_seconds": eta}


def snapshot(session, estimate: WaitEstimate) -> dict[str, Any]:
    """What the queue broadcast carries: every waiting conversation's place, so each stream
    looks up its own in constant time (hundreds of waiting streams read every broadcast)."""
    positions = {conversation_id: place for place, conversation_id in enumerate(waiting_ids(session), start=1)}
    return {"positions": positions,
            "seconds_per_position": seconds_per_position(session, estimate) if positions else None,
            "offline": session.scalar(select(func.count()).select_from(Conversation)
                                      .where(Conversation.status == Status.OFFLINE.value))}


def queue_items(session, language: Optional[str] = None, sla=None) -> list[dict[str, Any]]:
    """Waiting conversations and offline tickets, for the agents' queue view; with `sla` (a
    handoff/sla.SlaPolicy), each with its SLA clocks."""
    query = select(Conversation).where(Conversation.status.in_([Status.WAITING.value, Status.OFFLINE.value]))
    if language:
        query = query.where(Conversation.language == language)
    conversations = list(session.scalars(query.order_by(*queue_order())))
    firsts = first_questions(session, [c.id for c in conversations])
    now = utcnow()
    return [{
        "id": c.id, "status": c.status, "language": c.language, "reason": c.handoff_reason,
        "priority": c.priority, "wait_seconds": int((now - c.queued_at).total_seconds()) if c.queued_at else 0,
        "queued_at": iso(c.queued_at), "first_question": firsts.get(c.id), "offline": bool(c.offline), "email": c.email,
        **({"sla": sla.status(c)} if sla is not None else {}),
        "channel": c.channel, "channel_address": c.channel_address, "customer_name": c.customer_name,
    } for c in conversations]


def first_questions(session, conversation_ids: list[str]) -> dict[str, str]:
    if not conversation_ids:
        return {}
    first_seq = (select(Message.conversation_id, func.min(Message.seq).label("seq"))
                 .where(Message.sender == "customer", Message.conversation_id.in_(conversation_ids))
                 .group_by(Message.conversation_id).subquery())
    rows = session.execute(select(Message.conversation_id, Message.text).join(
        first_seq, (Message.conversation_id == first_seq.c.conversation_id) & (Message.seq == first_seq.c.seq)))
    return {cid: text for cid, text in rows}


def last_message_times(session, conversation_ids: list[str]) -> dict[str, datetime]:
    if not conversation_ids:
        return {}
    return dict(session.execute(select(Message.conversation_id, func.max(Message.created_at))
                                .where(Message.conversation_id.in_(conversation_ids))
                                .group_by(Message.conversation_id)).all())
