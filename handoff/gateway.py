"""The chat gateway: a customer message is stored first, then, while the bot is in charge,
forwarded to Rasa; the bot's replies (or a polite apology when Rasa is down) are stored too.

The Rasa call happens between two transactions, so no database lock is held while the bot thinks.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Optional

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from . import events
from .contacts import verified_customer_id
from .database import Database, utcnow
from .errors import Conflict
from .listeners.bot_restart_listener import restarted
from .lifecycle import Status, get_conversation, request_handoff
from .masking import mask_card_numbers
from .models import Conversation, Message
from .rasa import BotTurn, RasaClient, RasaUnavailable
from intents import FALLBACK_INTENTS
from languages import LANGUAGES, message_language
from support_hours import SupportHours
from .system_messages import system_text
from .transcript import add_message, replies_to

log = logging.getLogger(__name__)

REQUEST_HUMAN_PAYLOAD = "/request_human"


@dataclass
class Exchange:
    message: Message
    replies: list[Message]
    repeated: bool = False


class Gateway:
    def __init__(self, db: Database, rasa: RasaClient, hours: SupportHours, when_nobody_online: str = "queue",
                 article_path: Optional[Callable[[str], Optional[str]]] = None):
        self.db = db
        self.rasa = rasa
        self.hours = hours
        self.when_nobody_online = when_nobody_online  # WHEN_NOBODY_ONLINE (lifecycle.request_handoff)
        # topic -> the path of its help-center article (/help/<category>/<topic>) or None
        # (handoff/help_center.article_path): a bot answer about a topic links to its article.
        self.article_path = article_path or (lambda topic: None)

    def customer_message(self, conversation_id: str, text: str, client_message_id: Optional[str] = None, *,
                         display_text: Optional[str] = None) -> Exchange:
        try:
            with self.db.writing() as session:
                earlier = self._earlier(session, conversation_id, client_message_id)
                if earlier is not None:
                    return earlier
                message, bot_in_charge, language, restart_pending = self._store_customer_message(
                    session, conversation_id, text, client_message_id, display_text)
                # Only a customer the shop's signature verified: the bot may then look up their orders.
                customer_id = verified_customer_id(session, conversation_id) if bot_in_charge else None
        except IntegrityError:
            # The same client_message_id raced in twice: the other request stored it.
            with self.db.reading() as session:
                earlier = self._earlier(session, conversation_id, client_message_id)
            if earlier is None:
                raise
            return earlier
        if not bot_in_charge:
            return Exchange(message, [])
        try:
            if restart_pending:  # handed back while Rasa was down: it must forget the old turns first
                self.rasa.restart(conversation_id)
                with self.db.writing() as session:
                    restarted(session, conversation_id)
            turn: Optional[BotTurn] = self.rasa.send(conversation_id, message.text, language,
                                                     customer_id=customer_id)
        except RasaUnavailable as error:
            log.warning("conversation %s: %s", conversation_id, error)
            turn = None
        with self.db.writing() as session:
            replies = self._store_bot_turn(session, conversation_id, message, turn)
        return Exchange(message, replies)

    def _earlier(self, session, conversation_id: str, client_message_id: Optional[str]) -> Optional[Exchange]:
        if not client_message_id:
            return None
        message = session.scalar(select(Message).where(Message.conversation_id == conversation_id,
                                                       Message.client_message_id == client_message_id))
        if message is None:
            return None
        return Exchange(message, replies_to(session, message.id), repeated=True)

    def _store_customer_message(self, session, conversation_id, text, client_message_id, display_text=None):
        conversation = get_conversation(session, conversation_id)
        if conversation.status == Status.RESOLVED:
            raise Conflict("conversation_resolved", "This conversation has ended; start a new one.")
        # The same rule as the bot's (bot/language.py), which gets conversation.language as the hint.
        language = message_language(text, conversation.language) or conversation.language
        if language != conversation.language:
            session.execute(update(Conversation).where(Conversation.id == conversation_id)
                            .values(language=language).execution_options(synchronize_session=False))
        message = add_message(session, conversation_id, "customer", text, language,
                              open_only=True,
                              client_message_id=client_message_id, display_text=display_text)
        if message is None:
            raise Conflict("conversation_resolved", "This conversation has ended; start a new one.")
        # Read after the numbering UPDATE took the row lock: a handoff that committed just before
        # is seen here, so the bot never gets a message meant for a person.
        status, restart_pending = session.execute(
            select(Conversation.status, Conversation.bot_restart_pending).where(Conversation.id == conversation_id)).one()
        return message, status == Status.BOT.value, language, restart_pending

    def _store_bot_turn(self, session, conversation_id: str, message: Message, turn: Optional[BotTurn]) -> list[Message]:
        # Lock the conversation and check the bot is still in charge: if a person took over
        # while Rasa was thinking, the bot's answer is dropped.
        still_bot = session.execute(
            update(Conversation).where(Conversation.id == conversation_id, Conversation.status == Status.BOT.value)
            .values(updated_at=utcnow()).returning(Conversation.language)
            .execution_options(synchronize_session=False)).first()
        if turn is not None and turn.nlu:
            self._keep_nlu(session, message, turn.nlu)
        if still_bot is None:
            log.info("conversation %s left the bot while Rasa answered; reply dropped", conversation_id)
            return []
        language = message.language
        if turn is None:
            if message.text.strip() == REQUEST_HUMAN_PAYLOAD:
                request_handoff(session, conversation_id, self.hours, reason="request_human",
                                language=language, reply_to_id=message.id, when_nobody_online=self.when_nobody_online)
            else:
                add_message(session, conversation_id, "system", system_text("rasa_unavailable", language), language,
                            reply_to_id=message.id,
                            buttons=[{"title": system_text("talk_to_person", language), "payload": REQUEST_HUMAN_PAYLOAD}])
            return replies_to(session, message.id)
        intent = (turn.nlu.get("intent") or {}).get("name") if turn.nlu else None
        # The answer (the turn's first message) carries the link; a follow-up question does not.
        article = self.article_path(intent) if intent and intent not in FALLBACK_INTENTS and turn.messages else None
        for n, reply in enumerate(turn.messages):
            add_message(session, conversation_id, "bot", reply["text"], language,
                        reply_to_id=message.id, buttons=reply["buttons"],
                        **({"article_path": article} if article and n == 0 else {}))
        if turn.nlu:
            if intent:
                name = events.BOT_FELL_BACK if intent in FALLBACK_INTENTS else events.BOT_ANSWERED
                events.record(session, events.Event(name, conversation_id, data={"intent": intent, "language": language}))
        if turn.feedback is not None and turn.feedback.get("helpful") is False:
            # "No, it did not help": the editors see the question (handoff/unanswered.py).
            topic = turn.feedback.get("topic")
            events.record(session, events.Event(events.ANSWER_NOT_HELPFUL, conversation_id, data={
                "topic": topic if isinstance(topic, str) else None, "before_seq": message.seq, "language": language}))
        if turn.handoff is not None:
            payload = turn.handoff
            turns = payload.get("turns") if isinstance(payload.get("turns"), list) else None
            if turns:
                turns = [dict(t, text=mask_card_numbers(str(t.get("text", "")))) for t in turns if isinstance(t, dict)][-5:]
            request_handoff(session, conversation_id, self.hours, reason=str(payload.get("reason", "request_human")),
                            language=payload.get("language"), priority=payload.get("priority"), turns=turns,
                            offline=bool(payload.get("offline")), reply_to_id=message.id,
                            bot_said_offline=bool(payload.get("offline")) if turn.messages else None,
                            when_nobody_online=self.when_nobody_online)
        return replies_to(session, message.id)

    @staticmethod
    def _keep_nlu(session, message: Message, nlu: dict) -> None:
        intent = nlu.get("intent") if isinstance(nlu.get("intent"), dict) else {}
        ranking = [r for r in nlu.get("intent_ranking") or [] if isinstance(r, dict)][:10]
        values = {"nlu_intent": intent.get("name"), "nlu_confidence": _number(intent.get("confidence")),
                  "nlu_ranking": [{"name": str(r.get("name")), "confidence": _number(r.get("confidence"))} for r in ranking]}
        if nlu.get("language") in LANGUAGES:
            values["language"] = nlu["language"]
        session.execute(update(Message).where(Message.id == message.id).values(**values)
                        .execution_options(synchronize_session=False))
        for key, value in values.items():
            setattr(message, key, value)


def _number(value) -> Optional[float]:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
