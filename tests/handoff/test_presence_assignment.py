"""Presence (handoff/presence.py) and auto-assignment (handoff/assignment.py), on SQLite and
PostgreSQL: online/away/offline and the heartbeat timeout; nobody online inside support hours ->
the leave-a-message form; ASSIGNMENT=round_robin spreading conversations by free capacity, in queue
order, never over a limit, with customers arriving at once (real threads, one transaction each)."""
from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import func, select, update

from handoff import presence
from handoff.database import utcnow
from handoff.models import Agent, AuditEntry, Conversation, Message

from handoff_support import AgentSession, Customer, add_agent


def _db(app):
    return app.extensions["tsunagi"].db


def owned_counts(app) -> dict[int, int]:
    with _db(app).reading() as session:
        return dict(session.execute(select(Conversation.agent_id, func.count()).where(
            Conversation.status == "assigned").group_by(Conversation.agent_id)).all())


def statuses(app) -> Counter:
    with _db(app).reading() as session:
        return Counter(session.scalars(select(Conversation.status)))


def set_presence(agent: AgentSession, state: str):
    response = agent.post("/api/agent/presence", {"state": state})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["presence"]


# Presence

def test_signing_in_is_online_the_agent_chooses_away_and_signing_out_is_offline(app):
    add_agent(app, "aiko@shop.example")
    aiko = AgentSession(app, "aiko@shop.example")
    agent_id = aiko.agent["id"]
    assert aiko.get("/api/agent/me").get_json()["agent"]["presence"] == "online"
    assert set_presence(aiko, "away") == "away"
    assert aiko.get("/api/agent/agents").get_json()["agents"][0]["presence"] == "away"
    beat = aiko.post("/api/agent/presence/heartbeat")
    assert beat.status_code == 200 and beat.get_json() == {"presence": "away", "timeout_seconds": 90}
    bad = aiko.post("/api/agent/presence", {"state": "busy"})
    assert bad.status_code == 422 and bad.get_json()["error"]["code"]
    assert set_presence(aiko, "online") == "online"
    assert aiko.post("/api/agent/logout").status_code == 204
    with _db(app).reading() as session:
        assert presence.state_of(session, agent_id) == "offline"
        assert presence.available_agents(session) == []
        actions = [(e.action, e.detail) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.action == "agent.presence_changed").order_by(AuditEntry.id))]
    # The agent's own choices; signing in and out have their own entries (login.succeeded, logout).
    assert [detail["to"] for _, detail in actions] == ["away", "online"]


def test_a_silent_console_times_out_to_offline_and_its_next_heartbeat_brings_the_agent_back(make_app):
    app = make_app(PRESENCE_TIMEOUT_SECONDS=60)
    add_agent(app, "aiko@shop.example")
    aiko = AgentSession(app, "aiko@shop.example")
    agent_id = aiko.agent["id"]
    with _db(app).writing() as session:  # the console was last heard from 61 seconds ago
        session.execute(update(Agent).where(Agent.id == agent_id).values(presence_seen_at=utcnow() - timedelta(seconds=61)))
    with app.app_context(), _db(app).reading() as session:
        assert presence.state_of(session, agent_id) == "offline"
        assert presence.state_of(session, agent_id, now=utcnow() - timedelta(seconds=2)) == "online"
        assert presence.online_agent_ids(session) == []
    assert aiko.get("/api/agent/agents").get_json()["agents"][0]["presence"] == "offline"
    assert aiko.post("/api/agent/presence/heartbeat").get_json()["presence"] == "online"
    assert aiko.get("/api/agent/agents").get_json()["agents"][0]["presence"] == "online"


def test_the_wait_estimate_counts_agents_online_by_presence(app, client):
    add_agent(app, "aiko@shop.example")
    aiko = AgentSession(app, "aiko@shop.example")
    customer = Customer(client)
    assert customer.post("/handoff", {"reason": "request_human"}).get_json()["status"] == "waiting"
    assert customer.status()["queue"]["eta_seconds"] == 120  # QUEUE_DEFAULT_WAIT_SECONDS for one agent
    set_presence(aiko, "away")  # away is not serving the queue
    assert customer.status()["queue"] == {"position": 1, "eta_seconds": None}


# Nobody online inside support hours

