"""Fixtures of the editors' tests in the handoff environment (.venv/handoff): a fresh app and
SQLite database per test, a scripted Rasa server, and a copy of the FAQ content to change.

Run: .venv/handoff/bin/python -m pytest -q tests/editors/handoff
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from handoff import create_app
from handoff.agents import create_agent
from handoff.cli import migrate

from scripted_rasa import ScriptedRasa
# The editors' tests change a copy of the content, never the repository's files.
from tests.support.project_copy import ROOT, copy_content as copy_project  # noqa: F401 (used by the tests)


@pytest.fixture(scope="session")
def rasa():
    server = ScriptedRasa().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("template") / "handoff.sqlite3"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
def project(tmp_path) -> Path:
    return copy_project(tmp_path / "project", examples_per_intent=8)


@pytest.fixture
def app(tmp_path, sqlite_template, rasa, project):
    database = tmp_path / "handoff.sqlite3"
    shutil.copy(sqlite_template, database)
    app = create_app({
        "TESTING": True, "DATABASE_URL": f"sqlite:///{database}", "RASA_URL": rasa.url, "RASA_TIMEOUT": 5.0,
        "SECRET_KEY": "test-secret", "SUPPORT_HOURS": "always", "REDIS_URL": "", "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_PER_IP": "100000/minute", "RATE_LIMIT_CONVERSATIONS_PER_IP": "100000/minute",
        "RATE_LIMIT_PER_CONVERSATION": "100000/minute", "RATE_LIMIT_LOGIN": "100000/minute",
        "TSUNAGI_PROJECT_DIR": str(project),
    })
    yield app
    app.extensions["tsunagi"].db.engine.dispose()


class Signed:
    """An agent signed in through the API, sending the CSRF token on writes."""

    def __init__(self, app, email: str):
        self.client = app.test_client()
        # As the console signs in: with the sign-in page's CSRF token.
        token = self.client.get("/api/agent/login").get_json()["csrf_token"]
        response = self.client.post("/api/agent/login", json={"email": email, "password": "correct horse"},
                                    headers={"X-CSRF-Token": token})
        assert response.status_code == 200, response.get_json()
        self.csrf = response.get_json()["csrf_token"]

    def get(self, path):
        return self.client.get(path)

    def post(self, path, json=None):
        return self.client.post(path, json=json, headers={"X-CSRF-Token": self.csrf})


@pytest.fixture
def sign_in(app):
    def make(role: str = "editor") -> Signed:
        email = f"{role}@shop.example"
        with app.extensions["tsunagi"].db.writing() as session:
            create_agent(session, email, role.title(), role, "correct horse")
        return Signed(app, email)
    return make


class Customer:
    def __init__(self, client, language: str = "ja"):
        self.client = client
        body = client.post("/api/v1/conversations", json={"language": language}).get_json()
        self.id, self.token = body["id"], body["token"]

    def say(self, text: str) -> dict:
        response = self.client.post(f"/api/v1/conversations/{self.id}/messages", json={"text": text},
                                    headers={"Authorization": f"Bearer {self.token}"})
        assert response.status_code in (200, 201), response.get_json()
        return response.get_json()


@pytest.fixture
def customer(app):
    return lambda language="ja": Customer(app.test_client(), language)
