"""Fixtures of the runtime tests (tests/runtime): the trained model, and where the bot keeps its
conversations. A Rasa server takes 20-60 s to load here, so each module starts as few as it can.

Run: .venv/handoff/bin/python -m pytest -q tests/runtime   (needs `make setup train`)
The bot's state is on PostgreSQL (a schema of its own) and its lock on Redis when
TEST_DATABASE_URL / TEST_REDIS_URL are set, else on a SQLite file and in memory.
"""
from __future__ import annotations

import os
import secrets

import pytest

from tests.support.trained_model import trained_model  # noqa: F401 (a fixture)


@pytest.fixture(scope="session")
def tracker_store_url(tmp_path_factory):
    """PostgreSQL (a schema of its own, dropped at the end) when TEST_DATABASE_URL is set, in the
    form the handoff service is given (postgresql+psycopg://); else a SQLite file."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path_factory.mktemp('bot-state') / 'bot.sqlite3'}"
        return
    from sqlalchemy import create_engine, make_url, text

    schema = f"tsunagi_runtime_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()
