"""Known customers: the contact a verified customer is across conversations, devices and channels,
the addresses (identities) that belong to them, agents' notes about them, and their history.

A shop proves who its signed-in customer is the way Intercom's and Chatwoot's identity
verification do: its server computes hex HMAC-SHA256(IDENTITY_SECRET, customer id) and the page
hands it to the widget with the id. Only a matching signature makes a conversation a contact's;
anything else is ignored (the chat goes on anonymously) and never trusted.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from typing import Optional

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from intents import NOT_TOPICS
from .database import utcnow
from .errors import Conflict, InvalidInput, NotFound
from .masking import mask_card_numbers
from .models import Agent, Contact, ContactIdentity, ContactNote, Conversation, Message
from .transcript import iso

log = logging.getLogger(__name__)

# The kinds of address a contact may have. shop_id: the shop's customer id (from the signature
# only); the others an agent may link from the console, or a channel records (issue 17).
IDENTITY_KINDS = ("shop_id", "email", "line", "phone")
LINKABLE_KINDS = tuple(kind for kind in IDENTITY_KINDS if kind != "shop_id")
MAX_HISTORY = 50  # earlier conversations listed in the side panel, newest first


@dataclass(frozen=True)
class ClaimedIdentity:
    """What the shop's page says about its signed-in customer, before it is checked."""
    customer_id: str
    user_hash: str
    name: Optional[str] = None
    email: Optional[str] = None


