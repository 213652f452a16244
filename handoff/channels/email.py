"""The e-mail channel: agents' (and, on e-mail conversations, the bot's) replies leave as e-mail
over SMTP through the outbox, and the customers' mail comes back into the same conversation.

Outbound: `SMTP_URL` (smtp://user:pass@host:587 with STARTTLS, smtps://host:465 with implicit TLS,
smtp://host:25 without credentials on a trusted network). Each outbox row (one agent reply, or the
messages of one bot turn) is one e-mail with a text and an HTML part, a deterministic `Message-ID`
(the outbox's idempotency key: a retried send carries the same id, and a row already delivered is
never sent again), and `In-Reply-To` /
`References` so mail clients thread the conversation. Replies go to `support+<token>@domain`, the
token being the conversation id and an HMAC of it under SECRET_KEY: a reply finds its conversation
without anyone being able to write into a conversation whose token they were not sent.

Inbound: SMTP reception (aiosmtpd, `flask --app handoff mail serve`), not IMAP polling, because
- the mail arrives the moment the shop's mail server forwards it (an alias or a forwarding rule to
  MAIL_RECEIVE_HOST:MAIL_RECEIVE_PORT), where polling would add its interval to every reply;
- the service keeps no mailbox password, and the shop's own server stays the one facing the
  internet (spam filtering, TLS, SPF/DKIM), so the receiver listens on a private address only;
- a refusal is part of the protocol: a mail too large or from an unusable address gets a 5xx
  answer, and the sending server tells the sender, so nothing is silently lost.
The customer's reply is matched to its conversation by the reply address's token, else by
In-Reply-To / References against the Message-IDs we sent and received; the quoted earlier mail is stripped
(handoff/channels/email_text.py). A mail that matches nothing opens a new conversation the bot
answers first. Bounces and auto-replies are recorded (table email_messages) and never answered; a
bounce of a mail we sent marks it failed.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime
from typing import Any, Optional
from urllib.parse import unquote, urlsplit

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..database import utcnow
from ..models import Conversation, EmailRecord, OutboxEntry
from .. import events
from ..events import Event, Listener
from ..outbox import PermanentFailure, TemporaryFailure, enqueue, register_event_processor, register_sender
from ..system_messages import system_text
from .email_text import (AUTO_REPLY, BOUNCE, Body, body_of, bounced_message_ids, escape_html, header, kind_of,
                         message_ids, recipients_of, sender_of, valid_address)

log = logging.getLogger(__name__)

CHANNEL = "email"
_TOKEN_MAC_CHARS = 16  # 64 bits of HMAC-SHA256: guessing one takes 2**63 mails on average


@dataclass(frozen=True)
class MailSettings:
    smtp_url: str
    ca_file: str
    mail_from: str
    from_name: str
    secret: str
    timeout: float
    max_bytes: int
    max_text_chars: int

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "MailSettings":
        return cls(smtp_url=config.get("SMTP_URL") or "", ca_file=config.get("SMTP_CA_FILE") or "", mail_from=(config.get("MAIL_FROM") or "").strip(),
                   from_name=config.get("MAIL_FROM_NAME") or "", secret=str(config.get("SECRET_KEY") or ""),
                   timeout=float(config.get("SMTP_TIMEOUT", 10.0)), max_bytes=int(config.get("MAIL_MAX_BYTES", 10485760)),
                   max_text_chars=int(config.get("MAIL_MAX_TEXT_CHARS", 4000)))

    @property
    def configured(self) -> bool:
        """E-mail goes out only with both a server and a from address; the offline texts promise an
        e-mail reply only then (system_messages.email_replies)."""
        return bool(self.smtp_url and valid_address(self.mail_from))

    @property
    def domain(self) -> str:
        return self.mail_from.rpartition("@")[2].lower()

    def server_for_logs(self) -> str:
        """The SMTP server without its credentials: SMTP_URL's password never reaches a log."""
        parts = urlsplit(self.smtp_url)
        return f"{parts.scheme}://{parts.hostname}:{parts.port or ''}"


def install(app) -> bool:
    """Register the e-mail sender and mail processor with the outbox; with e-mail configured, also
    the listener that mails agents' replies to offline tickets. True when e-mail is configured."""
    register_sender(CHANNEL, send_outbox_row)
    register_event_processor(CHANNEL, process_stored_mail)
    if not settings_of(app).configured:
        return False
    app.extensions["tsunagi"].db.dispatcher.listeners.append(OfflineTicketMail(app.extensions))
    log.info("e-mail channel: sending through %s as %s", settings_of(app).server_for_logs(), settings_of(app).mail_from)
    return True


