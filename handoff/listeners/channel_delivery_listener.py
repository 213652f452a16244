"""Channel delivery: the bot's, the agents' and the service's messages in a conversation that is
not on the website widget become outbox rows (handoff/outbox.py) in the transaction that stores
them, so a message is delivered if and only if it was committed.

On e-mail, a service notice goes only with the bot's or agent's message of its transaction, never as a
mail of its own. The messages of one transaction in one conversation (a bot turn: the answer, its "did that help?"
follow-up, a handoff notice) go in one row: LINE answers them in one reply call, which its reply
token allows only once. An agent's "typing" becomes a `loading` row (LINE's loading animation).
"""
from __future__ import annotations

import uuid

from sqlalchemy import select

from .. import events
from ..events import Event, Listener
from ..models import Conversation
from ..outbox import enqueue, inbound_reply

_ROWS_KEY = "channel_outbox_rows"


class ChannelDeliveryListener(Listener):
    handles = frozenset({events.MESSAGE_CREATED, events.TYPING})

    def __init__(self, app_extensions: dict):
        # The workers are built after the listeners (handoff/channels install); looked up when needed.
        self._extensions = app_extensions

    def on_record(self, session, event: Event) -> None:
        if event.name == events.TYPING:
            self._typing(session, event)
            return
        message = event.data["message"]
        if message.sender == "customer":
            return
        numbered = event.data.get("conversation")
        channel = getattr(numbered, "channel", None)
        address = getattr(numbered, "channel_address", None)
        if channel is None:  # a caller's own row without the channel: read it
            channel, address = session.execute(select(Conversation.channel, Conversation.channel_address)
                                               .where(Conversation.id == event.conversation_id)).one()
        if channel == "web" or not address:
            return
        item = {"id": message.id, "seq": message.seq, "sender": message.sender, "text": message.text,
                "buttons": message.buttons, "agent_name": message.agent_name}
        rows = session.info.setdefault(_ROWS_KEY, {})
        entry = rows.get(event.conversation_id)
        if channel == "email" and message.sender == "system" and entry is None:
            # A service notice on its own ("Aiko has joined", "back with our assistant") would be a
            # mail of its own; on e-mail it only goes out with the bot's or an agent's message it
            # belongs to (the handoff or offline notice after the bot's answer).
            return
        if entry is not None:
            entry.payload = dict(entry.payload, messages=entry.payload["messages"] + [item])
        else:
            payload = {"address": address, "language": message.language, "messages": [item]}
            reply = inbound_reply.get()
            if reply is not None and reply.reply_token:
                payload["reply_token"], payload["received_at"] = reply.reply_token, reply.received_at
            rows[event.conversation_id] = enqueue(
                session, channel, "message", payload, f"{channel}:message:{message.id}",
                conversation_id=event.conversation_id, queue_key=event.conversation_id)
        event.outbox["channel"] = channel

    def _typing(self, session, event: Event) -> None:
        if event.data.get("sender") != "agent" or not event.data.get("typing"):
            return
        channel, address = session.execute(select(Conversation.channel, Conversation.channel_address)
                                           .where(Conversation.id == event.conversation_id)).one()
        if channel != "line" or not address:
            return
        # Not in the conversation's queue: a typing signal never waits behind (or holds up) a message.
        enqueue(session, channel, "loading", {"address": address}, f"{channel}:loading:{uuid.uuid4()}",
                conversation_id=event.conversation_id)
        event.outbox["channel"] = channel

    def after_commit_batch(self, batch: list[Event]) -> None:
        if any("channel" in event.outbox for event in batch):
            workers = self._extensions.get("tsunagi_channels")
            if workers is not None:
                workers.outbox.wake()
