"""Privacy (APPI, GDPR): export everything held about a contact, erase it, and erase old
conversations after RETENTION_DAYS.

Erasing keeps the KPI dashboard's totals as they were. The dashboard counts metric_events (names,
intents, reasons, scores, durations: no personal data) and reads a few facts of the conversation
rows (who owned it, scores, when). So a conversation is not deleted: its row stays with those
facts (KEPT_CONVERSATION_FACTS) and every other column emptied, and everything else that held the
customer's words or addresses is deleted (messages, notes, stream events, question flags ...).
Tables are found from the schema itself (any table with a conversation_id or contact_id column,
or one pointing at messages), so a table added later is erased too without a change here.

The channels (issue 17) keep the customer's words and addresses in three more places: the outbox
(every row has its conversation_id) and email_messages rows are erased with their conversation, as
above (e-mails recorded without one, such as a bounce, by their address), and channel_events, the
stored webhook events and inbound mails, are keyed by the customer's address on the channel
(queue_key: the LINE user id, or "email:" and the address). An erased conversation's address
loses its processed events from before its earliest conversation that is kept (all of them when
none is kept, as after a contact's erasure); events still waiting to be processed stay, as they
are new messages.

Rasa's tracker (bot/tracker_store.py) keeps each conversation's turns in its table `events`
(sender_id = our conversation id, data = the texts and metadata, the verified customer id
included). By default it lives in this service's database (TRACKER_STORE_URL defaults to
DATABASE_URL): when that table is there, an erased conversation's rows in it are deleted too. A
tracker store in another database is the shop's to erase (docs/identity.md).

The audit log is append-only (handoff/audit.py), so what it records about contacts names only
internal ids and counts, never a name, an address or a message: nothing in it needs erasing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Optional

from sqlalchemy import and_, delete, func, inspect, or_, select, table, update
from sqlalchemy import column as named_column

from . import events
from .audit import Actor
from .contacts import contact_json, get_contact, history
from .database import utcnow
from .errors import Conflict
from .models import Base, ChannelEvent, Contact, ContactIdentity, Conversation, EmailRecord, Message
from .transcript import iso

# What stays of an erased conversation: the facts the KPI dashboard and the counters are made of.
KEPT_CONVERSATION_FACTS = frozenset({
    "id", "status", "language", "created_at", "updated_at", "last_seq", "last_event_id", "handoff_reason",
    "priority", "priority_rank", "queued_at", "offline", "bot_restart_pending", "agent_id", "claimed_at",
    "first_reply_at", "resolved_at", "csat", "ces", "rated_at", "erased_at", "contact_verified", "channel",
    "nps",  # issue 19's score, beside csat and ces (its comment, like theirs, is the customer's words: emptied)
})
# Kept whole: KPI rows without personal data, and the append-only audit log (see above).
KEPT_TABLES = frozenset({"conversations", "metric_events", "metric_counters", "audit_entries"})
# Statuses in which people are still working on a conversation: erasing it under them is refused.
OPEN_FOR_PEOPLE = ("waiting", "assigned", "offline")
PURGE_BATCH = 200  # conversations erased per transaction by the retention purge
# Rasa's SQLTrackerStore table (rasa/core/tracker_store.py, Rasa 3.6): one row per event of a
# conversation, sender_id being the conversation's id here.
RASA_TRACKER_TABLE = "events"
# A stored channel event in these states is still to be processed: a new message, not erased.
UNPROCESSED = ("pending", "sending")


def _tables_with(column: str) -> list:
    """Tables with that column, dependents first (safe order for deleting)."""
    return [t for t in reversed(Base.metadata.sorted_tables) if column in t.c and t.name not in KEPT_TABLES]


def _tables_pointing_at_messages() -> list:
    message_id = Message.__table__.c.id
    return [(t, fk.parent) for t in reversed(Base.metadata.sorted_tables) if t.name not in KEPT_TABLES
            for fk in t.foreign_keys if fk.column is message_id]


def _erased_values(now: datetime) -> dict:
    """Every conversation column that is not a kept fact, emptied."""
    # A column that cannot be empty is not personal data by design (tests/handoff/test_contacts.py
    # checks that every such column is a kept fact).
    values = {column.name: None for column in Conversation.__table__.c
              if column.name not in KEPT_CONVERSATION_FACTS and column.nullable}
    values.update(erased_at=now, contact_verified=False)
    return values


def _channel_addresses(session, ids: list[str]) -> set[tuple[str, str]]:
    """(channel, address) of the customer on these conversations: the channel's own address, and
    the e-mail an offline ticket left (the customer's mail replies come in on it)."""
    found = set()
    for channel, address, email in session.execute(select(Conversation.channel, Conversation.channel_address,
                                                          Conversation.email).where(Conversation.id.in_(ids))):
        if channel in ("line", "email") and address:
            found.add((channel, address))
        if email:
            found.add(("email", email.strip().lower()))
    return found


def _erase_channel_traces(session, addresses: set[tuple[str, str]]) -> None:
    """What the channels stored about these addresses outside of a conversation: processed webhook
    events and inbound mails (channel_events) and e-mail records with no conversation (a bounce),
    from before the address's earliest conversation that is kept (see the module's docstring)."""
    for channel, address in addresses:
        same_address = Conversation.channel_address == address
        if channel == "email":
            same_address = same_address | (func.lower(Conversation.email) == address)
        else:
            same_address = same_address & (Conversation.channel == channel)
        kept_since = session.scalar(select(func.min(Conversation.created_at)).where(
            same_address, Conversation.erased_at.is_(None)))
        key = address if channel == "line" else f"email:{address}"
        events_table, emails = ChannelEvent.__table__, EmailRecord.__table__
        condition = and_(events_table.c.channel == channel, events_table.c.queue_key == key,
                         events_table.c.status.not_in(UNPROCESSED))
        if kept_since is not None:
            condition = condition & (events_table.c.received_at < kept_since)
        session.execute(delete(events_table).where(condition))
        if channel == "email":
            condition = and_(emails.c.conversation_id.is_(None), func.lower(emails.c.address) == address)
            if kept_since is not None:
                condition = condition & (emails.c.created_at < kept_since)
            session.execute(delete(emails).where(condition))


def _erase_bot_tracker(session, ids: list[str]) -> None:
    """These conversations' turns in Rasa's tracker table, when it is in this database."""
    if RASA_TRACKER_TABLE in Base.metadata.tables:  # never ours: the schema has no such table
        return
    if not inspect(session.connection()).has_table(RASA_TRACKER_TABLE):
        return  # the bot keeps its tracker elsewhere (TRACKER_STORE_URL): docs/identity.md
    tracker = table(RASA_TRACKER_TABLE, named_column("sender_id"))
    session.execute(delete(tracker).where(tracker.c.sender_id.in_(ids)))


def erase_conversations(session, conversation_ids: Iterable[str], now: Optional[datetime] = None) -> int:
    """Erases the personal data of these conversations (see the module's docstring); returns how
    many were erased now. Idempotent, and safe when two processes erase the same ones: the rows
    are marked under their row lock first, and deleting what is gone already deletes nothing."""
    ids = list(dict.fromkeys(conversation_ids))
    if not ids:
        return 0
    now = now or utcnow()
    addresses = _channel_addresses(session, ids)  # read before the conversations are emptied
    conversations = Conversation.__table__
    marked = session.execute(update(conversations).where(conversations.c.id.in_(ids),
                                                         conversations.c.erased_at.is_(None))
                             .values(_erased_values(now))).rowcount
    # Erased before (that conversation alone, say): emptied again, keeping its first erasure time.
    session.execute(update(conversations).where(conversations.c.id.in_(ids), conversations.c.erased_at.is_not(None))
                    .values({k: v for k, v in _erased_values(now).items() if k != "erased_at"}))
    messages = select(Message.__table__.c.id).where(Message.__table__.c.conversation_id.in_(ids))
    for dependent, column in _tables_pointing_at_messages():
        session.execute(delete(dependent).where(column.in_(messages)))
    for dependent in _tables_with("conversation_id"):
        session.execute(delete(dependent).where(dependent.c.conversation_id.in_(ids)))
    _erase_channel_traces(session, addresses)
    _erase_bot_tracker(session, ids)
    return marked


def _contact_conversation_ids(session, contact: Contact) -> list[str]:
    """The contact's conversations, and offline tickets left with one of their e-mail addresses."""
    emails = list(session.scalars(select(ContactIdentity.value).where(
        ContactIdentity.contact_id == contact.id, ContactIdentity.kind == "email")))
    if contact.email:
        emails.append(contact.email.lower())
    condition = Conversation.contact_id == contact.id
    if emails:
        condition = or_(condition, Conversation.email.in_(set(emails)))
    return list(session.scalars(select(Conversation.id).where(condition).order_by(Conversation.created_at)))


def export_contact(session, contact_id: int, actor: Actor) -> dict:
    """Everything held about a contact, as JSON data; the export is recorded in the audit log."""
    from .agent_desk import notes_of

    contact = get_contact(session, contact_id)
    ids = _contact_conversation_ids(session, contact)
    summaries = {item["id"]: item for item in history(session, contact.id, limit=100000)}
    conversations = []
    for conversation in session.scalars(select(Conversation).where(Conversation.id.in_(ids))
                                        .order_by(Conversation.created_at)):
        messages = session.scalars(select(Message).where(Message.conversation_id == conversation.id)
                                   .order_by(Message.seq))
        summary = summaries.get(conversation.id, {})
        conversations.append({
            "id": conversation.id, "created_at": iso(conversation.created_at), "status": conversation.status,
            "language": conversation.language, "channel": summary.get("channel", "web"),
            "page_url": conversation.page_url, "email": conversation.email, "outcome": summary.get("outcome"),
            "topics": summary.get("topics", []), "resolved_at": iso(conversation.resolved_at),
            "rating": None if conversation.rated_at is None else {
                "csat": conversation.csat, "ces": conversation.ces, "comment": conversation.rating_comment,
                "rated_at": iso(conversation.rated_at)},
            "messages": [{"seq": m.seq, "sender": m.sender, "text": m.display_text or m.text,
                          "agent_name": m.agent_name, "created_at": iso(m.created_at)} for m in messages],
            "notes": [{"text": note.text, "agent_name": name or "", "created_at": iso(note.created_at)}
                      for note, name in notes_of(session, conversation.id)],
        })
    events.record(session, events.Event(events.CONTACT_EXPORTED, data={
        "actor": actor, "target_contact_id": contact.id, "audit": {"conversations": len(conversations)}}))
    return {"exported_at": iso(utcnow()), "contact": contact_json(session, contact), "conversations": conversations}


def _delete_contact(session, contact_id: int) -> None:
    """The contact and every row about them (addresses, notes; their conversations are erased
    already, so none refers to them any more)."""
    for dependent in _tables_with("contact_id"):
        if dependent.name != "contacts":
            session.execute(delete(dependent).where(dependent.c.contact_id == contact_id))
    session.execute(delete(Contact.__table__).where(Contact.__table__.c.id == contact_id))


@dataclass(frozen=True)
class Erasure:
    contact_id: int
    conversations: int


def erase_contact(session, contact_id: int, actor: Actor, now: Optional[datetime] = None) -> Erasure:
    """Erases a contact: their conversations' personal data, their addresses, the notes about them
    and the contact itself. Refused (409) while people are still working on one of their
    conversations: resolve it first."""
    now = now or utcnow()
    contact = get_contact(session, contact_id)
    ids = _contact_conversation_ids(session, contact)
    busy = session.scalar(select(Conversation.id).where(Conversation.id.in_(ids),
                                                        Conversation.status.in_(OPEN_FOR_PEOPLE)).limit(1))
    if busy is not None:
        raise Conflict("contact_has_open_conversation",
                       f"Conversation {busy} of this contact is open for agents; resolve it, then erase.")
    erase_conversations(session, ids, now)
    _delete_contact(session, contact.id)
    events.record(session, events.Event(events.CONTACT_ERASED, data={
        "actor": actor, "target_contact_id": contact.id, "audit": {"conversations": len(ids)}}))
    return Erasure(contact.id, len(ids))


def purge_expired(db, retention_days: int, actor: Actor, now: Optional[datetime] = None,
                  batch: int = PURGE_BATCH) -> dict:
    """Erases the conversations that ended more than retention_days ago (resolved, or left with the
    bot and idle that long), in batches of one transaction each, then the contacts left with no
    conversation and unchanged that long. Nothing to do when retention_days is 0. Idempotent: run
    it daily from cron or a supervisor (docs/identity.md); two runs at once erase each row once."""
    if retention_days <= 0:
        return {"conversations": 0, "contacts": 0}
    now = now or utcnow()
    cutoff = now - timedelta(days=retention_days)
    expired = select(Conversation.id).where(Conversation.erased_at.is_(None), or_(
        (Conversation.status == "resolved") & (Conversation.resolved_at < cutoff),
        (Conversation.status == "bot") & (Conversation.updated_at < cutoff)))
    conversations = 0
    while True:
        with db.writing() as session:
            ids = list(session.scalars(expired.order_by(Conversation.id).limit(batch)))
            if not ids:
                break
            conversations += erase_conversations(session, ids, now)
    with db.writing() as session:
        idle = list(session.scalars(select(Contact.id).where(
            Contact.updated_at < cutoff,
            ~select(Conversation.id).where(Conversation.contact_id == Contact.id,
                                           Conversation.erased_at.is_(None)).exists())))
        for contact_id in idle:
            _delete_contact(session, contact_id)
        if conversations or idle:
            events.record(session, events.Event(events.RETENTION_PURGED, data={
                "actor": actor, "audit": {"conversations": conversations, "contacts": len(idle),
                                          "retention_days": retention_days}}))
    return {"conversations": conversations, "contacts": len(idle)}
