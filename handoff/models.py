"""Tables of the handoff service. The schema itself changes only through handoff/migrations."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Optional

from sqlalchemy import (JSON, BigInteger, Boolean, Date, Float, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, false)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .database import UTCDateTime, utcnow

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Agent(Base):
    __tablename__ = "agents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # None: the service-wide AGENT_MAX_CONCURRENT applies.
    max_concurrent: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A session is valid while it carries the agent's current epoch: deactivating the account or
    # resetting its password bumps it, which ends every session at its next request (handoff/auth.py).
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Set by a password reset: every call but the password change answers 403 until it is done.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Presence (handoff/presence.py): what the agent chose in the console (online | away | offline),
    # and when their console was last heard from; a console silent for PRESENCE_TIMEOUT_SECONDS is offline.
    presence: Mapped[str] = mapped_column(String(8), default="offline", server_default="offline")
    presence_seen_at: Mapped[Optional[datetime]] = mapped_column(nullable=True)
    # When a conversation last went to this agent (claimed, assigned or transferred): "longest idle"
    # breaks ties in auto-assignment (handoff/assignment.py).
    last_assigned_at: Mapped[Optional[datetime]] = mapped_column(nullable=True)


class Conversation(Base):
    __tablename__ = "conversations"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="bot")
    language: Mapped[str] = mapped_column(String(8))
    page_url: Mapped[Optional[str]] = mapped_column(String(2000), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Counters handed out under the row lock of this conversation, so numbers never repeat.
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    last_event_id: Mapped[int] = mapped_column(Integer, default=0)
    # The current (or last) handoff.
    handoff_reason: Mapped[Optional[str]] = mapped_column(String(32), nullable=True)
    priority: Mapped[Optional[str]] = mapped_column(String(8), nullable=True)
    priority_rank: Mapped[int] = mapped_column(Integer, default=1)  # 0 = high, sorts first
    handoff_turns: Mapped[Optional[list[Any]]] = mapped_column(nullable=True)
    queued_at: Mapped[Optional[datetime]] = mapped_column(nullable=True)
    offline: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set by a hand-back, cleared once Rasa has forgotten the conversation's earlier turns.
    bot_restart_pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    email: Mapped[Optional[str]] = mapped_column(String(254), nullable=True)
    agent_id: Mapped[Optional[int]] = mapped_column(ForeignKey("agents.id"), nullable=True)
    claimed_at: Mapped[Optional[datetime]] = mapped_column(nullable=True)
    first_reply_at: Mapped[Optional[datetime]] = mapped_column(nullable=True)
    resolved_at: Mapped[Optional[datetime]] = mapped_column(nullable=True)
    csat: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    ces: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    rating_comment: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    rated_at: Mapped[Optional[datetime]] = mapped_column(nullable=True)
    # "How likely are you to recommend us?" 0-10 and its "why?" (given with the rating, once).
    nps: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    nps_comment: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    # Where the customer talks to us (handoff/channels): web (the widget), line, email; the
    # customer's address on that channel (a LINE user id, an e-mail address) and the name the
    # channel gave (LINE's profile, the e-mail's display name).
    channel: Mapped[str] = mapped_column(String(16), default="web", server_default="web")
    channel_address: Mapped[Optional[str]] = mapped_column(String(254), nullable=True)
    customer_name: Mapped[Optional[str]] = mapped_column(String(200), nullable=True)
    # Known customers (issue 18, handoff/contacts.py): the contact this conversation belongs to, and
    # whether the shop's signature proved it (only then may the bot act on the customer's own data).
    contact_id: Mapped[Optional[int]] = mapped_column(ForeignKey("contacts.id"), nullable=True, index=True)
    contact_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Set when its personal data was erased (handoff/privacy.py); the row stays for the KPI figures.
    erased_at: Mapped[Optional[datetime]] = mapped_column(nullable=True)

    __table_args__ = (
        Index("ix_conversations_queue", "status", "priority_rank", "queued_at"),
        Index("ix_conversations_agent", "agent_id", "status"),
        Index("ix_conversations_channel_address", "channel", "channel_address", "status"),
    )


class Message(Base):
    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"))
    seq: Mapped[int] = mapped_column(Integer)
    sender: Mapped[str] = mapped_column(String(16))  # customer | bot | agent | system
    text: Mapped[str] = mapped_column(Text)
    buttons: Mapped[Optional[list[Any]]] = mapped_column(nullable=True)
    language: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    agent_id: Mapped[Optional[int]] = mapped_column(ForeignKey("agents.id"), nullable=True)
    # The name the customer saw at the time, even if the agent is renamed later.
    agent_name: Mapped[Optional[str]] = mapped_column(String(100), nullable=True)
    client_message_id: Mapped[Optional[str]] = mapped_column(String(100), nullable=True)
    # A quick-reply click: `text` is the button's payload (what Rasa gets), this is its title
    # (what people read).
    display_text: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    # The customer message a bot or system reply answers; lets a retried request find its replies.
    reply_to_id: Mapped[Optional[int]] = mapped_column(BigId, nullable=True)
    nlu_intent: Mapped[Optional[str]] = mapped_column(String(200), nullable=True)
    nlu_confidence: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    nlu_ranking: Mapped[Optional[list[Any]]] = mapped_column(nullable=True)
    # A bot answer about a topic: the path of its help-center article (/help/<category>/<topic>),
    # which the widget links as "Read the full article".
    article_path: Mapped[Optional[str]] = mapped_column(String(200), nullable=True)

    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_messages_seq"),
        UniqueConstraint("conversation_id", "client_message_id", name="uq_messages_client_id"),
        Index("ix_messages_reply_to", "reply_to_id"),
        Index("ix_messages_fallback", "nlu_intent", "created_at"),
    )


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StreamEvent(Base):
    """What a customer's stream sent, kept so a reconnect with Last-Event-ID replays the gap."""
    __tablename__ = "stream_events"
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), primary_key=True)
    event_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MetricEvent(Base):
    """One row per KPI-relevant happening; the dashboard and /metrics aggregate these."""
    __tablename__ = "metric_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    conversation_id: Mapped[Optional[str]] = mapped_column(String(32), nullable=True)
    agent_id: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    language: Mapped[Optional[str]] = mapped_column(String(8), nullable=True)
    label: Mapped[Optional[str]] = mapped_column(String(200), nullable=True)
    value: Mapped[Optional[float]] = mapped_column(Float, nullable=True)

    __table_args__ = (Index("ix_metric_events_name_at", "name", "at"),)


