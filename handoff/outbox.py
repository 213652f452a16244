"""The outbox: every message to a channel's outside system (LINE, e-mail) is a row first, written
in the same transaction as the message (listeners/channel_delivery_listener.py), then sent by
background workers with retries and exponential backoff. A channel's API being down loses nothing;
the idempotency key of each row (and the keys the senders derive from it, e.g. LINE's
X-Line-Retry-Key) keeps a retried call from sending twice.

    register_sender("line", send)    # send(app, row) -> None; raises TemporaryFailure or PermanentFailure

The same worker machinery (Queue) also processes the events a webhook stored before answering
(table channel_events, handoff/channels/__init__.py), so both survive a process dying mid-way.

Claiming is safe with several processes and hosts: on PostgreSQL a claim is one
UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED), on SQLite the same UPDATE inside
BEGIN IMMEDIATE (the database's one write lock makes it atomic). A claimed row is leased
(OUTBOX_LEASE_SECONDS): a row whose process died while sending is due again when the lease ends,
and is sent again with the same keys. Rows with the same queue_key (one conversation, one LINE
user) are taken in order, one at a time: a later message never overtakes an earlier one that is
waiting for a retry. After OUTBOX_MAX_ATTEMPTS tries a row is `failed`: counted in /healthz and
in /metrics, and listed to agents (GET /api/agent/channels, the dashboard).
"""
from __future__ import annotations

import contextvars
import logging
import random
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, Optional

from sqlalchemy import and_, bindparam, exists, func, or_, select, update

from .database import utcnow
from .models import ChannelEvent, OutboxEntry

log = logging.getLogger(__name__)

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"

# The claim statement's parameters (the statement is built once per queue).
_NOW = bindparam("now", type_=OutboxEntry.__table__.c.next_attempt_at.type)
_LEASE = bindparam("lease", type_=OutboxEntry.__table__.c.claimed_until.type)
_LIMIT = bindparam("limit")


class TemporaryFailure(Exception):
    """The outside system could not take it now (5xx, timeout, refused, 429): try again later."""


class PermanentFailure(Exception):
    """It will never be accepted (e.g. a 400): the row is failed at once."""


Sender = Callable[[Any, Any], None]
_SENDERS: dict[str, Sender] = {}
_PROCESSORS: dict[str, Sender] = {}


def register_sender(channel: str, send: Sender) -> None:
    """The function that delivers one outbox row of this channel: send(app, row)."""
    _SENDERS[channel] = send


def register_event_processor(channel: str, process: Sender) -> None:
    """The function that handles one stored webhook event of this channel: process(app, row)."""
    _PROCESSORS[channel] = process


@dataclass
class InboundReply:
    """The inbound message being answered now, if its channel can answer it for free (LINE's reply
    token): set by handoff.channels.receive_message around the gateway call, read by the delivery
    listener for the replies stored in that call."""
    reply_token: Optional[str] = None
    received_at: Optional[str] = None  # ISO time the webhook received the event


inbound_reply: contextvars.ContextVar[Optional[InboundReply]] = contextvars.ContextVar("inbound_reply", default=None)


def backoff_seconds(attempts: int, base: float, cap: float, rng: Callable[[], float] = random.random) -> float:
    """Seconds before the next try after `attempts` failed ones: base * 2**(attempts-1), at most
    cap, with +-20 % jitter so rows that failed together do not all come back at once."""
    delay = min(cap, base * (2 ** max(0, attempts - 1)))
    return delay * (0.8 + 0.4 * rng())


def enqueue(session, channel: str, kind: str, payload: dict, idempotency_key: str, *,
            conversation_id: Optional[str] = None, queue_key: Optional[str] = None) -> OutboxEntry:
    """Add a row to the outbox in the caller's transaction (it commits or rolls back with it)."""
    entry = OutboxEntry(channel=channel, kind=kind, payload=payload, idempotency_key=idempotency_key,
                        conversation_id=conversation_id, queue_key=queue_key, status=PENDING, attempts=0,
                        next_attempt_at=utcnow(), created_at=utcnow())
    session.add(entry)
    return entry


