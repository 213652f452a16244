"""The order API client (actions/api/orders.py) and the order answer of action_answer_faq, against
a real HTTP stand-in of a shop's order API on the loopback (tests/support/order_api_stand_in.py)."""
import asyncio
import logging
import re
from datetime import date

import pytest
from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.slots import CategoricalSlot
from rasa.shared.core.trackers import DialogueStateTracker
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import config
from actions.actions import ActionAnswerFAQ, ActionHandleFallback, order_number_in
from actions.api.orders import OrderApi, OrderApiUnavailable, OrderNotFound
from tests.support.order_api_stand_in import OrderApiStandIn
from tests.support.ports import free_port

TOKEN = "order-token-s3cret-value"


@pytest.fixture
def shop():
    stand_in = OrderApiStandIn(token=TOKEN).start()
    yield stand_in
    stand_in.stop()


def client(shop, timeout=2.0, token=TOKEN):
    return OrderApi(shop.url, token, timeout)


# The client.

def test_the_customers_own_order_with_its_tracking(shop):
    order = client(shop).order("100231", "c-1001")
    assert order.status == "shipped" and order.customer_id == "c-1001"
    assert [(i.name, i.quantity) for i in order.items] == [("白磁の飯碗", 2), ("藍染のランチョンマット", 1)]
    assert (order.carrier, order.tracking_number) == ("ヤマト運輸", "4521-8890-1234")
    assert order.tracking_url == "https://tracking.example/yamato/452188901234"
    assert order.shipped_at == date(2026, 11, 27) and order.estimated_delivery == date(2026, 11, 29)
    assert order.ordered_at == date(2026, 11, 26) and order.delivered_at is None


def test_the_token_and_the_customer_go_in_headers_never_in_the_url(shop):
    client(shop).order("100231", "c-1001")
    [request] = shop.requests
    assert request["authorization"] == f"Bearer {TOKEN}"
    assert request["customer"] == "c-1001"
    assert request["raw_path"] == "/shop-api/orders/100231"


def test_another_customers_order_and_an_unknown_number_are_both_not_found(shop):
    with pytest.raises(OrderNotFound):
        client(shop).order("100233", "c-1001")  # c-1002's
    with pytest.raises(OrderNotFound):
        client(shop).order("999999", "c-1001")


def test_an_order_number_cannot_reach_another_path(shop):
    with pytest.raises(OrderNotFound):
        client(shop).order("../orders/100231", "c-1001")
    assert shop.requests[-1]["path"] == "/shop-api/orders/..%2Forders%2F100231"


def test_an_api_that_ignores_the_customer_never_shows_another_customers_order(shop):
    """Defence in depth: the client checks the answer's customer and number itself."""
    import json
    shop.override = (200, json.dumps(shop.orders["100233"]).encode())
    with pytest.raises(OrderNotFound):
        client(shop).order("100233", "c-1001")
    with pytest.raises(OrderNotFound):
        client(shop).order("100999", "c-1002")  # answered with another number


@pytest.mark.parametrize("status, body", [
    (503, b'{"error": {"code": "down"}}'),
    (500, b"oops"),
    (200, b"<html>not json</html>"),
    (200, b'["not", "an", "object"]'),
    (200, b'{"order_number": "100231", "customer_id": "c-1001", "status": "lost", "items": [{"name": "a", "quantity": 1}]}'),
    (200, b'{"order_number": "100231", "customer_id": "c-1001", "status": "shipped", "items": [{"name": "a", "quantity": 1}]}'),
    (200, b'{"order_number": "100231", "customer_id": "c-1001", "status": "paid", "items": []}'),
    (200, b'{"order_number": "100231", "customer_id": "c-1001", "status": "paid", "items": [{"name": "a", "quantity": 1}], "estimated_delivery": "next week"}'),
    (200, b'{"order_number": "100231", "customer_id": "c-1001", "status": "shipped", "shipped_at": "2026-11-27", "tracking_number": "1", "items": [{"name": "a", "quantity": 1}]}'),
    (200, b'{"order_number": "100231", "customer_id": "c-1001", "status": "shipped", "shipped_at": "2026-11-27", "carrier": "x", "tracking_number": "1", "tracking_url": "javascript:alert(1)", "items": [{"name": "a", "quantity": 1}]}'),
    (302, b""),
])
def test_an_answer_that_is_not_a_usable_order_is_unavailable(shop, status, body):
    shop.override = (status, body)
    with pytest.raises(OrderApiUnavailable):
        client(shop).order("100231", "c-1001")


