"""The queue agents work from, and what a waiting customer is told about it.

Order: priority (high first), then the time the conversation joined the queue. A customer's
estimated wait is their position times the median wait of recent claims (last 24 hours).
"""
from __future__ import annotations

import statistics
from datetime import datetime, timedelta
from typing import Any, Optional

from sqlalchemy import func, select

from .database import utcnow
from .lifecycle import Status
from .models import Conversation, Message, MetricEvent
from .transcript import iso


def queue_order():
    return (Conversation.priority_rank, Conversation.queued_at, Conversation.id)


def waiting_ids(session) -> list[str]:
    """Live customers waiting for an agent, in the order they will be served."""
    return list(session.scalars(select(Conversation.id).where(Conversation.status == Status.WAITING.value)
                                .order_by(*queue_order())))


def seconds_per_position(session, sample: int, default: int) -> float:
    since = utcnow() - timedelta(hours=24)
    waits = list(session.scalars(
        select(MetricEvent.value).where(MetricEvent.name == "claimed", MetricEvent.at >= since,
                                        MetricEvent.value.is_not(None))
        .order_by(MetricEvent.at.desc()).limit(sample)))
    return float(statistics.median(waits)) if waits else float(default)


def position_of(conversation_id: str, positions: dict[str, int], per_position: float) -> Optional[dict[str, int]]:
    position = positions.get(conversation_id)
    if position is None:
        return None
    return {"position": position, "eta_seconds": int(round(position * per_position))}


def snapshot(session, sample: int, default: int) -> dict[str, Any]:
    """What the queue broadcast carries: every waiting conversation's place, so each stream
    looks up its own in constant time (hundreds of waiting streams read every broadcast)."""
    positions = {conversation_id: place for place, conversation_id in enumerate(waiting_ids(session), start=1)}
    return {"positions": positions, "seconds_per_position": seconds_per_position(session, sample, default),
            "offline": session.scalar(select(func.count()).select_from(Conversation)
                                      .where(Conversation.status == Status.OFFLINE.value))}


def queue_items(session, language: Optional[str] = None) -> list[dict[str, Any]]:
    """Waiting conversations and offline tickets, for the agents' queue view."""
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
