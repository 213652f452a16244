"""Domain events: what happened to a conversation, recorded by the domain functions.

Each concern that reacts (live push, metrics, the queue broadcast, the bot restart) is one
Listener in handoff/listeners/. A listener may act inside the transaction that recorded the
event (on_record, e.g. to write rows that must commit with it) and after the commit
(after_commit, e.g. to push to browsers or call Rasa).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

log = logging.getLogger(__name__)

CONVERSATION_STARTED = "conversation_started"
MESSAGE_CREATED = "message_created"
BOT_ANSWERED = "bot_answered"          # the bot recognised a topic
BOT_FELL_BACK = "bot_fell_back"        # the bot did not understand
HANDOFF_REQUESTED = "handoff_requested"
ANSWER_NOT_HELPFUL = "answer_not_helpful"  # the customer said a topic's answer did not help
OFFLINE_TICKET_OPENED = "offline_ticket_opened"
CLAIMED = "claimed"
TRANSFERRED = "transferred"
HANDED_BACK = "handed_back"
RESOLVED = "resolved"
RATED = "rated"
NOTE_ADDED = "note_added"
# Answers at the agent's hand (handoff/agent_assist.py): a suggestion shown, then used or ignored.
SUGGESTION_SHOWN = "suggestion_shown"
SUGGESTION_SETTLED = "suggestion_settled"
TYPING = "typing"
REQUEUED = "requeued"  # back in the queue: its agent's account was deactivated
PRESENCE_CHANGED = "presence_changed"  # an agent went online, away or offline (handoff/presence.py)

# Staff actions (handoff/agents.py, the editor API), for the audit log (listeners/audit_listener.py).
LOGGED_IN = "logged_in"
LOGIN_FAILED = "login_failed"
LOGGED_OUT = "logged_out"
AGENT_CREATED = "agent_created"
AGENT_DEACTIVATED = "agent_deactivated"
AGENT_REACTIVATED = "agent_reactivated"
ROLE_CHANGED = "role_changed"
PASSWORD_RESET = "password_reset"
PASSWORD_CHANGED = "password_changed"
CONTENT_CHANGED = "content_changed"
# Known customers and their privacy (handoff/contacts.py, handoff/privacy.py).
CONTACT_IDENTITY_LINKED = "contact_identity_linked"
CONTACT_EXPORTED = "contact_exported"
CONTACT_ERASED = "contact_erased"
RETENTION_PURGED = "retention_purged"

# Events after which the waiting line looks different.
QUEUE_CHANGES = frozenset({HANDOFF_REQUESTED, OFFLINE_TICKET_OPENED, CLAIMED, RESOLVED, HANDED_BACK, REQUEUED})


@dataclass
class Event:
    name: str
    conversation_id: Optional[str] = None
    agent_id: Optional[int] = None
    data: dict[str, Any] = field(default_factory=dict)
    # Filled by listeners during on_record for their own after_commit step.
    outbox: dict[str, Any] = field(default_factory=dict)


class Listener:
    """One concern reacting to domain events."""

    handles: frozenset[str] = frozenset()

    def on_record(self, session, event: Event) -> None:
        """Inside the recording transaction: rows written here commit or roll back with it."""

    def after_commit(self, event: Event) -> None:
        """After the commit: side effects outside the database."""

    def after_commit_batch(self, batch: list[Event]) -> None:
        """All of one commit's events for this listener; override to act once per commit."""
        for event in batch:
            try:
                self.after_commit(event)
            except Exception:  # one failing event must not keep the others from their listener
                log.exception("listener %s failed on %s", type(self).__name__, event.name)


class Dispatcher:
    def __init__(self, listeners: Iterable[Listener]):
        self.listeners = list(listeners)

    def record(self, session, event: Event) -> None:
        for listener in self.listeners:
            if event.name in listener.handles:
                listener.on_record(session, event)
        session.info["events"].append(event)

    def after_commit(self, events: list[Event]) -> None:
        for listener in self.listeners:
            batch = [event for event in events if event.name in listener.handles]
            if batch:
                try:
                    listener.after_commit_batch(batch)
                except Exception:  # one failing concern must not break the others
                    log.exception("listener %s failed", type(listener).__name__)


def record(session, event: Event) -> None:
    """Record an event in the session's transaction (see Database.writing)."""
    dispatcher = session.info.get("dispatcher")
    if dispatcher is None:
        session.info.setdefault("events", []).append(event)
    else:
        dispatcher.record(session, event)