def test_nobody_online_inside_hours_offers_the_leave_a_message_form_in_the_customers_language(make_app):
    app = make_app(WHEN_NOBODY_ONLINE="offline_form")
    client = app.test_client()
    for language, said in (("ja", "ただいま対応できる担当者がおりません"), ("en", "nobody from our team is available")):
        customer = Customer(client, language)
        body = customer.post("/handoff", {"reason": "request_human"}).get_json()
        assert body["status"] == "offline" and body["online"] is True  # open, but nobody there
        assert said in customer.history()[-1]["text"]
        left = customer.post("/offline-message", {"email": "kana@example.jp", "text": "Where is my order?"})
        assert left.status_code == 201, left.get_json()
        thanks = customer.history()[-1]["text"]  # a reply when someone is back, not "when support opens"
        assert ("担当者が戻りしだい" if language == "ja" else "as soon as one is back") in thanks
    assert statuses(app)["offline"] == 2

    # Someone away is not someone there; someone online is.
    add_agent(app, "aiko@shop.example")
    aiko = AgentSession(app, "aiko@shop.example")
    set_presence(aiko, "away")
    assert Customer(client).post("/handoff", {"reason": "request_human"}).get_json()["status"] == "offline"
    set_presence(aiko, "online")
    queued = Customer(client)
    assert queued.post("/handoff", {"reason": "request_human"}).get_json()["status"] == "waiting"
    assert not any("nobody" in m["text"] for m in queued.history())


def test_nobody_online_through_the_bot_too_and_the_queue_setting_keeps_the_old_way(make_app):
    app = make_app(WHEN_NOBODY_ONLINE="offline_form")
    customer = Customer(app.test_client())
    assert customer.send("/request_human").status_code == 201
    assert customer.status()["status"] == "offline"
    assert "nobody from our team is available" in customer.history()[-1]["text"]
    patient = make_app(WHEN_NOBODY_ONLINE="queue")
    other = Customer(patient.test_client())
    assert other.send("/request_human").status_code == 201
    assert other.status()["status"] == "waiting"


def test_outside_support_hours_it_stays_the_closed_message(make_app):
    app = make_app(SUPPORT_HOURS="never", WHEN_NOBODY_ONLINE="offline_form")
    customer = Customer(app.test_client())
    body = customer.post("/handoff", {"reason": "request_human"}).get_json()
    assert body["status"] == "offline" and body["online"] is False
    assert "away right now" in customer.history()[-1]["text"]


# Auto-assignment

def test_round_robin_gives_each_to_the_most_free_capacity_then_the_longest_idle_in_queue_order(make_app):
    app = make_app(ASSIGNMENT="round_robin", AGENT_MAX_CONCURRENT=2)
    client = app.test_client()
    # Three customers wait while nobody is online (queued anyway: this app's WHEN_NOBODY_ONLINE=queue).
    normal_old, complaint, normal_new = Customer(client), Customer(client), Customer(client)
    normal_old.post("/handoff", {"reason": "request_human"})
    complaint.send("this is a complaint")  # the stand-in hands a complaint off with high priority
    normal_new.post("/handoff", {"reason": "request_human"})
    assert statuses(app)["waiting"] == 3
    ids = {"aiko": add_agent(app, "aiko@shop.example", max_concurrent=2),
           "ben": add_agent(app, "ben@shop.example", max_concurrent=1)}
    aiko = AgentSession(app, "aiko@shop.example")  # signing in is coming online: queue order, high first
    with _db(app).reading() as session:
        owners = dict(session.execute(select(Conversation.id, Conversation.agent_id)).all())
    assert owners[complaint.id] == ids["aiko"] and owners[normal_old.id] == ids["aiko"]
    assert owners[normal_new.id] is None
    ben = AgentSession(app, "ben@shop.example")
    with _db(app).reading() as session:
        assert session.scalar(select(Conversation.agent_id).where(Conversation.id == normal_new.id)) == ids["ben"]
    assert complaint.status()["agent"]["name"] == "Aiko"
    assert any("Aiko" in m["text"] for m in complaint.history() if m["sender"] == "system")

    # Both full: the next customer waits. Aiko resolves one: it goes to her (the only one with room).
    late = Customer(client)
    late.post("/handoff", {"reason": "request_human"})
    assert late.status()["status"] == "waiting"
    assert aiko.post(f"/api/agent/conversations/{complaint.id}/resolve").status_code == 200
    assert late.status()["status"] == "assigned" and late.status()["agent"]["name"] == "Aiko"

    # Equal free capacity: the one idle longest (Ben got his last conversation before Aiko got hers).
    assert aiko.post(f"/api/agent/conversations/{late.id}/resolve").status_code == 200
    assert ben.post(f"/api/agent/conversations/{normal_new.id}/resolve").status_code == 200
    # Aiko 1 open of 2, Ben 0 of 1: both have one free place; Ben was assigned before Aiko's last.
    tie = Customer(client)
    tie.post("/handoff", {"reason": "request_human"})
    assert tie.status()["agent"]["name"] == "Ben"

    # Manual claiming stays: an away agent takes one by hand.
    set_presence(aiko, "away")
    by_hand = Customer(client)
    by_hand.post("/handoff", {"reason": "request_human"})
    assert by_hand.status()["status"] == "waiting"  # Ben is full, Aiko away
    assert aiko.post(f"/api/agent/conversations/{by_hand.id}/claim").status_code == 200
    with _db(app).reading() as session:
        audit = Counter(session.execute(select(AuditEntry.action, AuditEntry.actor_label)).all())
    assert audit[("conversation.assigned", "assignment:round_robin")] == 5
    assert audit[("conversation.claimed", "aiko@shop.example")] == 1