def contact_email(value: Optional[str]) -> Optional[str]:
    """The shop's e-mail for its customer, lower-cased, or None when it is absent or no address."""
    value = (value or "").strip().lower()
    return value if re.fullmatch(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+", value) else None


def sign(secret: str, customer_id: str) -> str:
    """The signature a shop's server puts in its page: hex HMAC-SHA256(secret, customer id)."""
    return hmac.new(secret.encode(), customer_id.encode(), hashlib.sha256).hexdigest()


def is_signed(secret: str, claimed: ClaimedIdentity) -> bool:
    """True only with a secret configured and a signature that matches, compared in constant time."""
    if not secret or not claimed.customer_id or not claimed.user_hash:
        return False
    return hmac.compare_digest(sign(secret, claimed.customer_id), claimed.user_hash.strip().lower())


def _normalised(kind: str, value: str) -> str:
    value = value.strip()
    return value.lower() if kind == "email" else value


def contact_by_identity(session, kind: str, value: str) -> Optional[Contact]:
    return session.scalar(select(Contact).join(ContactIdentity, ContactIdentity.contact_id == Contact.id)
                          .where(ContactIdentity.kind == kind, ContactIdentity.value == _normalised(kind, value)))


def _add_identity(session, contact_id: int, kind: str, value: str, agent_id: Optional[int] = None) -> bool:
    """Adds the address unless some contact already has it (that one keeps it). True when added."""
    value = _normalised(kind, value)
    if session.scalar(select(ContactIdentity.id).where(ContactIdentity.kind == kind, ContactIdentity.value == value)):
        return False
    try:
        with session.begin_nested():  # a concurrent insert of the same address loses quietly
            session.add(ContactIdentity(contact_id=contact_id, kind=kind, value=value, agent_id=agent_id,
                                        created_at=utcnow()))
    except IntegrityError:
        return False
    return True


def _contact_for_shop_customer(session, claimed: ClaimedIdentity) -> Contact:
    """The contact with this shop customer id, created on first sight; name and e-mail follow the shop."""
    now = utcnow()
    contact = session.scalar(select(Contact).where(Contact.shop_customer_id == claimed.customer_id))
    if contact is None:
        try:
            with session.begin_nested():  # two first chats of one customer at once: one insert wins
                contact = Contact(shop_customer_id=claimed.customer_id, name=claimed.name, email=claimed.email,
                                  created_at=now, updated_at=now)
                session.add(contact)
        except IntegrityError:
            contact = session.scalar(select(Contact).where(Contact.shop_customer_id == claimed.customer_id))
        else:
            _add_identity(session, contact.id, "shop_id", claimed.customer_id)
    changes = {k: v for k, v in (("name", claimed.name), ("email", claimed.email)) if v and getattr(contact, k) != v}
    if changes:
        for key, value in changes.items():
            setattr(contact, key, value)
        contact.updated_at = now
    if claimed.email:
        _add_identity(session, contact.id, "email", claimed.email)
    session.flush()
    return contact


def identify(session, conversation_id: str, claimed: Optional[ClaimedIdentity], secret: str) -> Optional[Contact]:
    """Makes the conversation the verified contact's when the shop's signature matches; otherwise
    changes nothing (the chat stays anonymous) and logs why, never the secret or the signature."""
    if claimed is None:
        return None
    if not secret:
        log.info("identity ignored for conversation %s: IDENTITY_SECRET is not set", conversation_id)
        return None
    if not is_signed(secret, claimed):
        log.warning("identity ignored for conversation %s: the signature does not match", conversation_id)
        return None
    contact = _contact_for_shop_customer(session, claimed)
    session.execute(update(Conversation).where(Conversation.id == conversation_id)
                    .values(contact_id=contact.id, contact_verified=True)
                    .execution_options(synchronize_session=False))
    return contact


def verified_customer_id(session, conversation_id: str) -> Optional[str]:
    """The shop's customer id when this conversation's contact was proven by the shop's signature;
    None for an anonymous conversation, or one only linked to a contact by an agent."""
    return session.scalar(select(Contact.shop_customer_id).join(Conversation, Conversation.contact_id == Contact.id)
                          .where(Conversation.id == conversation_id, Conversation.contact_verified.is_(True)))


def get_contact(session, contact_id: int) -> Contact:
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise NotFound("contact_not_found", "No such contact.")
    return contact


def contact_of_conversation(session, conversation_id: str) -> Optional[Contact]:
    return session.scalar(select(Contact).join(Conversation, Conversation.contact_id == Contact.id)
                          .where(Conversation.id == conversation_id))


def identities_of(session, contact_id: int) -> list[ContactIdentity]:
    return list(session.scalars(select(ContactIdentity).where(ContactIdentity.contact_id == contact_id)
                                .order_by(ContactIdentity.kind, ContactIdentity.id)))


def notes_of(session, contact_id: int) -> list[tuple[ContactNote, Optional[str]]]:
    return list(session.execute(
        select(ContactNote, Agent.name).join(Agent, Agent.id == ContactNote.agent_id, isouter=True)
        .where(ContactNote.contact_id == contact_id).order_by(ContactNote.id)).all())


def note_json(note: ContactNote, agent_name: Optional[str]) -> dict:
    return {"id": note.id, "text": note.text, "agent_name": agent_name or "", "created_at": iso(note.created_at)}


def contact_json(session, contact: Contact) -> dict:
    return {"id": contact.id, "shop_customer_id": contact.shop_customer_id, "name": contact.name,
            "email": contact.email, "created_at": iso(contact.created_at), "updated_at": iso(contact.updated_at),
            "identities": [{"kind": i.kind, "value": i.value, "created_at": iso(i.created_at)}
                           for i in identities_of(session, contact.id)],
            "notes": [note_json(note, name) for note, name in notes_of(session, contact.id)]}


def outcome_of(conversation: Conversation) -> str:
    """How it ended: agent (a person took it), offline (a ticket nobody took yet), bot (the bot
    settled it), or open (still going)."""
    if conversation.agent_id is not None:
        return "agent"
    if conversation.offline:
        return "offline"
    return "bot" if conversation.status == "resolved" else "open"


def history(session, contact_id: int, exclude_conversation_id: Optional[str] = None,
            limit: int = MAX_HISTORY) -> list[dict]:
    """The contact's conversations, newest first: date, channel, topics (the intents of the
    customer's messages that are FAQ topics), outcome, agent and rating."""
    statement = select(Conversation).where(Conversation.contact_id == contact_id)
    if exclude_conversation_id is not None:
        statement = statement.where(Conversation.id != exclude_conversation_id)
    conversations = list(session.scalars(statement.order_by(Conversation.created_at.desc(), Conversation.id)
                                         .limit(limit)))
    ids = [c.id for c in conversations]
    topics: dict[str, list[str]] = {i: [] for i in ids}
    if ids:
        for conversation_id, intent in session.execute(
                select(Message.conversation_id, Message.nlu_intent)
                .where(Message.conversation_id.in_(ids), Message.sender == "customer",
                       Message.nlu_intent.is_not(None)).order_by(Message.seq)):
            if intent not in NOT_TOPICS and intent not in topics[conversation_id]:
                topics[conversation_id].append(intent)
    names = dict(session.execute(select(Agent.id, Agent.name)).all())
    return [{"id": c.id, "created_at": iso(c.created_at), "resolved_at": iso(c.resolved_at),
             "channel": getattr(c, "channel", None) or "web", "status": c.status, "topics": topics[c.id],
             "outcome": outcome_of(c), "agent_name": names.get(c.agent_id) if c.agent_id is not None else None,
             "rating": None if c.rated_at is None else {"csat": c.csat, "ces": c.ces, "comment": c.rating_comment}}
            for c in conversations]


def link_identity(session, contact_id: int, kind: str, value: str, agent: Agent) -> ContactIdentity:
    """An agent links an address (an e-mail, a LINE user ...) to a contact: 409 when it is another
    contact's already."""
    get_contact(session, contact_id)
    if kind not in LINKABLE_KINDS:
        raise InvalidInput("invalid_identity_kind", f"kind must be one of {', '.join(LINKABLE_KINDS)}.")
    value = _normalised(kind, value)
    owner = session.scalar(select(ContactIdentity).where(ContactIdentity.kind == kind, ContactIdentity.value == value))
    if owner is not None:
        if owner.contact_id == contact_id:
            return owner
        raise Conflict("identity_taken", "That address already belongs to another contact.")
    if not _add_identity(session, contact_id, kind, value, agent.id):
        raise Conflict("identity_taken", "That address already belongs to another contact.")
    session.execute(update(Contact).where(Contact.id == contact_id).values(updated_at=utcnow())
                    .execution_options(synchronize_session=False))
    return session.scalar(select(ContactIdentity).where(ContactIdentity.kind == kind, ContactIdentity.value == value))


def attach_conversations_with(session, contact_id: int, kind: str, value: str) -> int:
    """Earlier anonymous conversations with this address (an offline ticket's e-mail, a LINE user's
    chats) become the contact's, unverified: they show in the history, and the bot still treats
    them as anonymous."""
    value = _normalised(kind, value)
    if kind == "email":
        matches = func.lower(Conversation.email) == value
    else:
        # A channel's conversations carry the customer's address on that channel (issue 17's
        # conversations.channel and channel_address), when this service has channels.
        channel, address = getattr(Conversation, "channel", None), getattr(Conversation, "channel_address", None)
        if channel is None or address is None:
            return 0
        matches = (channel == kind) & (address == value)
    return session.execute(update(Conversation).where(Conversation.contact_id.is_(None), matches)
                           .values(contact_id=contact_id).execution_options(synchronize_session=False)).rowcount


def attach_if_linked(session, conversation_id: str, kind: str, value: Optional[str]) -> Optional[int]:
    """A conversation started from (or left with) an address an agent linked to a contact, e.g. a new
    LINE chat of a linked LINE user or an offline ticket with a linked e-mail, becomes that
    contact's, unverified: it shows in their history, while the bot still treats it as anonymous
    and routing never takes it for a verified returning customer (only the shop's signature
    verifies). A conversation that has a contact already keeps it. Returns the contact's id."""
    if kind not in LINKABLE_KINDS or not (value or "").strip():
        return None
    contact_id = session.scalar(select(ContactIdentity.contact_id).where(
        ContactIdentity.kind == kind, ContactIdentity.value == _normalised(kind, value)))
    if contact_id is None:
        return None
    attached = session.execute(update(Conversation).where(Conversation.id == conversation_id,
                                                          Conversation.contact_id.is_(None))
                               .values(contact_id=contact_id, contact_verified=False)
                               .execution_options(synchronize_session=False)).rowcount
    return contact_id if attached else None


def search_contacts(session, text: str, limit: int = 20) -> list[Contact]:
    """Contacts whose name, e-mail, shop customer id or any address contains the text."""
    pattern = "%" + text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    by_identity = select(ContactIdentity.contact_id).where(func.lower(ContactIdentity.value).like(pattern, escape="\\"))
    return list(session.scalars(select(Contact).where(
        func.lower(Contact.name).like(pattern, escape="\\") | func.lower(Contact.email).like(pattern, escape="\\")
        | func.lower(Contact.shop_customer_id).like(pattern, escape="\\") | Contact.id.in_(by_identity))
        .order_by(Contact.updated_at.desc(), Contact.id).limit(limit)))


def add_contact_note(session, contact_id: int, agent: Agent, text: str) -> ContactNote:
    get_contact(session, contact_id)
    note = ContactNote(contact_id=contact_id, agent_id=agent.id, text=mask_card_numbers(text), created_at=utcnow())
    session.add(note)
    session.flush()
    return note


def previous_agent_id(session, contact_id: int, conversation_id: str) -> Optional[int]:
    """The agent who last helped this contact in another conversation (owned it last, whether it was
    resolved or is still open), or None."""
    last = func.coalesce(Conversation.resolved_at, Conversation.claimed_at)
    return session.scalar(select(Conversation.agent_id).where(
        Conversation.contact_id == contact_id, Conversation.id != conversation_id,
        Conversation.agent_id.is_not(None), Conversation.claimed_at.is_not(None))
        .order_by(last.desc()).limit(1))