def test_a_wrong_token_is_unavailable_and_logged_without_the_token(shop, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(OrderApiUnavailable, match="401"):
        client(shop, token="wrong-token-value").order("100231", "c-1001")
    assert any(r.levelno == logging.ERROR and "401" in r.getMessage() for r in caplog.records)
    assert "wrong-token-value" not in caplog.text and "c-1001" not in caplog.text


def test_a_slow_api_times_out(shop):
    shop.delay = 1.5
    with pytest.raises(OrderApiUnavailable, match="did not answer within 0.5 s"):
        client(shop, timeout=0.5).order("100231", "c-1001")


def test_an_api_that_is_down_is_unavailable():
    with pytest.raises(OrderApiUnavailable, match="unreachable"):
        OrderApi(f"http://127.0.0.1:{free_port()}/shop-api", TOKEN, 1.0).order("100231", "c-1001")


def test_the_demo_shops_sample_orders_keep_the_contract(project_root):
    """handoff/demo/orders.json, which `make run`'s bot asks (handoff/demo_orders.py)."""
    import json
    from actions.api.orders import parse_order

    orders = json.loads((project_root / "handoff" / "demo" / "orders.json").read_text(encoding="utf-8"))["orders"]
    parsed = [parse_order(order) for order in orders]
    assert {o.status for o in parsed} == {"received", "preparing", "shipped", "delivered", "cancelled"}


def test_not_configured_means_no_client(monkeypatch):
    monkeypatch.setattr(config, "ORDER_API_URL", "")
    assert OrderApi.from_config() is None


# Order numbers in the customer's words (the demo shop's ORDER_NUMBER_PATTERN).

@pytest.mark.parametrize("text, number", [
    ("注文番号100231の配送状況を教えて", "100231"),
    ("Where is my order #100231?", "100231"),
    ("order no.100232 status", "100232"),
    ("注文１００２３１はどこですか", "100231"),  # full-width digits
    ("Where is my order?", None),
    ("電話番号は090-1234-5678です", None),
    ("注文は12345です", None),  # too short for the shop's numbers
    ("code AB100231X", None),
])
def test_order_numbers_are_found_in_both_languages(text, number):
    assert order_number_in(text) == number


# The action, against the stand-in.

def user_turn(text, intent, customer_id, language, ranking=None):
    metadata = {"language_hint": language}
    if customer_id is not None:
        metadata["customer"] = {"id": customer_id}
    parse_data = {"text": text, "intent": {"name": intent, "confidence": 0.9},
                  "intent_ranking": ranking or [{"name": intent, "confidence": 0.9}],
                  "entities": [{"entity": "language", "value": language}], "metadata": metadata}
    return {"event": "user", "text": text, "parse_data": parse_data, "metadata": metadata}


def tracker(text, intent="order_status", customer_id=None, language="ja", ranking=None, earlier=()):
    events = [*earlier, user_turn(text, intent, customer_id, language, ranking)]
    return Tracker("c1", {"language": language}, events[-1]["parse_data"], events, False, None, {}, "action_listen")


def answer(tr, action=ActionAnswerFAQ):
    dispatcher = CollectingDispatcher()
    asyncio.run(action().run(dispatcher, tr, {}))
    return dispatcher.messages


@pytest.fixture
def configured(shop, monkeypatch):
    monkeypatch.setattr(config, "ORDER_API_URL", shop.url)
    monkeypatch.setattr(config, "ORDER_API_TOKEN", TOKEN)
    monkeypatch.setattr(config, "ORDER_API_TIMEOUT_SECONDS", 1.0)
    return shop


def faq_answer(topic="order_status"):
    return [{"response": f"utter_{topic}", "buttons": []}, {"response": "utter_ask_helpful", "buttons": []}]


def shape(messages):
    return [{k: v for k, v in m.items() if k in ("response", "buttons")} for m in messages]


def test_a_verified_customers_own_order_is_told(configured):
    messages = answer(tracker("注文番号100231はいつ届きますか", customer_id="c-1001"))
    assert [m["response"] for m in messages] == [
        "utter_order_lookup_shipped", "utter_order_lookup_tracking_link",
        "utter_order_lookup_estimated_delivery", "utter_ask_helpful"]
    status, tracking, arrival, _ = messages
    assert status["order_number"] == "100231" and status["shipped_at"] == "2026-11-27"
    assert status["items"] == "白磁の飯碗 ×2、藍染のランチョンマット ×1"
    assert tracking["tracking_number"] == "4521-8890-1234" and tracking["carrier"] == "ヤマト運輸"
    assert arrival["estimated_delivery"] == "2026-11-29"


def test_a_delivered_order_without_a_tracking_link_and_an_english_item_list(configured):
    messages = answer(tracker("where is order 100233", "shipping_tracking", customer_id="c-1002", language="en"))
    assert [m["response"] for m in messages] == [
        "utter_order_lookup_delivered", "utter_order_lookup_tracking", "utter_ask_helpful"]
    assert messages[0]["delivered_at"] == "2026-11-23"
    configured.orders["100233"]["items"].append({"name": "Saucer", "quantity": 3})
    messages = answer(tracker("where is order 100233", "shipping_tracking", customer_id="c-1002", language="en"))
    assert messages[0]["items"] == "素焼きのプランター ×1, Saucer ×3"


def test_another_customers_order_gets_the_same_faq_answer_as_an_unknown_number(configured):
    others = answer(tracker("注文番号100233はどこ？", customer_id="c-1001"))
    unknown = answer(tracker("注文番号100299はどこ？", customer_id="c-1001"))
    assert others == unknown  # word for word: nothing tells the two apart
    assert shape(others) == faq_answer()
    assert not any("100233" in str(m) for m in others)


def test_an_unverified_customer_gets_the_faq_answer_and_the_shop_is_not_asked(configured):
    assert shape(answer(tracker("注文番号100231はどこ？"))) == faq_answer()
    assert configured.requests == []


def test_without_an_order_number_the_faq_answer_and_the_shop_is_not_asked(configured):
    assert shape(answer(tracker("注文した商品はいつ届きますか", customer_id="c-1001"))) == faq_answer()
    assert configured.requests == []


def test_other_topics_never_ask_the_shop(configured):
    assert shape(answer(tracker("注文100231の送料は？", "shipping_fee", customer_id="c-1001"))) == \
        faq_answer("shipping_fee")
    assert configured.requests == []


def test_order_api_not_configured_gets_the_faq_answer(monkeypatch):
    monkeypatch.setattr(config, "ORDER_API_URL", "")
    assert shape(answer(tracker("注文番号100231はどこ？", customer_id="c-1001"))) == faq_answer()


@pytest.mark.parametrize("trouble", ["failing", "delay", "stopped"])
def test_the_order_api_down_or_slow_gets_a_polite_answer_and_a_person(configured, trouble):
    if trouble == "failing":
        configured.failing = True
    elif trouble == "delay":
        configured.delay = 2.0  # the action waits ORDER_API_TIMEOUT_SECONDS = 1
    else:
        configured.stop()
    for language, label in (("ja", "担当者と話す"), ("en", "Talk to a person")):
        messages = answer(tracker("order 100231", customer_id="c-1001", language=language))
        assert shape(messages) == [{"response": "utter_order_lookup_unavailable",
                                    "buttons": [{"title": label, "payload": "/request_human"}]}]


# An order number pulls the intent below the threshold: the fallback answers the customer's own order.

FELL_BACK = [{"name": "nlu_fallback", "confidence": 0.24}, {"name": "order_status", "confidence": 0.24},
             {"name": "out_of_scope", "confidence": 0.13}]


def fallback(text, customer_id=None, ranking=FELL_BACK, intent="nlu_fallback", earlier=(), language="en"):
    return answer(tracker(text, intent, customer_id, language, ranking, earlier), ActionHandleFallback)


def test_a_fallback_whose_closest_topic_is_an_order_question_tells_their_own_order(configured):
    messages = fallback("Where is my order #100231?", "c-1001")
    assert [m["response"] for m in messages] == [
        "utter_order_lookup_shipped", "utter_order_lookup_tracking_link", "utter_order_lookup_estimated_delivery"]


def test_that_turn_counts_as_understood_so_the_next_fallback_is_the_first(configured):
    told = fallback("Where is my order #100231?", "c-1001")
    earlier = [user_turn("Where is my order #100231?", "nlu_fallback", "c-1001", "en", FELL_BACK),
               {"event": "action", "name": "action_handle_fallback"},
               *({"event": "bot", "text": "...", "metadata": {"utter_action": m["response"]}} for m in told),
               {"event": "action", "name": "action_listen"}]
    after = fallback("blah blah", "c-1001", ranking=[{"name": "nlu_fallback", "confidence": 0.2}], earlier=earlier)
    assert [m["response"] for m in after] == ["utter_ask_rephrase"]  # not a handoff
    # Without the order answer, the same two turns hand over (the second fallback in a row).
    earlier[2:2 + len(told)] = [{"event": "bot", "text": "...", "metadata": {"utter_action": "utter_ask_rephrase"}}]
    after = fallback("blah blah", "c-1001", ranking=[{"name": "nlu_fallback", "confidence": 0.2}], earlier=earlier)
    assert any((m.get("custom") or {}).get("handoff") for m in after), after


def test_a_fallback_with_another_customers_number_is_any_fallback_word_for_word(configured):
    others = fallback("Where is my order #100233?", "c-1001")
    unknown = fallback("Where is my order #100233?", None)
    assert others == unknown and [m["response"] for m in others] == ["utter_ask_rephrase"]
    assert len(configured.requests) == 1  # the verified one asked; the anonymous one never


@pytest.mark.parametrize("intent, ranking", [
    ("nlu_fallback", [{"name": "nlu_fallback", "confidence": 0.3}, {"name": "shipping_fee", "confidence": 0.3}]),
    ("out_of_scope", [{"name": "out_of_scope", "confidence": 0.8}, {"name": "order_status", "confidence": 0.1}]),
])
def test_a_fallback_that_is_not_an_order_question_never_asks_the_shop(configured, intent, ranking):
    messages = fallback("100231 blah", "c-1001", ranking=ranking, intent=intent)
    assert [m["response"] for m in messages] == ["utter_ask_rephrase"]
    assert configured.requests == []


def test_a_fallback_order_question_with_the_api_down_offers_a_person(configured):
    configured.failing = True
    messages = fallback("Where is my order #100231?", "c-1001")
    assert shape(messages) == [{"response": "utter_order_lookup_unavailable",
                                "buttons": [{"title": "Talk to a person", "payload": "/request_human"}]}]


# The answers themselves: every placeholder is filled, in both languages (rendered by Rasa).

def test_every_order_answer_renders_completely_in_both_languages(configured, project_root):
    domain = Domain.load(str(project_root / "domain.yml"))
    nlg = TemplatedNaturalLanguageGenerator(domain.responses)
    cases = [("100231", "c-1001"), ("100232", "c-1001"), ("100233", "c-1002")]
    for status in ("received", "paid", "cancelled"):
        number = f"1003{len(configured.orders):02d}"
        configured.orders[number] = {"order_number": number, "customer_id": "c-1001", "status": status,
                                     "items": [{"name": "Mug", "quantity": 1}]}
        cases.append((number, "c-1001"))
    seen = set()
    for language in ("ja", "en"):
        for number, customer in cases:
            messages = answer(tracker(f"order {number}", customer_id=customer, language=language))
            assert messages[-1]["response"] == "utter_ask_helpful"
            for message in messages[:-1]:
                kwargs = {k: v for k, v in message.items() if k not in (
                    "response", "buttons", "text", "image", "json_message", "elements", "attachment",
                    "template", "custom")}
                state = DialogueStateTracker.from_events("c1", [], slots=[
                    CategoricalSlot("language", mappings=[{}], values=["ja", "en"], initial_value=language)])
                rendered = asyncio.run(nlg.generate(message["response"], state, "gateway", **kwargs))
                assert rendered and rendered["text"], message
                assert not re.search(r"[{}]|None", rendered["text"]), rendered["text"]
                if number in rendered["text"]:
                    seen.add(message["response"])
                if "tracking" in message["response"]:
                    assert "4521-8890" in rendered["text"]
    assert {f"utter_order_lookup_{s}" for s in
            ("received", "paid", "preparing", "shipped", "delivered", "cancelled")} <= seen
