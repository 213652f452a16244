"""Help-center search: a customer's own words find the article, by meaning and by keyword.

Each topic is represented by what customers say when they ask about it (its examples in data/nlu,
the bot's training data) and by what the article says (title, answer, body). A query scores a topic
by four signals, combined with fixed weights:

  - meaning: the highest multilingual-e5-small cosine between the query and the topic's examples
    and titles (the embeddings the editors' unanswered list uses, handoff/unanswered.py);
  - phrasing: the highest character n-gram TF-IDF cosine between the query and one of the topic's
    examples, which tolerates typos, kana for kanji, half-width kana and spacing, with no tokenizer
    (the bot's SudachiPy lives in the bot's environment only);
  - terms: character n-gram TF-IDF cosine between the query and the article's own text (title,
    answer, body);
  - exact: how much of the query the article's text contains (its character 2- and 3-grams,
    weighted by their rarity across articles), for exact terms a customer copies from the page
    ("PayPay", a product name, an e-mail address): a term the article holds scores 1 however long
    the article is.

The weights and the "no good result" thresholds were chosen by `bench/help_search.py --choose`
on training data only: leave-one-out over the data/nlu examples (weights) and data/calibration's
in-scope and out-of-scope messages plus data/nlu's out_of_scope (thresholds); the held-out sets
are only measured. See docs/benchmarks.md.

Nothing slow happens in a request: the example embeddings are computed in a background thread
when the service starts (start_warmup) and again when the content changes (`make publish`, an
editor's change), cached on disk by text (unanswered.Embedder). Until they are there, and while a
new version is being embedded, search answers with the keyword signals alone (`SearchResult.warming`)
or with the previous version of the index; it never waits for them.
"""
from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from markupsafe import Markup, escape
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from threadpoolctl import threadpool_limits
from sqlalchemy import insert

from languages import LANGUAGES
from .help_articles import ArticleSet, load_articles
from .masking import mask_card_numbers
from .models import HelpSearch
from .schemas import HELP_QUERY_CHARS
from .unanswered import Embedder, TopicIndex

log = logging.getLogger(__name__)

# Combined score = weights . signals (see the docstring); chosen by `bench/help_search.py --choose`
# (leave-one-out over the 2,661 data/nlu examples, a 0.05 grid: top-1 0.908 ja / 0.916 en, top-3
# 0.986 / 0.986). "exact" adds nothing there once meaning is in; it helps the keyword-only mode.
WEIGHTS = {"meaning": 0.85, "phrasing": 0.05, "terms": 0.1, "exact": 0.0}
# Keyword-only, while the embeddings warm up (leave-one-out top-1 0.824 ja / 0.803 en).
KEYWORD_WEIGHTS = {"meaning": 0.0, "phrasing": 0.4, "terms": 0.55, "exact": 0.05}
# Below these best scores a search has "no good result", chosen on data/calibration's 249 in-scope and
# 151 out-of-scope messages plus data/nlu's 190 out_of_scope examples for balanced accuracy:
# 0.82 keeps 92.8% of the in-scope, flags 94.4% of the rest; keyword-only 0.354: 51.4% / 89.2%.
NO_RESULT_BELOW = 0.82
KEYWORD_NO_RESULT_BELOW = 0.354
# Hits shown: at most `limit`, and only those within this much of the best one.
HIT_MARGIN = 0.1
MAX_QUERY_CHARS = HELP_QUERY_CHARS
SNIPPET_CHARS = 120
# Examples embedded per call while warming: the embedder's lock is held per call, so an editor's
# request waits for one batch at most, never for the whole warm-up.
WARMUP_BATCH = 64
# A failed warm-up (e.g. the model's files missing) is tried again at most this often.
RETRY_SECONDS = 60


# Text as keyword matching sees it: NFKC (half-width kana and full-width Latin become ordinary),
# case folded, katakana as hiragana (ペイペイ = ぺいぺい), so "ｶｰﾄﾞ", "カード" and "かーど" match.

_KATAKANA_TO_HIRAGANA = {code: code - 0x60 for code in range(0x30A1, 0x30F7)}


def _fold_char(ch: str) -> str:
    return unicodedata.normalize("NFKC", ch).casefold().translate(_KATAKANA_TO_HIRAGANA)


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().translate(_KATAKANA_TO_HIRAGANA)


