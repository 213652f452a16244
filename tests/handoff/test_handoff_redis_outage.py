"""Redis goes away mid-chat and comes back: a private redis-server started by the test on its own
port, under two real gunicorn processes on PostgreSQL. Chat keeps answering without a 500,
/healthz says Redis is degraded, rate limits count in the process meanwhile, and an SSE stream
left open through the outage resyncs and carries live events from the other process again."""
from __future__ import annotations

import secrets
import shutil
import subprocess
import time

import pytest
import redis
import requests

from handoff.errors import RateLimited
from handoff.live import RedisBroker
from handoff.rate_limits import MemoryCounter, RateLimiter, RedisCounter
from test_handoff_processes import running_two_servers, stream
from tests.support.ports import free_port
from tests.support.waiting import wait_until


class PrivateRedis:
    """redis-server on a free port of its own, without persistence; stop() and start() again on
    the same port, as an outage and its end."""

    def __init__(self, log_path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_path = log_path
        self.process = None

    def start(self) -> "PrivateRedis":
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        wait_until(lambda: self._pings(client), "the private redis-server answers PING")
        return self

    @staticmethod
    def _pings(client) -> bool:
        try:
            return client.ping()
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def private_redis(tmp_path):
    if shutil.which("redis-server") is None:
        from conftest import service_missing

        service_missing("redis-server not installed (the Redis outage tests start their own)")
    server = PrivateRedis(tmp_path / "redis.log").start()
    yield server
    server.stop()


def test_rate_limits_count_in_the_process_while_redis_is_down_and_in_redis_again_after(private_redis):
    broker = RedisBroker(private_redis.url, f"test-{secrets.token_hex(4)}:", timeout=1.0, retry_seconds=0.2)
    limiter = RateLimiter(RedisCounter(broker, fallback=MemoryCounter()), broker.prefix)
    key = f"{broker.prefix}rl:messages:c1"
    for _ in range(2):
        limiter.check("messages", "c1", "3/minute")
    assert int(broker.client.get(key)) == 2  # counted in Redis

    private_redis.stop()
    for _ in range(3):  # the process's own counter: no error, and the limit still holds
        limiter.check("messages", "c1", "3/minute")
    with pytest.raises(RateLimited):
        limiter.check("messages", "c1", "3/minute")
    assert not broker.usable

    private_redis.start()  # empty: started without persistence
    wait_until(lambda: broker.usable, "REDIS_RETRY_SECONDS passed", timeout=5)
    limiter.check("messages", "c1", "3/minute")
    assert int(broker.client.get(key)) == 1  # back in Redis


@pytest.fixture
def two_servers_on_private_redis(postgres_url, private_redis, rasa, tmp_path):
    from conftest import empty_postgres

    empty_postgres(postgres_url)
    rasa.reset()
    env = {"DATABASE_URL": postgres_url, "REDIS_URL": private_redis.url,
           "REDIS_CHANNEL_PREFIX": f"test-{secrets.token_hex(4)}:", "REDIS_TIMEOUT": "1", "REDIS_RETRY_SECONDS": "0.5",
           "SECRET_KEY": "outage-secret", "SUPPORT_HOURS": "always", "RASA_URL": rasa.url,
           "STREAM_HEARTBEAT_SECONDS": "0.5", "LOG_LEVEL": "WARNING", "WEB_CONCURRENCY": "1"}
    with running_two_servers(env, tmp_path) as servers:
        yield servers


def health(server) -> dict:
    response = requests.get(server.url + "/healthz", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_chat_goes_on_through_a_redis_outage_and_live_events_resume(two_servers_on_private_redis, private_redis):
    a, b = two_servers_on_private_redis
    started = requests.post(a.url + "/api/v1/conversations", json={"language": "en"}, timeout=10).json()
    customer = {"Authorization": f"Bearer {started['token']}"}
    conv = f"/api/v1/conversations/{started['id']}"
    # The customer's stream is held by B for the whole test; messages are posted to A and B.
    live = stream(b.url + conv + "/stream", **customer)
    agent = requests.Session()
    sign_in = {"X-CSRF-Token": agent.get(b.url + "/api/agent/login", timeout=10).json()["csrf_token"]}
    assert agent.post(b.url + "/api/agent/login", json={"email": "aiko@shop.example", "password": "correct horse"},
                      headers=sign_in, timeout=10).status_code == 200
    console = stream(b.url + "/api/agent/stream", Cookie=f"tsunagi_session={agent.cookies['tsunagi_session']}")
    seen: list[dict] = []

    def say(server, text: str) -> dict:
        response = requests.post(server.url + conv + "/messages", json={"text": text}, headers=customer, timeout=10)
        assert response.status_code == 201, response.text  # never a 500
        body = response.json()
        assert body["replies"] and body["replies"][0]["sender"] == "bot", body
        return body

    def arrived(text: str, sender: str = "customer") -> dict:
        while True:
            event = live.next(timeout=15, kind="message")
            seen.append(event)
            if event["data"]["sender"] == sender and event["data"]["text"] == text:
                return event

    say(a, "How much is shipping? (before)")
    arrived("How much is shipping? (before)")  # A -> Redis -> B
    assert health(a)["status"] == "ok"

    private_redis.stop()
    say(b, "What payment methods do you take? (Redis down, via B)")
    # B's own message reaches B's stream at once: a failed publish is delivered in the process.
    arrived("What payment methods do you take? (Redis down, via B)")
    # A's message cannot reach B while Redis is down (and nothing from B follows to reveal the gap).
    during_a = say(a, "Can I return it? (Redis down, via A)")
    for server in (a, b):
        body = health(server)
        assert body["status"] == "degraded" and body["degraded"] == ["redis"] and body["checks"]["redis"] is False

    private_redis.start()
    # B's listener reconnects and every stream resyncs: A's message arrives with nothing else sent,
    # and the agents' consoles are told to reload what they show.
    arrived("Can I return it? (Redis down, via A)")
    console.until(lambda e: e["event"] == "resync", timeout=15)
    wait_until(lambda: health(a)["status"] == "ok" and health(b)["status"] == "ok", "healthz ok again", timeout=15)
    after = say(a, "How long does shipping take? (after)")
    arrived("How long does shipping take? (after)")
    live.response.close()
    console.response.close()

    # Every message of the transcript reached the open stream exactly once, in order.
    transcript = requests.get(b.url + conv + "/messages", headers=customer, timeout=10).json()["messages"]
    got = [e["data"]["seq"] for e in seen]
    assert len(got) == len(set(got)), got
    assert during_a["message"]["seq"] in got and after["message"]["seq"] in got
    assert sorted(got) == [m["seq"] for m in transcript if m["seq"] <= max(got)]
    ids = [e["id"] for e in seen]
    assert ids == sorted(ids)  # event ids only grow on the stream (resync fills in, never repeats)
