"""The transcript: every message of a conversation, numbered in order, masked before it is kept."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import insert, select, update

from . import events
from .database import utcnow
from .masking import mask_card_numbers
from .models import Conversation, Message


def take_number(session, conversation_id: str, counter: str, *conditions, also: Optional[str] = None) -> Optional[Any]:
    """Next value of a per-conversation counter (last_seq or last_event_id), or None when the
    conversation does not match the conditions. The row also carries the conversation's status,
    agent_id, language, queued_at and first_reply_at, which callers would otherwise read again.
    `also` names a second counter to advance in the same UPDATE (its new value is `also_value`).

    The UPDATE takes the conversation's row lock (the database's write lock on SQLite) until the
    commit, so numbers are unique and commit in the order they were handed out.
    """
    table = Conversation.__table__  # Core, not the ORM: this runs several times per message
    column = table.c[counter]
    values = {counter: column + 1, "updated_at": utcnow()}
    returning = [column.label("value"), table.c.status, table.c.agent_id, table.c.language,
                 table.c.queued_at, table.c.first_reply_at]
    if also is not None:
        values[also] = table.c[also] + 1
        returning.append(table.c[also].label("also_value"))
    return session.execute(
        update(table).where(table.c.id == conversation_id, *conditions).values(values).returning(*returning)
    ).first()


def add_message(session, conversation_id: str, sender: str, text: str, language: Optional[str], *,
                conditions: tuple = (), **fields) -> Optional[Message]:
    """Store a message (card numbers masked) and record it; None when conditions do not hold.
    Without a language the message takes the conversation's."""
    # Every message is also a live event (listeners/live_push_listener.py): its event number is
    # taken in the same UPDATE, one round trip on the conversation's row instead of two.
    row = take_number(session, conversation_id, "last_seq", *conditions, also="last_event_id")
    if row is None:
        return None
    if fields.get("display_text"):
        fields["display_text"] = mask_card_numbers(fields["display_text"])
    values = dict(conversation_id=conversation_id, seq=row.value, sender=sender, text=mask_card_numbers(text),
                  language=language or row.language, created_at=utcnow(), **fields)
    # A Core INSERT and a plain (transient) Message for the caller: the ORM's unit of work would
    # double the cost of the hottest write in the service.
    table = Message.__table__
    message = Message(id=session.execute(insert(table).values(**values).returning(table.c.id)).scalar_one(), **values)
    events.record(session, events.Event(events.MESSAGE_CREATED, conversation_id,
                                        agent_id=message.agent_id, data={"message": message, "conversation": row,
                                                                                  "event_id": row.also_value}))
    return message


def messages_after(session, conversation_id: str, after_seq: int = 0, limit: int = 1000) -> list[Message]:
    return list(session.scalars(
        select(Message).where(Message.conversation_id == conversation_id, Message.seq > after_seq)
        .order_by(Message.seq).limit(limit)))


def replies_to(session, message_id: int) -> list[Message]:
    return list(session.scalars(select(Message).where(Message.reply_to_id == message_id).order_by(Message.seq)))


def iso(moment: Optional[datetime]) -> Optional[str]:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def message_json(message: Message, with_nlu: bool = False) -> dict[str, Any]:
    """A message as the API shows it; with_nlu adds the bot's reading of a customer message (agents only)."""
    body: dict[str, Any] = {
        "id": message.id, "seq": message.seq, "sender": message.sender, "text": message.text,
        "language": message.language, "created_at": iso(message.created_at),
    }
    if message.display_text:
        body["display_text"] = message.display_text  # what to show instead of the payload in `text`
    if message.buttons:
        body["buttons"] = message.buttons
    if message.agent_name:
        body["agent_name"] = message.agent_name
    if with_nlu and message.sender == "customer":
        body["nlu"] = None if message.nlu_intent is None and not message.nlu_ranking else {
            "intent": message.nlu_intent, "confidence": message.nlu_confidence,
            "intent_ranking": message.nlu_ranking or [],
        }
    return body
