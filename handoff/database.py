"""The database connection of one app: engine, sessions, and the write/read units of work.

A write unit commits, then hands the domain events it recorded to their listeners, so a live
push or a Rasa call never announces something that was rolled back.
"""
from __future__ import annotations

import contextlib
from datetime import datetime, timezone
from typing import Iterator

from sqlalchemy import DateTime, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime stored")
            value = value.astimezone(timezone.utc)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


def make_engine(url: str, pool_size: int = 10, max_overflow: int = 20) -> Engine:
    if url.startswith("sqlite"):
        # Pooled: opening a connection (with its PRAGMAs) costs more than most of our queries.
        # A pooled connection serves one thread or greenlet at a time, so sharing is safe.
        engine = create_engine(url, pool_size=pool_size, max_overflow=max_overflow,
                               connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection, _record):
            # Let SQLAlchemy issue BEGIN itself, so a write unit can ask for BEGIN IMMEDIATE:
            # a deferred transaction that reads then writes fails with "database is locked"
            # instead of waiting when another writer got there first.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection):
            mode = connection.get_execution_options().get("sqlite_begin", "")
            connection.exec_driver_sql(f"BEGIN {mode}".strip())

        return engine
    # No pre-ping: it would add a round trip to every checkout; a dropped connection fails one
    # request and is then replaced by the pool.
    return create_engine(url, pool_size=pool_size, max_overflow=max_overflow, pool_recycle=1800)


class Database:
    def __init__(self, engine: Engine, dispatcher=None):
        self.engine = engine
        self.dispatcher = dispatcher
        self._write = sessionmaker(bind=engine.execution_options(sqlite_begin="IMMEDIATE"), expire_on_commit=False)
        # On PostgreSQL (READ COMMITTED) every statement reads its own snapshot, inside a
        # transaction or not, so reads skip BEGIN and ROLLBACK: two round trips fewer per request.
        # SQLite keeps its read transactions: there they make a request's reads one snapshot.
        reader = engine.execution_options(isolation_level="AUTOCOMMIT") if engine.dialect.name == "postgresql" else engine
        self._reader = reader
        self._read = sessionmaker(bind=reader, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def writing(self) -> Iterator[Session]:
        """One transaction; its recorded events reach the listeners after the commit."""
        session = self._write()
        session.info["dispatcher"] = self.dispatcher
        session.info["events"] = []
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
        if self.dispatcher is not None:
            self.dispatcher.after_commit(session.info["events"])

    def first_row(self, statement, parameters: dict):
        """The first row of a prebuilt Core statement, without an ORM session: for the reads made
        on every request."""
        with self._reader.connect() as connection:
            return connection.execute(statement, parameters).first()

    @contextlib.contextmanager
    def reading(self) -> Iterator[Session]:
        session = self._read()
        try:
            yield session
        finally:
            session.close()  # ends the transaction; loaded objects stay readable (detached, not expired)
