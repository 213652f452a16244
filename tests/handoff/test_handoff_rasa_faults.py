"""Rasa down or slow: the customer is told politely and offered a person, nothing is lost, and the
conversation carries on when Rasa is back. Rasa is a real HTTP server here (tests/support/rasa_stand_in.py)."""
from __future__ import annotations

from handoff_support import Customer
from tests.support.waiting import wait_until


def test_rasa_down_then_back_up(client, rasa):
    customer = Customer(client, "ja")
    rasa.stop()
    try:
        answer = customer.send("送料はいくら？").get_json()
        assert answer["message"]["text"] == "送料はいくら？"
        [apology] = answer["replies"]
        assert apology["sender"] == "system" and apology["language"] == "ja"
        assert "自動応答が利用できません" in apology["text"]
        assert apology["buttons"] == [{"title": "担当者と話す", "payload": "/request_human"}]
        assert customer.status()["status"] == "bot"
    finally:
        rasa.start()
    answer = customer.send("送料はいくら？").get_json()
    assert answer["replies"][0]["text"].startswith("送料は全国一律550円です。")
    texts = [m["text"] for m in customer.history() if m["sender"] == "customer"]
    assert texts == ["送料はいくら？", "送料はいくら？"]  # what was written while Rasa was down is kept


def test_the_apology_button_reaches_a_person_even_while_rasa_is_down(client, rasa):
    customer = Customer(client, "en")
    rasa.stop()
    try:
        customer.send("Where is my order?")
        answer = customer.send("/request_human").get_json()
        assert [r["sender"] for r in answer["replies"]] == ["system"]
        assert customer.status()["status"] == "waiting"
    finally:
        rasa.start()


def test_rasa_too_slow_counts_as_unavailable(make_app, rasa):
    app = make_app(RASA_TIMEOUT=0.3)
    customer = Customer(app.test_client(), "en")
    rasa.delay = 1.0
    answer = customer.send("How much is shipping?").get_json()
    assert "not available" in answer["replies"][0]["text"]  # the gateway gave up waiting
    rasa.delay = 0
    wait_until(lambda: rasa.answering == 0, "the stand-in finished the request the gateway gave up on")
    assert customer.send("How much is shipping?").get_json()["replies"][0]["sender"] == "bot"


def test_rest_channel_list_answers_work_without_nlu(make_app, rasa):
    app = make_app(RASA_CHANNEL_PATH="/webhooks/rest/webhook")
    customer = Customer(app.test_client(), "en")
    answer = customer.send("How much is shipping?").get_json()
    assert answer["replies"][0]["text"].startswith("Shipping is 550 yen per order")
    customer.send("/request_human")
    assert customer.status()["status"] == "waiting"


def test_a_hand_back_while_rasa_is_down_restarts_the_bot_before_the_next_message(client, rasa, agent_factory):
    customer = Customer(client, "en")
    customer.send("/request_human")
    agent = agent_factory()
    assert agent.post(f"/api/agent/conversations/{customer.id}/claim").status_code == 200
    rasa.stop()
    try:
        assert agent.post(f"/api/agent/conversations/{customer.id}/handback").get_json()["status"] == "bot"
        assert "not available" in customer.send("How much is shipping?").get_json()["replies"][0]["text"]
        assert rasa.restarts == []
    finally:
        rasa.start()
    answer = customer.send("How much is shipping?").get_json()
    assert answer["replies"][0]["sender"] == "bot"
    assert rasa.restarts == [customer.id]  # before the message: the bot's old turns are gone
    customer.send("Thanks")
    assert rasa.restarts == [customer.id]  # once: the pending restart was cleared
