"""Answers at the agent's hand: for the customer's latest message, the console suggests the FAQ
answers of the three topics the NLU ranked closest, in the customer's language, and counts what
became of them (used or ignored). A reply the agent wrote without a suggestion goes to the
editors' unanswered list (reason `agent_answered`) as material for a new topic or answer.

The ranking is the one the gateway kept for the message (Message.nlu_ranking). A message written
after the handoff never went to the bot, so it has none: it is read once with Rasa's
`/model/parse` (no turn, the tracker does not change) when the console first asks, within
ASSIST_PARSE_TIMEOUT, and kept on the message (the ranking only: `nlu_intent` stays empty, so the
bot's fallback figures and the unanswered list do not count a message the bot never answered).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import exists, select, update
from sqlalchemy.dialects import postgresql, sqlite

from intents import CONVERSATION_INTENTS, NOT_TOPICS
from . import events
from .content_files import ContentError, ContentFiles, topic_titles
from .database import utcnow
from .models import AssistSuggestion, Message
from .rasa import RasaClient, RasaUnavailable
from .unanswered import flag

log = logging.getLogger(__name__)

SUGGESTIONS = 3
USED, IGNORED = "used", "ignored"
AGENT_ANSWERED = "agent_answered"
_answers_cache: dict[Path, tuple[tuple, dict[str, dict[str, str]]]] = {}


@dataclass
class Suggestion:
    topic: str
    title: str
    text: str
    confidence: Optional[float]
    rank: int

    def as_json(self) -> dict[str, Any]:
        return {"topic": self.topic, "title": self.title, "text": self.text, "confidence": self.confidence,
                "rank": self.rank}


def topic_answers(content: ContentFiles) -> dict[str, dict[str, str]]:
    """{topic id: {language: answer}}, read again only when a content file changed (the console asks
    on every customer message; the key is each file's name, modification time and size)."""
    files = ([content.domain] if content.domain.is_file() else []) + content._yml("data/nlu")
    try:
        key = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    except OSError:  # a file went away meanwhile: read afresh
        return content.answers()
    cached = _answers_cache.get(content.project)
    if cached is not None and cached[0] == key:
        return cached[1]
    answers = content.answers()
    _answers_cache[content.project] = (key, answers)
    return answers


def suggest(ranking: Optional[list], language: str, answers: dict[str, dict[str, str]],
            titles: dict[str, dict[str, str]], limit: int = SUGGESTIONS) -> list[Suggestion]:
    """The closest `limit` topics of a ranking that have an answer in `language`, best first.
    Small talk, "talk to a person", complaints and the fallbacks are not topics and are skipped,
    as is a name without a title in data/topics (not an FAQ topic) or without an answer."""
    found: list[Suggestion] = []
    for entry in ranking or []:
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or name in NOT_TOPICS or name not in titles:
            continue
        text = (answers.get(name) or {}).get(language)
        if not text or any(s.topic == name for s in found):
            continue
        title = titles[name].get(language) or next((t for t in titles[name].values() if t), name)
        confidence = entry.get("confidence")
        found.append(Suggestion(name, title, text, float(confidence) if isinstance(confidence, (int, float)) else None,
                                len(found) + 1))
        if len(found) == limit:
            break
    return found


def recent_customer_messages(session, conversation_id: str, before_seq: Optional[int] = None,
                             limit: int = 10) -> list[Message]:
    """The customer's latest messages, newest first, without button payloads ("/affirm")."""
    query = select(Message).where(Message.conversation_id == conversation_id, Message.sender == "customer",
                                  ~Message.text.startswith("/"))
    if before_seq is not None:
        query = query.where(Message.seq < before_seq)
    return list(session.scalars(query.order_by(Message.seq.desc()).limit(limit)))


def is_conversation_turn(message: Message, ranking: Optional[list] = None) -> bool:
    """The conversation itself ("talk to a person", "thanks", "hello"), no question for the FAQ: its
    top intent, as the bot read it or as the ranking kept for it says."""
    ranking = message.nlu_ranking if ranking is None else ranking
    top = message.nlu_intent or next((r.get("name") for r in ranking or [] if isinstance(r, dict)), None)
    return top in CONVERSATION_INTENTS


def question_of(messages: list[Message]) -> Optional[Message]:
    """The customer's question among their latest messages (newest first): the newest one that is
    not a conversation turn (the message that asked for a person comes after the question)."""
    return next((m for m in messages if not is_conversation_turn(m)), None)


def ranking_from_parse(parse: dict[str, Any]) -> list[dict[str, Any]]:
    """The ranking of a /model/parse answer, as the gateway keeps it (name, confidence; ten at most)."""
    ranking = [r for r in parse.get("intent_ranking") or [] if isinstance(r, dict)][:10]
    return [{"name": str(r.get("name")), "confidence": _number(r.get("confidence"))} for r in ranking]


def read_unranked(db, rasa: RasaClient, message: Message, timeout: float) -> Optional[list]:
    """Ranks a message the bot never read (Rasa's /model/parse) and keeps the ranking on it; None
    when Rasa cannot answer in time (the console then shows no suggestions for it)."""
    try:
        ranking = ranking_from_parse(rasa.parse(message.conversation_id, message.text, timeout=timeout))
    except RasaUnavailable as error:
        log.info("no suggestions for message %s: %s", message.id, error)
        return None
    with db.writing() as session:
        # Kept only where nothing was kept meanwhile (the bot's own reading, or another console's).
        session.execute(update(Message).where(Message.id == message.id, Message.nlu_ranking.is_(None))
                        .values(nlu_ranking=ranking).execution_options(synchronize_session=False))
    return ranking


def record_shown(session, message: Message, suggestions: list[Suggestion], agent_id: Optional[int]) -> None:
    """Counts each suggestion once per message, however often consoles show it."""
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[session.get_bind().dialect.name]
    now = utcnow()
    for suggestion in suggestions:
        added = session.execute(
            insert(AssistSuggestion).values(message_id=message.id, topic=suggestion.topic,
                                            conversation_id=message.conversation_id, rank=suggestion.rank,
                                            language=message.language, shown_at=now)
            .on_conflict_do_nothing(index_elements=["message_id", "topic"])
            .returning(AssistSuggestion.topic)).first()
        if added is not None:
            events.record(session, events.Event(events.SUGGESTION_SHOWN, message.conversation_id, agent_id=agent_id,
                                                data={"topic": suggestion.topic, "rank": suggestion.rank,
                                                      "language": message.language}))


def settle(session, reply: Message, used_topic: Optional[str]) -> None:
    """After an agent's reply: the suggestions shown for the customer message it answers become
    used (the one the agent inserted, `used_topic`) or ignored (the others). A first reply to a
    question that used no suggestion flags the question `agent_answered`, with the reply, for the
    editors."""
    question = question_of(recent_customer_messages(session, reply.conversation_id, before_seq=reply.seq))
    if question is None:
        return
    now = utcnow()
    pending = session.execute(select(AssistSuggestion.topic, AssistSuggestion.rank, AssistSuggestion.language)
                              .where(AssistSuggestion.message_id == question.id,
                                     AssistSuggestion.outcome.is_(None))).all()
    shown = set(session.scalars(select(AssistSuggestion.topic).where(AssistSuggestion.message_id == question.id)))
    for row in pending:
        outcome = USED if row.topic == used_topic else IGNORED
        # Conditional, so two racing replies settle each suggestion once.
        settled = session.execute(update(AssistSuggestion)
                                  .where(AssistSuggestion.message_id == question.id, AssistSuggestion.topic == row.topic,
                                         AssistSuggestion.outcome.is_(None))
                                  .values(outcome=outcome, settled_at=now).execution_options(synchronize_session=False))
        if settled.rowcount == 1:
            events.record(session, events.Event(events.SUGGESTION_SETTLED, reply.conversation_id,
                                                agent_id=reply.agent_id,
                                                data={"topic": row.topic, "outcome": outcome, "rank": row.rank,
                                                      "language": row.language}))
    if used_topic is not None and used_topic in shown:
        return
    if question.nlu_intent is None and question.nlu_ranking is None:
        return  # never read (no console asked for suggestions): it may be a "thanks", not a question
    answered_before = session.scalar(select(exists().where(
        Message.conversation_id == reply.conversation_id, Message.sender == "agent",
        Message.seq > question.seq, Message.seq < reply.seq)))
    if not answered_before:
        flag(session, question, AGENT_ANSWERED, reply_message_id=reply.id)


def suggestions_for(db, rasa: RasaClient, content: ContentFiles, conversation_id: str, timeout: float,
                    agent_id: Optional[int], count_shown: bool = True) -> dict[str, Any]:
    """What the console shows for a conversation: the customer's question (their latest message
    that is not a conversation turn such as "talk to a person") and its suggestions."""
    with db.reading() as session:
        recent = recent_customer_messages(session, conversation_id)
    message = ranking = None
    for candidate in recent:
        ranking = candidate.nlu_ranking
        if ranking is None:
            ranking = read_unranked(db, rasa, candidate, timeout)
            if ranking is None:  # Rasa cannot read it now: nothing to suggest for the latest question
                message = candidate
                break
            candidate.nlu_ranking = ranking
        if not is_conversation_turn(candidate, ranking):
            message = candidate
            break
    if message is None:
        return {"message_id": None, "language": None, "suggestions": []}
    try:
        answers, titles = topic_answers(content), topic_titles(content)
    except ContentError as error:  # a file an editor broke: no suggestions until it is fixed
        log.warning("no suggestions: %s", error.message)
        answers, titles = {}, {}
    found = suggest(ranking, message.language, answers, titles)
    if found and count_shown:
        with db.writing() as session:
            record_shown(session, message, found, agent_id)
    return {"message_id": message.id, "seq": message.seq, "language": message.language,
            "suggestions": [s.as_json() for s in found]}


def _number(value) -> Optional[float]:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
