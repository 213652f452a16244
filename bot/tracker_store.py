"""The bot's conversation state, shared and persistent: Rasa's own stores, configured from URLs.

- `SharedSQLTrackerStore`: Rasa's SQLTrackerStore on `TRACKER_STORE_URL` (tools/rasa-server.sh
  defaults it to the handoff service's `DATABASE_URL`). A restart of Rasa, a model swap
  (`PUT /model` builds a new agent and a new store, which reads the same rows) and a second Rasa
  server all see the same conversations. Rasa keeps them in one table, `events`, which the handoff
  service's schema does not use.
- `SharedLockStore`: Rasa's RedisLockStore when `REDIS_URL` is set (one message of a conversation
  at a time across Rasa servers), else its in-memory lock (one server). While Redis does not
  answer, the Redis one falls back to this server's own locks (`FallbackRedisLockStore`), so a
  Redis outage does not stop the bot.
"""
from __future__ import annotations

import logging
import os
import time
from typing import Any, Optional, Text
from urllib.parse import urlsplit

from rasa.core.brokers.broker import EventBroker
from rasa.core.lock_store import InMemoryLockStore, LockStore, RedisLockStore
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from redis.connection import parse_url

logger = logging.getLogger(__name__)

# Seconds a SQLite writer waits for the other process's write (the handoff service's or another
# Rasa's) to finish, instead of failing at once with "database is locked".
SQLITE_BUSY_TIMEOUT = 30
# Rasa's lock keys in Redis start with this (then Rasa's own "lock:"), apart from the service's keys.
LOCK_KEY_PREFIX = "tsunagi"
# After Redis failed, the lock store uses this server's own locks this long before trying it again.
REDIS_RETRY_SECONDS = 5.0
# The handoff service's URLs name the psycopg 3 driver; the bot's environment has psycopg2.
_POSTGRESQL_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2")


class TrackerStoreURLError(ValueError):
    pass


def tracker_store_url(url: Optional[Text]) -> Text:
    """The SQLAlchemy URL Rasa's SQLTrackerStore connects with, for the service's kind of URL:
    `sqlite:////abs/path` (written in WAL mode, with a busy timeout) or a PostgreSQL URL."""
    url = (url or "").strip()
    scheme, _, rest = url.partition("://")
    if scheme == "sqlite" and rest.startswith("/") and len(rest) > 1:
        path = rest[1:].split("?", 1)[0]
        if not path:
            raise TrackerStoreURLError("TRACKER_STORE_URL: a SQLite URL needs a file path (sqlite:////abs/path)")
        _use_wal(path)
        return f"sqlite:///{path}?timeout={SQLITE_BUSY_TIMEOUT}"
    if scheme in _POSTGRESQL_SCHEMES and rest:
        return f"postgresql://{rest}"
    shown = scheme + "://..." if rest else (url or "(empty)")
    raise TrackerStoreURLError(
        f"TRACKER_STORE_URL (or DATABASE_URL) {shown} is neither sqlite:///<path> nor postgresql://...")


def _use_wal(path: Text) -> None:
    """SQLite's write-ahead log: the handoff service and Rasa read while the other writes. The
    mode is kept in the file, so setting it once, before Rasa's engine connects, is enough."""
    import sqlite3

    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    connection = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT)
    try:
        mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            logger.warning("SQLite file %s stays in journal mode %s, not WAL.", path, mode)
    finally:
        connection.close()


class SharedSQLTrackerStore(SQLTrackerStore):
    """Rasa's SQLTrackerStore, given the whole database URL as `url:` in endpoints.yml."""

    def __init__(
        self,
        domain: Optional[Domain] = None,
        host: Optional[Text] = None,
        event_broker: Optional[EventBroker] = None,
        **kwargs: Any,
    ) -> None:
        # Rasa's get_db_url takes a host holding "://" as the complete URL.
        super().__init__(domain, host=tracker_store_url(host), event_broker=event_broker, **kwargs)


class SharedLockStore:
    """Rasa builds a custom lock store as `Class(endpoint_config=...)`: this one answers with
    Rasa's RedisLockStore on `REDIS_URL` when it is set, else with its InMemoryLockStore."""

    def __new__(cls, endpoint_config: Any = None) -> LockStore:  # type: ignore[misc]
        url = os.environ.get("REDIS_URL", "").strip()
        if not url:
            return InMemoryLockStore()
        return FallbackRedisLockStore(**redis_lock_store_arguments(url))


class FallbackRedisLockStore(RedisLockStore):
    """Rasa's RedisLockStore; while Redis does not answer, Rasa's InMemoryLockStore of this server.

    The gateway sends each conversation to one Rasa server (rendezvous hashing, handoff/rasa.py),
    so during an outage a server's own lock still keeps one conversation's turns in order; what
    Redis adds, a lock across servers at the moment a conversation moves, waits for Redis. A
    ticket left in Redis when it went away expires with Rasa's lock lifetime. Without this, every
    turn fails while Redis is down (Rasa's RedisLockStore raises) and customers get only the
    "assistant unavailable" reply.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._own_locks = InMemoryLockStore()
        self._redis_retry_at = 0.0

    def _either(self, on_redis: Any, on_own: Any) -> Any:
        import redis

        if time.monotonic() < self._redis_retry_at:
            return on_own()
        try:
            return on_redis()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as error:
            logger.warning("Redis lock store: %s; this server's own locks for %g s", error, REDIS_RETRY_SECONDS)
            self._redis_retry_at = time.monotonic() + REDIS_RETRY_SECONDS
            return on_own()

    def get_lock(self, conversation_id: Text) -> Any:
        return self._either(lambda: super(FallbackRedisLockStore, self).get_lock(conversation_id),
                            lambda: self._own_locks.get_lock(conversation_id))

    def delete_lock(self, conversation_id: Text) -> None:
        self._either(lambda: super(FallbackRedisLockStore, self).delete_lock(conversation_id),
                     lambda: self._own_locks.delete_lock(conversation_id))

    def save_lock(self, lock: Any) -> None:
        self._either(lambda: super(FallbackRedisLockStore, self).save_lock(lock),
                     lambda: self._own_locks.save_lock(lock))


def redis_lock_store_arguments(url: Text) -> dict:
    """RedisLockStore's arguments from a `redis://[user:password@]host[:port][/db]` URL
    (`rediss://` for TLS). The lock keys are `tsunagi:lock:<conversation id>`."""
    parts = urlsplit(url)
    # redis-py's own reading of the URL (as redis.from_url): host, port, db, unquoted credentials.
    options = parse_url(url) if parts.scheme in ("redis", "rediss") else {}
    # redis-py ignores a database that is not a number (/abc); it is an error here, as before.
    if not options.get("host") or (parts.path.strip("/") and "db" not in options):
        raise ValueError("REDIS_URL must be redis://host[:port][/db] or rediss://...")
    return {
        "host": options["host"],
        "port": options.get("port") or 6379,
        "db": options.get("db", 0),
        "username": options.get("username"),
        "password": options.get("password"),
        "use_ssl": parts.scheme == "rediss",
        "key_prefix": LOCK_KEY_PREFIX,
    }
