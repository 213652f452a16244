"""Fixtures of the handoff tests: a fresh app and database per test (as in Flask's flaskr
tutorial), on SQLite always and on PostgreSQL when TEST_DATABASE_URL is set, plus a real HTTP
server standing in for Rasa.

TSUNAGI_REQUIRE_SERVICES=1 (CI) turns a missing PostgreSQL or Redis into a failure, not a skip;
otherwise the session ends with one line saying which was missing and how many tests it skipped.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

import pytest
from hypothesis.configuration import set_hypothesis_home_dir
from sqlalchemy import create_engine, text

from handoff import create_app
from handoff.cli import migrate

from handoff_support import AgentSession, add_agent
from tests.support.pg_schema import postgres_schema, with_schema  # noqa: F401 (tests import with_schema from here)
from tests.support.rasa_stand_in import RasaStandIn
from tests.support.service_skips import MissingServices

# Hypothesis keeps a cache of its own; outside the work tree it leaves no untracked files behind.
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "tsunagi-hypothesis"))
TABLES = ("outbox", "channel_events", "email_messages", "stream_events", "notes", "messages", "metric_events",
          "metric_counters", "stream_tickets", "canned_replies", "conversations", "agents", "contacts",
          "help_searches", "help_votes", "help_article_views", "help_visits")


missing_services = MissingServices()  # this folder's tally, said at the end of the session
service_missing = missing_services.skip
pytest_runtest_logreport = missing_services.count
pytest_terminal_summary = missing_services.summarize


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


@pytest.fixture(scope="session")
def rasa():
    stand_in = RasaStandIn().start()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("template") / "handoff.sqlite3"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url():
    """A schema of its own for this test session (parallel runs never meet), dropped at the end."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        service_missing("PostgreSQL not configured (TEST_DATABASE_URL unset)")
    with contextlib.ExitStack() as schema:
        try:
            url = schema.enter_context(postgres_schema(base, "tsunagi_test"))
        except Exception as error:
            service_missing(f"PostgreSQL unreachable at TEST_DATABASE_URL ({_first_line(error)})")
        migrate(url)
        yield url


@pytest.fixture(scope="session")
def redis_url():
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        service_missing("Redis not configured (TEST_REDIS_URL unset)")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as error:
        service_missing(f"Redis unreachable at TEST_REDIS_URL ({_first_line(error)})")
    return url


def empty_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path, sqlite_template):
    if request.param == "sqlite":
        path = tmp_path / "handoff.sqlite3"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_url")
    empty_postgres(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path, sqlite_template):
    path = tmp_path / "handoff.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def base_config(database_url: str, rasa_url: str, instance: str) -> dict:
    return {
        "TESTING": True, "DATABASE_URL": database_url, "RASA_URL": rasa_url, "RASA_TIMEOUT": 1.0,
        "SECRET_KEY": "test-secret", "SUPPORT_HOURS": "always", "REDIS_URL": "",
        "RATE_LIMIT_PER_IP": "100000/minute", "RATE_LIMIT_CONVERSATIONS_PER_IP": "100000/minute",
        "RATE_LIMIT_PER_CONVERSATION": "100000/minute", "RATE_LIMIT_LOGIN": "100000/minute",
        "STREAM_HEARTBEAT_SECONDS": 0.2, "STREAM_MAX_SECONDS": 10, "CORS_ORIGINS": ["https://shop.example"],
        "LOG_LEVEL": "WARNING",
        # These tests hand off with no agent signed in and look at the queue; nobody online ->
        # the leave-a-message form is tested in test_presence_assignment.py.
        "WHEN_NOBODY_ONLINE": "queue",
    }


@pytest.fixture
def make_app(database_url, rasa, tmp_path):
    apps = []
    rasa.reset()

    def build(**overrides):
        config = base_config(database_url, rasa.url, str(tmp_path))
        config.update(overrides)
        app = create_app(config)
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["tsunagi"].db.engine.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def agent_factory(app):
    def make(email: str = "aiko@shop.example", role: str = "agent", **extra) -> AgentSession:
        add_agent(app, email, role, **extra)
        return AgentSession(app, email)
    return make
