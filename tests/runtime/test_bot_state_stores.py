"""The stores endpoints.yml gives the Rasa server (bot/tracker_store.py), built as Rasa builds them
(AvailableEndpoints.read_endpoints, TrackerStore.create, LockStore.create) in the bot's
environment: a conversation saved by one store is read back by a new one (what a restart, a
model swap or a second server does), on SQLite in WAL mode beside the handoff service's tables,
and on PostgreSQL from the service's kind of URL; the lock is Redis's when REDIS_URL is set."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import uuid

import pytest

from runtime_support import BASE_ENV, BOT_PYTHON, ROOT, free_port

SCRIPT = r'''
import asyncio, json, os, sys
from rasa.core.lock_store import LockStore, RedisLockStore
from rasa.core.tracker_store import TrackerStore
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

conversation = sys.argv[1]
endpoints = AvailableEndpoints.read_endpoints("endpoints.yml")
domain = Domain.load("domain.yml")
result = {}

async def main():
    first = TrackerStore.create(endpoints.tracker_store, domain=domain)
    result["tracker_store"] = [c.__name__ for c in type(first).__mro__][:2]
    tracker = DialogueStateTracker.from_events(
        conversation, [UserUttered("hello"), SlotSet("language", "en")], slots=domain.slots)
    await first.save(tracker)
    again = await TrackerStore.create(endpoints.tracker_store, domain=domain).retrieve(conversation)
    result["language"] = again.get_slot("language")
    result["texts"] = [e.text for e in again.events if isinstance(e, UserUttered)]

    locks = LockStore.create(endpoints.lock_store)
    result["lock_store"] = type(locks).__name__
    if isinstance(locks, RedisLockStore):
        key = "tsunagi:lock:" + conversation
        async with locks.lock(conversation):
            result["held"] = bool(locks.red.exists(key))
        result["released"] = not locks.red.exists(key)

asyncio.run(main())
print(json.dumps(result))
'''


def stores(tmp_path, **env) -> dict:
    conversation = f"stores-{uuid.uuid4().hex[:12]}"
    done = subprocess.run([str(BOT_PYTHON), "-c", SCRIPT, conversation], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, **BASE_ENV, PYTHONPATH=str(ROOT), ACTION_SERVER_TOKEN="t",
                                                ACTION_ENDPOINT_URL="http://127.0.0.1:1/webhook", **env))
    assert done.returncode == 0, done.stdout + done.stderr
    return {"conversation": conversation, **json.loads(done.stdout.strip().splitlines()[-1])}


def test_sqlite_beside_the_handoff_service_in_wal_mode_with_rasas_in_memory_lock(tmp_path):
    database = tmp_path / "handoff.sqlite3"
    migrated = subprocess.run([str(ROOT / ".venv" / "handoff" / "bin" / "flask"), "--app", "handoff", "db-upgrade"],
                              cwd=ROOT, capture_output=True, text=True, timeout=300,
                              env=dict(os.environ, DATABASE_URL=f"sqlite:///{database}", SECRET_KEY="x"))
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    result = stores(tmp_path, TRACKER_STORE_URL=f"sqlite:///{database}", REDIS_URL="")
    assert result["tracker_store"] == ["SharedSQLTrackerStore", "SQLTrackerStore"]
    assert result["language"] == "en" and result["texts"] == ["hello"]
    assert result["lock_store"] == "InMemoryLockStore"
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"events", "conversations", "messages", "agents"} <= tables
        assert db.execute("SELECT count(*) FROM events WHERE sender_id = ?", (result["conversation"],)).fetchone()[0] > 0


def test_postgresql_from_the_services_url_and_redis_locks(tracker_store_url, tmp_path, service_missing):
    missing = [name for name in ("TEST_DATABASE_URL", "TEST_REDIS_URL") if not os.environ.get(name)]
    if missing:
        service_missing(f"{' and '.join(missing)} unset")  # CI (TSUNAGI_REQUIRE_SERVICES=1): a failure
    assert tracker_store_url.startswith("postgresql+psycopg://")  # the handoff service's driver, translated
    result = stores(tmp_path, TRACKER_STORE_URL=tracker_store_url, REDIS_URL=os.environ["TEST_REDIS_URL"])
    assert result["tracker_store"] == ["SharedSQLTrackerStore", "SQLTrackerStore"]
    assert result["language"] == "en" and result["texts"] == ["hello"]
    assert result["lock_store"] == "FallbackRedisLockStore" and result["held"] and result["released"]


@pytest.mark.parametrize("url", ["mysql://db/x", "sqlite://", ""])
def test_an_unusable_tracker_store_url_stops_rasa_with_a_clear_message(tmp_path, url):
    done = subprocess.run([str(BOT_PYTHON), "-c", SCRIPT, "x"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, **BASE_ENV, PYTHONPATH=str(ROOT), ACTION_SERVER_TOKEN="t",
                                   ACTION_ENDPOINT_URL="http://127.0.0.1:1/webhook", TRACKER_STORE_URL=url,
                                   REDIS_URL=""))
    assert done.returncode != 0
    assert "is neither sqlite:///<path> nor postgresql://" in done.stderr


OUTAGE_SCRIPT = r'''
import asyncio, json, os, signal, socket, subprocess, sys, time
import bot.tracker_store as stores
from rasa.core.lock_store import LockStore
from rasa.core.utils import AvailableEndpoints

conversation, port = sys.argv[1], int(sys.argv[2])
stores.REDIS_RETRY_SECONDS = 0.5
key = "tsunagi:lock:" + conversation
result = {}

def redis_server():
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    raise SystemExit("redis-server did not start")

async def two_turns(locks, log):
    async def turn(name):
        async with locks.lock(conversation):
            log.append(name + " in")
            await asyncio.sleep(0.2)
            log.append(name + " out")
    await asyncio.gather(turn("first"), turn("second"))

async def main():
    redis = redis_server()
    locks = LockStore.create(AvailableEndpoints.read_endpoints("endpoints.yml").lock_store)
    result["lock_store"] = type(locks).__name__
    async with locks.lock(conversation):
        result["held_in_redis"] = bool(locks.red.exists(key))

    redis.send_signal(signal.SIGTERM); redis.wait(30)
    during = []
    await two_turns(locks, during)                       # Redis is gone: this server's own locks
    result["during_outage"] = during

    redis = redis_server()
    time.sleep(0.6)                                      # past REDIS_RETRY_SECONDS
    async with locks.lock(conversation):
        result["held_in_redis_again"] = bool(locks.red.exists(key))
    redis.send_signal(signal.SIGTERM); redis.wait(30)

asyncio.run(main())
print(json.dumps(result))
'''


def test_a_redis_outage_leaves_rasa_on_its_own_locks_and_redis_is_used_again_when_back(tmp_path):
    """Rasa's RedisLockStore alone fails every turn while Redis is down; ours keeps one
    conversation's turns in order on the server's own lock, then goes back to Redis."""
    port = free_port()
    conversation = f"outage-{uuid.uuid4().hex[:12]}"
    done = subprocess.run([str(BOT_PYTHON), "-c", OUTAGE_SCRIPT, conversation, str(port)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, **BASE_ENV, PYTHONPATH=str(ROOT), ACTION_SERVER_TOKEN="t",
                                   ACTION_ENDPOINT_URL="http://127.0.0.1:1/webhook",
                                   TRACKER_STORE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}",
                                   REDIS_URL=f"redis://127.0.0.1:{port}/0"))
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["lock_store"] == "FallbackRedisLockStore"
    assert result["held_in_redis"] and result["held_in_redis_again"]
    assert result["during_outage"] == ["first in", "first out", "second in", "second out"]
    assert "this server's own locks" in done.stderr
