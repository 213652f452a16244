"""The demo shop's order API (handoff/demo_orders.py), the contract of docs/order-api.md: a
customer's own order with the token; 404 alike for an unknown number and another customer's;
401 without the token; off while no token is configured."""
from __future__ import annotations

import os

import pytest

from handoff.demo_orders import sample_orders

TOKEN = "demo-order-api-token"


@pytest.fixture
def app(make_app):
    return make_app(DEMO_ORDER_API_TOKEN=TOKEN)


def get(client, number, customer="c-1001", token=TOKEN):
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if customer is not None:
        headers["X-Customer-Id"] = customer
    return client.get(f"/demo/api/orders/{number}", headers=headers)


def test_a_customers_own_order(client):
    response = get(client, "100231")
    assert response.status_code == 200
    order = response.get_json()
    assert order["order_number"] == "100231" and order["customer_id"] == "c-1001"
    assert order["status"] == "shipped" and order["tracking_number"] and order["carrier"]


def test_another_customers_order_is_the_same_404_as_an_unknown_number(client):
    others, unknown = get(client, "100233"), get(client, "999999")  # 100233 is c-1002's
    assert others.status_code == unknown.status_code == 404
    assert others.get_json() == unknown.get_json() == {
        "error": {"code": "order_not_found", "message": "No such order for this customer."}}


@pytest.mark.parametrize("token", [None, "wrong", ""])
def test_without_the_token_401(client, token):
    response = get(client, "100231", token=token)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_without_a_customer_422(client):
    response = get(client, "100231", customer=None)
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "customer_required"


def test_off_without_a_token(make_app):
    instance = os.path.join(os.path.dirname(__import__("handoff").__file__), "..", "instance")
    if os.path.exists(os.path.join(instance, "demo_order_api_token")):
        pytest.skip("make run created instance/demo_order_api_token, which the service then uses")
    client = make_app(DEMO_ORDER_API_TOKEN="").test_client()
    assert get(client, "100231").status_code == 404
    assert get(client, "100231").get_json()["error"]["code"] == "not_found"


def test_the_sample_orders_belong_to_the_demo_shops_members():
    """Signed in as a member on /demo, they can ask about their orders (the contract itself is
    checked on the bot's side: tests/bot/test_order_api.py parses every sample order)."""
    from handoff.pages import DEMO_CUSTOMERS

    orders = sample_orders()
    assert {o["customer_id"] for o in orders.values()} == set(DEMO_CUSTOMERS)
    assert all(o["order_number"] == number for number, o in orders.items())
