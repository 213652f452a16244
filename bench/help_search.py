"""Benchmark of the help-center search (handoff/help_search.py) against keyword-only baselines.

    .venv/handoff/bin/python bench/help_search.py            # measure on the held-out sets
    .venv/handoff/bin/python bench/help_search.py --choose   # choose weights and thresholds (training data only)

Measuring: every in-scope message of both held-out sets (data/tests/nlu_test.yml and
data/tests/blind/nlu_blind.yml: the messages whose intent is a help-center topic) is a query; a hit
is its topic's article. Top-1 and top-3 hit rates per language, and search latency (p50/p95, the
index warm, one query at a time, on this machine), for:

  - ours: the search as served (meaning + phrasing + terms + exact, handoff/help_search.py);
  - ours, keyword signals only: what search answers while the embeddings warm up;
  - SQLite FTS5 (trigram tokenizer, bm25) over the articles' text (title, answer, body): a plain FAQ
    site's keyword search;
  - SQLite FTS5 over the articles' text and the topics' training examples: the same keyword engine
    given everything our search sees.
FTS5 queries are the OR of the query's character trigrams (the trigram tokenizer's own unit), so a
Japanese sentence without spaces can match at all. Also the out-of-scope messages of both sets:
how many get "no good result" (they should), and how many in-scope ones wrongly do.

Then a fresh start with an empty embedding cache: how long the first GET /api/editor/unanswered and
the first search take while the background warm-up embeds the examples, and the same afterwards.

Choosing (--choose), never on the held-out sets: the three signals' weights by leave-one-out over
the data/nlu examples (each example a query, itself removed from its topic; a 0.05 grid), maximising the mean
top-1 rate of the two languages; the "no good result" thresholds on data/calibration (its in-scope
messages and its out-of-scope ones, with data/nlu's out_of_scope examples), maximising balanced
accuracy. The chosen values are printed, to be written into handoff/help_search.py.

Writes bench/results/help_search.json and prints a table.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handoff import create_app  # noqa: E402
from handoff import help_search  # noqa: E402
from handoff.content_files import examples_of  # noqa: E402
from handoff.help_articles import load_articles  # noqa: E402
from languages import detect_language  # noqa: E402

HELD_OUT = [ROOT / "data/tests/nlu_test.yml", ROOT / "data/tests/blind/nlu_blind.yml"]
CALIBRATION = ROOT / "data/calibration/nlu_calibration.yml"
OUT_OF_SCOPE_TRAINING = ROOT / "data/nlu/out_of_scope.yml"
RESULTS = ROOT / "bench/results/help_search.json"
OUT_OF_SCOPE = ("nlu_fallback", "out_of_scope")


def read_messages(path: Path) -> list[tuple[str, str]]:
    """(text, intent) of every example of a Rasa NLU file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [(text, str(item["intent"])) for item in data.get("nlu") or []
            if isinstance(item, dict) and "intent" in item for text in examples_of(item.get("examples") or "")]


def language_of(text: str) -> str:
    return detect_language(text) or "ja"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else 0.0


# Baselines: SQLite FTS5 with the trigram tokenizer.

class Fts5:
    def __init__(self, articles, with_examples: bool):
        self.db = sqlite3.connect(":memory:")
        self.db.execute("CREATE VIRTUAL TABLE docs USING fts5(topic UNINDEXED, body, tokenize='trigram')")
        for article in articles.all():
            texts = [article.text(lang) for lang in ("ja", "en")]
            if with_examples:
                texts += list(article.examples)
            self.db.execute("INSERT INTO docs VALUES (?, ?)", (article.topic, "\n".join(texts)))

    def search(self, query: str, limit: int = 10) -> list[str]:
        folded = " ".join(help_search.fold(query).split())
        grams = {folded[i:i + 3] for i in range(len(folded) - 2) if " " not in folded[i:i + 3]}
        if not grams:
            return []
        match = " OR ".join('"' + g.replace('"', '""') + '"' for g in sorted(grams))
        rows = self.db.execute("SELECT topic FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) LIMIT ?", (match, limit))
        return [r[0] for r in rows]


