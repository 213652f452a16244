"""The estimated wait and offline tickets (issue 14): the wait comes from the rate at which the live
queue is served (claims of the last QUEUE_ETA_WINDOW_MINUTES per claiming agent, times the agents
online now by their presence, handoff/presence.py); offline tickets never enter live-wait figures; and offline tickets promise a reply in
this chat, never by e-mail.

Claim histories are scripted: metric_events rows at times the test sets, as the metrics listener
writes them; the customers and agents around them go through the real API.
"""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import yaml
from sqlalchemy import select, update

from handoff import presence
from handoff.agent_queue import WaitEstimate, seconds_per_position
from handoff.database import utcnow
from handoff.listeners.metrics_listener import OFFLINE_CLAIM
from handoff.models import Agent, Conversation, MetricEvent

from handoff_support import AgentSession, Customer, add_agent

ROOT = Path(__file__).resolve().parents[2]


def _db(app):
    return app.extensions["tsunagi"].db


def script_claims(app, claims) -> None:
    """claims: (minutes ago, agent id, offline?, wait seconds)."""
    now = utcnow()
    with _db(app).writing() as session:
        for minutes, agent_id, offline, wait in claims:
            session.add(MetricEvent(name="claimed", at=now - timedelta(minutes=minutes), agent_id=agent_id,
                                    label=OFFLINE_CLAIM if offline else None, value=wait))


def backdate_claims(app, agent_id: int, minutes: int) -> None:
    with _db(app).writing() as session:
        session.execute(update(MetricEvent).where(MetricEvent.name == "claimed", MetricEvent.agent_id == agent_id)
                        .values(at=utcnow() - timedelta(minutes=minutes)))


def set_presence(app, agent_id: int, state: str) -> None:
    """What the agent chose in the console's header."""
    with _db(app).writing() as session:
        presence.set_state(session, agent_id, state)


def waiting_customers(client, n: int) -> list[Customer]:
    customers = []
    for _ in range(n):
        customer = Customer(client)
        assert customer.send("/request_human").status_code == 201
        assert customer.status()["status"] == "waiting"
        customers.append(customer)
    return customers


def test_the_estimate_is_the_place_in_line_over_the_rate_the_live_queue_is_served(app, client):
    aiko, ben = add_agent(app, "aiko@shop.example"), add_agent(app, "ben@shop.example")
    set_presence(app, aiko, "online")
    set_presence(app, ben, "online")
    # Six live claims in the last hour, three each; one before the window; and an offline ticket
    # claimed 8 minutes ago after a night's wait, which must change nothing.
    script_claims(app, [(55, aiko, False, 40), (45, ben, False, 300), (35, aiko, False, 20), (25, ben, False, 90),
                        (12, aiko, False, 60), (5, ben, False, 30), (90, aiko, False, 10),
                        (8, aiko, True, 14 * 3600)])
    customers = waiting_customers(client, 3)
    # 6 claims / 60 min by 2 agents, both online: one claim every 10 minutes, 600 s a place.
    assert [c.status()["queue"] for c in customers] == [
        {"position": 1, "eta_seconds": 600}, {"position": 2, "eta_seconds": 1200}, {"position": 3, "eta_seconds": 1800}]

    # Ben steps away: he is not serving the queue. The same pace per agent with one agent doubles the wait.
    set_presence(app, ben, "away")
    with _db(app).reading() as session:
        assert presence.online_agent_ids(session) == [aiko]
    assert customers[0].status()["queue"] == {"position": 1, "eta_seconds": 1200}


def test_an_offline_ticket_claimed_next_morning_stays_out_of_live_waits(app, client):
    add_agent(app, "boss@shop.example", role="admin", name="Boss")
    boss = AgentSession(app, "boss@shop.example")
    ticket = Customer(client, language="ja")
    assert ticket.post("/offline-message", {"email": "hana@example.jp", "text": "返品したいです"}).status_code == 201
    with _db(app).writing() as session:  # left last night
        session.execute(update(Conversation).where(Conversation.id == ticket.id)
                        .values(queued_at=utcnow() - timedelta(hours=14)))
    assert boss.post(f"/api/agent/conversations/{ticket.id}/claim").status_code == 200
    with _db(app).reading() as session:
        claim = session.execute(select(MetricEvent.label, MetricEvent.value).where(MetricEvent.name == "claimed")).one()
    assert claim.label == OFFLINE_CLAIM and claim.value >= 14 * 3600

    # A live customer: the only claim in the window was the offline ticket, so there is no live
    # history; the default (120 s a place) for the one agent online (Boss owns the ticket).
    live = waiting_customers(client, 1)[0]
    assert live.status()["queue"] == {"position": 1, "eta_seconds": 120}

    kpis = boss.get("/api/admin/kpis").get_json()
    assert kpis["queue_wait_seconds"]["count"] == 0 and kpis["queue_wait_seconds"]["p50"] is None
    assert kpis["offline_ticket_wait_seconds"]["count"] == 1
    assert kpis["offline_ticket_wait_seconds"]["p50"] >= 14 * 3600


