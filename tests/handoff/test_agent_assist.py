"""Answers at the agent's hand (handoff/agent_assist.py): the suggestions for the customer's
question, in the customer's language, from the ranking kept for the message (or read with Rasa's
/model/parse for a message written after the handoff); what agents did with them, counted per
topic; replies agents wrote themselves reach the editors' unanswered list."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from handoff.agent_assist import suggest, topic_answers
from handoff.content_files import ContentFiles, topic_titles
from handoff.models import AssistSuggestion, MetricCounter, QuestionFlag

from handoff_support import Customer
from tests.support.project_copy import copy_content

PROJECT = Path(__file__).resolve().parents[2]


def answer_in_file(topic: str, language: str) -> str:
    """The answer as the content file spells it, read here without the service's reader."""
    for path in sorted((PROJECT / "data" / "nlu").glob("*.yml")):
        responses = yaml.safe_load(path.read_text(encoding="utf-8")).get("responses") or {}
        for variation in responses.get(f"utter_{topic}", []):
            if {"type": "slot", "name": "language", "value": language} in variation.get("condition", []):
                return variation["text"]
    raise AssertionError(f"no {language} answer for {topic}")


def suggestions(agent, conversation_id: str) -> dict:
    response = agent.get(f"/api/agent/conversations/{conversation_id}/suggestions")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def counters(app, name: str) -> dict[str, int]:
    with app.extensions["tsunagi"].db.reading() as session:
        return {label: count for label, count in session.execute(
            select(MetricCounter.label, MetricCounter.count).where(MetricCounter.name == name))}


def handed_off(client, agent, language: str, question: str) -> Customer:
    """A customer who asked `question`, then for a person; claimed by `agent`."""
    customer = Customer(client, language)
    assert customer.send(question).status_code == 201
    assert customer.send("/request_human").status_code == 201
    assert agent.post(f"/api/agent/conversations/{customer.id}/claim").status_code == 200
    return customer


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_ranking_maps_to_the_three_closest_topics_answers_in_the_customers_language(language):
    content = ContentFiles(PROJECT)
    ranking = [{"name": "greet", "confidence": 0.4}, {"name": "shipping_fee", "confidence": 0.3},
               {"name": "nlu_fallback", "confidence": 0.1}, {"name": "request_human", "confidence": 0.08},
               {"name": "returns_policy", "confidence": 0.05}, {"name": "out_of_scope", "confidence": 0.03},
               {"name": "payment_methods", "confidence": 0.02}, {"name": "shipping_time", "confidence": 0.01}]
    found = suggest(ranking, language, content.answers(), topic_titles(content))
    # Small talk, "talk to a person" and the fallbacks are skipped; three at most, in ranking order.
    assert [s.topic for s in found] == ["shipping_fee", "returns_policy", "payment_methods"]
    assert [s.rank for s in found] == [1, 2, 3]
    for s in found:
        assert s.text == answer_in_file(s.topic, language)
    assert found[0].title == {"ja": "送料について", "en": "Shipping fee"}[language]
    assert found[0].confidence == 0.3


def test_an_edited_answer_is_suggested_as_soon_as_its_file_changes(tmp_path):
    content = ContentFiles(copy_content(tmp_path / "project"))
    assert topic_answers(content)["shipping_fee"]["en"] == answer_in_file("shipping_fee", "en")
    path = tmp_path / "project" / "data" / "nlu" / "shipping.yml"
    text = path.read_text(encoding="utf-8")
    # One answer for every language (a variation without a language condition), written by an editor.
    start = text.index("  utter_shipping_fee:\n")
    end = text.index("  utter_shipping_time:\n")
    path.write_text(text[:start] + '  utter_shipping_fee:\n  - text: "Shipping: see our guide."\n' + text[end:],
                    encoding="utf-8")
    assert topic_answers(content)["shipping_fee"] == {"ja": "Shipping: see our guide.", "en": "Shipping: see our guide."}