def settings_of(app) -> MailSettings:
    return MailSettings.from_config(app.config)


def mail_configured(config: dict[str, Any]) -> bool:
    return MailSettings.from_config(config).configured


# Addresses and ids ------------------------------------------------------------------------------

def _mac(settings: MailSettings, purpose: str, value: str, length: int = _TOKEN_MAC_CHARS) -> str:
    return hmac.new(settings.secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()[:length]


def reply_address(settings: MailSettings, conversation_id: str) -> str:
    """support+<conversation id><mac>@domain (hex only: some servers fold the case of local parts)."""
    local, _, domain = settings.mail_from.partition("@")
    local = local.split("+")[0]
    return f"{local}+{conversation_id}{_mac(settings, 'reply', conversation_id)}@{domain}"


def conversation_of_address(settings: MailSettings, address: str) -> Optional[str]:
    """The conversation a reply address names, if its token is ours and unaltered."""
    local, _, domain = address.strip().lower().rpartition("@")
    if domain != settings.domain or "+" not in local:
        return None
    token = local.split("+", 1)[1]
    conversation_id, mac = token[:-_TOKEN_MAC_CHARS], token[-_TOKEN_MAC_CHARS:]
    if len(conversation_id) != 32 or not hmac.compare_digest(mac, _mac(settings, "reply", conversation_id)):
        return None
    return conversation_id


def outbound_message_id(settings: MailSettings, conversation_id: str, transcript_message_id: int) -> str:
    """The same id every time this transcript message is sent: the idempotency key of its mail.
    The MAC covers the conversation too, so a database started afresh never repeats an old id."""
    mac = _mac(settings, "message", f"{conversation_id}:{transcript_message_id}", 16)
    return f"<tsunagi.{transcript_message_id}.{mac}@{settings.domain}>"


def thread_root_id(settings: MailSettings, conversation_id: str) -> str:
    """A conversation that began on the web has no mail to answer; its mails all refer to this id,
    so clients still thread them together."""
    return f"<tsunagi.thread.{_mac(settings, 'thread', conversation_id, 24)}@{settings.domain}>"


def _stored_id(message_id: str) -> str:
    # Message-IDs are short in practice; a giant one is kept as its hash so the unique index holds.
    return message_id if len(message_id) <= 250 else "<sha256." + hashlib.sha256(message_id.encode()).hexdigest() + ">"


# Outbound ----------------------------------------------------------------------------------------

class OfflineTicketMail(Listener):
    """An agent's reply to an offline ticket left on the website, with the address the form took,
    also goes out by e-mail (the form promised it when e-mail is configured). Replies on e-mail
    conversations are queued by listeners/channel_delivery_listener.py like every channel's."""
    handles = frozenset({events.MESSAGE_CREATED})

    def __init__(self, app_extensions: dict):
        self._extensions = app_extensions

    def on_record(self, session, event: Event) -> None:
        message = event.data["message"]
        if message.sender != "agent":
            return
        numbered = event.data.get("conversation")
        if numbered is not None and getattr(numbered, "channel", "web") != "web":
            return
        channel, offline, email = session.execute(
            select(Conversation.channel, Conversation.offline, Conversation.email)
            .where(Conversation.id == event.conversation_id)).one()
        if channel != "web" or not offline or not email:
            return
        item = {"id": message.id, "seq": message.seq, "sender": message.sender, "text": message.text,
                "buttons": message.buttons, "agent_name": message.agent_name}
        enqueue(session, CHANNEL, "message", {"address": email, "language": message.language, "messages": [item]},
                f"{CHANNEL}:message:{message.id}", conversation_id=event.conversation_id,
                queue_key=event.conversation_id)
        event.outbox["channel"] = CHANNEL

    def after_commit_batch(self, batch: list[Event]) -> None:
        if any(event.outbox.get("channel") == CHANNEL for event in batch):
            workers = self._extensions.get("tsunagi_channels")
            if workers is not None:
                workers.outbox.wake()


def compose(settings: MailSettings, session, conversation_id: str, to: str, language: str,
            items: list[dict]) -> EmailMessage:
    """The mail of one outbox row (the messages of one bot turn, or one agent reply), threaded
    after what the conversation already exchanged by e-mail."""
    earlier = list(session.execute(
        select(EmailRecord.message_id, EmailRecord.direction, EmailRecord.subject)
        .where(EmailRecord.conversation_id == conversation_id, EmailRecord.kind == "message")
        .order_by(EmailRecord.id)).all())
    subject = next((s for _, direction, s in reversed(earlier) if direction == "in" and s), None)
    if subject:
        subject = subject if subject[:3].lower() in ("re:", "re：") else f"Re: {subject}"
    else:
        subject = system_text("email_subject", language, shop=settings.from_name or settings.domain)
    root = [] if any(direction == "in" for _, direction, _ in earlier) else [thread_root_id(settings, conversation_id)]
    chain = root + [message_id for message_id, _, _ in earlier]
    references = chain[:1] + chain[1:][-9:]  # RFC 5322: the first id and the latest ones

    mail = EmailMessage(policy=policy.SMTP)
    mail["From"] = Address(settings.from_name, addr_spec=settings.mail_from)
    mail["To"] = to
    mail["Reply-To"] = Address(settings.from_name, addr_spec=reply_address(settings, conversation_id))
    mail["Subject"] = subject
    mail["Date"] = format_datetime(utcnow())
    mail["Message-ID"] = outbound_message_id(settings, conversation_id, items[0]["id"])
    # The mail this one answers: the customer's latest, else our own latest (or the thread's root).
    parent = next((message_id for message_id, direction, _ in reversed(earlier) if direction == "in"),
                  references[-1] if references else None)
    if parent:
        if parent not in references:
            references.append(parent)
        mail["In-Reply-To"] = parent
        mail["References"] = " ".join(references)
    if not any(item.get("sender") == "agent" for item in items):
        mail["Auto-Submitted"] = "auto-replied"  # RFC 3834: other robots must not answer the bot
    paragraphs = []
    for item in items:
        text = str(item.get("text") or "")
        buttons = [b for b in item.get("buttons") or [] if isinstance(b, dict) and b.get("title")]
        if buttons:  # a mail has no buttons: the choices are listed, and a reply in words works
            text += "\n" + "\n".join(f"・{button['title']}" for button in buttons)
        if item.get("sender") == "agent" and item.get("agent_name"):
            text += f"\n\n{item['agent_name']}"
        paragraphs.append(text)
    text = "\n\n".join(paragraphs)
    footer = system_text("email_footer", language)
    mail.set_content(f"{text}\n\n-- \n{footer}\n", charset="utf-8")
    mail.add_alternative(
        f"<!DOCTYPE html><html><body><div>{escape_html(text)}</div>"
        f"<hr><p style=\"color:#666;font-size:small\">{escape_html(footer)}</p></body></html>\n",
        subtype="html", charset="utf-8")
    return mail


def deliver(settings: MailSettings, mail: EmailMessage, envelope_from: str) -> None:
    """Hand one mail to the SMTP server. 4xx and connection trouble: TemporaryFailure; 5xx:
    PermanentFailure."""
    parts = urlsplit(settings.smtp_url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise PermanentFailure("SMTP_URL must be smtp://... or smtps://...")
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    try:
        context = ssl.create_default_context(cafile=settings.ca_file or None)  # a missing file: OSError below
        if parts.scheme == "smtps":
            client = smtplib.SMTP_SSL(parts.hostname, parts.port or 465, timeout=settings.timeout, context=context)
        else:
            client = smtplib.SMTP(parts.hostname, parts.port or 587, timeout=settings.timeout)
        with client:
            client.ehlo()
            if parts.scheme == "smtp" and client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
            elif parts.scheme == "smtp" and user and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
                # A password never crosses the network in clear.
                raise TemporaryFailure(f"{settings.server_for_logs()} offers no STARTTLS; not sending credentials")
            if user:
                _log_in(client, user, password or "")
            refused = client.send_message(mail, from_addr=envelope_from)
            if refused:  # some recipients refused, the mail has one: treat as that answer
                code = min(code for code, _ in refused.values())
                raise (PermanentFailure if code >= 500 else TemporaryFailure)(f"recipient refused: {code}")
    except smtplib.SMTPRecipientsRefused as error:
        code = min(code for code, _ in error.recipients.values())
        raise (PermanentFailure if code >= 500 else TemporaryFailure)(f"recipient refused: {code}") from None
    except smtplib.SMTPAuthenticationError as error:
        # Wrong credentials are a setting to fix, not a reason to drop the customer's reply.
        raise TemporaryFailure(f"{settings.server_for_logs()} refused the login ({error.smtp_code})") from None
    except smtplib.SMTPResponseException as error:
        failure = PermanentFailure if error.smtp_code >= 500 else TemporaryFailure
        raise failure(f"{settings.server_for_logs()} answered {error.smtp_code}") from None
    except (smtplib.SMTPException, OSError) as error:
        raise TemporaryFailure(f"{settings.server_for_logs()}: {type(error).__name__}: {error}") from None


def _log_in(client: smtplib.SMTP, user: str, password: str) -> None:
    """smtplib's login encodes the credentials as ASCII; AUTH PLAIN is UTF-8 (RFC 4616), so a
    password with other characters goes that way."""
    if (user + password).isascii():
        client.login(user, password)
        return
    if not client.has_extn("auth") or "PLAIN" not in client.esmtp_features.get("auth", "").upper().split():
        raise PermanentFailure("the SMTP server offers no AUTH PLAIN for a non-ASCII user name or password")
    token = base64.b64encode(f"\0{user}\0{password}".encode("utf-8")).decode("ascii")
    code, response = client.docmd("AUTH", "PLAIN " + token)
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, response)


def send_outbox_row(app, row) -> None:
    """The outbox's sender for e-mail rows: one mail per row, at most once. The Message-ID comes
    from the row's first message, so a retry sends the same mail, and a row whose mail is recorded
    as sent (the process died before the outbox marked the row) is not sent again."""
    settings = settings_of(app)
    db = app.extensions["tsunagi"].db
    payload = row.payload
    items = payload.get("messages") or []
    to = payload.get("address") or ""
    if not items or not valid_address(to):
        raise PermanentFailure(f"nothing to send or no valid address ({to!r})")
    message_id = outbound_message_id(settings, row.conversation_id, items[0]["id"])
    if not settings.configured:
        raise TemporaryFailure("SMTP_URL or MAIL_FROM is not set")
    with db.reading() as session:
        if session.scalar(select(EmailRecord.status).where(EmailRecord.message_id == message_id)) == "sent":
            return
        mail = compose(settings, session, row.conversation_id, to,
                       payload.get("language") or app.config["DEFAULT_LANGUAGE"], items)
    try:
        deliver(settings, mail, envelope_from=reply_address(settings, row.conversation_id))
    except PermanentFailure as failure:
        _record(db, message_id=message_id, direction="out", conversation_id=row.conversation_id,
                transcript_message_id=items[0]["id"], kind="message", status="failed", address=to,
                subject=str(mail["Subject"])[:300], detail=str(failure)[:1000])
        raise
    log.info("conversation %s: mail %s sent", row.conversation_id, message_id)
    _record(db, message_id=message_id, direction="out", conversation_id=row.conversation_id,
            transcript_message_id=items[0]["id"], kind="message", status="sent", address=to,
            subject=str(mail["Subject"])[:300])


def _record(db, **values) -> bool:
    """One row of email_messages (a sent mail's row is updated in place); False when the
    Message-ID of an inbound mail is already recorded."""
    values["message_id"] = _stored_id(values["message_id"])
    try:
        with db.writing() as session:
            if values.get("direction") == "out":
                changed = session.execute(
                    update(EmailRecord).where(EmailRecord.message_id == values["message_id"])
                    .values(status=values["status"], detail=values.get("detail"))
                    .execution_options(synchronize_session=False)).rowcount
                if changed:
                    return True
            session.add(EmailRecord(created_at=utcnow(), **values))
        return True
    except IntegrityError:
        return False


# Inbound -----------------------------------------------------------------------------------------

@dataclass
class Accepted:
    """What the receiver answers for one inbound mail."""
    outcome: str                  # stored | duplicate | rejected
    smtp_reply: str
    kind: str = ""                # person | bounce | auto_reply
    detail: str = ""


def accept_mail(app, raw: bytes, *, envelope_from: Optional[str] = None,
                envelope_to: Optional[list[str]] = None) -> Accepted:
    """Read one inbound mail and store it (table channel_events) for the channel's worker; the SMTP
    answer comes from here. Never raises for bad input: what the sender must be told about gets a
    5xx (its server then tells the sender), the rest is stored, so nothing is lost."""
    from ..models import ChannelEvent
    settings = settings_of(app)
    db = app.extensions["tsunagi"].db
    if len(raw) > settings.max_bytes:
        return Accepted("rejected", f"552 5.3.4 Message larger than {settings.max_bytes} bytes", detail="too large")
    try:
        mail = BytesParser(policy=policy.default).parsebytes(raw)
        kind, why = kind_of(mail, envelope_from)
        message_id = (message_ids(header(mail, "Message-ID")) or [
            "<sha256." + hashlib.sha256(raw).hexdigest()[:40] + "@no-message-id>"])[0]
        payload: dict[str, Any] = {
            # Whitespace collapsed: an encoded line break in a subject must not reach our reply's header.
            "message_id": message_id, "kind": kind, "why": why, "subject": " ".join(header(mail, "Subject").split())[:300],
            "references": (message_ids(header(mail, "In-Reply-To")) + message_ids(header(mail, "References")))[-50:],
            "recipients": (list(envelope_to or []) + recipients_of(mail))[:50],
            "envelope_from": (envelope_from or "")[:254],
        }
        if kind == BOUNCE:
            payload["bounced"] = bounced_message_ids(mail)[:20]
        else:
            display_name, address = sender_of(mail)
            payload["address"], payload["display_name"] = address, " ".join(display_name.split())[:200]
            local, _, domain = address.rpartition("@")
            if address and f"{local.split('+')[0]}@{domain}" == settings.mail_from.lower():
                # Our own mail come back (a forwarding loop): answering it would mail ourselves forever.
                kind, why = AUTO_REPLY, "sent from this service's own address"
                payload["kind"], payload["why"] = kind, why
            if kind != AUTO_REPLY:
                if not address:
                    return Accepted("rejected", "550 5.1.7 The From address is missing or not a valid address",
                                    kind, "bad sender")
                payload["text"] = _transcript_text(settings, body_of(mail))
    except Exception as error:  # the parser is lenient; whatever still breaks is answered, not raised
        log.warning("unreadable mail from %s: %s: %s", envelope_from, type(error).__name__, error)
        return Accepted("rejected", "550 5.6.0 The message could not be read", detail=type(error).__name__)
    try:
        with db.writing() as session:
            session.add(ChannelEvent(channel=CHANNEL, external_id=_stored_id(message_id)[:200],
                                     queue_key=f"email:{payload.get('address') or payload['envelope_from']}"[:254],
                                     payload=payload, status="pending", attempts=0, next_attempt_at=utcnow(),
                                     received_at=utcnow()))
    except IntegrityError:  # the same mail delivered again (a forwarder's retry): taken once
        return Accepted("duplicate", "250 2.0.0 Already received", kind)
    _wake_event_workers(app)
    return Accepted("stored", "250 2.0.0 Received", kind, why)


def _wake_event_workers(app) -> None:
    workers = app.extensions.get("tsunagi_channels")
    events = getattr(workers, "events", None)
    if events is not None:
        events.wake()


def process_stored_mail(app, row) -> None:
    """The channel-events worker's step for one stored mail: a bounce marks what it reports
    failed, an auto-reply is recorded, a person's mail goes through the gateway (the bot, or the
    agents after a handoff) into the conversation it answers, or a new one."""
    with app.app_context():  # the texts the gateway adds depend on the app's settings (system_messages)
        _process_stored_mail(app, row)


def _process_stored_mail(app, row) -> None:
    settings = settings_of(app)
    db = app.extensions["tsunagi"].db
    payload = row.payload
    message_id, kind = payload["message_id"], payload["kind"]
    conversation_id = _match(settings, db, payload.get("recipients") or [], payload.get("references") or [])
    if kind == BOUNCE:
        failed = _mark_bounced(settings, db, (payload.get("bounced") or []) + (payload.get("references") or []))
        _record(db, message_id=message_id, direction="in", conversation_id=failed[0][0] if failed else conversation_id,
                kind="bounce", status="ignored", address=payload.get("envelope_from") or None,
                subject=payload.get("subject"),
                detail=f"{payload.get('why')}; marks failed: {', '.join(m for _, m in failed) or 'nothing we sent'}"[:1000])
        log.info("bounce %s (%s): %d sent mail(s) marked failed", message_id, payload.get("why"), len(failed))
        return
    if kind == AUTO_REPLY:
        _record(db, message_id=message_id, direction="in", conversation_id=conversation_id, kind="auto_reply",
                status="ignored", address=payload.get("address") or None, subject=payload.get("subject"),
                detail=str(payload.get("why"))[:1000])
        log.info("auto-reply %s recorded, not answered (%s)", message_id, payload.get("why"))
        return
    from . import open_conversation, receive_message  # the one inbound gateway of every channel
    # The conversation first, and this mail recorded in it, before the gateway runs: the bot's
    # answer is sent by another thread, which threads it after this mail. A retry after a crash
    # finds the record (kept) and the message (receive_message takes an external_id once).
    conversation_id = open_conversation(app, CHANNEL, payload["address"], payload["text"],
                                        display_name=payload.get("display_name") or None,
                                        conversation_id=conversation_id)
    _record(db, message_id=message_id, direction="in", conversation_id=conversation_id, kind="message",
            status="received", address=payload["address"], subject=payload.get("subject"))
    kept_id = receive_message(app, CHANNEL, payload["address"], payload["text"],
                              display_name=payload.get("display_name") or None, external_id=message_id,
                              conversation_id=conversation_id,
                              metadata={"subject": payload.get("subject"), "message_id": message_id})
    if kept_id != conversation_id:  # resolved in between: the message went to a new conversation
        with db.writing() as session:
            session.execute(update(EmailRecord).where(EmailRecord.message_id == _stored_id(message_id))
                            .values(conversation_id=kept_id).execution_options(synchronize_session=False))


def _transcript_text(settings: MailSettings, body: Body) -> str:
    """What the agent reads: the new text, cut at MAIL_MAX_TEXT_CHARS with a note, and one line per
    attachment left out (attachments are never stored)."""
    text = body.text
    notes = [f"[attachment omitted: {name}]" for name in body.attachments]
    if not body.had_text:
        notes.insert(0, "[no text part in this e-mail]")
    if len(text) > settings.max_text_chars:
        text = text[:settings.max_text_chars] + f"\n[cut: the e-mail's text is longer than {settings.max_text_chars} characters]"
    return "\n\n".join(part for part in [text.strip(), "\n".join(notes)] if part) or "[no text part in this e-mail]"


def _match(settings: MailSettings, db, recipients: list[str], references: list[str]) -> Optional[str]:
    """The conversation a mail answers: by the reply address's token, else by the ids it refers to."""
    for address in recipients:
        conversation_id = conversation_of_address(settings, address)
        if conversation_id:
            with db.reading() as session:
                if session.get(Conversation, conversation_id) is not None:
                    return conversation_id
    if references:
        with db.reading() as session:
            found = session.scalar(
                select(EmailRecord.conversation_id)
                .where(EmailRecord.message_id.in_([_stored_id(r) for r in references]),
                       EmailRecord.conversation_id.is_not(None))
                .order_by(EmailRecord.id.desc()).limit(1))
            if found:
                return found
    return None


def _mark_bounced(settings: MailSettings, db, ids: list[str]) -> list[tuple[str, str]]:
    """Our sent mails a bounce reports on, marked failed: (conversation id, Message-ID) of each."""
    ours = [_stored_id(i) for i in ids if i.endswith(f"@{settings.domain}>")]
    if not ours:
        return []
    with db.writing() as session:
        rows = list(session.execute(select(EmailRecord.conversation_id, EmailRecord.message_id,
                                           EmailRecord.transcript_message_id).where(
            EmailRecord.message_id.in_(ours), EmailRecord.direction == "out")).all())
        session.execute(update(EmailRecord).where(EmailRecord.message_id.in_(ours), EmailRecord.direction == "out")
                        .values(status="failed", detail="bounced").execution_options(synchronize_session=False))
        # The outbox row too: agents see it among the failed deliveries, /healthz counts it.
        keys = [f"{CHANNEL}:message:{transcript_id}" for _, _, transcript_id in rows if transcript_id]
        if keys:
            session.execute(update(OutboxEntry).where(OutboxEntry.idempotency_key.in_(keys))
                            .values(status="failed", last_error="bounced: the recipient's server returned the mail")
                            .execution_options(synchronize_session=False))
    return [(c, m) for c, m, _ in rows]

