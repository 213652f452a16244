"""What one /metrics scrape costs on a database with many events: the old collector (a GROUP BY
over every metric_events row and every conversation, as before issue 14) against the counters
(metric_counters rows kept by the metrics listener, and a count of the open conversations).

On SQLite and PostgreSQL, the database is filled through the schema before the counters
(migration 0005), then migrated to head, so the counters come from migration 0006's backfill.
Both collectors run on the same database in the same run, each through prometheus_client's
generate_latest; the new one is also timed through the whole GET /metrics of a test client.
The price is paid on the write side: a transaction that records a metric event also adds to its
counter; that is timed too (one event per transaction, with and without the counter's upsert).
Writes bench/results/metrics.json and prints a table.

    .venv/handoff/bin/python bench/metrics_bench.py [--events 100000] [--conversations 30000] [--scrapes 30]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import create_engine, func, make_url, select, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handoff import create_app  # noqa: E402
from handoff.cli import migrate  # noqa: E402
from handoff import events as domain_events  # noqa: E402
from handoff.database import Database  # noqa: E402
from handoff.events import Dispatcher  # noqa: E402
from handoff.listeners import metrics_listener  # noqa: E402
from handoff.models import Conversation, MetricEvent  # noqa: E402
from handoff.operations import counter_families  # noqa: E402

PG_BASE = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TOPICS = [f"topic_{n}" for n in range(60)]


class OldMetricEventsCollector:
    """handoff/operations.py's collector before issue 14 (commit 9829067), verbatim in its queries;
    its families are built by the product's counter_families, as the counters' are."""

    def __init__(self, app):
        self.app = app

    def collect(self):
        s = self.app.extensions["tsunagi"]
        with s.db.reading() as session:
            events = session.execute(select(MetricEvent.name, MetricEvent.label, func.count(),
                                            func.sum(MetricEvent.value))
                                     .group_by(MetricEvent.name, MetricEvent.label)).all()
            statuses = session.execute(select(Conversation.status, func.count())
                                       .group_by(Conversation.status)).all()

        # The same families as the product's, from the same (name, label, count, total) rows.
        yield from counter_families([(ev, label or "", n, v or 0) for ev, label, n, v in events])
        conversations = GaugeMetricFamily("tsunagi_conversations", "Conversations by current status.",
                                          labels=["status"])
        for status, n in statuses or [("bot", 0)]:
            conversations.add_metric([status], n)
        yield conversations


def fill(url: str, n_events: int, n_conversations: int) -> None:
    """Conversations (mostly closed or left with the bot, a few open) and their metric events."""
    rng = random.Random(14)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    engine = create_engine(url)
    conversations = []
    for n in range(n_conversations):
        status = rng.choices(["resolved", "bot", "waiting", "assigned", "offline"], [60, 38, 1, 0.7, 0.3])[0]
        at = start + timedelta(seconds=n * 60)
        conversations.append({"id": f"{n:032x}", "status": status, "language": "ja", "created_at": at, "updated_at": at,
                              "last_seq": 0, "last_event_id": 0, "priority_rank": 1, "offline": False,
                              "bot_restart_pending": False})
    kinds = [("conversation_started", lambda: None, lambda: None), ("topic_answered", lambda: rng.choice(TOPICS), lambda: None),
             ("fallback", lambda: "nlu_fallback", lambda: None), ("handoff", lambda: rng.choice(["request_human", "complaint", "repeated_fallback"]), lambda: None),
             ("claimed", lambda: None, lambda: rng.uniform(5, 600)), ("first_agent_reply", lambda: None, lambda: rng.uniform(5, 900)),
             ("resolved", lambda: rng.choice(["agent", "customer"]), lambda: rng.uniform(30, 1800)),
             ("rated", lambda: rng.choice(["csat", "ces"]), lambda: float(rng.randint(1, 5)))]
    weights = [20, 45, 12, 6, 5, 4, 5, 3]
    events = []
    for n in range(n_events):
        name, label, value = rng.choices(kinds, weights)[0]
        events.append({"name": name, "at": start + timedelta(seconds=n * 20), "conversation_id": f"{rng.randrange(n_conversations):032x}",
                       "label": label(), "value": value(), "language": "ja"})
    with engine.begin() as connection:
        connection.execute(Conversation.__table__.insert(), conversations)
        for chunk in range(0, len(events), 10000):
            connection.execute(MetricEvent.__table__.insert(), events[chunk:chunk + 10000])
    engine.dispose()


def timed(fn, scrapes: int) -> dict:
    fn()  # warm: connections, statement caches
    samples = []
    for _ in range(scrapes):
        began = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    return {"p50_ms": round(statistics.median(samples), 2), "p90_ms": round(samples[int(0.9 * (len(samples) - 1))], 2),
            "samples": scrapes}


def write_cost(app, transactions: int) -> dict:
    """Milliseconds per transaction recording one event (a bot answer): its metric_events row only
    (as before the counters), then the row and the counter's upsert."""
    db = Database(app.extensions["tsunagi"].db.engine, Dispatcher([metrics_listener.MetricsListener()]))

    def one():
        with db.writing() as session:
            domain_events.record(session, domain_events.Event(domain_events.BOT_ANSWERED, "bench",
                                                              data={"intent": random.choice(TOPICS), "language": "ja"}))

    counting = metrics_listener._count
    metrics_listener._count = lambda session, rows: None
    try:
        before = timed(one, transactions)
    finally:
        metrics_listener._count = counting
    return {"event_row_only": before, "event_row_and_counter": timed(one, transactions)}


