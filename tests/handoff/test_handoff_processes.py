"""Real server processes (gunicorn, gevent workers) on PostgreSQL + Redis: an event posted to one
process reaches streams held by another, and a reconnect with Last-Event-ID resumes there."""
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

from handoff import create_app
from handoff_support import add_agent
from sse_reader import BackgroundReader
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


class Server:
    def __init__(self, env: dict, log_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "handoff/gunicorn.conf.py", "-b", f"127.0.0.1:{self.port}",
             "-w", "1", "handoff:create_app()"],
            cwd=ROOT, env={**os.environ, **env}, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server on {self.port} exited; see {self.log.name}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server on {self.port} did not become ready")

    def stop(self):
        self.process.send_signal(signal.SIGQUIT)  # quick shutdown: open streams need not finish
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


@contextlib.contextmanager
def running_two_servers(env: dict, tmp_path: Path):
    """Two gunicorn processes on env (its DATABASE_URL already migrated and empty), once both answer
    /healthz, with agent Aiko added; both stopped on the way out."""
    servers = [Server(env, tmp_path / f"server{n}.log") for n in range(2)]
    try:
        for server in servers:
            server.wait_ready()
        app = create_app({k: v for k, v in env.items() if k in ("DATABASE_URL", "SECRET_KEY")})
        add_agent(app, "aiko@shop.example", name="Aiko")
        app.extensions["tsunagi"].db.engine.dispose()
        yield servers
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def two_servers(postgres_url, redis_url, rasa, tmp_path):
    from conftest import empty_postgres

    empty_postgres(postgres_url)
    rasa.reset()
    env = {"DATABASE_URL": postgres_url, "REDIS_URL": redis_url, "REDIS_CHANNEL_PREFIX": f"test-{secrets.token_hex(4)}:",
           "SECRET_KEY": "two-process-secret", "SUPPORT_HOURS": "always", "WHEN_NOBODY_ONLINE": "queue", "RASA_URL": rasa.url,
           "STREAM_HEARTBEAT_SECONDS": "0.5", "LOG_LEVEL": "WARNING", "WEB_CONCURRENCY": "1"}
    with running_two_servers(env, tmp_path) as servers:
        yield servers


def stream(url: str, **headers) -> BackgroundReader:
    response = requests.get(url, headers=headers, stream=True, timeout=(2, 30))
    assert response.status_code == 200
    reader = BackgroundReader(response.iter_content(chunk_size=None))
    assert reader.ready.wait(5)
    reader.response = response
    return reader


def test_events_cross_processes_through_redis_and_resume_on_the_other(two_servers):
    a, b = two_servers
    started = requests.post(a.url + "/api/v1/conversations", json={"language": "en"}).json()
    customer = {"Authorization": f"Bearer {started['token']}"}
    conv = f"/api/v1/conversations/{started['id']}"
    assert requests.post(a.url + conv + "/handoff", json={}, headers=customer).json()["status"] == "waiting"

    agent = requests.Session()
    sign_in = {"X-CSRF-Token": agent.get(b.url + "/api/agent/login").json()["csrf_token"]}
    login = agent.post(b.url + "/api/agent/login", json={"email": "aiko@shop.example", "password": "correct horse"},
                       headers=sign_in)
    csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
    agent_stream = stream(a.url + "/api/agent/stream", Cookie=f"tsunagi_session={agent.cookies['tsunagi_session']}")
    # The stream ticket is issued by process A and spent on process B: tickets are rows, not memory.
    ticket = requests.post(a.url + conv + "/stream-ticket", headers=customer).json()["ticket"]
    customer_stream = stream(b.url + conv + "/stream?ticket=" + ticket)
    assert agent.post(b.url + f"/api/agent/conversations/{started['id']}/claim", headers=csrf).status_code == 200

    # The agent writes through process A; the customer's stream is held by process B.
    agent.post(a.url + f"/api/agent/conversations/{started['id']}/messages", json={"text": "via A"}, headers=csrf)
    got = customer_stream.until(lambda e: e["event"] == "message" and e["data"]["sender"] == "agent", timeout=10)
    assert got["data"]["text"] == "via A"
    last_seen = got["id"]

    # Customer writes to B; the agent's stream is held by A.
    requests.post(b.url + conv + "/messages", json={"text": "thanks, from B"}, headers=customer)
    seen = agent_stream.until(lambda e: e["event"] == "message" and e["data"]["sender"] == "customer", timeout=10)
    assert seen["data"]["text"] == "thanks, from B" and seen["data"]["conversation_id"] == started["id"]
    customer_stream.response.close()

    # While the customer is away, two more agent messages; the reconnect lands on the other process.
    for text in ("one", "two"):
        agent.post(b.url + f"/api/agent/conversations/{started['id']}/messages", json={"text": text}, headers=csrf)
    resumed = stream(a.url + conv + "/stream", **customer, **{"Last-Event-ID": str(last_seen)})
    texts = [resumed.next(timeout=10)["data"]["text"] for _ in range(3)]
    assert texts == ["thanks, from B", "one", "two"]
    resumed.response.close()
    agent_stream.response.close()
