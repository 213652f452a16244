"""The transcript: every message of a conversation, numbered in order, masked before it is kept."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import bindparam, insert, select, update

from . import events
from .database import utcnow
from .masking import mask_card_numbers
from .models import Conversation, Message


def _numbering_statement(counter: str, also: Optional[str], owned: bool, open_only: bool):
    """The UPDATE that takes a counter's next value, built once per shape: building a statement
    costs three times as much as running it, and this runs for every message."""
    table = Conversation.__table__  # Core, not the ORM: this runs several times per message
    column = table.c[counter]
    values = {counter: column + 1, "updated_at": bindparam("now", type_=table.c.updated_at.type)}
    returning = [column.label("value"), table.c.status, table.c.agent_id, table.c.language,
                 table.c.queued_at, table.c.first_reply_at,
                 # for the channel delivery listener (a message to LINE or e-mail goes to the outbox)
                 table.c.channel, table.c.channel_address]
    if also is not None:
        values[also] = table.c[also] + 1
        returning.append(table.c[also].label("also_value"))
    conditions = [table.c.id == bindparam("conversation_id")]
    if owned:
        conditions += [table.c.status == "assigned", table.c.agent_id == bindparam("owner_id")]
    if open_only:
        conditions.append(table.c.status != "resolved")
    return update(table).where(*conditions).values(values).returning(*returning)


# The statuses are lifecycle.Status values (lifecycle imports this module).
_NUMBERING = {(counter, also, owned, open_only): _numbering_statement(counter, also, owned, open_only)
              for counter, also in (("last_seq", "last_event_id"), ("last_event_id", None))
              for owned in (False, True) for open_only in (False, True)}
_INSERT_MESSAGE = insert(Message.__table__).returning(Message.__table__.c.id)


def take_number(session, conversation_id: str, counter: str, *, also: Optional[str] = None,
                owner_id: Optional[int] = None, open_only: bool = False) -> Optional[Any]:
    """Next value of a per-conversation counter (last_seq or last_event_id), or None when the
    conversation does not exist, or with owner_id is not assigned to that agent, or with
    open_only is resolved. The row also
    carries the conversation's status, agent_id, language, queued_at and first_reply_at, which
    callers would otherwise read again. `also` names a second counter to advance in the same
    UPDATE (its new value is `also_value`).

    The UPDATE takes the conversation's row lock (the database's write lock on SQLite) until the
    commit, so numbers are unique and commit in the order they were handed out.
    """
    parameters = {"conversation_id": conversation_id, "now": utcnow()}
    if owner_id is not None:
        parameters["owner_id"] = owner_id
    return session.execute(_NUMBERING[counter, also, owner_id is not None, open_only], parameters).first()


def add_message(session, conversation_id: str, sender: str, text: str, language: Optional[str], *,
                owner_id: Optional[int] = None, open_only: bool = False, **fields) -> Optional[Message]:
    """Store a message (card numbers masked) and record it; None when the conversation does not
    meet take_number's conditions. Without a language the message takes the conversation's."""
    # Every message is also a live event (listeners/live_push_listener.py): its event number is
    # taken in the same UPDATE, one round trip on the conversation's row instead of two.
    row = take_number(session, conversation_id, "last_seq", also="last_event_id", owner_id=owner_id,
                      open_only=open_only)
    if row is None:
        return None
    if fields.get("display_text"):
        fields["display_text"] = mask_card_numbers(fields["display_text"])
    values = dict(conversation_id=conversation_id, seq=row.value, sender=sender, text=mask_card_numbers(text),
                  language=language or row.language, created_at=utcnow(), **fields)
    # A Core INSERT and a plain (transient) Message for the caller: the ORM's unit of work would
    # double the cost of the hottest write in the service.
    message = Message(id=session.execute(_INSERT_MESSAGE, values).scalar_one(), **values)
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
    if message.article_path:  # a bot answer's help-center article, in the message's language
        body["article_url"] = ("/en" if message.language == "en" else "") + message.article_path
    if with_nlu and message.sender == "customer":
        body["nlu"] = None if message.nlu_intent is None and not message.nlu_ranking else {
            "intent": message.nlu_intent, "confidence": message.nlu_confidence,
            "intent_ranking": message.nlu_ranking or [],
        }
    return body
