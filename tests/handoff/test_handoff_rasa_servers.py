"""Several Rasa servers (RASA_URLS) and the JWT every call carries, against two real HTTP servers
speaking Rasa's side of the contract (tests/support/rasa_stand_in.py) behind the contract's token
check. The same with two real Rasa servers sharing their state: tests/e2e/test_cluster.py."""
from __future__ import annotations

import time

import jwt
import pytest

from handoff.rasa import rendezvous_order
from handoff_support import AgentSession, Customer, add_agent
from tests.support.rasa_stand_in import RasaStandIn
from tests.support.waiting import wait_until

SECRET = "rasa-jwt-test-secret-of-32-bytes-or-more"
CONTRACT_USER = {"username": "tsunagi-gateway", "role": "admin"}


class SignedRasaStandIn(RasaStandIn):
    """The stand-in refusing (401) any call without the contract's token, as Rasa's API (with
    --jwt-secret) and our gateway channel do; it keeps each accepted token's payload."""

    def __init__(self, secret: str):
        super().__init__()
        self.secret = secret
        self.tokens: list[dict] = []
        self.refused = 0

    def authorised(self, header: str | None) -> bool:
        scheme, _, token = (header or "").partition(" ")
        try:
            payload = jwt.decode(token, self.secret, algorithms=["HS256"], options={"require": ["exp"]})
        except jwt.InvalidTokenError:
            self.refused += 1
            return False
        if payload.get("user") != CONTRACT_USER or scheme != "Bearer":
            self.refused += 1
            return False
        self.tokens.append(payload)
        return True

    def handler_class(self):
        stand_in, answering = self, super().handler_class()

        class Checked(answering):
            def do_GET(self):
                if stand_in.authorised(self.headers.get("Authorization")):
                    super().do_GET()
                else:
                    self._send(401, {"error": "NotAuthenticated"})

            def do_POST(self):
                if stand_in.authorised(self.headers.get("Authorization")):
                    super().do_POST()
                else:
                    self.rfile.read(int(self.headers.get("Content-Length") or 0))
                    self._send(401, {"error": "NotAuthenticated"})

        return Checked

    def senders(self) -> set[str]:
        with self._lock:
            return {r["sender"] for r in self.received}


@pytest.fixture
def two_rasas():
    servers = [SignedRasaStandIn(SECRET).start() for _ in range(2)]
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
def cluster_app(make_app, two_rasas):
    return make_app(RASA_URLS=[s.url for s in two_rasas], RASA_JWT_SECRET=SECRET, RASA_DOWN_SECONDS=60)


def owner_of(conversation_id: str, servers: list[SignedRasaStandIn]) -> SignedRasaStandIn:
    first = rendezvous_order(conversation_id, [s.url for s in servers])[0]
    return next(s for s in servers if s.url == first)


def test_each_conversation_stays_on_its_own_server(cluster_app, two_rasas):
    client = cluster_app.test_client()
    customers = [Customer(client, "en") for _ in range(20)]
    for round_ in range(3):
        for customer in customers:
            answer = customer.send(f"How much is shipping? ({round_})")
            assert answer.status_code == 201 and answer.get_json()["replies"][0]["sender"] == "bot"
    for customer in customers:
        owner = owner_of(customer.id, two_rasas)
        other = next(s for s in two_rasas if s is not owner)
        assert len(owner.texts_for(customer.id)) == 3 and other.texts_for(customer.id) == []
    # Both servers have work (20 conversations all on one server: 2 in a million).
    assert all(server.senders() for server in two_rasas)


def test_a_conversation_moves_to_the_next_server_while_its_own_is_down_and_comes_back(cluster_app, two_rasas):
    client = cluster_app.test_client()
    customer = Customer(client, "en")
    owner = owner_of(customer.id, two_rasas)
    other = next(s for s in two_rasas if s is not owner)
    assert customer.send("How much is shipping?").get_json()["replies"][0]["sender"] == "bot"

    owner.stop()
    try:
        for text in ("What payment methods do you take?", "Can I return it?"):
            started = time.monotonic()
            answer = customer.send(text)
            assert answer.status_code == 201
            assert answer.get_json()["replies"][0]["sender"] == "bot", answer.get_json()
            assert time.monotonic() - started < 2  # a refused connection costs nothing; no retry wait
        assert other.texts_for(customer.id) == ["What payment methods do you take?", "Can I return it?"]
        health = client.get("/healthz")
        assert health.status_code == 200
        body = health.get_json()
        assert body["status"] == "degraded" and body["degraded"] == ["rasa"]
        assert {s["url"]: s["up"] for s in body["rasa_servers"]} == {owner.url: False, other.url: True}
    finally:
        owner.start()

    # Remembered as down for RASA_DOWN_SECONDS (60 here), unless a health check finds it back.
    assert customer.send("Thanks").get_json()["replies"][0]["sender"] == "bot"
    assert other.texts_for(customer.id)[-1] == "Thanks"
    assert client.get("/healthz").get_json()["status"] == "ok"
    customer.send("How long does shipping take?")
    assert owner.texts_for(customer.id) == ["How much is shipping?", "How long does shipping take?"]
    # Nothing lost or said twice in the transcript, in order.
    assert [m["text"] for m in customer.history() if m["sender"] == "customer"] == [
        "How much is shipping?", "What payment methods do you take?", "Can I return it?", "Thanks",
        "How long does shipping take?"]