def test_with_no_history_each_place_is_the_default_shared_by_the_agents_online(app, client):
    first, second = waiting_customers(client, 2)
    add_agent(app, "aiko@shop.example")
    aiko = AgentSession(app, "aiko@shop.example")
    assert aiko.post(f"/api/agent/conversations/{first.id}/claim").status_code == 200
    # The claim was two hours ago: nothing in the window, but Aiko is online (signed in).
    backdate_claims(app, aiko.agent["id"], 120)
    third = waiting_customers(client, 1)[0]
    assert second.status()["queue"] == {"position": 1, "eta_seconds": 120}
    assert third.status()["queue"] == {"position": 2, "eta_seconds": 240}

    add_agent(app, "ben@shop.example")
    ben = AgentSession(app, "ben@shop.example")
    assert ben.post(f"/api/agent/conversations/{second.id}/claim").status_code == 200
    backdate_claims(app, ben.agent["id"], 120)
    assert third.status()["queue"] == {"position": 1, "eta_seconds": 60}  # two agents online


def test_with_no_agent_online_there_is_no_estimate(app, client):
    aiko = add_agent(app, "aiko@shop.example")
    script_claims(app, [(50, aiko, False, 60), (40, aiko, False, 60)])  # served earlier, gone since
    customers = waiting_customers(client, 2)
    assert [c.status()["queue"] for c in customers] == [{"position": 1, "eta_seconds": None},
                                                        {"position": 2, "eta_seconds": None}]
    with _db(app).reading() as session:
        assert seconds_per_position(session, WaitEstimate()) is None


def test_the_window_and_the_presence_timeout_are_settings(make_app):
    app = make_app(QUEUE_ETA_WINDOW_MINUTES=30, PRESENCE_TIMEOUT_SECONDS=60)
    aiko = add_agent(app, "aiko@shop.example")
    set_presence(app, aiko, "online")
    script_claims(app, [(50, aiko, False, 60), (20, aiko, False, 60), (10, aiko, False, 60)])
    customer = waiting_customers(app.test_client(), 1)[0]
    # Two claims in the last 30 minutes by one agent, online: 900 s a place.
    assert customer.status()["queue"] == {"position": 1, "eta_seconds": 900}
    # Her console has been silent for longer than PRESENCE_TIMEOUT_SECONDS: nobody online, no estimate.
    with _db(app).writing() as session:
        session.execute(update(Agent).where(Agent.id == aiko).values(presence_seen_at=utcnow() - timedelta(seconds=61)))
    assert customer.status()["queue"] == {"position": 1, "eta_seconds": None}


# Offline tickets: nothing sends e-mail yet, so no text may promise it.

MAIL = re.compile(r"e-?mail|メール", re.IGNORECASE)


def test_offline_tickets_promise_a_reply_in_this_chat_in_both_languages(make_app):
    app = make_app(SUPPORT_HOURS="never")
    client = app.test_client()
    for language, here in (("ja", "このチャット"), ("en", "this chat")):
        customer = Customer(client, language=language)
        customer.send("/request_human")
        assert customer.status()["status"] == "offline"
        assert customer.post("/offline-message", {"email": "sam@example.com", "text": "Call me back"}).status_code == 201
        said = [m["text"] for m in customer.history() if m["sender"] == "system"]
        assert len(said) == 2, said  # "we are closed, leave a message" and "we have your message"
        for text in said:
            assert here in text and not MAIL.search(text), text


def test_the_widget_and_the_bot_promise_no_e_mail_either():
    widget = (ROOT / "handoff/static/widget.js").read_text(encoding="utf-8")
    texts = re.findall(r'(?:offlineBody|offlineThanks): "([^"]*)"', widget)
    assert len(texts) == 4  # both strings in both languages
    assert all(not MAIL.search(text) and ("このチャット" in text or "this chat" in text) for text in texts), texts
    responses = {}
    for item in yaml.safe_load((ROOT / "data/nlu/conversation.yml").read_text(encoding="utf-8"))["responses"][
            "utter_handoff_offline"]:
        responses[item["condition"][0]["value"]] = item["text"]
    assert set(responses) == {"ja", "en"}
    assert all(not MAIL.search(text) for text in responses.values()), responses