def note_progress(app, table, row_id: int, payload: dict) -> None:
    """Keep a sender's progress on a row (e.g. which parts of a long message were delivered), in
    its own transaction, so a retry after a crash does not redo them."""
    db = app.extensions["tsunagi"].db
    with db.writing() as session:
        session.execute(update(table).where(table.id == row_id).values(payload=payload)
                        .execution_options(synchronize_session=False))


@dataclass
class QueueSettings:
    max_attempts: int = 10
    backoff_seconds: float = 2.0
    backoff_max_seconds: float = 300.0
    lease_seconds: float = 60.0
    poll_seconds: float = 0.5
    threads: int = 2
    # Rows a thread claims at once. One: a thread works a row at a time (a webhook event waits for
    # the bot), so rows claimed together would wait behind each other while other threads idle.
    batch: int = 1

    @classmethod
    def from_config(cls, config: dict, threads_key: str) -> "QueueSettings":
        return cls(max_attempts=config["OUTBOX_MAX_ATTEMPTS"], backoff_seconds=config["OUTBOX_BACKOFF_SECONDS"],
                   backoff_max_seconds=config["OUTBOX_BACKOFF_MAX_SECONDS"],
                   lease_seconds=config["OUTBOX_LEASE_SECONDS"], poll_seconds=config["OUTBOX_POLL_SECONDS"],
                   threads=config[threads_key])


