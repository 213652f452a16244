"""The channel layer: how customers on LINE and e-mail reach the same bot, the same queue and the
same transcript as the website widget.

One file per channel (handoff/channels/line.py, email.py) turns the platform's webhook or mail into
calls of `receive_message`, the one inbound entry point, and registers a sender with the outbox
(handoff/outbox.py) for what goes back. Nothing channel-specific reaches the lifecycle or the
console: a conversation only carries its `channel`, the customer's `channel_address` on it and the
`customer_name` the channel gave.

    receive_message(app, "line", user_id, "送料はいくら？", display_name="山田花子",
                    external_id=message_id, metadata={"reply_token": ..., "received_at": ...})
"""
from __future__ import annotations

import hashlib
import importlib
import logging
from typing import Any, Optional

from flask import Blueprint, current_app
from sqlalchemy import select, update

from .. import schemas
from ..auth import agent_required
from ..openapi import AGENT, endpoint

from ..contacts import attach_if_linked
from ..database import utcnow
from ..errors import Conflict
from ..lifecycle import Status, start_conversation
from ..models import Conversation, Message
from ..outbox import ChannelWorkers, InboundReply, failed_rows, inbound_reply
from ..outbox import health as outbox_health
from ..transcript import add_message, iso
from languages import LANGUAGES, message_language

log = logging.getLogger(__name__)

CHANNELS = ("web", "line", "email")
# The modules of the channels (each has install(app) -> bool: registers its routes and sender,
# and says whether the deployment configured it).
CHANNEL_MODULES = ("line", "email")
_MAX_EXTERNAL_ID = 100  # messages.client_message_id


api = Blueprint("channels_api", __name__, url_prefix="/api/agent/channels")


@api.get("")
@agent_required()
@endpoint({200: schemas.ChannelsStatus}, AGENT)
def channels_status():
    """The channels configured here, LINE's push quota this month, and the outbox (waiting, failed)."""
    app = current_app._get_current_object()
    configured = app.extensions["tsunagi_channel_modules"]
    channels = [{"channel": "web", "configured": True, "push_quota": None}]
    for name, module in configured.items():
        status = getattr(module, "status", None)
        channels.append(status(app) if status else {"channel": name, "configured": module_enabled(app, name),
                                                    "push_quota": None})
    with app.extensions["tsunagi"].db.reading() as session:
        health = outbox_health(session)
        failed = [{"id": row.id, "channel": row.channel, "conversation_id": row.conversation_id,
                   "attempts": row.attempts, "last_error": row.last_error, "created_at": iso(row.created_at)}
                  for row in failed_rows(session, limit=20)]
    return {"channels": channels, "outbox": health, "failed": failed}


def module_enabled(app, name: str) -> bool:
    return name in app.extensions.get("tsunagi_channels_enabled", ())


def install(app) -> None:
    """Register every channel's routes; start the outbox and event workers when a channel is configured."""
    enabled = []
    modules = {}
    for name in CHANNEL_MODULES:
        module = modules[name] = importlib.import_module(f"{__name__}.{name}")
        if module.install(app):
            enabled.append(name)
    app.extensions["tsunagi_channel_modules"] = modules
    app.extensions["tsunagi_channels_enabled"] = tuple(enabled)
    app.register_blueprint(api)
    app.extensions["tsunagi_channels"] = workers = ChannelWorkers(app)
    services = app.extensions["tsunagi"]
    services.channel_workers = workers
    if enabled and app.config["CHANNEL_WORKERS"]:
        workers.start()
        log.info("channels %s: outbox and event workers started", ", ".join(enabled))


def workers_of(app) -> ChannelWorkers:
    return app.extensions["tsunagi_channels"]


def external_key(external_id: Optional[str]) -> Optional[str]:
    """The platform's id of an inbound message as kept in messages.client_message_id: a long id
    (an e-mail's Message-ID may be) becomes its hash."""
    if not external_id:
        return None
    if len(external_id) <= _MAX_EXTERNAL_ID:
        return external_id
    return "sha256:" + hashlib.sha256(external_id.encode()).hexdigest()


def receive_message(app, channel: str, address: str, text: str, *, display_name: Optional[str] = None,
                    external_id: Optional[str] = None, conversation_id: Optional[str] = None,
                    metadata: Optional[dict[str, Any]] = None) -> str:
    """A customer's message from a channel, through the same gateway as the widget's: the bot
    answers while it is in charge, agents see it after a handoff. Returns the conversation's id.

    The conversation is the given one (e.g. matched by an e-mail's References) while it is open,
    else the customer's open conversation on this channel, else a new one (the previous was
    resolved). A message whose external_id was already received (a redelivery) is not stored
    again. metadata: `reply_token` and `received_at` (the channel may answer this message for
    free, e.g. LINE's reply API), `display_text` (what the customer saw, e.g. a button's title
    when `text` is its payload), `language`.
    """
    if channel not in CHANNELS or channel == "web":
        raise ValueError(f"unknown channel {channel!r}")
    metadata = metadata or {}
    services = app.extensions["tsunagi"]
    key = external_key(external_id)
    if key is not None:
        earlier = _earlier_message(services.db, channel, address, key, conversation_id)
        if earlier is not None:
            return earlier
    reply = InboundReply(metadata.get("reply_token"), metadata.get("received_at"))
    for _ in range(2):  # once more when the conversation was resolved in between
        conversation_id = open_conversation(app, channel, address, text, display_name=display_name,
                                            conversation_id=conversation_id, language=metadata.get("language"))
        token = inbound_reply.set(reply)
        try:
            services.gateway.customer_message(conversation_id, text, key, display_text=metadata.get("display_text"))
        except Conflict as conflict:
            if conflict.code != "conversation_resolved":
                raise
            conversation_id = None
            continue
        finally:
            inbound_reply.reset(token)
        return conversation_id
    raise Conflict("conversation_resolved", "The conversation was resolved twice while the message arrived.")


