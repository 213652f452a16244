"""Several of everything, for real: two Rasa servers (tools/rasa-server.sh; tracker store on
PostgreSQL, lock store on Redis; the action server of tools/with-bot.sh) behind two handoff
service processes (gunicorn, PostgreSQL + Redis, RASA_URLS naming both). A customer's messages
alternate between the two service processes; the Rasa server that owns the conversation is
killed mid-conversation; the other carries on with its state: one fallback before the kill and
one after still make the second-fallback handoff. The transcript has every message once, in order.

Needs TEST_DATABASE_URL and TEST_REDIS_URL (skipped without them, unless TSUNAGI_REQUIRE_SERVICES=1).
"""
from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from handoff.cli import migrate
from handoff.rasa import rendezvous_order
from tests.support.pg_schema import postgres_schema
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


class Started:
    """A server process this test started (its own process group), with its log."""

    def __init__(self, argv: list[str], env: dict, log_path: Path, port: int):
        self.port, self.url, self.log_path = port, f"http://127.0.0.1:{port}", log_path
        self.process = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **env}, stdout=open(log_path, "wb"),
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def wait_until_answering(self, path: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.url} exited:\n{self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(self.url + path, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"{self.url} did not answer {path} in {timeout:g} s:\n{self.log_path.read_text()[-3000:]}")

    def crash(self) -> None:
        """SIGKILL, as a crash: no shutdown of any kind."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)  # Rasa stops on SIGINT; gunicorn too
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


@pytest.fixture
def database_and_redis(service_missing):
    base, redis_url = os.environ.get("TEST_DATABASE_URL"), os.environ.get("TEST_REDIS_URL")
    if not base:
        service_missing("PostgreSQL not configured (TEST_DATABASE_URL unset)")
    if not redis_url:
        service_missing("Redis not configured (TEST_REDIS_URL unset)")
    with contextlib.ExitStack() as schema:
        try:
            url = schema.enter_context(postgres_schema(base, "tsunagi_cluster"))
        except Exception as error:
            service_missing(f"PostgreSQL unreachable at TEST_DATABASE_URL ({str(error).splitlines()[0]})")
        migrate(url)
        yield url, redis_url


@pytest.fixture
def cluster(database_and_redis, request, tmp_path):
    """Two Rasa servers and two handoff processes. Run under tools/with-bot.sh (rasa_url says so;
    asked for after the services, so a missing one skips first), whose action server
    (ACTION_ENDPOINT_URL, ACTION_SERVER_TOKEN) and RASA_JWT_SECRET they share."""
    database_url, redis_url = database_and_redis
    request.getfixturevalue("rasa_url")
    started: list[Started] = []
    try:
        rasas = []
        for n in range(2):
            port = free_port()
            rasas.append(Started(["tools/rasa-server.sh", str(port), "models/current.tar.gz"],
                                 {"TRACKER_STORE_URL": database_url, "REDIS_URL": redis_url},
                                 tmp_path / f"rasa{n}.log", port))
        started += rasas
        for rasa in rasas:
            rasa.wait_until_answering("/version", timeout=600)
        env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "SECRET_KEY": "cluster-test-secret",
               "REDIS_CHANNEL_PREFIX": f"cluster-{secrets.token_hex(4)}:", "SUPPORT_HOURS": "always",
               "RASA_URLS": ",".join(r.url for r in rasas), "RASA_URL": "",
               # A slow answer on a busy machine is not a server down (that would resend the turn).
               "RASA_TIMEOUT": "120", "LOG_LEVEL": "WARNING", "WEB_CONCURRENCY": "1",
               # No agent signs in before the handoff here: queue it (nobody online -> the form is
               # tests/handoff/test_presence_assignment.py's).
               "WHEN_NOBODY_ONLINE": "queue"}
        services = []
        for n in range(2):
            port = free_port()
            services.append(Started([sys.executable, "-m", "gunicorn", "-c", "handoff/gunicorn.conf.py",
                                     "-b", f"127.0.0.1:{port}", "-w", "1", "handoff:create_app()"],
                                    env, tmp_path / f"handoff{n}.log", port))
        started += services
        for service in services:
            service.wait_until_answering("/healthz", timeout=60)
        yield rasas, services
    finally:
        for process in started:
            process.stop()


def test_a_rasa_server_crash_mid_conversation_loses_neither_messages_nor_state(cluster):
    rasas, (a, b) = cluster
    started = requests.post(a.url + "/api/v1/conversations", json={"language": "ja"}, timeout=30).json()
    conversation, customer = started["id"], {"Authorization": f"Bearer {started['token']}"}
    path = f"/api/v1/conversations/{conversation}"
    owner_url = rendezvous_order(conversation, [r.url for r in rasas])[0]
    owner = next(r for r in rasas if r.url == owner_url)
    sent: list[str] = []

    def say(service: Started, words: str) -> list[dict]:
        response = requests.post(service.url + path + "/messages", json={"text": words}, headers=customer, timeout=300)
        assert response.status_code == 201, response.text
        sent.append(words)
        return response.json()["replies"]

    # Through A, then B: an answer, then a first fallback (the bot asks to rephrase).
    answer = say(a, "送料はいくらですか？")
    assert any("550" in m["text"] for m in answer if m["sender"] == "bot")
    first_fallback = say(b, "同じ注文で2回もカードから引き落とされてるんですけど")
    assert first_fallback and all(m["sender"] == "bot" for m in first_fallback)
    assert requests.get(a.url + path, headers=customer, timeout=30).json()["status"] == "bot"

    owner.crash()
    # Through A again: the other Rasa server reads the conversation from the shared tracker store;
    # this second fallback in a row hands it over, as it would have on the first server.
    say(a, "会社でまとめて50個買いたいので見積もりをお願いしたいです")
    state = requests.get(b.url + path, headers=customer, timeout=30).json()
    assert state["status"] == "waiting", state
    health = requests.get(b.url + "/healthz", timeout=30).json()
    assert {s["url"]: s["up"] for s in health["rasa_servers"]} == {r.url: r is not owner for r in rasas}

    # The transcript, as either process reads it: each message once, in the order sent, and
    # every customer message answered (the last by the handoff).
    for service in (a, b):
        messages = requests.get(service.url + path + "/messages", headers=customer, timeout=30).json()["messages"]
        assert [m["text"] for m in messages if m["sender"] == "customer"] == sent
        seqs = [m["seq"] for m in messages]
        assert seqs == sorted(set(seqs))
        senders = [m["sender"] for m in messages]
        assert senders[-1] != "customer" and not any(x == y == "customer" for x, y in zip(senders, senders[1:]))