def _vectorizer() -> TfidfVectorizer:
    # Character 1-3-grams within word boundaries: Japanese has no spaces, so a whole phrase is one
    # "word" and its 2- and 3-grams do the matching; English gets its words' pieces (typos match).
    return TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True, preprocessor=fold)


def _term_vectorizer() -> TfidfVectorizer:
    # Character 2-3-grams across word boundaries ("PayPay、Apple" still holds "paypay"), weighted
    # by rarity (idf) and not normalised: the query's share of them an article holds is the score.
    return TfidfVectorizer(analyzer="char", ngram_range=(2, 3), sublinear_tf=True, norm=None, preprocessor=fold)


def coverage(presence, query_weights) -> np.ndarray:
    """The share of the query's n-gram weight found in each row of `presence` (0/1 sparse)."""
    total = float(query_weights.sum())
    if total <= 0:
        return np.zeros(presence.shape[0])
    return np.asarray((presence @ query_weights.T).todense()).ravel() / total


@dataclass
class Hit:
    topic: str
    score: float
    title: str
    snippet_html: str
    url: str
    category: str = ""

    def as_json(self) -> dict:
        return {"topic": self.topic, "category": self.category, "title": self.title, "url": self.url,
                "score": round(self.score, 4), "snippet_html": self.snippet_html}


@dataclass
class SearchResult:
    hits: list[Hit]
    no_good_result: bool
    warming: bool = False  # the embeddings were not ready: keyword signals only
    query: str = ""
    language: str = "ja"
    best_score: float = 0.0

    def as_json(self) -> dict:
        return {"query": self.query, "language": self.language, "hits": [h.as_json() for h in self.hits],
                "no_good_result": self.no_good_result, "warming": self.warming}


