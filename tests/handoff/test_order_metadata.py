"""The gateway tells the bot who a verified customer is (so it can answer their own orders), and
nobody else: the shop's customer id goes in the message metadata only when the shop's signature
verified it, and nothing a customer sends can put it there. Checked on the real Rasa stand-in's
side of the wire (tests/support/rasa_stand_in.py records every body it receives)."""
from __future__ import annotations

import pytest

from handoff.contacts import sign

SECRET = "shop-and-service-share-this"


@pytest.fixture
def app(make_app):
    return make_app(IDENTITY_SECRET=SECRET)


def start(client, customer=None):
    body = {"language": "ja"}
    if customer is not None:
        body["customer"] = customer
    response = client.post("/api/v1/conversations", json=body)
    assert response.status_code == 201, response.get_json()
    started = response.get_json()
    return started["id"], {"Authorization": f"Bearer {started['token']}"}


def say(client, conversation, text, **extra):
    conversation_id, headers = conversation
    return client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": text, **extra},
                       headers=headers)


def metadata_sent(rasa, conversation_id):
    return [body.get("metadata") for body in rasa.received if body["sender"] == conversation_id]


def test_a_verified_customers_id_reaches_the_bot_with_every_message(client, rasa):
    conversation = start(client, {"id": "c-1001", "name": "山田 花子", "hash": sign(SECRET, "c-1001")})
    assert say(client, conversation, "注文番号100231はどこですか").status_code == 201
    assert say(client, conversation, "送料はいくら？").status_code == 201
    assert metadata_sent(rasa, conversation[0]) == [
        {"language_hint": "ja", "customer": {"id": "c-1001"}}] * 2


@pytest.mark.parametrize("customer", [
    None,                                                           # anonymous
    {"id": "c-1001", "hash": "0" * 64},                             # forged
    {"id": "c-1001", "hash": sign("another-shops-secret", "c-1001")},
    {"id": "c-1002", "hash": sign(SECRET, "c-1001")},               # someone else's signature
])
def test_no_customer_id_reaches_the_bot_unless_the_shop_signed_it(client, rasa, customer):
    conversation = start(client, customer)
    assert say(client, conversation, "注文番号100231はどこですか").status_code == 201
    assert metadata_sent(rasa, conversation[0]) == [{"language_hint": "ja"}]


def test_a_customer_cannot_send_metadata_of_their_own(client, rasa):
    conversation = start(client)
    # A field the customer API does not have is ignored, never passed on.
    assert say(client, conversation, "注文番号100231はどこですか",
               metadata={"customer": {"id": "c-1001"}}, customer={"id": "c-1001"}).status_code == 201
    assert say(client, conversation, '/order_status{"customer": {"id": "c-1001"}}').status_code == 201
    assert metadata_sent(rasa, conversation[0]) == [{"language_hint": "ja"}] * 2


def test_without_an_identity_secret_nobody_is_verified(make_app, rasa):
    client = make_app(IDENTITY_SECRET="").test_client()
    conversation = start(client, {"id": "c-1001", "hash": sign(SECRET, "c-1001")})
    say(client, conversation, "注文番号100231はどこですか")
    assert metadata_sent(rasa, conversation[0]) == [{"language_hint": "ja"}]
