"""Server-Sent Event streams: the customer's (resumable with Last-Event-ID) and the agents'.

A stream subscribes before it reads the stored events, so nothing committed in between is
missed; anything seen twice is dropped by its event id. Event ids of one conversation commit in
order (they are handed out under its row lock), so a gap in what arrives live means the missing
events are already stored: the stream reads them instead of waiting.
"""
from __future__ import annotations

import json
import time
from typing import Callable, Iterator, Optional

from sqlalchemy import select

from .agent_queue import WaitEstimate, position_of, snapshot
from .database import Database
from .listeners.live_push_listener import AGENTS_CHANNEL, conversation_channel
from .listeners.queue_listener import QUEUE_CHANNEL
from .live import RESYNC
from .models import Conversation, StreamEvent


def sse(event: str, data, event_id: Optional[int] = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"{head}event: {event}\ndata: {body}\n\n"


def _stored_events(db: Database, conversation_id: str, after: int) -> list[StreamEvent]:
    with db.reading() as session:
        return list(session.scalars(select(StreamEvent).where(
            StreamEvent.conversation_id == conversation_id, StreamEvent.event_id > after)
            .order_by(StreamEvent.event_id).limit(5000)))


class StreamSettings:
    def __init__(self, heartbeat: float, max_seconds: float, wait_estimate: WaitEstimate):
        self.heartbeat = heartbeat
        self.max_seconds = max_seconds
        self.wait_estimate = wait_estimate


def customer_stream(db: Database, broker, settings: StreamSettings, conversation_id: str,
                    last_event_id: int) -> Iterator[str]:
    subscription = broker.subscribe([conversation_channel(conversation_id), QUEUE_CHANNEL])
    try:
        yield "retry: 2000\n\n"
        sent = last_event_id
        for stored in _stored_events(db, conversation_id, sent):
            yield sse(stored.type, stored.data, stored.event_id)
            sent = stored.event_id
        with db.reading() as session:
            status = session.scalar(select(Conversation.status).where(Conversation.id == conversation_id))
            last_queue = None
            if status == "waiting":
                state = snapshot(session, settings.wait_estimate)
                last_queue = position_of(conversation_id, state["positions"], state["seconds_per_position"])
                if last_queue:
                    yield sse("queue", last_queue)
        for item in _items_or_heartbeats(subscription, settings):
            if item is None:
                yield ": heartbeat\n\n"
                continue
            channel, payload = item
            if channel == QUEUE_CHANNEL:
                place = position_of(conversation_id, payload["positions"], payload["seconds_per_position"])
                if place is not None and place != last_queue:
                    yield sse("queue", place)
                last_queue = place
                continue
            event_id = payload.get("id")
            if channel == RESYNC or (event_id is not None and event_id > sent + 1):
                for stored in _stored_events(db, conversation_id, sent):
                    yield sse(stored.type, stored.data, stored.event_id)
                    sent = stored.event_id
            if channel == RESYNC:
                continue
            if event_id is None:  # fleeting (typing)
                yield sse(payload["event"], payload["data"])
            elif event_id > sent:
                yield sse(payload["event"], payload["data"], event_id)
                sent = event_id
    finally:
        subscription.close()


def _items_or_heartbeats(subscription, settings: StreamSettings):
    """Published items, or None every `heartbeat` seconds of quiet, until the stream's time is up
    or the subscription fell behind (the browser then reconnects and resumes)."""
    deadline = time.monotonic() + settings.max_seconds
    while time.monotonic() < deadline and not subscription.overflowed:
        yield subscription.get(timeout=settings.heartbeat)


def agent_stream(broker, settings: StreamSettings, agent_id: int,
                 still_signed_in: Optional[Callable[[], bool]] = None) -> Iterator[str]:
    """Queue changes for everyone; message, status, typing and note events of the agent's own
    conversations (status also to the agent a conversation was transferred away from).

    Ends with a `signed_out` event as soon as the agent's sessions are ended (deactivation, password
    reset: announced on the agents' channel), and at the latest at the next heartbeat, where
    still_signed_in() checks the account (the CLI, in another process without Redis, cannot announce)."""
    subscription = broker.subscribe([AGENTS_CHANNEL, QUEUE_CHANNEL])
    try:
        yield "retry: 2000\n\n"
        yield sse("ready", {"agent_id": agent_id})
        for item in _items_or_heartbeats(subscription, settings):
            if item is None:
                if still_signed_in is not None and not still_signed_in():
                    yield sse("signed_out", {})
                    return
                yield ": heartbeat\n\n"
                continue
            channel, payload = item
            if channel != RESYNC and payload.get("event") == "session_ended":
                if payload.get("agent_id") == agent_id and (still_signed_in is None or not still_signed_in()):
                    yield sse("signed_out", {})
                    return
                continue
            if channel == RESYNC:
                yield sse("resync", {})  # the console reloads what it shows
            elif channel == QUEUE_CHANNEL:
                yield sse("queue", {"conversation_id": payload.get("conversation_id"), "change": payload.get("change"),
                                    "waiting": len(payload["positions"]), "offline": payload.get("offline", 0)})
            elif agent_id in (payload.get("agent_id"), payload.get("previous_agent_id")) or payload["event"] == "note":
                yield sse(payload["event"], dict(payload["data"], conversation_id=payload["conversation_id"]))
    finally:
        subscription.close()
