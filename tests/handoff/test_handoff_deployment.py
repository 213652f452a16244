"""Settings that break on several hosts or processes are refused with a clear message, by the app
factory (flask, tests) and by gunicorn's master before any worker starts (docs/deploy.md)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from handoff import create_app
from handoff.config import ConfigurationError

ROOT = Path(__file__).resolve().parents[2]
# Never connected to: the refusal comes first.
POSTGRES = "postgresql+psycopg://tsunagi@127.0.0.1:9/nowhere"


def test_postgresql_without_a_secret_key_is_refused(tmp_path):
    with pytest.raises(ConfigurationError, match="SECRET_KEY is not set: with PostgreSQL"):
        create_app({"DATABASE_URL": POSTGRES, "SECRET_KEY": ""})
    # SQLite (one host) keeps the per-host key in instance/secret_key.
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'h.sqlite3'}", "SECRET_KEY": ""})
    assert app.config["SECRET_KEY"]


def test_several_workers_without_redis_are_refused(tmp_path):
    sqlite = f"sqlite:///{tmp_path / 'h.sqlite3'}"
    with pytest.raises(ConfigurationError, match="2 worker processes without REDIS_URL"):
        create_app({"DATABASE_URL": sqlite, "WEB_CONCURRENCY": 2, "REDIS_URL": ""})
    create_app({"DATABASE_URL": sqlite, "WEB_CONCURRENCY": 2, "REDIS_URL": "redis://127.0.0.1:9/0"})
    create_app({"DATABASE_URL": sqlite, "WEB_CONCURRENCY": 1, "REDIS_URL": ""})


def gunicorn(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("DATABASE_URL", "SECRET_KEY", "REDIS_URL", "WEB_CONCURRENCY")}
    return subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "handoff/gunicorn.conf.py", "-b", "127.0.0.1:0", *args,
         "handoff:create_app()"],
        cwd=ROOT, env={**clean, "DATABASE_URL": f"sqlite:///{tmp_path / 'h.sqlite3'}", **env},
        capture_output=True, text=True, timeout=60)


def test_gunicorn_refuses_to_start_with_a_clear_message(tmp_path):
    run = gunicorn(tmp_path, DATABASE_URL=POSTGRES)
    assert run.returncode == 1, run.stderr
    assert "Error: SECRET_KEY is not set: with PostgreSQL" in run.stderr

    run = gunicorn(tmp_path, WEB_CONCURRENCY="3")
    assert run.returncode == 1, run.stderr
    assert "Error: 3 worker processes without REDIS_URL" in run.stderr

    run = gunicorn(tmp_path, "-w", "2")  # the command line's worker count counts too
    assert run.returncode == 1, run.stderr
    assert "Error: 2 worker processes without REDIS_URL" in run.stderr