def test_manual_mode_assigns_nothing(app, client):
    add_agent(app, "aiko@shop.example")
    AgentSession(app, "aiko@shop.example")
    customer = Customer(client)
    customer.post("/handoff", {"reason": "request_human"})
    assert customer.status()["status"] == "waiting"


def test_30_concurrent_arrivals_spread_over_3_agents_by_capacity_never_over_a_limit(make_app):
    app = make_app(ASSIGNMENT="round_robin", RASA_TIMEOUT=20)
    limits = {"aiko@shop.example": 5, "ben@shop.example": 10, "chika@shop.example": 15}
    agent_ids = {email: add_agent(app, email, max_concurrent=limit) for email, limit in limits.items()}
    sessions = [AgentSession(app, email) for email in limits]  # signed in: online
    by_id = {agent_ids[email]: limit for email, limit in limits.items()}
    extra = 6  # more customers than places: they wait, none squeezed in over a limit
    start = threading.Barrier(30 + extra)
    over: list[dict] = []
    done = threading.Event()

    def watch():  # reads the owners while the customers arrive: no moment over a limit
        while not done.is_set():
            counts = owned_counts(app)
            if any(counts.get(agent_id, 0) > limit for agent_id, limit in by_id.items()):
                over.append(counts)

    def arrive(number: int) -> str:
        customer = Customer(app.test_client())
        start.wait()
        response = customer.post("/handoff", {"reason": "request_human"})
        assert response.status_code == 200, response.get_json()
        return customer.id

    claims: Counter = Counter()

    def claim_by_hand(agent: AgentSession):  # meanwhile agents also claim from the queue themselves
        while not done.is_set():
            for item in agent.get("/api/agent/queue").get_json()["queue"][:2]:
                response = agent.post(f"/api/agent/conversations/{item['id']}/claim")
                claims[(response.status_code, (response.get_json().get("error") or {}).get("code"))] += 1

    watcher = threading.Thread(target=watch)
    claimers = [threading.Thread(target=claim_by_hand, args=(agent,)) for agent in sessions]
    for thread in [watcher, *claimers]:
        thread.start()
    try:
        with ThreadPoolExecutor(30 + extra) as pool:
            arrived = list(pool.map(arrive, range(30 + extra)))
    finally:
        done.set()
        for thread in [watcher, *claimers]:
            thread.join()

    assert not over, over[:3]
    # A claim by hand wins or gets a clear 409 (taken, or the agent is full); never a 500.
    assert set(claims) <= {(200, None), (409, "already_claimed"), (409, "agent_at_capacity"), (409, "not_claimable")}, claims
    assert owned_counts(app) == by_id  # 5, 10 and 15: every place taken, none over
    assert statuses(app) == Counter({"assigned": 30, "waiting": extra})
    with _db(app).reading() as session:
        joined = Counter(session.scalars(select(Message.conversation_id).where(
            Message.sender == "system", Message.text.like("%has joined the conversation%"))))
        waiting = list(session.scalars(select(Conversation.id).where(Conversation.status == "waiting")))
    assert len(joined) == 30 and set(joined.values()) == {1}  # each assigned once, announced once
    assert set(waiting) <= set(arrived)


def test_capacity_first_spread_with_equal_limits_keeps_agents_level(make_app):
    app = make_app(ASSIGNMENT="round_robin", AGENT_MAX_CONCURRENT=10)
    emails = ["aiko@shop.example", "ben@shop.example", "chika@shop.example"]
    ids = [add_agent(app, email) for email in emails]
    for email in emails:
        AgentSession(app, email)
    client = app.test_client()
    for number in range(30):
        Customer(client).post("/handoff", {"reason": "request_human"})
        counts = owned_counts(app)
        loads = [counts.get(agent_id, 0) for agent_id in ids]
        assert max(loads) - min(loads) <= 1, (number, loads)  # the most free capacity goes first
    assert owned_counts(app) == {agent_id: 10 for agent_id in ids}