def run(backend: str, url: str, args) -> dict:
    migrate(url, "0005")
    fill(url, args.events, args.conversations)
    began = time.perf_counter()
    migrate(url)  # 0006 backfills metric_counters from the events
    backfill_s = time.perf_counter() - began
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING", "REDIS_URL": ""})
    old = CollectorRegistry(auto_describe=False)
    old.register(OldMetricEventsCollector(app))
    new = app.extensions["tsunagi_metrics"]
    client = app.test_client()
    assert client.get("/metrics").status_code == 200
    result = {
        "backend": backend, "events": args.events, "conversations": args.conversations,
        "migration_0006_backfill_s": round(backfill_s, 2),
        "before_full_aggregation": timed(lambda: generate_latest(old), args.scrapes),
        "after_counters": timed(lambda: generate_latest(new), args.scrapes),
        "after_counters_whole_request": timed(lambda: client.get("/metrics"), args.scrapes),
        "write_per_transaction": write_cost(app, args.transactions),
    }
    app.extensions["tsunagi"].db.engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--conversations", type=int, default=30_000)
    parser.add_argument("--scrapes", type=int, default=30)
    parser.add_argument("--transactions", type=int, default=300)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(run("SQLite", f"sqlite:///{tmp}/metrics.sqlite3", args))
    schema = f"bench_metrics_{secrets.token_hex(4)}"
    admin = create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(PG_BASE).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
        results.append(run("PostgreSQL", url, args))
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    report = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "load_average": [round(x, 2) for x in os.getloadavg()],
              "python": platform.python_version(), "results": results}
    out = ROOT / "bench" / "results" / "metrics.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'database':<11} {'events':>8} {'scrape before p50/p90 ms':>25} {'after p50/p90 ms':>18} "
          f"{'GET /metrics p50':>17} {'write p50 ms before/after':>26}")
    for r in results:
        b, a, w = r["before_full_aggregation"], r["after_counters"], r["after_counters_whole_request"]
        wr = r["write_per_transaction"]
        print(f"{r['backend']:<11} {r['events']:>8} {b['p50_ms']:>15} / {b['p90_ms']:<7} {a['p50_ms']:>8} / {a['p90_ms']:<7}"
              f" {w['p50_ms']:>17} {wr['event_row_only']['p50_ms']:>17} / {wr['event_row_and_counter']['p50_ms']}")
    print(f"load average {report['load_average']}; written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
