"""Known customers (issue 18): identity verification, history across conversations, the same agent
again, and privacy (export, erasure, retention), through the HTTP API on SQLite and PostgreSQL."""
from __future__ import annotations

import logging

import pytest

from handoff.contacts import sign, verified_customer_id

from handoff_support import Customer

SECRET = "shop-and-service-share-this"


@pytest.fixture
def app(make_app):
    return make_app(IDENTITY_SECRET=SECRET)


def start(client, customer_id=None, name="Hanako Yamada", email="hanako@example.com", signature=None,
          language="en") -> Customer:
    """A widget that starts a conversation, as a shop's signed-in customer when customer_id is given."""
    body = {"language": language}
    if customer_id is not None:
        body["customer"] = {"id": customer_id, "name": name, "email": email,
                            "hash": sign(SECRET, customer_id) if signature is None else signature}
    response = client.post("/api/v1/conversations", json=body)
    assert response.status_code == 201, response.get_json()
    customer = Customer.__new__(Customer)
    customer.client = client
    customer.id, customer.token = response.get_json()["id"], response.get_json()["token"]
    customer.path = f"/api/v1/conversations/{customer.id}"
    customer.identified = response.get_json()["identified"]
    return customer


def shop_customer_of(app, conversation_id):
    with app.extensions["tsunagi"].db.reading() as session:
        return verified_customer_id(session, conversation_id)


# Identity verification

def test_a_correctly_signed_customer_is_verified(app, client):
    customer = start(client, "c-1001")
    assert customer.identified is True
    assert shop_customer_of(app, customer.id) == "c-1001"


@pytest.mark.parametrize("signature", [
    "0" * 64,                                                  # made up
    sign("another-shops-secret", "c-1001"),                    # signed with the wrong secret
    sign(SECRET, "c-1002"),                                    # another customer's signature
    sign(SECRET, "c-1001")[:-1],                               # truncated
])
def test_a_forged_signature_is_ignored_and_the_chat_works_anonymously(app, client, signature, caplog):
    with caplog.at_level(logging.INFO, logger="handoff.contacts"):
        customer = start(client, "c-1001", signature=signature)
    assert customer.identified is False
    assert shop_customer_of(app, customer.id) is None
    assert customer.send("hello").status_code == 201          # the chat goes on
    assert "signature does not match" in caplog.text
    assert SECRET not in caplog.text and signature not in caplog.text


def test_a_missing_identity_or_signature_is_anonymous(app, client):
    assert start(client).identified is False
    response = client.post("/api/v1/conversations", json={"language": "en", "customer": {"id": "c-1001"}})
    assert response.status_code == 422                         # a hash is required with an id
    assert response.get_json()["error"]["code"]


def test_without_an_identity_secret_nobody_is_verified(make_app):
    client = make_app(IDENTITY_SECRET="").test_client()
    customer = start(client, "c-1001", signature=sign("", "c-1001"))
    assert customer.identified is False


def test_identity_limits_are_enforced(app, client):
    response = client.post("/api/v1/conversations", json={
        "language": "en", "customer": {"id": "x" * 201, "hash": sign(SECRET, "x" * 201)}})
    assert response.status_code == 422
