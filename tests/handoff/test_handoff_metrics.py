"""/metrics: bearer token (or the loopback when none is set), figures from counters kept in the
database with each event (the same in every process, rolled back with their transaction, never
deadlocking), and the migration that backfills them. On SQLite and PostgreSQL."""
from __future__ import annotations

import random
import re
import secrets
import threading
from datetime import timedelta

import pytest
import requests
from sqlalchemy import create_engine, func, select, text, update

from handoff import events
from handoff.cli import migrate
from handoff.database import Database, utcnow
from handoff.events import Dispatcher
from handoff.listeners.metrics_listener import MetricsListener
from handoff.models import Conversation, MetricCounter, MetricEvent
from handoff_support import Customer, a_day_of_work
from test_handoff_processes import Server


def scrape(client, **headers) -> str:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_data(as_text=True)


def scraped(text_: str, sample: str) -> float:
    return float(re.search(rf"^{sample} (\S+)$", text_, re.M).group(1))


def counters(app) -> dict:
    with app.extensions["tsunagi"].db.reading() as session:
        return {(name, label): (count, total) for name, label, count, total in session.execute(
            select(MetricCounter.name, MetricCounter.label, MetricCounter.count, MetricCounter.total))}


def aggregated_events(app) -> dict:
    """What the counters must equal: the full aggregation /metrics used to run on every scrape."""
    with app.extensions["tsunagi"].db.reading() as session:
        return {(name, label or ""): (count, total or 0.0) for name, label, count, total in session.execute(
            select(MetricEvent.name, MetricEvent.label, func.count(), func.sum(MetricEvent.value))
            .group_by(MetricEvent.name, MetricEvent.label))}


def test_counters_move_with_each_event_and_equal_the_events_totals(app, client):
    day = a_day_of_work(app, client)
    kept = counters(app)
    aggregated = aggregated_events(app)
    assert kept.keys() == aggregated.keys()
    for key, (count, total) in aggregated.items():
        assert kept[key][0] == count and kept[key][1] == pytest.approx(total), key
    assert kept[("conversation_started", "")] == (3, 0.0)
    assert kept[("handoff", "complaint")][0] == kept[("handoff", "repeated_fallback")][0] == 1
    text_ = scrape(client)
    assert "tsunagi_conversations_started_total 3.0" in text_
    assert 'tsunagi_handoffs_total{reason="complaint"} 1.0' in text_
    assert 'tsunagi_topics_answered_total{topic="shipping_fee"} 1.0' in text_
    assert "tsunagi_fallbacks_total 2.0" in text_
    assert 'tsunagi_ratings_total{scale="csat"} 2.0' in text_
    assert "tsunagi_claim_wait_seconds_count 1.0" in text_ and "tsunagi_first_agent_reply_seconds_count 1.0" in text_
    assert 'tsunagi_resolved_total{by="agent"} 1.0' in text_ and 'tsunagi_resolved_total{by="customer"} 1.0' in text_
    assert 'tsunagi_conversations{status="waiting"} 1.0' in text_
    assert 'tsunagi_conversations{status="assigned"} 0.0' in text_

    # An offline ticket left last night and claimed now: its wait is apart, not a live queue wait.
    ticket = Customer(client)
    assert ticket.post("/offline-message", {"email": "hana@example.jp", "text": "Call me back"}).status_code == 201
    with app.extensions["tsunagi"].db.writing() as session:
        session.execute(update(Conversation).where(Conversation.id == ticket.id)
                        .values(queued_at=utcnow() - timedelta(hours=14)))
    assert day.boss.post(f"/api/agent/conversations/{ticket.id}/claim").status_code == 200
    live_wait = kept[("claimed", "")][1]
    text_ = scrape(client)
    assert "tsunagi_claim_wait_seconds_count 1.0" in text_
    assert scraped(text_, "tsunagi_claim_wait_seconds_sum") == pytest.approx(live_wait)
    assert "tsunagi_offline_ticket_wait_seconds_count 1.0" in text_
    assert scraped(text_, "tsunagi_offline_ticket_wait_seconds_sum") >= 14 * 3600


def test_a_rolled_back_transaction_moves_no_counter(app):
    db = app.extensions["tsunagi"].db
    with db.writing() as session:
        events.record(session, events.Event(events.BOT_FELL_BACK, "c1", data={"intent": "nlu_fallback"}))
    with pytest.raises(RuntimeError):
        with db.writing() as session:
            events.record(session, events.Event(events.BOT_FELL_BACK, "c2", data={"intent": "nlu_fallback"}))
            raise RuntimeError("the happening failed")
    assert counters(app) == {("fallback", "nlu_fallback"): (1, 0.0)}


def test_concurrent_transactions_count_exactly_and_never_deadlock(app):
    """Each transaction records the same counters in a random order; they are added in one sorted
    batch at commit, so on PostgreSQL no two transactions lock them in opposite orders."""
    db = Database(app.extensions["tsunagi"].db.engine, Dispatcher([MetricsListener()]))
    reasons = ["complaint", "request_human", "not_helpful"]
    errors = []

    def work(seed):
        rng = random.Random(seed)
        try:
            for _ in range(25):
                with db.writing() as session:
                    for reason in rng.sample(reasons, len(reasons)):
                        events.record(session, events.Event(events.HANDOFF_REQUESTED, f"c{seed}",
                                                            data={"reason": reason, "language": "en"}))
                        events.record(session, events.Event(events.CLAIMED, f"c{seed}", data={"wait_seconds": 2.0}))
        except Exception as error:  # a deadlock would surface here
            errors.append(repr(error))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    kept = counters(app)
    assert {reason: kept[("handoff", reason)][0] for reason in reasons} == {reason: 150 for reason in reasons}
    assert kept[("claimed", "")] == (450, 900.0)


