"""The outbox's worker machinery (handoff/outbox.py) on SQLite and PostgreSQL: backoff, the claim
race between workers, in-order delivery per conversation, retries, leases and the failed state."""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from handoff import outbox
from handoff.models import OutboxEntry
from handoff.outbox import PermanentFailure, Queue, QueueSettings, TemporaryFailure, backoff_seconds, enqueue

CHANNEL = "test-channel"


@pytest.fixture
def sent():
    """A sender for CHANNEL that records what it got and fails as told."""
    record = {"rows": [], "fail": {}, "lock": threading.Lock()}

    def send(app, row):
        with record["lock"]:
            record["rows"].append((row.id, row.attempts, row.payload.get("n")))
            failure = record["fail"].get(row.payload.get("n"))
        if failure == "temporary" or (isinstance(failure, int) and row.attempts <= failure):
            raise TemporaryFailure("down for a moment")
        if failure == "permanent":
            raise PermanentFailure("never")

    outbox.register_sender(CHANNEL, send)
    yield record
    outbox._SENDERS.pop(CHANNEL, None)


def queue_of(app, **settings) -> Queue:
    values = dict(max_attempts=3, backoff_seconds=0.0, backoff_max_seconds=0.0, lease_seconds=60, poll_seconds=0.05,
                  threads=1, batch=5)
    values.update(settings)
    return Queue(app, OutboxEntry, outbox._SENDERS, QueueSettings(**values), "test-outbox")


def add_rows(app, count: int, queue_key=lambda n: f"conversation-{n}") -> None:
    with app.extensions["tsunagi"].db.writing() as session:
        for n in range(count):
            enqueue(session, CHANNEL, "message", {"n": n}, f"test:{n}", queue_key=queue_key(n))


def rows(app) -> list[OutboxEntry]:
    with app.extensions["tsunagi"].db.reading() as session:
        return list(session.scalars(select(OutboxEntry).order_by(OutboxEntry.id)))


def drain(queue: Queue, rounds: int = 100) -> None:
    for _ in range(rounds):
        if not queue.work_once():
            return


def test_backoff_doubles_with_jitter_and_stops_at_the_cap():
    assert [backoff_seconds(n, 2.0, 300.0, rng=lambda: 0.5) for n in range(1, 10)] == \
        [2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 300.0]
    assert backoff_seconds(1, 2.0, 300.0, rng=lambda: 0.0) == pytest.approx(1.6)
    assert backoff_seconds(1, 2.0, 300.0, rng=lambda: 1.0) == pytest.approx(2.4)
    assert backoff_seconds(40, 2.0, 300.0, rng=lambda: 1.0) == pytest.approx(360.0)


def test_workers_racing_claim_every_row_exactly_once(app, sent):
    """Eight workers on one database (SQLite's write lock, PostgreSQL's SKIP LOCKED): each row is
    handed out once, none is left."""
    add_rows(app, 300)
    queues = [queue_of(app, batch=7) for _ in range(8)]
    claimed: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(len(queues))

    def worker(queue):
        start.wait()
        while True:
            batch = queue.claim(7)
            if not batch:
                return
            with lock:
                claimed.extend(row.id for row in batch)
            for row in batch:
                queue.handle(row)

    threads = [threading.Thread(target=worker, args=(q,)) for q in queues]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(claimed) == 300 and len(set(claimed)) == 300
    assert {row.status for row in rows(app)} == {"sent"}
    assert sorted(n for _, _, n in sent["rows"]) == list(range(300))


def test_one_conversations_rows_go_in_order_and_wait_for_a_retry(app, sent):
    add_rows(app, 3, queue_key=lambda n: "one-conversation")
    sent["fail"][0] = 1  # the first row fails once
    queue = queue_of(app, backoff_seconds=0.3, backoff_max_seconds=0.3)
    [first] = queue.claim(5)
    assert first.payload["n"] == 0  # the later rows wait behind it
    queue.handle(first)  # fails: due again in 0.3 s
    assert queue.claim(5) == []  # waiting for its retry: nothing of this conversation moves
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(r.status != "sent" for r in rows(app)):
        queue.work_once()
        time.sleep(0.05)
    assert [n for _, _, n in sent["rows"]] == [0, 0, 1, 2]  # tried twice, then the others, in order


def test_a_temporary_failure_is_retried_then_sent(app, sent):
    add_rows(app, 1)
    sent["fail"][0] = 2  # fails on tries 1 and 2
    queue = queue_of(app, max_attempts=5)
    drain(queue)
    [row] = rows(app)
    assert (row.status, row.attempts, row.last_error, row.sent_at is not None) == ("sent", 3, None, True)


def test_a_permanent_failure_fails_at_once_and_too_many_tries_fail_too(app, sent):
    add_rows(app, 2)
    sent["fail"][0] = "permanent"
    sent["fail"][1] = "temporary"
    drain(queue_of(app, max_attempts=3))
    first, second = rows(app)
    assert (first.status, first.attempts, first.last_error) == ("failed", 1, "never")
    assert (second.status, second.attempts, second.last_error) == ("failed", 3, "down for a moment")


def test_a_failed_row_does_not_hold_up_its_conversation(app, sent):
    add_rows(app, 2, queue_key=lambda n: "one-conversation")
    sent["fail"][0] = "permanent"
    drain(queue_of(app))
    assert [row.status for row in rows(app)] == ["failed", "sent"]


def test_a_row_whose_worker_died_is_taken_again_after_its_lease(app, sent):
    add_rows(app, 1)
    dead = queue_of(app, lease_seconds=0.3)
    [row] = dead.claim(5)  # claimed, then the process "dies": never handled
    other = queue_of(app)
    assert other.claim(5) == []  # leased
    time.sleep(0.4)
    [again] = other.claim(5)
    assert again.id == row.id and again.attempts == 2
    other.handle(again)
    dead.handle(row)  # a late finish by the first worker changes nothing: the row is no longer its
    [final] = rows(app)
    assert (final.status, final.attempts) == ("sent", 2)


def test_a_channel_without_a_sender_waits(app):
    with app.extensions["tsunagi"].db.writing() as session:
        enqueue(session, "nobody", "message", {}, "nobody:1")
    queue = queue_of(app, max_attempts=10)
    queue.work_once()
    [row] = rows(app)
    assert row.status == "pending" and "no sender" in row.last_error


def test_the_same_idempotency_key_is_queued_once(app):
    from sqlalchemy.exc import IntegrityError
    add_rows(app, 1)
    with pytest.raises(IntegrityError):
        add_rows(app, 1)
    assert len(rows(app)) == 1


def test_failed_rows_show_in_healthz(app, sent, client):
    add_rows(app, 1)
    sent["fail"][0] = "permanent"
    drain(queue_of(app))
    health = client.get("/healthz").get_json()
    assert health["checks"]["outbox"] == {"pending": 0, "failed": 1}
    assert "outbox" in health["degraded"]
