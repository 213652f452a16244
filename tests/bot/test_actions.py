"""The custom actions, run on real trackers and the real content files."""
import asyncio
import inspect

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import content
from actions.actions import ActionAnswerFAQ, ActionHandleFallback, ActionHandoff, ActionSuggestTopics


def user(text, intent, confidence=0.9, language="ja", ranking=()):
    ranking = list(ranking) or [{"name": intent, "confidence": confidence}]
    return {"event": "user", "text": text, "parse_data": {
        "text": text, "intent": {"name": intent, "confidence": confidence}, "intent_ranking": ranking,
        "entities": [{"entity": "language", "value": language}]}}


def action(name):
    return {"event": "action", "name": name}


def tracker(*events, language="ja"):
    last_user = next((e for e in reversed(events) if e["event"] == "user"), None)
    return Tracker("c1", {"language": language}, last_user["parse_data"] if last_user else {},
                   list(events), False, None, {}, "action_listen")


def run(action_cls, tr):
    dispatcher = CollectingDispatcher()
    result = action_cls().run(dispatcher, tr, {})
    if inspect.isawaitable(result):  # an async action (ActionAnswerFAQ waits for the order API)
        asyncio.run(result)
    return dispatcher.messages


def handoff_of(messages):
    payloads = [m["custom"]["handoff"] for m in messages if (m.get("custom") or {}).get("handoff")]
    assert len(payloads) == 1, messages
    return payloads[0]


@pytest.fixture(autouse=True)
def online(monkeypatch):
    monkeypatch.setenv("SUPPORT_HOURS", "always")


def test_every_topic_has_titles_and_an_answer_in_both_languages():
    assert len(content.topics()) == 33
    for topic in content.topics():
        assert content.topic_title(topic, "ja") and content.topic_title(topic, "en")
        assert content.response_text(f"utter_{topic}", "ja") and content.response_text(f"utter_{topic}", "en")


def test_answer_then_ask_whether_it_helped():
    messages = run(ActionAnswerFAQ, tracker(user("送料は？", "shipping_fee")))
    assert [m["response"] for m in messages] == ["utter_shipping_fee", "utter_ask_helpful"]
    assert messages[1]["buttons"] == []


def test_answer_offers_a_person_where_the_catalog_says_so():
    messages = run(ActionAnswerFAQ, tracker(user("届かない", "shipping_not_arrived")))
    assert messages[1]["buttons"] == [{"title": "担当者と話す", "payload": "/request_human"}]


def test_did_not_help_offers_three_closest_topics_and_a_person_in_english():
    ranking = [{"name": n, "confidence": c} for n, c in [
        ("shipping_tracking", .6), ("greet", .1), ("shipping_not_arrived", .1), ("order_status", .1),
        ("shipping_time", .05), ("shipping_fee", .05)]]
    tr = tracker(user("where is my parcel", "shipping_tracking", .6, "en", ranking), action("action_answer_faq"),
                 user("no", "deny", language="en"), language="en")
    messages = run(ActionSuggestTopics, tr)
    buttons = messages[0]["buttons"]
    assert [b["payload"] for b in buttons] == ["/shipping_not_arrived", "/order_status", "/shipping_time", "/request_human"]
    assert buttons[0]["title"] == content.topic_title("shipping_not_arrived", "en")
    assert buttons[-1]["title"] == "Talk to a person"
    assert messages[1]["custom"]["feedback"] == {"helpful": False, "topic": "shipping_tracking",
                                                 "question": "where is my parcel"}


def test_first_fallback_asks_to_rephrase_with_suggestions():
    ranking = [{"name": "nlu_fallback", "confidence": .3}, {"name": "payment_methods", "confidence": .3}]
    messages = run(ActionHandleFallback, tracker(user("ほげほげ", "nlu_fallback", .3, ranking=ranking)))
    assert messages[0]["response"] == "utter_ask_rephrase"
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/payment_methods", "/request_human"]
    assert not any(m.get("custom") for m in messages)


def test_second_fallback_in_a_row_hands_off_with_the_recent_turns():
    tr = tracker(user("送料は？", "shipping_fee"), action("action_answer_faq"),
                 user("二重請求されてる", "nlu_fallback", .3), action("action_handle_fallback"),
                 user("同じ注文で2回引き落とし", "out_of_scope", .8))
    messages = run(ActionHandleFallback, tr)
    assert messages[0]["response"] == "utter_handoff"
    payload = handoff_of(messages)
    assert payload["reason"] == "repeated_fallback" and payload["priority"] == "normal"
    assert payload["language"] == "ja" and payload["offline"] is False
    assert [t["text"] for t in payload["turns"]] == ["送料は？", "二重請求されてる", "同じ注文で2回引き落とし"]
    assert payload["turns"][1]["intent"] == "nlu_fallback" and payload["turns"][1]["confidence"] == .3


def test_fallbacks_not_in_a_row_do_not_hand_off():
    tr = tracker(user("ほげ", "nlu_fallback", .2), action("action_handle_fallback"),
                 user("送料", "shipping_fee"), action("action_answer_faq"), user("ふが", "nlu_fallback", .2))
    assert run(ActionHandleFallback, tr)[0]["response"] == "utter_ask_rephrase"


def test_request_human_hands_off_at_once():
    payload = handoff_of(run(ActionHandoff, tracker(user("人と話したい", "request_human"))))
    assert payload["reason"] == "request_human"


def test_complaint_apologises_then_hands_off_with_high_priority():
    messages = run(ActionHandoff, tracker(user("最悪です。何度言えばいいの", "complaint")))
    assert messages[0]["response"] == "utter_complaint_apology"
    payload = handoff_of(messages)
    assert payload["reason"] == "complaint" and payload["priority"] == "high"


def test_person_after_an_answer_that_did_not_help_is_not_helpful():
    tr = tracker(user("送料", "shipping_fee"), action("action_answer_faq"), user("いいえ", "deny"),
                 action("action_suggest_topics"), user("/request_human", "request_human"))
    assert handoff_of(run(ActionHandoff, tr))["reason"] == "not_helpful"


def test_outside_support_hours_offers_to_leave_a_message(monkeypatch):
    monkeypatch.setenv("SUPPORT_HOURS", "never")
    messages = run(ActionHandoff, tracker(user("agent please", "request_human", language="en"), language="en"))
    assert messages[0]["response"] == "utter_handoff_offline"
    payload = handoff_of(messages)
    assert payload["offline"] is True and payload["language"] == "en"


def test_a_turn_the_bot_did_not_understand_counts_whatever_its_intent():
    # "はい" when nothing was asked went to the fallback action (Rasa's core fallback): with the
    # next not-understood turn, that is two in a row.
    tr = tracker(user("はい", "affirm", .9), action("action_handle_fallback"), user("いいえ", "deny", .9))
    [payload] = [m["custom"]["handoff"] for m in run(ActionHandleFallback, tr) if m.get("custom")]
    assert payload["reason"] == "repeated_fallback"
    # The same yes, answered as "did it help?", does not count.
    tr = tracker(user("送料", "shipping_fee"), action("action_answer_faq"), user("はい", "affirm", .9),
                 action("utter_glad_to_help"), user("ほげ", "nlu_fallback", .2))
    assert not [m for m in run(ActionHandleFallback, tr) if m.get("custom")]
