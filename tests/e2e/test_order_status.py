"""A verified customer's "where is my order?" end to end: the real handoff service, the real bot
(tools/with-bot.sh: Rasa and the action server) and a real stand-in of the shop's order API on the
address with-bot.sh gave the action server (ORDER_API_URL, ORDER_API_TOKEN).

Their own order is answered with its status and tracking, whether the model recognised the order
question or the order number pulled it below the threshold (the fallback answers it); another
customer's order number gets the FAQ answer (or the fallback's), word for word what an unknown
number or an anonymous customer gets; an unverified customer gets the FAQ answer and the shop is
never asked; the order API down, failing or too slow gets a polite answer
and the offer of a person, which hands the conversation over.
"""
from __future__ import annotations

import os
from urllib.parse import urlsplit

import pytest
import requests

from handoff.contacts import sign
from service_harness import HandoffService, seed_database
from tests.support.order_api_stand_in import PREFIX, OrderApiStandIn

IDENTITY_SECRET = "e2e-shop-identity-secret"
TIMEOUT = float(os.environ.get("ORDER_API_TIMEOUT_SECONDS") or 3)  # the action server's (actions/config.py)


@pytest.fixture
def order_api():
    url, token = os.environ.get("ORDER_API_URL"), os.environ.get("ORDER_API_TOKEN")
    if not url or not token:
        pytest.fail("ORDER_API_URL / ORDER_API_TOKEN are not set: run through tools/with-bot.sh")
    address = urlsplit(url)
    assert address.hostname == "127.0.0.1" and address.path == PREFIX, url
    stand_in = OrderApiStandIn(token=token, port=address.port).start()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="module")
def service(rasa_url, tmp_path_factory):
    # One service for the module (each test is a new conversation of its own): a gunicorn start per
    # test cost about half a minute each on a busy 2-core machine.
    tmp_path = tmp_path_factory.mktemp("order-status")
    template = seed_database(tmp_path / "template.sqlite3", rasa_url)
    running = HandoffService(template, tmp_path / "service", rasa_url, IDENTITY_SECRET=IDENTITY_SECRET).start()
    yield running
    running.stop()


class Customer:
    """The widget of the shop's page, with the shop's signed-in customer when there is one."""

    def __init__(self, service, language, customer_id=None, signature=None):
        self.base = service.url
        self.http = requests.Session()
        body = {"language": language}
        if customer_id is not None:
            body["customer"] = {"id": customer_id, "name": "山田 花子",
                                "hash": signature or sign(IDENTITY_SECRET, customer_id)}
        started = self.http.post(f"{self.base}/api/v1/conversations", json=body, timeout=10).json()
        self.id, self.identified = started["id"], started.get("identified", False)
        self.http.headers["Authorization"] = f"Bearer {started['token']}"

    def say(self, text):
        response = self.http.post(f"{self.base}/api/v1/conversations/{self.id}/messages", json={"text": text},
                                  timeout=30)
        response.raise_for_status()
        return response.json()["replies"]

    def status(self):
        return self.http.get(f"{self.base}/api/v1/conversations/{self.id}", timeout=10).json()["status"]


def texts(replies):
    return [r["text"] for r in replies if r["sender"] in ("bot", "system") and r.get("text")]


def buttons(replies):
    return [b["payload"] for r in replies for b in r.get("buttons") or []]


SHIPPED = ("100231", "2026-11-27", "ヤマト運輸", "4521-8890-1234", "https://tracking.example/yamato/452188901234",
           "2026-11-29", "白磁の飯碗 ×2")


@pytest.mark.parametrize("question", [
    "注文番号100231の注文状況を確認したい",  # the model says order_status
    "注文番号100231の荷物は今どこですか？",  # the number pulls it below the threshold: the fallback
])
def test_their_own_order_is_answered_with_its_status_and_tracking(service, order_api, question):
    hanako = Customer(service, "ja", "c-1001")
    assert hanako.identified
    said = "\n".join(texts(hanako.say(question)))
    for fact in SHIPPED:
        assert fact in said, said
    assert [r["customer"] for r in order_api.requests] == ["c-1001"]


@pytest.mark.parametrize("question", ["I'd like to check the status of my order 100232", "Where is my order #100232?"])
def test_their_own_order_in_english(service, order_api, question):
    english = Customer(service, "en", "c-1001")
    said = "\n".join(texts(english.say(question)))
    assert "100232" in said and "being prepared for shipment" in said and "2026-12-02" in said, said


def test_another_customers_order_number_gets_the_faq_answer_and_nothing_of_theirs(service, order_api):
    hanako = Customer(service, "ja", "c-1001")
    theirs = texts(hanako.say("注文番号100233の注文状況を確認したい"))  # c-1002's order
    unknown = texts(Customer(service, "ja", "c-1001").say("注文番号100299の注文状況を確認したい"))
    anonymous = texts(Customer(service, "ja").say("注文番号100233の注文状況を確認したい"))
    assert theirs == unknown == anonymous  # nothing tells them apart
    said = "\n".join(theirs)
    assert "マイページ" in said  # the FAQ answer
    for fact in ("100233", "4521-8890-5678", "素焼きのプランター", "2026-11-23"):
        assert fact not in said, said
    assert len(order_api.requests) == 2  # the verified ones asked, and the shop refused

    # The fallback's way: the same "not understood" as an anonymous customer gets.
    fell_back = texts(Customer(service, "en", "c-1001").say("Where is my order #100233?"))
    assert fell_back == texts(Customer(service, "en").say("Where is my order #100233?"))
    assert not any(fact in "\n".join(fell_back) for fact in ("100233", "4521-8890-5678"))


@pytest.mark.parametrize("signature", [None, "0" * 64])
def test_an_unverified_customer_gets_the_faq_answer_and_the_shop_is_not_asked(service, order_api, signature):
    if signature is None:
        stranger = Customer(service, "ja")
    else:
        stranger = Customer(service, "ja", "c-1001", signature=signature)  # forged: ignored
    assert not stranger.identified
    said = "\n".join(texts(stranger.say("注文番号100231の注文状況を確認したい")))
    assert "マイページ" in said and "4521-8890-1234" not in said and "100231" not in said, said
    assert order_api.requests == []


@pytest.mark.parametrize("trouble", ["down", "failing", "slow"])
def test_the_order_api_in_trouble_gets_a_polite_answer_and_a_person(service, order_api, trouble):
    if trouble == "down":
        order_api.stop()
    elif trouble == "failing":
        order_api.failing = True
    else:
        order_api.delay = TIMEOUT + 1.5
    hanako = Customer(service, "ja", "c-1001")
    replies = hanako.say("注文番号100231の注文状況を確認したい")
    said = "\n".join(texts(replies))
    assert "お調べできません" in said and "4521-8890-1234" not in said, said
    assert buttons(replies) == ["/request_human"]
    hanako.say("/request_human")  # the button
    assert hanako.status() == "waiting"

    english = Customer(service, "en", "c-1001")
    replies = english.say("Where is my order #100231?")
    assert "can't look up your order right now" in "\n".join(texts(replies))
    assert buttons(replies) == ["/request_human"]
