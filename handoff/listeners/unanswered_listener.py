"""Unanswered questions: marks the customer question behind a handoff, and the one whose answer
did not help, so the editors see it (handoff/unanswered.py). Written in the same transaction as
the handoff or the "did not help" itself."""
from __future__ import annotations

from .. import events
from ..events import Event, Listener
from ..unanswered import flag, question_behind_handoff, question_not_helped


class UnansweredListener(Listener):
    handles = frozenset({events.HANDOFF_REQUESTED, events.OFFLINE_TICKET_OPENED, events.ANSWER_NOT_HELPFUL})

    def on_record(self, session, event: Event) -> None:
        if event.name == events.ANSWER_NOT_HELPFUL:
            message = question_not_helped(session, event.conversation_id, event.data.get("topic"),
                                          event.data["before_seq"])
            if message is not None:
                flag(session, message, "not_helpful", event.data.get("topic"))
            return
        # An offline message left while already queued is the same handoff, not a new one.
        if event.data.get("from_status") == "waiting":
            return
        message = question_behind_handoff(session, event.conversation_id)
        if message is not None:
            flag(session, message, "handoff")