def test_every_server_down_the_customer_is_offered_a_person(cluster_app, two_rasas):
    customer = Customer(cluster_app.test_client(), "en")
    for server in two_rasas:
        server.stop()
    try:
        answer = customer.send("How much is shipping?").get_json()
        [apology] = answer["replies"]
        assert apology["sender"] == "system" and apology["buttons"][0]["payload"] == "/request_human"
        # Both marked down: the next message tries the conversation's own server once, not both.
        answer = customer.send("Hello?").get_json()
        assert answer["replies"][0]["sender"] == "system"
    finally:
        for server in two_rasas:
            server.start()
    assert customer.send("How much is shipping?").get_json()["replies"][0]["sender"] == "bot"


def test_every_call_carries_the_contracts_token(cluster_app, two_rasas):
    client = cluster_app.test_client()
    customer = Customer(client, "en")
    owner = owner_of(customer.id, two_rasas)
    customer.send("How much is shipping?")
    customer.send("/request_human")
    add_agent(cluster_app, "aiko@shop.example")
    agent = AgentSession(cluster_app, "aiko@shop.example")
    assert agent.post(f"/api/agent/conversations/{customer.id}/claim").status_code == 200
    assert agent.post(f"/api/agent/conversations/{customer.id}/handback").get_json()["status"] == "bot"
    assert owner.restarts == [customer.id]  # the tracker's restart event, signed too
    client.get("/healthz")  # the health check's calls to both servers
    assert sum(s.refused for s in two_rasas) == 0
    assert len(owner.tokens) >= 4 and all(len(s.tokens) >= 1 for s in two_rasas)
    now = time.time()
    assert all(t["user"] == CONTRACT_USER and now < t["exp"] <= now + 300 for s in two_rasas for t in s.tokens)


def test_a_wrong_secret_is_refused_and_not_taken_for_a_server_down(make_app, two_rasas):
    app = make_app(RASA_URLS=[s.url for s in two_rasas], RASA_JWT_SECRET="not-the-secret-but-32-bytes-long-too")
    customer = Customer(app.test_client(), "en")
    answer = customer.send("How much is shipping?")
    assert answer.status_code == 201 and answer.get_json()["replies"][0]["sender"] == "system"
    # 401 is the same on every server: the conversation is not moved, no server is marked down.
    assert owner_of(customer.id, two_rasas).refused == 1 and sum(s.refused for s in two_rasas) == 1
    assert app.extensions["tsunagi"].rasa.server_for(customer.id) == owner_of(customer.id, two_rasas).url


def test_adding_a_server_moves_only_the_conversations_that_now_prefer_it():
    ids = [f"conversation-{n}" for n in range(2000)]
    two = ["http://a:5005", "http://b:5005"]
    three = two + ["http://c:5005"]
    before = {i: rendezvous_order(i, two)[0] for i in ids}
    after = {i: rendezvous_order(i, three)[0] for i in ids}
    moved = [i for i in ids if before[i] != after[i]]
    assert all(after[i] == "http://c:5005" for i in moved)
    assert 0.25 < len(moved) / len(ids) < 0.42  # about a third, to the new server only
    # The order is the conversation's own: the same whatever order the servers are listed in.
    assert all(rendezvous_order(i, three) == rendezvous_order(i, three[::-1]) for i in ids[:100])


def test_a_slow_server_is_not_sent_the_same_turn_twice_but_loses_the_next(make_app, two_rasas):
    app = make_app(RASA_URLS=[s.url for s in two_rasas], RASA_JWT_SECRET=SECRET, RASA_TIMEOUT=0.3,
                   RASA_DOWN_SECONDS=60)
    customer = Customer(app.test_client(), "en")
    owner = owner_of(customer.id, two_rasas)
    other = next(s for s in two_rasas if s is not owner)
    owner.delay = 1.0
    answer = customer.send("How much is shipping?").get_json()
    assert answer["replies"][0]["sender"] == "system"  # the apology, not a second try elsewhere
    assert other.texts_for(customer.id) == []
    wait_until(lambda: owner.answering == 0, "the slow server finished the turn the gateway gave up on")
    assert owner.texts_for(customer.id) == ["How much is shipping?"]  # the bot saw it once
    assert customer.send("Can I return it?").get_json()["replies"][0]["sender"] == "bot"
    assert other.texts_for(customer.id) == ["Can I return it?"]  # the next turn moved