class CannedReply(Base):
    __tablename__ = "canned_replies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    language: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class QuestionFlag(Base):
    """A customer question the FAQ did not settle, beyond a fallback (handoff/unanswered.py):
    it led to a handoff, or the customer said its answer did not help."""
    __tablename__ = "question_flags"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    conversation_id: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(16))  # handoff | not_helpful | agent_answered
    topic: Mapped[Optional[str]] = mapped_column(String(200), nullable=True)  # the answer that did not help
    # agent_answered: the reply an agent wrote themselves (no suggested answer), material for a topic.
    reply_message_id: Mapped[Optional[int]] = mapped_column(BigId, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("message_id", "reason", name="uq_question_flags_message_reason"),
        Index("ix_question_flags_created", "created_at"),
    )


class AssistSuggestion(Base):
    """A FAQ answer the console suggested to an agent for one customer message (handoff/agent_assist.py),
    and what became of it: used (inserted and sent, possibly edited) or ignored (the agent sent
    something else). None while the agent has not replied."""
    __tablename__ = "assist_suggestions"
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), primary_key=True)
    topic: Mapped[str] = mapped_column(String(200), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(32))
    rank: Mapped[int] = mapped_column(Integer)  # 1 = the closest
    language: Mapped[str] = mapped_column(String(8))
    shown_at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[Optional[str]] = mapped_column(String(16), nullable=True)  # used | ignored
    settled_at: Mapped[Optional[datetime]] = mapped_column(nullable=True)

    __table_args__ = (Index("ix_assist_suggestions_conversation", "conversation_id", "outcome"),)