class Queue:
    """Rows of one table (OutboxEntry or ChannelEvent) worked off by background threads: claim,
    hand each row to its channel's handler, then mark it sent, due again later, or failed."""

    def __init__(self, app, model, handlers: dict[str, Sender], settings: QueueSettings, name: str):
        self.app = app
        self.model = model
        self.handlers = handlers
        self.settings = settings
        self.name = name
        # Wakes one idle thread per signal (not all of them: each would run a claim for one row).
        self._signal = threading.Condition()
        self._kicks = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._claim_statement = None

    @property
    def db(self):
        return self.app.extensions["tsunagi"].db

    def wake(self) -> None:
        """New rows were committed in this process: claim now instead of at the next poll."""
        with self._signal:
            self._kicks += 1
            self._signal.notify()

    def start(self) -> "Queue":
        if self._threads:
            return self
        for number in range(self.settings.threads):
            thread = threading.Thread(target=self._run, args=(number,), name=f"{self.name}-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._signal:
            self._signal.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    def _run(self, number: int) -> None:
        # The first thread looks for rows from other processes (and retries coming due) every
        # poll; the others mostly wait to be woken, so an idle process runs few claims.
        poll = self.settings.poll_seconds * (1 if number == 0 else 10)
        while not self._stop.is_set():
            try:
                worked = self.work_once()
            except Exception:  # the database down for a moment must not end the worker
                log.exception("%s: claiming failed", self.name)
                worked = 0
                self._stop.wait(self.settings.poll_seconds)
            with self._signal:
                if worked:
                    self._signal.notify()  # there may be more: another idle thread looks too
                    continue
                if self._kicks:  # rows were committed while this thread was claiming
                    self._kicks -= 1
                    continue
                if not self._stop.is_set():
                    self._signal.wait(poll)

    def work_once(self) -> int:
        """Claim due rows and handle them; how many were handled."""
        rows = self.claim(self.settings.batch)
        for row in rows:
            self.handle(row)
        return len(rows)

    def _statement(self, dialect: str):
        table = self.model.__table__
        earlier = table.alias("earlier")
        due = or_(and_(table.c.status == PENDING, table.c.next_attempt_at <= _NOW),
                  and_(table.c.status == SENDING, table.c.claimed_until < _NOW))
        # A row waits while an earlier one of its queue (conversation, customer) is not done.
        ahead = exists().where(earlier.c.queue_key == table.c.queue_key, earlier.c.id < table.c.id,
                               earlier.c.status.in_((PENDING, SENDING)))
        candidates = select(table.c.id).where(due, ~ahead).order_by(table.c.id).limit(_LIMIT)
        if dialect == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        return (update(table).where(table.c.id.in_(candidates.scalar_subquery()))
                .values(status=SENDING, claimed_until=_LEASE, attempts=table.c.attempts + 1)
                .returning(*table.c).execution_options(synchronize_session=False))

    def claim(self, limit: int) -> list:
        if self._claim_statement is None:
            self._claim_statement = self._statement(self.db.dialect)
        now = utcnow()
        with self.db.writing() as session:
            return list(session.execute(self._claim_statement, {
                "now": now, "lease": now + timedelta(seconds=self.settings.lease_seconds), "limit": limit}).all())

    def handle(self, row) -> None:
        handler = self.handlers.get(row.channel)
        table = self.model
        error: Optional[str] = None
        outcome = SENT
        if handler is None:
            outcome, error = PENDING, f"no sender registered for channel {row.channel!r}"
        else:
            try:
                handler(self.app, row)
            except TemporaryFailure as failure:
                outcome, error = PENDING, str(failure) or type(failure).__name__
            except PermanentFailure as failure:
                outcome, error = FAILED, str(failure) or type(failure).__name__
            except Exception as failure:  # a bug in a handler: retried like an outage, and logged
                log.exception("%s: handler of %s failed on row %s", self.name, row.channel, row.id)
                outcome, error = PENDING, f"{type(failure).__name__}: {failure}"
        now = utcnow()
        if outcome == PENDING and row.attempts >= self.settings.max_attempts:
            outcome = FAILED
        if outcome == SENT:
            values = {"status": SENT, "sent_at": now, "claimed_until": None, "last_error": None}
        elif outcome == FAILED:
            values = {"status": FAILED, "claimed_until": None, "last_error": (error or "")[:2000]}
            log.warning("%s: row %s (%s) failed after %s attempts: %s", self.name, row.id, row.channel,
                        row.attempts, error)
        else:
            delay = backoff_seconds(row.attempts, self.settings.backoff_seconds, self.settings.backoff_max_seconds)
            values = {"status": PENDING, "claimed_until": None, "last_error": (error or "")[:2000],
                      "next_attempt_at": now + timedelta(seconds=delay)}
        with self.db.writing() as session:
            # Only while this worker still holds the lease (same attempt): a row taken over by
            # another process after the lease ended is that process's to finish.
            session.execute(update(table).where(table.id == row.id, table.status == SENDING,
                                                table.attempts == row.attempts).values(**values)
                            .execution_options(synchronize_session=False))

class ChannelWorkers:
    """The two queues of one app: the outbox and the stored webhook events."""

    def __init__(self, app):
        config = app.config
        self.outbox = Queue(app, OutboxEntry, _SENDERS, QueueSettings.from_config(config, "OUTBOX_THREADS"), "outbox")
        self.events = Queue(app, ChannelEvent, _PROCESSORS,
                            QueueSettings.from_config(config, "CHANNEL_EVENT_THREADS"), "channel-events")

    def start(self) -> "ChannelWorkers":
        self.outbox.start()
        self.events.start()
        return self

    def stop(self) -> None:
        self.events.stop()
        self.outbox.stop()


FAILED_RECENT_HOURS = 24  # /healthz is degraded while a row failed this recently


def health(session) -> dict[str, int]:
    """For /healthz: rows waiting to be sent, and rows that failed in the last FAILED_RECENT_HOURS."""
    pending = session.scalar(select(func.count()).select_from(OutboxEntry)
                             .where(OutboxEntry.status.in_((PENDING, SENDING))))
    failed = session.scalar(select(func.count()).select_from(OutboxEntry).where(
        OutboxEntry.status == FAILED, OutboxEntry.created_at >= utcnow() - timedelta(hours=FAILED_RECENT_HOURS)))
    return {"pending": pending, "failed": failed}


def counts_by_channel(session) -> list[tuple[str, str, int]]:
    """For /metrics: (channel, status, rows) of the rows not sent (pending, sending, failed)."""
    return [tuple(row) for row in session.execute(
        select(OutboxEntry.channel, OutboxEntry.status, func.count()).where(OutboxEntry.status != SENT)
        .group_by(OutboxEntry.channel, OutboxEntry.status))]


def failed_rows(session, limit: int = 50) -> list[OutboxEntry]:
    return list(session.scalars(select(OutboxEntry).where(OutboxEntry.status == FAILED)
                                .order_by(OutboxEntry.id.desc()).limit(limit)))