def measure(name: str, run, queries: list[tuple[str, str, str]]) -> dict:
    """run(text, language) -> ranked topic ids. queries: (text, topic, language)."""
    per = {lang: {"n": 0, "top1": 0, "top3": 0} for lang in ("ja", "en")}
    times = []
    misses = []
    for text, topic, language in queries:
        started = time.perf_counter()
        ranked = run(text, language)
        times.append((time.perf_counter() - started) * 1000)
        counts = per[language]
        counts["n"] += 1
        counts["top1"] += bool(ranked[:1] == [topic])
        counts["top3"] += topic in ranked[:3]
        if topic not in ranked[:3]:
            misses.append({"query": text, "expected": topic, "got": ranked[:3]})
    result = {"method": name, "latency_ms": {"p50": round(percentile(times, 50), 2), "p95": round(percentile(times, 95), 2)}}
    for language, counts in per.items():
        n = counts["n"] or 1
        result[language] = {"n": counts["n"], "top1": round(counts["top1"] / n, 4), "top3": round(counts["top3"] / n, 4)}
    result["misses_top3"] = misses
    return result


def app_and_search(cache_dir: str | None):
    config = {"TESTING": True, "DATABASE_URL": f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3",
              "TSUNAGI_PROJECT_DIR": str(ROOT)}
    if cache_dir:
        config["EMBEDDING_CACHE_DIR"] = cache_dir
    app = create_app(config)
    service = help_search.service(app)
    started = time.perf_counter()
    service.start_warmup()
    service.wait(600)
    return app, service, time.perf_counter() - started


def held_out_bench(args) -> dict:
    app, service, warm_seconds = app_and_search(args.cache_dir)
    index = service.index()
    articles = load_articles(app)
    topics = {a.topic for a in articles.all()}
    in_scope, out_scope = [], []
    for path in HELD_OUT:
        for text, intent in read_messages(path):
            if intent in topics:
                in_scope.append((text, intent, language_of(text)))
            elif intent in OUT_OF_SCOPE:
                out_scope.append((text, language_of(text)))

    def ours(text, language):
        return [h.topic for h in service.search(text, language, limit=10).hits]

    keyword_only = help_search.SearchIndex.keyword_only(articles)

    def ours_keywords(text, language):
        signals = keyword_only.signals(text, None)
        scores = help_search.combine(signals, help_search.KEYWORD_WEIGHTS)
        return [keyword_only.topics[n] for n in np.argsort(-scores, kind="stable")[:10]]

    fts_articles, fts_all = Fts5(articles, False), Fts5(articles, True)
    for text, _, language in in_scope[:20]:  # warm the query path (model, caches) before timing
        ours(text, language)
    results = [measure("ours (meaning + keywords)", ours, in_scope),
               measure("ours, keywords only (warming)", ours_keywords, in_scope),
               measure("SQLite FTS5 trigram, articles", lambda t, l: fts_articles.search(t), in_scope),
               measure("SQLite FTS5 trigram, articles + examples", lambda t, l: fts_all.search(t), in_scope)]
    # "No good result": wanted on out-of-scope messages, unwanted on in-scope ones.
    flagged_out = sum(service.search(t, l).no_good_result for t, l in out_scope)
    flagged_in = sum(service.search(t, l).no_good_result for t, _, l in in_scope)
    return {
        "run": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "queries": {"in_scope": len(in_scope), "out_of_scope": len(out_scope)},
        "warmup_seconds": round(warm_seconds, 2), "index_built_seconds": {k: round(v, 2) for k, v in index.built_seconds.items()},
        "weights": help_search.WEIGHTS, "thresholds": {"no_result_below": help_search.NO_RESULT_BELOW,
                                                       "keyword_no_result_below": help_search.KEYWORD_NO_RESULT_BELOW},
        "methods": results,
        "no_good_result": {"out_of_scope_flagged": round(flagged_out / max(1, len(out_scope)), 4),
                           "in_scope_flagged": round(flagged_in / max(1, len(in_scope)), 4)},
    }


