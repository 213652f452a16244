"""Live push: turns domain events into stream events for the customer's and the agents' streams.

Customer-visible events (message, status) get the conversation's next event id and are stored
in the same transaction, so a stream that reconnects with Last-Event-ID can replay them. They are
published only after the commit. Typing is fleeting and never stored.
"""
from __future__ import annotations

from sqlalchemy import insert, select

from .. import events
from ..database import utcnow
from ..events import Event, Listener
from ..models import Agent, Conversation, StreamEvent
from ..transcript import iso, message_json, take_number

AGENTS_CHANNEL = "agents"
_INSERT_STREAM_EVENT = insert(StreamEvent.__table__)  # built once: it runs for every message

_STATUS_EVENTS = frozenset({events.HANDOFF_REQUESTED, events.OFFLINE_TICKET_OPENED, events.CLAIMED,
                            events.TRANSFERRED, events.HANDED_BACK, events.RESOLVED, events.REQUEUED})


def conversation_channel(conversation_id: str) -> str:
    return f"conversation:{conversation_id}"


def status_view(session, conversation_id: str) -> dict:
    conversation = session.get(Conversation, conversation_id, populate_existing=True)
    agent = None
    if conversation.agent_id is not None and conversation.status == "assigned":
        agent = {"name": session.scalar(select(Agent.name).where(Agent.id == conversation.agent_id))}
    return {"status": conversation.status, "agent": agent, "reason": conversation.handoff_reason}


# The account's sessions end: its open agent streams close (handoff/streams.py).
_SESSION_ENDINGS = frozenset({events.AGENT_DEACTIVATED, events.PASSWORD_RESET, events.PASSWORD_CHANGED})


class LivePushListener(Listener):
    handles = _STATUS_EVENTS | _SESSION_ENDINGS | {events.MESSAGE_CREATED, events.TYPING, events.NOTE_ADDED}

    def __init__(self, broker):
        self.broker = broker

    def on_record(self, session, event: Event) -> None:
        if event.name == events.TYPING:
            return
        if event.name in _SESSION_ENDINGS:
            event.outbox["agents"] = {"event": "session_ended", "conversation_id": None,
                                      "agent_id": event.agent_id, "data": {}}
            return
        if event.name == events.NOTE_ADDED:
            note = event.data["note"]
            event.outbox["agents"] = {"event": "note", "conversation_id": event.conversation_id, "agent_id": None,
                                      "data": {"id": note.id, "text": note.text, "agent_name": event.data["agent_name"],
                                               "created_at": iso(note.created_at)}}
            return
        if event.name == events.MESSAGE_CREATED:
            message = event.data["message"]
            kind, public = "message", message_json(message)
            internal = message_json(message, with_nlu=True) if message.sender == "customer" else public
        else:
            kind = "status"
            public = status_view(session, event.conversation_id)
            if event.name == events.OFFLINE_TICKET_OPENED:
                # Why there is nobody: support closed, or open with no agent online (the widget words
                # its leave-a-message form accordingly; WHEN_NOBODY_ONLINE).
                public["online"] = bool(event.data.get("nobody_online"))
        if "event_id" in event.data:  # numbered with the message itself (transcript.add_message)
            event_id, owner = event.data["event_id"], event.data["conversation"].agent_id
        else:
            numbered = take_number(session, event.conversation_id, "last_event_id")
            event_id, owner = numbered.value, numbered.agent_id
        if kind == "status":
            # The owner's id for the agents' consoles, which tell by it whether a conversation is
            # still theirs (after a transfer); customers see the agent's name only.
            internal = dict(public, agent_id=owner)
        session.execute(_INSERT_STREAM_EVENT, {"conversation_id": event.conversation_id, "event_id": event_id,
                                               "type": kind, "data": public, "created_at": utcnow()})
        event.outbox["customer"] = {"id": event_id, "event": kind, "data": public}
        event.outbox["agents"] = {"event": kind, "conversation_id": event.conversation_id,
                                  "agent_id": owner if owner is not None else event.agent_id,
                                  "previous_agent_id": event.data.get("from_agent_id"), "data": internal}

    def after_commit(self, event: Event) -> None:
        if event.name == events.TYPING:
            payload = {"typing": event.data["typing"], "sender": event.data["sender"]}
            if event.data["sender"] == "agent":
                payload["agent_name"] = event.data.get("agent_name")
                self.broker.publish(conversation_channel(event.conversation_id), {"event": "typing", "data": payload})
            else:
                self.broker.publish(AGENTS_CHANNEL, {"event": "typing", "conversation_id": event.conversation_id,
                                                     "agent_id": event.agent_id, "data": payload})
            return
        if "customer" in event.outbox:
            self.broker.publish(conversation_channel(event.conversation_id), event.outbox["customer"])
        if "agents" in event.outbox:
            self.broker.publish(AGENTS_CHANNEL, event.outbox["agents"])