def test_no_topic_in_the_ranking_means_no_suggestion():
    content = ContentFiles(PROJECT)
    ranking = [{"name": "thanks", "confidence": 0.9}, {"name": "complaint", "confidence": 0.05},
               {"name": "no_such_topic", "confidence": 0.05}]
    assert suggest(ranking, "en", content.answers(), topic_titles(content)) == []
    assert suggest(None, "en", content.answers(), topic_titles(content)) == []


def test_after_a_handoff_the_console_gets_the_question_behind_it(app, client, agent_factory):
    agent = agent_factory()
    customer = handed_off(client, agent, "ja", "送料はいくらですか")
    body = suggestions(agent, customer.id)
    # The latest message asked for a person: the suggestions are for the question before it.
    question = next(m for m in customer.history() if m["text"] == "送料はいくらですか")
    assert body["message_id"] == question["id"] and body["language"] == "ja"
    assert [(s["topic"], s["rank"]) for s in body["suggestions"]] == [("shipping_fee", 1)]
    assert body["suggestions"][0]["text"] == answer_in_file("shipping_fee", "ja")
    assert body["suggestions"][0]["title"] == "送料について"


def test_a_message_written_after_the_handoff_is_read_with_model_parse_once(app, client, agent_factory, rasa):
    agent = agent_factory()
    customer = handed_off(client, agent, "en", "I want to talk about something else")
    sent_to_bot = len(rasa.received)
    assert customer.send("Also, can I return a jacket I bought?").status_code == 201
    assert len(rasa.received) == sent_to_bot  # the bot is silent after the handoff...
    body = suggestions(agent, customer.id)
    assert rasa.parsed == ["Also, can I return a jacket I bought?"]  # ...and the console had it read
    assert [s["topic"] for s in body["suggestions"]] == ["returns_policy"]
    assert body["suggestions"][0]["text"] == answer_in_file("returns_policy", "en")
    suggestions(agent, customer.id)
    assert rasa.parsed == ["Also, can I return a jacket I bought?"]  # kept: read once
    # Only the ranking is kept: the bot never answered it, so it is no fallback and no topic answered.
    detail = agent.conversation(customer.id)
    latest = [m for m in detail["messages"] if m["sender"] == "customer"][-1]
    assert latest["nlu"]["intent"] is None and latest["nlu"]["intent_ranking"][0]["name"] == "returns_policy"


def test_rasa_down_means_no_suggestions_not_an_error(app, client, agent_factory, rasa):
    agent = agent_factory()
    customer = handed_off(client, agent, "en", "How much is shipping?")
    assert customer.send("And can I pay with PayPay?").status_code == 201
    rasa.stop()
    try:
        body = suggestions(agent, customer.id)
    finally:
        rasa.start()
    assert body["suggestions"] == [] and body["message_id"] is not None
    # Read when Rasa is back.
    assert [s["topic"] for s in suggestions(agent, customer.id)["suggestions"]] == ["payment_methods"]


