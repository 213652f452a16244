"""What an agent does inside a conversation: reply to the customer, leave internal notes, type."""
from __future__ import annotations

from typing import Optional

from sqlalchemy import select

from . import events
from .database import utcnow
from .errors import Conflict, Forbidden
from .lifecycle import Status, get_conversation
from .masking import mask_card_numbers
from .models import Agent, Conversation, Message, Note
from .transcript import add_message


def reply(session, conversation_id: str, agent: Agent, text: str) -> Message:
    # The ownership check is part of the numbering UPDATE, so a reply cannot slip in after a
    # transfer or resolve that committed a moment earlier.
    message = add_message(session, conversation_id, "agent", text, None, owner_id=agent.id,
                          agent_id=agent.id, agent_name=agent.name)
    if message is None:
        conversation = get_conversation(session, conversation_id)
        if conversation.status != Status.ASSIGNED:
            raise Conflict("not_assigned", f"The conversation is {conversation.status}; claim it first.")
        raise Forbidden("not_your_conversation", "Another agent owns this conversation.")
    return message


def add_note(session, conversation_id: str, agent: Agent, text: str) -> Note:
    get_conversation(session, conversation_id)
    note = Note(conversation_id=conversation_id, agent_id=agent.id, text=mask_card_numbers(text), created_at=utcnow())
    session.add(note)
    session.flush()
    events.record(session, events.Event(events.NOTE_ADDED, conversation_id, agent_id=agent.id, data={"note": note,
                                                                                                       "agent_name": agent.name}))
    return note


def notes_of(session, conversation_id: str) -> list[tuple[Note, Optional[str]]]:
    return list(session.execute(
        select(Note, Agent.name).join(Agent, Agent.id == Note.agent_id, isouter=True)
        .where(Note.conversation_id == conversation_id).order_by(Note.id)).all())


def agent_typing(session, conversation_id: str, agent: Agent, typing: bool) -> None:
    conversation = get_conversation(session, conversation_id)
    if conversation.status != Status.ASSIGNED or conversation.agent_id != agent.id:
        raise Forbidden("not_your_conversation", "You do not own this conversation.")
    events.record(session, events.Event(events.TYPING, conversation_id, agent_id=agent.id,
                                        data={"typing": typing, "sender": "agent", "agent_name": agent.name}))