def receive_notice(app, channel: str, address: str, reply_text: str, *, customer_text: Optional[str] = None,
                   display_name: Optional[str] = None, external_id: Optional[str] = None,
                   metadata: Optional[dict[str, Any]] = None) -> str:
    """Something from the customer the bot cannot take (a LINE sticker, a follow): kept in the
    transcript (customer_text, e.g. "(sticker)", shown to agents) and answered by the service
    with reply_text, never sent to the bot. Returns the conversation's id."""
    metadata = metadata or {}
    services = app.extensions["tsunagi"]
    key = external_key(external_id)
    if key is not None:
        earlier = _earlier_message(services.db, channel, address, key, None)
        if earlier is not None:
            return earlier
    conversation_id = open_conversation(app, channel, address, customer_text or "", display_name=display_name,
                                        language=metadata.get("language"))
    token = inbound_reply.set(InboundReply(metadata.get("reply_token"), metadata.get("received_at")))
    try:
        with services.db.writing() as session:
            reply_to = None
            if customer_text:
                message = add_message(session, conversation_id, "customer", customer_text, None, open_only=True,
                                      client_message_id=key)
                reply_to = message.id if message is not None else None
            add_message(session, conversation_id, "system", reply_text, None, reply_to_id=reply_to)
    finally:
        inbound_reply.reset(token)
    return conversation_id


def open_conversation(app, channel: str, address: str, text: str = "", *, display_name: Optional[str] = None,
                      conversation_id: Optional[str] = None, language: Optional[str] = None) -> str:
    """The customer's open conversation (the given one first), or a new one on this channel."""
    services = app.extensions["tsunagi"]
    with services.db.writing() as session:
        conversation = None
        if conversation_id:
            conversation = session.get(Conversation, conversation_id)
            if conversation is not None and conversation.status == Status.RESOLVED.value:
                conversation = None
        if conversation is None:
            conversation = session.scalar(
                select(Conversation).where(Conversation.channel == channel, Conversation.channel_address == address,
                                           Conversation.status != Status.RESOLVED.value)
                .order_by(Conversation.created_at.desc()).limit(1))
        if conversation is None:
            if language not in LANGUAGES:
                language = message_language(text, None) or app.config["DEFAULT_LANGUAGE"]
            conversation = start_conversation(session, language)
            conversation.channel, conversation.channel_address = channel, address
            conversation.customer_name = (display_name or "")[:200] or None
            session.flush()
            attach_if_linked(session, conversation.id, channel, address)  # a linked address: the contact's
        elif display_name and conversation.customer_name != display_name[:200]:
            session.execute(update(Conversation).where(Conversation.id == conversation.id)
                            .values(customer_name=display_name[:200], updated_at=utcnow())
                            .execution_options(synchronize_session=False))
        return conversation.id


def customer_name_known(app, channel: str, address: str) -> bool:
    """Whether a conversation of this customer already has the name the channel gave (the LINE
    profile is then not asked again)."""
    with app.extensions["tsunagi"].db.reading() as session:
        return session.scalar(select(Conversation.id).where(
            Conversation.channel == channel, Conversation.channel_address == address,
            Conversation.customer_name.is_not(None)).limit(1)) is not None


def set_customer_name(app, channel: str, address: str, name: str) -> None:
    """The name the channel gives the customer, on their open conversation on it."""
    with app.extensions["tsunagi"].db.writing() as session:
        session.execute(update(Conversation).where(
            Conversation.channel == channel, Conversation.channel_address == address,
            Conversation.status != Status.RESOLVED.value).values(customer_name=name[:200])
            .execution_options(synchronize_session=False))


def _earlier_message(db, channel: str, address: str, key: str, conversation_id: Optional[str]) -> Optional[str]:
    with db.reading() as session:
        query = select(Message.conversation_id).join(Conversation, Conversation.id == Message.conversation_id) \
            .where(Message.client_message_id == key)
        if conversation_id:
            query = query.where((Conversation.id == conversation_id) |
                                ((Conversation.channel == channel) & (Conversation.channel_address == address)))
        else:
            query = query.where(Conversation.channel == channel, Conversation.channel_address == address)
        return session.scalar(query.limit(1))
