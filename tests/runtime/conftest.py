"""Fixtures of the runtime tests (tests/runtime): the trained model, and where the bot keeps its
conversations. A Rasa server takes 20-60 s to load here, so each module starts as few as it can.

Run: .venv/handoff/bin/python -m pytest -q tests/runtime   (needs `make setup train`)
The bot's state is on PostgreSQL (a schema of its own) and its lock on Redis when
TEST_DATABASE_URL / TEST_REDIS_URL are set, else on a SQLite file and in memory.
"""
from __future__ import annotations

import os

import pytest

from tests.support.pg_schema import postgres_schema
from tests.support.trained_model import trained_model  # noqa: F401 (a fixture)


@pytest.fixture(scope="session")
def tracker_store_url(tmp_path_factory):
    """PostgreSQL (a schema of its own, dropped at the end) when TEST_DATABASE_URL is set, in the
    form the handoff service is given (postgresql+psycopg://); else a SQLite file."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path_factory.mktemp('bot-state') / 'bot.sqlite3'}"
        return
    with postgres_schema(base, "tsunagi_runtime") as url:
        yield url