class HandledQuestion(Base):
    """An unanswered question an editor dealt with (added as an example, drafted as a new topic,
    or dismissed): it leaves the editors' list."""
    __tablename__ = "handled_questions"
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), primary_key=True)
    action: Mapped[str] = mapped_column(String(16))  # example_added | topic_drafted | dismissed
    topic: Mapped[Optional[str]] = mapped_column(String(200), nullable=True)
    agent_id: Mapped[Optional[int]] = mapped_column(ForeignKey("agents.id"), nullable=True)
    handled_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """One staff action (handoff/audit.py): who, what, on what, when and from where. Append-only:
    the product has no route that changes or deletes an entry, the ORM refuses to (handoff/audit.py),
    and the database refuses UPDATE and DELETE with a trigger (migration 0005)."""
    __tablename__ = "audit_entries"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # The signed-in agent; None for a failed login or the command line (then actor_label says who).
    actor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("agents.id"), nullable=True)
    actor_label: Mapped[str] = mapped_column(String(254))  # the e-mail (as typed, for a failed login) or "cli:<user>"
    action: Mapped[str] = mapped_column(String(40))
    target_type: Mapped[Optional[str]] = mapped_column(String(20), nullable=True)  # agent | conversation | topic ...
    target_id: Mapped[Optional[str]] = mapped_column(String(200), nullable=True)
    detail: Mapped[Optional[dict[str, Any]]] = mapped_column(nullable=True)
    ip: Mapped[Optional[str]] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[Optional[str]] = mapped_column(String(400), nullable=True)

    __table_args__ = (
        Index("ix_audit_entries_at", "at"),
        Index("ix_audit_entries_actor_at", "actor_id", "at"),
        Index("ix_audit_entries_action_at", "action", "at"),
    )


class MetricCounter(Base):
    """Running totals of metric_events, kept by the metrics listener in the same transaction as
    each event, so a /metrics scrape reads a few rows instead of aggregating every event (and every
    process and host reads the same totals). `label` is '' when the metric has none."""
    __tablename__ = "metric_counters"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    label: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[float] = mapped_column(Float, default=0.0)  # the sum of the events' values


class StreamTicket(Base):
    """A short-lived, single-use pass that opens one conversation's event stream (EventSource
    cannot send the token in a header, and a long-lived token must never travel in a URL).
    Only a hash of the ticket is stored."""
    __tablename__ = "stream_tickets"
    ticket_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(32))
    expires_at: Mapped[datetime] = mapped_column()

    __table_args__ = (Index("ix_stream_tickets_expires_at", "expires_at"),)


class OutboxEntry(Base):
    """Something to send to a channel's outside system (handoff/outbox.py): written in the same
    transaction as the message it carries, sent by the outbox workers with retries. Rows with the
    same queue_key (the conversation) are sent in order; idempotency_key is unique, so a message is
    queued once, and the channel's API gets keys derived from it, so a retried call sends nothing twice."""
    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    conversation_id: Mapped[Optional[str]] = mapped_column(String(32), nullable=True)
    queue_key: Mapped[Optional[str]] = mapped_column(String(254), nullable=True)
    kind: Mapped[str] = mapped_column(String(16))  # message | loading (LINE's "agent is typing")
    payload: Mapped[dict[str, Any]] = mapped_column()
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A row being sent is leased: when its process dies, the row is due again once the lease ends.
    claimed_until: Mapped[Optional[datetime]] = mapped_column(nullable=True)
    last_error: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[Optional[datetime]] = mapped_column(nullable=True)

    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_queue", "queue_key", "status", "id"),
        Index("ix_outbox_conversation", "conversation_id"),
    )


class ChannelEvent(Base):
    """An event a channel's webhook received (a LINE webhook event), stored before the webhook
    answers and processed afterwards by the same kind of worker as the outbox: nothing is lost when
    the process dies after the answer, and a redelivered event (same external_id) is stored once."""
    __tablename__ = "channel_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(200))
    queue_key: Mapped[Optional[str]] = mapped_column(String(254), nullable=True)  # the sender: in order per customer
    payload: Mapped[dict[str, Any]] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[Optional[datetime]] = mapped_column(nullable=True)
    last_error: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[Optional[datetime]] = mapped_column(nullable=True)  # processed

    __table_args__ = (
        UniqueConstraint("channel", "external_id", name="uq_channel_events_external_id"),
        Index("ix_channel_events_due", "status", "next_attempt_at"),
        Index("ix_channel_events_queue", "queue_key", "status", "id"),
    )