@dataclass
class SearchIndex:
    """One version of the content, ready to search; `vectors` is None until its embeddings exist."""
    articles: ArticleSet
    topics: list[str]
    row_texts: list[str]  # each topic's examples, then its titles
    row_topics: np.ndarray  # topic index of each row
    vectorizer: TfidfVectorizer
    row_matrix: object  # sparse, rows x n-grams (phrasing)
    article_matrix: object  # sparse, (topics x languages) x n-grams (terms)
    article_topics: np.ndarray
    term_vectorizer: TfidfVectorizer
    term_presence: object  # sparse 0/1, (topics x languages) x 2-3-grams (exact)
    vectors: Optional[np.ndarray] = None
    built_seconds: dict = field(default_factory=dict)
    _centres: Optional[np.ndarray] = None  # each topic's mean example vector (related articles)

    def centres(self) -> np.ndarray:
        """Each topic's examples' normalised mean vector, computed once per index."""
        if self._centres is None:
            centres = np.zeros((len(self.topics), self.vectors.shape[1]))
            np.add.at(centres, self.row_topics, self.vectors)
            self._centres = centres / np.linalg.norm(centres, axis=1, keepdims=True).clip(1e-9)
        return self._centres

    @property
    def version(self) -> str:
        return self.articles.version

    @classmethod
    def keyword_only(cls, articles: ArticleSet) -> "SearchIndex":
        started = time.perf_counter()
        topics, texts, labels = [], [], []
        for n, article in enumerate(articles.all()):
            topics.append(article.topic)
            rows = list(dict.fromkeys([*article.examples, *(article.title[lang] for lang in LANGUAGES)]))
            texts += rows
            labels += [n] * len(rows)
        vectorizer = _vectorizer()
        article_texts, article_labels = [], []
        for n, article in enumerate(articles.all()):
            for lang in LANGUAGES:
                article_texts.append(article.text(lang))
                article_labels.append(n)
        vectorizer.fit(texts + article_texts)
        terms = _term_vectorizer()
        presence = (terms.fit_transform(article_texts) > 0).astype(np.float64)
        index = cls(articles, topics, texts, np.array(labels, dtype=int), vectorizer, vectorizer.transform(texts),
                    vectorizer.transform(article_texts), np.array(article_labels, dtype=int), terms, presence)
        index.built_seconds["keywords"] = time.perf_counter() - started
        return index

    def embed(self, embedder: Embedder) -> None:
        """The rows' embeddings, in batches (slow the first time on a machine; then from the cache)."""
        started = time.perf_counter()
        parts = [embedder.embed(self.row_texts[i:i + WARMUP_BATCH]) for i in range(0, len(self.row_texts), WARMUP_BATCH)]
        self.vectors = np.concatenate(parts) if parts else np.zeros((0, 384), dtype=np.float32)
        self.built_seconds["embeddings"] = time.perf_counter() - started

    def _per_topic_max(self, row_scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
        best = np.zeros(len(self.topics))
        np.maximum.at(best, labels, row_scores)
        return best

    def signals(self, query: str, query_vector: Optional[np.ndarray]) -> dict[str, np.ndarray]:
        """Each signal's score per topic, in [0, 1]."""
        q = self.vectorizer.transform([query])
        phrasing = self._per_topic_max(np.asarray((self.row_matrix @ q.T).todense()).ravel(), self.row_topics)
        terms = self._per_topic_max(np.asarray((self.article_matrix @ q.T).todense()).ravel(), self.article_topics)
        exact = self._per_topic_max(coverage(self.term_presence, self.term_vectorizer.transform([query])),
                                    self.article_topics)
        meaning = np.zeros(len(self.topics))
        if query_vector is not None and self.vectors is not None and len(self.vectors):
            meaning = np.clip(self._per_topic_max(self.vectors @ query_vector, self.row_topics), 0, 1)
        return {"meaning": meaning, "phrasing": phrasing, "terms": terms, "exact": exact}

    def topic_index(self) -> Optional[TopicIndex]:
        """The examples' vectors as the unanswered list's TopicIndex (nearest topic of a group)."""
        if self.vectors is None:
            return None
        titles = {t: self.articles.article(t).title for t in self.topics}
        return TopicIndex(self.topics, titles, self.row_topics, self.vectors)


def combine(signals: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    return sum(weights[name] * signals[name] for name in weights)


# Snippets.

_LATIN_WORD = re.compile(r"[0-9a-z]+")
_SENTENCE_END = re.compile(r"(?<=[。！？!?\n])|(?<=\. )")


def _is_cjk(ch: str) -> bool:
    return not ch.isascii()


def _marked(text: str, query: str) -> list[bool]:
    """Which characters of `text` match the query: a Latin word of 3+ letters sharing its first
    4 (or all, if shorter) with a query word; a run of 2+ Japanese characters found in the query
    (a run of hiragana only needs 3, so particles alone are not marked)."""
    folded = [_fold_char(ch) for ch in text]
    flat = "".join(folded)
    # position in flat -> position in text (NFKC may turn one character into several)
    owner = [i for i, f in enumerate(folded) for _ in f]
    marks = [False] * len(text)
    fq = fold(query)
    words = {w for w in _LATIN_WORD.findall(fq) if len(w) >= 2 and w not in ENGLISH_STOP_WORDS}
    for m in _LATIN_WORD.finditer(flat):
        word = m.group()
        if any(word == w or (len(w) >= 4 and len(word) >= 4 and word[:4] == w[:4]) for w in words):
            for i in range(m.start(), m.end()):
                marks[owner[i]] = True
    japanese = "".join(ch if _is_cjk(ch) else " " for ch in fq)
    i = 0
    while i < len(flat):
        if not _is_cjk(flat[i]):
            i += 1
            continue
        # the longest run starting here that the query contains
        j = i + 1
        while j < len(flat) and _is_cjk(flat[j]) and flat[i:j + 1] in japanese:
            j += 1
        run = flat[i:j]
        hiragana_only = all("\u3041" <= c <= "\u309f" or c == "ー" for c in run)
        if len(run) >= (3 if hiragana_only else 2) and run in japanese:
            for k in range(i, j):
                marks[owner[k]] = True
            i = j
        else:
            i += 1
    return marks


def snippet_html(text: str, query: str, length: int = SNIPPET_CHARS) -> str:
    """A passage of `text` around its first match, escaped, with the matched words in <mark>."""
    text = " ".join(text.split())
    marks = _marked(text, query)
    first = next((i for i, m in enumerate(marks) if m), None)
    start = 0
    if first is not None and first > length // 3:
        # start at the beginning of the sentence holding the match when it fits, else just before it
        sentence = max((m.start() for m in _SENTENCE_END.finditer(text, 0, first) if m.start() <= first), default=0)
        start = sentence if first - sentence < length * 2 // 3 else first - length // 3
    end = min(len(text), start + length)
    out, i = [], start
    while i < end:
        j = i
        while j < end and marks[j] == marks[i]:
            j += 1
        piece = escape(text[i:j])
        out.append(Markup("<mark>{}</mark>").format(piece) if marks[i] else piece)
        i = j
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    return str(escape(prefix) + Markup("").join(out) + escape(suffix))


def _best_passage(article, language: str, query: str) -> str:
    """The part of the article that shows a match (answer, else body, else title), else the answer."""
    candidates = [article.answer.get(language, "")]
    if article.body and article.body.get(language):
        candidates.append(_plain(article.body[language]))
    for text in candidates:
        if any(_marked(text, query)):
            return text
    return candidates[0] or article.title.get(language, "")


_MARKDOWN_SYNTAX = re.compile(r"[#>*_`|\[\]]+|\]\([^)]*\)|^-{3,}$", re.M)


def _plain(markdown: str) -> str:
    return _MARKDOWN_SYNTAX.sub(" ", markdown)


# The service: one per app, holding the current index and the warm-up.

class SearchService:
    def __init__(self, app, embedder: Embedder):
        self.app = app
        self.embedder = embedder
        self._index: Optional[SearchIndex] = None
        self._lock = threading.Lock()
        self._building: Optional[str] = None  # the version being embedded in the background
        self._thread: Optional[threading.Thread] = None
        self.warmups = 0  # completed background builds (tests and /healthz-style checks read it)
        self._failed: Optional[tuple] = None

    # The index.

    def start_warmup(self) -> None:
        """Builds (in a background thread) the index of the current content, if it is not built or
        being built already. Returns at once."""
        articles = load_articles(self.app)
        with self._lock:
            current = self._index
            if current is not None and current.version == articles.version and current.vectors is not None:
                return
            if self._building == articles.version:
                return
            if self._failed == (articles.version, int(time.monotonic() // RETRY_SECONDS)):
                return  # failed on this content a moment ago: not a new thread per request
            self._building = articles.version
            thread = threading.Thread(target=self._warm, args=(articles,), name="help-search-warmup", daemon=True)
            self._thread = thread
        thread.start()

    def _warm(self, articles: ArticleSet) -> None:
        try:
            index = SearchIndex.keyword_only(articles)
            with self._lock:
                # With nothing served yet, the new content's keyword index serves at once; an older
                # index with its embeddings serves on until the new one has them.
                if self._index is None:
                    self._index = index
            index.embed(self.embedder)
            index.centres()  # for related articles, here rather than in a page's request
            with self._lock:
                self._index = index
                self.warmups += 1
            log.info("help search index %s ready: %s", articles.version[:12],
                     {k: round(v, 2) for k, v in index.built_seconds.items()})
        except Exception:
            log.exception("building the help search index failed; search stays keyword-only")
            self._failed = (articles.version, int(time.monotonic() // RETRY_SECONDS))
        finally:
            with self._lock:
                if self._building == articles.version:
                    self._building = None

    def wait(self, timeout: float = 120.0) -> bool:
        """Waits for the warm-up thread (tests, the bench); True when it finished."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def index(self) -> SearchIndex:
        """The index to search now: never waits for embeddings. A content change starts a rebuild
        and the previous version serves meanwhile; only with no index at all is the keyword part
        built here (about 0.1 s, once)."""
        articles = load_articles(self.app)
        current = self._index
        if current is None or current.version != articles.version or current.vectors is None:
            self.start_warmup()
        current = self._index
        if current is None:
            current = SearchIndex.keyword_only(articles)
            with self._lock:
                if self._index is None:
                    self._index = current
        return current

    def topic_index(self) -> Optional[TopicIndex]:
        """The warm examples' vectors for the unanswered list, or None while they are computed."""
        return self.index().topic_index()

    # Searching.

    def query_vector(self, query: str) -> np.ndarray:
        return self.embedder.embed_query(query)

    def search(self, query: str, language: str, limit: int = 10) -> SearchResult:
        query = " ".join(query.split())[:MAX_QUERY_CHARS]
        index = self.index()
        warming = index.vectors is None
        signals = index.signals(query, None if warming else self.query_vector(query))
        scores = combine(signals, KEYWORD_WEIGHTS if warming else WEIGHTS)
        order = np.argsort(-scores, kind="stable")
        best = float(scores[order[0]]) if len(order) else 0.0
        no_good = best < (KEYWORD_NO_RESULT_BELOW if warming else NO_RESULT_BELOW)
        hits = []
        for n in order[:limit]:
            score = float(scores[n])
            if score <= 0 or score < best - HIT_MARGIN:
                break
            article = index.articles.article(index.topics[n])
            hits.append(Hit(article.topic, score, article.title[language],
                            snippet_html(_best_passage(article, language, query), query), article.url, article.category))
        return SearchResult(hits, no_good, warming, query, language, best)

    def related(self, topic: str, language: str, k: int = 3) -> list[Hit]:
        """The k topics nearest in meaning: the mean similarity of their examples' centres (keyword
        phrasing while warming)."""
        index = self.index()
        if topic not in index.topics:
            return []
        n = index.topics.index(topic)
        if index.vectors is not None and len(index.vectors):
            centres = index.centres()
            scores = centres @ centres[n]
        else:
            matrix = index.article_matrix
            scores = np.asarray((matrix @ matrix[index.article_topics == n].sum(axis=0).T)).ravel()
            scores = self._per_topic(index, scores)
        scores[n] = -np.inf
        hits = []
        for m in np.argsort(-scores, kind="stable")[:k]:
            article = index.articles.article(index.topics[m])
            hits.append(Hit(article.topic, float(scores[m]), article.title[language],
                            str(escape(article.answer.get(language, "")[:SNIPPET_CHARS])), article.url, article.category))
        return hits

    @staticmethod
    def _per_topic(index: SearchIndex, row_scores: np.ndarray) -> np.ndarray:
        best = np.zeros(len(index.topics))
        np.maximum.at(best, index.article_topics, row_scores)
        return best


def service(app) -> SearchService:
    """The app's search (one per app: it holds the index), created on first use."""
    found = app.extensions.get("tsunagi_help_search")
    if found is None:
        # One BLAS thread for the process's numeric work (numpy's OpenBLAS starts one per core): on a
        # busy 2-core machine two threads per matrix product made a search take 175 ms (p50) and
        # 420 ms (p95) instead of 20 and 28 (bench/help_search.py; docs/benchmarks.md). Requests
        # run side by side; no single product here is big enough to gain from a second core.
        threadpool_limits(limits=1, user_api="blas")
        embedder = app.extensions.get("tsunagi_editor") or Embedder(app.config.get("EMBEDDING_CACHE_DIR") or None)
        found = app.extensions.setdefault("tsunagi_help_search", SearchService(app, embedder))
    return found


def start_warmup(app) -> None:
    """Called when the service starts: the index is built in the background."""
    service(app).start_warmup()


def search(app, query: str, language: str, limit: int = 10, record: bool = True) -> SearchResult:
    """The articles for a customer's words. `record`: counted for the dashboard, and put on the
    editors' unanswered list when it found nothing good (false for searches as the customer types)."""
    result = service(app).search(query, language, limit)
    if record and result.query:
        with app.extensions["tsunagi"].db.writing() as session:
            record_search(session, result)
    return result


def related(app, topic: str, language: str, k: int = 3) -> list[Hit]:
    return service(app).related(topic, language, k)


def record_search(session, result: SearchResult) -> int:
    """Records a search (card numbers masked) for the dashboard's figures; one with no good result
    also goes to the editors' unanswered list (unanswered.searches_without_result). Inside the
    caller's transaction; returns the row's id."""
    top = result.hits[0] if result.hits else None
    row = session.execute(insert(HelpSearch).values(
        query=mask_card_numbers(result.query)[:MAX_QUERY_CHARS], language=result.language, hits=len(result.hits),
        no_good_result=result.no_good_result, top_topic=top.topic if top else None,
        top_score=round(result.best_score, 4), keyword_only=result.warming).returning(HelpSearch.id))
    return int(row.scalar_one())