def fresh_start() -> dict:
    """The first requests after a start on a machine with no embedding cache: the editors'
    unanswered list (one question waiting) and a search, then the same once the warm-up is done.
    Before issue 16 the first of these took 19.7 s, embedding every example inside the request."""
    from handoff.agents import create_agent
    from handoff.cli import migrate

    folder = Path(tempfile.mkdtemp())
    database = f"sqlite:///{folder}/fresh.sqlite3"
    migrate(database)
    app = create_app({"TESTING": True, "DATABASE_URL": database, "TSUNAGI_PROJECT_DIR": str(ROOT),
                      "EMBEDDING_CACHE_DIR": str(folder / "empty-cache"), "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING"})
    with app.extensions["tsunagi"].db.writing() as session:
        create_agent(session, "editor@bench.example", "Editor", "editor", "bench-password")
        help_search.record_search(session, help_search.SearchResult([], True, False, "今日の天気はどうですか", "ja"))
    client = app.test_client()
    token = client.get("/api/agent/login").get_json()["csrf_token"]
    assert client.post("/api/agent/login", json={"email": "editor@bench.example", "password": "bench-password"},
                       headers={"X-CSRF-Token": token}).status_code == 200
    started = time.perf_counter()
    help_search.start_warmup(app)  # what create_app does when the service starts

    def timed(path, **query):
        t = time.perf_counter()
        response = client.get(path, query_string=query)
        assert response.status_code == 200, response.get_json()
        return round((time.perf_counter() - t) * 1000, 1), response.get_json()

    unanswered_ms, unanswered = timed("/api/editor/unanswered")
    search_ms, searched = timed("/api/v1/help/search", q="送料はいくら", lang="ja", record="false")
    help_search.service(app).wait(1200)
    warm_seconds = time.perf_counter() - started
    unanswered_again_ms, again = timed("/api/editor/unanswered")
    search_again_ms, searched_again = timed("/api/v1/help/search", q="送料はいくら", lang="ja", record="false")
    return {"first_unanswered_ms": unanswered_ms, "first_unanswered_index_warming": unanswered["index_warming"],
            "first_search_ms": search_ms, "first_search_warming": searched["warming"],
            "first_search_top": searched["hits"][0]["topic"] if searched["hits"] else None,
            "warmup_seconds_empty_cache": round(warm_seconds, 1),
            "after_warmup_unanswered_ms": unanswered_again_ms, "after_warmup_index_warming": again["index_warming"],
            "after_warmup_search_ms": search_again_ms, "after_warmup_search_warming": searched_again["warming"]}


def print_table(report: dict) -> None:
    print(f"\nHelp-center search: {report['queries']['in_scope']} held-out in-scope queries "
          f"(both sets), warm-up {report['warmup_seconds']} s")
    head = f"{'method':44} {'ja top-1':>8} {'ja top-3':>8} {'en top-1':>8} {'en top-3':>8} {'p50 ms':>7} {'p95 ms':>7}"
    print(head)
    print("-" * len(head))
    for r in report["methods"]:
        print(f"{r['method']:44} {r['ja']['top1']:8.1%} {r['ja']['top3']:8.1%} {r['en']['top1']:8.1%} "
              f"{r['en']['top3']:8.1%} {r['latency_ms']['p50']:7.2f} {r['latency_ms']['p95']:7.2f}")
    fresh = report.get("fresh_start")
    if fresh:
        print(f"\nFresh start, empty embedding cache: first GET /api/editor/unanswered {fresh['first_unanswered_ms']} ms "
              f"(index_warming={fresh['first_unanswered_index_warming']}), first search {fresh['first_search_ms']} ms "
              f"(warming={fresh['first_search_warming']}); background warm-up {fresh['warmup_seconds_empty_cache']} s; "
              f"then {fresh['after_warmup_unanswered_ms']} ms and {fresh['after_warmup_search_ms']} ms")
    flags = report["no_good_result"]
    print(f"\n'no good result': {flags['out_of_scope_flagged']:.1%} of {report['queries']['out_of_scope']} out-of-scope "
          f"messages, {flags['in_scope_flagged']:.1%} of the in-scope ones")


# Choosing, on training data only.

def loo_signals(index: help_search.SearchIndex):
    """Each data/nlu example as a query with itself removed: (signals per query, its topic, language)."""
    example_rows = []
    for n, topic in enumerate(index.topics):
        examples = set(index.articles.article(topic).examples)
        example_rows += [r for r in np.flatnonzero(index.row_topics == n) if index.row_texts[r] in examples]
    example_rows = np.array(example_rows)
    meaning_rows = index.vectors[example_rows] @ index.vectors.T
    phrasing_rows = (index.row_matrix[example_rows] @ index.row_matrix.T).toarray()
    for q, r in enumerate(example_rows):  # leave the example itself out
        meaning_rows[q, r] = -1.0
        phrasing_rows[q, r] = 0.0
    terms_rows = (index.row_matrix[example_rows] @ index.article_matrix.T).toarray()
    weights = index.term_vectorizer.transform([index.row_texts[r] for r in example_rows])
    totals = np.asarray(weights.sum(axis=1)).ravel().clip(1e-9)
    exact_rows = (weights @ index.term_presence.T).toarray() / totals[:, None]
    n_topics = len(index.topics)

    def per_topic(rows, labels):
        best = np.full((rows.shape[0], n_topics), -1.0)
        for t in range(n_topics):
            columns = labels == t
            if columns.any():
                best[:, t] = rows[:, columns].max(axis=1)
        return best

    signals = {"meaning": np.clip(per_topic(meaning_rows, index.row_topics), 0, 1),
               "phrasing": np.clip(per_topic(phrasing_rows, index.row_topics), 0, 1),
               "terms": per_topic(terms_rows, index.article_topics).clip(0, 1),
               "exact": per_topic(exact_rows, index.article_topics).clip(0, 1)}
    topics = index.row_topics[example_rows]
    languages = [language_of(index.row_texts[r]) for r in example_rows]
    return signals, topics, languages