def test_metrics_needs_the_bearer_token_when_one_is_set(make_app):
    app = make_app(METRICS_TOKEN="s3cret-scraper-token")
    client = app.test_client()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-scraper-token"},
                    {"Authorization": "Basic s3cret-scraper-token"}):
        refused = client.get("/metrics", headers=headers)
        assert refused.status_code == 401, headers
        assert refused.get_json()["error"]["code"] == "metrics_token_required"
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert "tsunagi_conversations_started_total" in scrape(client, Authorization="Bearer s3cret-scraper-token")
    # From elsewhere too: with a token, where the request comes from does not matter.
    remote = client.get("/metrics", headers={"Authorization": "bearer s3cret-scraper-token"},
                        environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert remote.status_code == 200


def test_without_a_token_metrics_answers_the_loopback_only(client):
    assert "tsunagi_conversations_started_total" in scrape(client)  # the test client is 127.0.0.1
    for environ, headers in (({"REMOTE_ADDR": "203.0.113.9"}, {}), ({"REMOTE_ADDR": "10.0.0.7"}, {}),
                             ({"REMOTE_ADDR": "127.0.0.1"}, {"X-Forwarded-For": "203.0.113.9"}),
                             ({"REMOTE_ADDR": "::1"}, {"Forwarded": "for=203.0.113.9"})):
        refused = client.get("/metrics", headers=headers, environ_base=environ)
        assert refused.status_code == 403, (environ, headers)
        assert refused.get_json()["error"]["code"] == "metrics_token_not_configured"
    for loopback in ("::1", "::ffff:127.0.0.1", "127.0.0.2"):
        assert client.get("/metrics", environ_base={"REMOTE_ADDR": loopback}).status_code == 200, loopback
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::ffff:203.0.113.9"}).status_code == 403


def test_every_process_reports_the_same_totals(postgres_url, redis_url, rasa, tmp_path):
    """Two real gunicorn processes on one database: the work done through one is counted by both."""
    from conftest import empty_postgres

    empty_postgres(postgres_url)
    env = {"DATABASE_URL": postgres_url, "REDIS_URL": redis_url, "REDIS_CHANNEL_PREFIX": f"test-{secrets.token_hex(4)}:",
           "SECRET_KEY": "metrics-secret", "SUPPORT_HOURS": "always", "RASA_URL": rasa.url, "LOG_LEVEL": "WARNING",
           "WEB_CONCURRENCY": "1", "METRICS_TOKEN": "scraper"}
    servers = [Server(env, tmp_path / f"server{n}.log") for n in range(2)]
    try:
        for server in servers:
            server.wait_ready()
        a, b = servers
        for text_ in ("How much is shipping?", "blah"):
            started = requests.post(a.url + "/api/v1/conversations", json={"language": "en"}, timeout=10).json()
            requests.post(f"{a.url}/api/v1/conversations/{started['id']}/messages", json={"text": text_},
                          headers={"Authorization": f"Bearer {started['token']}"}, timeout=10).raise_for_status()

        def figures(server):
            response = requests.get(server.url + "/metrics", headers={"Authorization": "Bearer scraper"}, timeout=10)
            assert response.status_code == 200
            # Every line but the per-process ones (open streams; prometheus_client's created stamps).
            return sorted(line for line in response.text.splitlines()
                          if not line.startswith("#") and "open_streams" not in line and "_created" not in line)

        assert figures(a) == figures(b)
        assert "tsunagi_conversations_started_total 2.0" in figures(b)
        assert "tsunagi_fallbacks_total 1.0" in figures(b)
    finally:
        for server in servers:
            server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def unmigrated_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.sqlite3'}"
        return
    from conftest import with_schema

    base = request.getfixturevalue("postgres_url")  # skips (or fails in CI) without PostgreSQL
    schema = f"tsunagi_backfill_{secrets.token_hex(4)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield with_schema(base, schema)
    with admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def test_the_migration_backfills_the_counters_from_earlier_events(unmigrated_url):
    migrate(unmigrated_url, "0005")  # the schema before the counters
    engine = create_engine(unmigrated_url)
    rows = [("conversation_started", None, None)] * 3 + [("handoff", "complaint", None), ("claimed", None, 30.0),
                                                         ("claimed", None, 12.5), ("rated", "csat", 4.0)]
    with engine.begin() as connection:
        for name, label, value in rows:
            connection.execute(text("INSERT INTO metric_events (name, at, label, value) VALUES "
                                    "(:name, CURRENT_TIMESTAMP, :label, :value)"),
                               {"name": name, "label": label, "value": value})
    migrate(unmigrated_url)
    with engine.connect() as connection:
        backfilled = {(name, label): (count, total) for name, label, count, total in connection.execute(
            text("SELECT name, label, count, total FROM metric_counters"))}
    engine.dispose()
    assert backfilled == {("conversation_started", ""): (3, 0.0), ("handoff", "complaint"): (1, 0.0),
                          ("claimed", ""): (2, 42.5), ("rated", "csat"): (1, 4.0)}
