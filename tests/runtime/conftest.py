"""Fixtures of the runtime tests (tests/runtime): the trained model, and where the bot keeps its
conversations. A Rasa server takes 20-60 s to load here, so each module starts as few as it can.

Run: .venv/handoff/bin/python -m pytest -q tests/runtime   (needs `make setup train`)
The bot's state is on PostgreSQL (a schema of its own) and its lock on Redis when
TEST_DATABASE_URL / TEST_REDIS_URL are set, else on a SQLite file and in memory. A test that
needs them skips without them (TSUNAGI_REQUIRE_SERVICES=1, CI: fails), and the session ends with
one line saying which was missing and how many tests it skipped.
"""
from __future__ import annotations

import os

import pytest

from tests.support.pg_schema import postgres_schema
from tests.support.service_skips import MissingServices
from tests.support.trained_model import trained_model  # noqa: F401 (a fixture)


missing_services = MissingServices()  # this folder's tally, said at the end of the session
pytest_runtest_logreport = missing_services.count
pytest_terminal_summary = missing_services.summarize


@pytest.fixture(name="service_missing")
def service_missing_fixture():
    """The skip (or, in CI, failure) of a test whose PostgreSQL or Redis is not configured."""
    return missing_services.skip


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