def top1_by_language(scores: np.ndarray, topics: np.ndarray, languages: list[str]) -> dict:
    correct = scores.argmax(axis=1) == topics
    top3 = (np.argsort(-scores, axis=1)[:, :3] == topics[:, None]).any(axis=1)
    out = {}
    for language in ("ja", "en"):
        mask = np.array([l == language for l in languages])
        out[language] = {"top1": float(correct[mask].mean()), "top3": float(top3[mask].mean()), "n": int(mask.sum())}
    return out


def choose(args) -> dict:
    app, service, _ = app_and_search(args.cache_dir)
    index = service.index()
    signals, topics, languages = loo_signals(index)
    grid = [w / 20 for w in range(21)]
    best, table = None, []
    for wm, wp, wt in itertools.product(grid, grid, grid):
        we = round(1 - wm - wp - wt, 4)
        if we < -1e-9:
            continue
        weights = {"meaning": wm, "phrasing": wp, "terms": wt, "exact": max(0.0, we)}
        rates = top1_by_language(help_search.combine(signals, weights), topics, languages)
        objective = (rates["ja"]["top1"] + rates["en"]["top1"]) / 2
        table.append((objective, weights, rates))
        if best is None or objective > best[0] + 1e-9:
            best = (objective, weights, rates)
    keyword_best = max((t for t in table if t[1]["meaning"] == 0), key=lambda t: t[0])
    weights, keyword_weights = best[1], keyword_best[1]
    keyword_total = keyword_weights["phrasing"] + keyword_weights["terms"] + keyword_weights["exact"]
    keyword_weights = {k: v / keyword_total for k, v in keyword_weights.items()}

    # Thresholds on data/calibration (+ data/nlu's out_of_scope), with the chosen weights.
    articles = load_articles(app)
    topic_ids = {a.topic for a in articles.all()}
    calibration = read_messages(CALIBRATION)
    positives = [t for t, i in calibration if i in topic_ids]
    negatives = [t for t, i in calibration if i in OUT_OF_SCOPE] + [t for t, _ in read_messages(OUT_OF_SCOPE_TRAINING)]

    def best_scores(texts, w, meaning: bool):
        found = []
        for text in texts:
            s = index.signals(text, service.query_vector(text) if meaning else None)
            found.append(float(help_search.combine(s, w).max()))
        return np.array(found)

    thresholds = {}
    for name, w, meaning in (("no_result_below", weights, True), ("keyword_no_result_below", keyword_weights, False)):
        pos, neg = best_scores(positives, w, meaning), best_scores(negatives, w, meaning)
        candidates = np.unique(np.round(np.concatenate([pos, neg]), 3))
        scored = [((pos >= t).mean() / 2 + (neg < t).mean() / 2, float(t)) for t in candidates]
        accuracy, threshold = max(scored)
        thresholds[name] = {"threshold": threshold, "balanced_accuracy": round(float(accuracy), 4),
                            "in_scope_kept": round(float((pos >= threshold).mean()), 4),
                            "out_of_scope_flagged": round(float((neg < threshold).mean()), 4),
                            "positives": len(pos), "negatives": len(neg)}
    chosen = {"run": time.strftime("%Y-%m-%dT%H:%M:%S"), "leave_one_out_queries": len(topics),
              "weights": weights, "weights_rates": best[2], "keyword_weights": keyword_weights,
              "keyword_rates": keyword_best[2], "thresholds": thresholds}
    print(json.dumps(chosen, indent=2, ensure_ascii=False))
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--choose", action="store_true", help="choose weights and thresholds on training data")
    parser.add_argument("--cache-dir", default=None, help="embedding cache (default: the service's)")
    parser.add_argument("--no-fresh-start", action="store_true", help="skip the first-requests run on an empty cache")
    args = parser.parse_args()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    if args.choose:
        chosen = choose(args)
        RESULTS.with_name("help_search_choice.json").write_text(json.dumps(chosen, indent=2, ensure_ascii=False))
        return
    report = held_out_bench(args)
    if not args.no_fresh_start:
        report["fresh_start"] = fresh_start()
    print_table(report)
    RESULTS.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