def test_used_and_ignored_suggestions_are_counted_per_topic_once(app, client, agent_factory):
    agent = agent_factory()
    first = handed_off(client, agent, "en", "How much is shipping?")
    looking_on = agent_factory("ben@shop.example")
    assert [s["topic"] for s in suggestions(looking_on, first.id)["suggestions"]] == ["shipping_fee"]
    assert counters(app, "assist_shown") == {}  # only the owner can send them: not counted for others
    suggestions(agent, first.id)
    suggestions(agent, first.id)  # shown again (a reload): counted once
    assert counters(app, "assist_shown") == {"shipping_fee": 1}
    edited = answer_in_file("shipping_fee", "en") + " Anything else I can help with?"
    sent = agent.post(f"/api/agent/conversations/{first.id}/messages", {"text": edited, "suggestion_topic": "shipping_fee"})
    assert sent.status_code == 201
    assert counters(app, "assist_used") == {"shipping_fee": 1}

    second = handed_off(client, agent, "ja", "返品はできますか")
    suggestions(agent, second.id)
    assert agent.post(f"/api/agent/conversations/{second.id}/messages", {"text": "確認いたします。"}).status_code == 201
    assert counters(app, "assist_shown") == {"shipping_fee": 1, "returns_policy": 1}
    assert counters(app, "assist_ignored") == {"returns_policy": 1}
    # A second reply to the same question changes nothing already settled.
    assert agent.post(f"/api/agent/conversations/{second.id}/messages",
                      {"text": "more", "suggestion_topic": "returns_policy"}).status_code == 201
    assert counters(app, "assist_used") == {"shipping_fee": 1}
    with app.extensions["tsunagi"].db.reading() as session:
        outcomes = dict(session.execute(select(AssistSuggestion.topic, AssistSuggestion.outcome)).all())
    assert outcomes == {"shipping_fee": "used", "returns_policy": "ignored"}
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'tsunagi_assist_suggestions_used_total{topic="shipping_fee"} 1.0' in metrics
    assert 'tsunagi_assist_suggestions_ignored_total{topic="returns_policy"} 1.0' in metrics
    boss = agent_factory("boss@shop.example", role="admin")
    assist = boss.get("/api/admin/kpis?lang=en").get_json()["assist"]
    assert assist == [
        {"topic": "returns_policy", "title": "Return policy", "shown": 1, "used": 0, "ignored": 1, "used_rate": 0.0},
        {"topic": "shipping_fee", "title": "Shipping fee", "shown": 1, "used": 1, "ignored": 0, "used_rate": 1.0}]


def test_a_reply_the_agent_wrote_reaches_the_editors_unanswered_list(app, client, agent_factory):
    agent = agent_factory()
    editor = agent_factory("kimura@shop.example", role="editor")
    own = handed_off(client, agent, "en", "Do you sell gift cards?")
    reply = "Yes: gift cards of 3,000 and 5,000 yen, at the counter of our Tokyo store."
    assert agent.post(f"/api/agent/conversations/{own.id}/messages", {"text": reply}).status_code == 201
    assert agent.post(f"/api/agent/conversations/{own.id}/messages", {"text": "Anything else?"}).status_code == 201
    used = handed_off(client, agent, "en", "How much is shipping?")
    suggestions(agent, used.id)
    assert agent.post(f"/api/agent/conversations/{used.id}/messages",
                      {"text": answer_in_file("shipping_fee", "en"), "suggestion_topic": "shipping_fee"}).status_code == 201

    with app.extensions["tsunagi"].db.reading() as session:
        flags = session.execute(select(QuestionFlag.conversation_id, QuestionFlag.reason)
                                .where(QuestionFlag.reason == "agent_answered")).all()
    assert flags == [(own.id, "agent_answered")]  # the first own reply only; a used suggestion is no gap
    body = editor.get("/api/editor/unanswered").get_json()
    by_text = {e["text"]: e for g in body["groups"] for e in g["examples"]}
    assert "agent_answered" in by_text["Do you sell gift cards?"]["reasons"]
    assert by_text["Do you sell gift cards?"]["agent_reply"] == reply


def test_suggestions_are_for_signed_in_agents_only(app, client, agent_factory):
    customer = Customer(client, "en")
    customer.send("How much is shipping?")
    path = f"/api/agent/conversations/{customer.id}/suggestions"
    assert client.get(path).status_code == 401
    assert client.get(path, headers=customer.headers).status_code == 401
    agent = agent_factory()
    missing = agent.get("/api/agent/conversations/nosuchconversation/suggestions")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"]
    bad = agent.post(f"/api/agent/conversations/{customer.id}/messages", {"text": "hi", "suggestion_topic": "x" * 201})
    assert bad.status_code == 422