class EmailRecord(Base):
    """One e-mail the e-mail channel sent or received (handoff/channels/email.py): the Message-IDs
    that thread a conversation's mails and match a customer's reply to it, what became of each
    sent mail (sent, failed, bounced), and the bounces and auto-replies that were recorded and
    never answered. Message-ID is unique: a mail delivered twice is taken once."""
    __tablename__ = "email_messages"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    conversation_id: Mapped[Optional[str]] = mapped_column(String(32), nullable=True)
    transcript_message_id: Mapped[Optional[int]] = mapped_column(BigInteger, nullable=True)
    kind: Mapped[str] = mapped_column(String(16))  # message | bounce | auto_reply
    status: Mapped[str] = mapped_column(String(16))  # sent | failed | received | ignored
    address: Mapped[Optional[str]] = mapped_column(String(254), nullable=True)
    subject: Mapped[Optional[str]] = mapped_column(String(300), nullable=True)
    detail: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_email_messages_conversation", "conversation_id", "id"),)
# The help center (handoff/help_center.py). No personal data: views and visits are counts per day,
# a vote keeps only the article, the answer and the optional comment the customer typed.

class HelpArticleView(Base):
    """Views of one article in one language on one day (support time zone)."""
    __tablename__ = "help_article_views"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    topic: Mapped[str] = mapped_column(String(64), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    views: Mapped[int] = mapped_column(Integer, default=0)


class HelpVisit(Base):
    """Visits that began on one day (support time zone) in one language: a browser without the help
    center's visit cookie (a bare "1" that lapses after 30 idle minutes; no identifier) starts one."""
    __tablename__ = "help_visits"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    visits: Mapped[int] = mapped_column(Integer, default=0)


class HelpVote(Base):
    """"Was this article helpful?": the answer, and the comment the customer may add afterwards."""
    __tablename__ = "help_votes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    helpful: Mapped[bool] = mapped_column(Boolean)
    comment: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_help_votes_created_at", "created_at"), Index("ix_help_votes_topic", "topic"))


class HelpSearch(Base):
    """A help-center search (handoff/help_search.py): the query (card numbers masked), how it went,
    and, for one with no good result, whether an editor handled it in the unanswered list."""
    __tablename__ = "help_searches"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    query: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(8))
    hits: Mapped[int] = mapped_column(Integer, default=0)
    no_good_result: Mapped[bool] = mapped_column(Boolean, default=False)
    top_topic: Mapped[Optional[str]] = mapped_column(String(64), nullable=True)
    top_score: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    # searched while the embeddings were still being computed: keyword signals only
    keyword_only: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # an editor's action on it from the unanswered list (unanswered.HANDLED_ACTIONS)
    handled_action: Mapped[Optional[str]] = mapped_column(String(16), nullable=True)
    handled_topic: Mapped[Optional[str]] = mapped_column(String(200), nullable=True)
    handled_by: Mapped[Optional[int]] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"), nullable=True)
    handled_at: Mapped[Optional[datetime]] = mapped_column(nullable=True)

    __table_args__ = (Index("ix_help_searches_created_at", "created_at"),
                      Index("ix_help_searches_unanswered", "no_good_result", "handled_action", "created_at"))
class Contact(Base):
    """A known customer (handoff/contacts.py): one person across conversations, devices and channels.
    Created when the shop's page proves who the customer is (identity verification)."""
    __tablename__ = "contacts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The shop's own customer id, as signed by the shop (IDENTITY_SECRET).
    shop_customer_id: Mapped[Optional[str]] = mapped_column(String(200), unique=True, nullable=True)
    name: Mapped[Optional[str]] = mapped_column(String(200), nullable=True)
    email: Mapped[Optional[str]] = mapped_column(String(254), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContactIdentity(Base):
    """An address that belongs to a contact on some channel: the shop's customer id, an e-mail
    address, a LINE user id ... One address belongs to one contact at most."""
    __tablename__ = "contact_identities"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # shop_id | email | line | ...
    value: Mapped[str] = mapped_column(String(320))
    # The agent who linked it; None when the shop's signature did.
    agent_id: Mapped[Optional[int]] = mapped_column(ForeignKey("agents.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("kind", "value", name="uq_contact_identities_kind_value"),)


class ContactNote(Base):
    """An agent's note about a contact (a Note is about one conversation)."""
    __tablename__ = "contact_notes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
