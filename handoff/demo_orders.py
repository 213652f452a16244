"""The demo shop's order API: what a real shop's server offers the bot (docs/order-api.md), served
here with a few sample orders (handoff/demo/orders.json) so `make run` shows a verified customer
asking about their own order. A real shop points ORDER_API_URL at its own server instead.

    GET /demo/api/orders/<order_number>   Authorization: Bearer <DEMO_ORDER_API_TOKEN>
                                          X-Customer-Id: <the shop's customer id>

Off (404, as if it were not there) while no token is configured; 401 without the token; 404 alike
for an unknown number and another customer's order, so the answer never tells whether it exists.
"""
from __future__ import annotations

import hmac
import json
import os
from functools import lru_cache

from flask import Blueprint, current_app, request

from .errors import InvalidInput, NotFound, Unauthorized

bp = Blueprint("demo_orders", __name__, url_prefix="/demo/api")

ORDERS_FILE = os.path.join(os.path.dirname(__file__), "demo", "orders.json")
CUSTOMER_HEADER = "X-Customer-Id"


@lru_cache(maxsize=1)
def sample_orders() -> dict[str, dict]:
    """{order number: order} from handoff/demo/orders.json."""
    with open(ORDERS_FILE, encoding="utf-8") as handle:
        return {order["order_number"]: order for order in json.load(handle)["orders"]}


@bp.before_request
def _require_token():
    token = current_app.config["DEMO_ORDER_API_TOKEN"]
    if not token:
        raise NotFound("not_found", "The demo shop's order API is off (no DEMO_ORDER_API_TOKEN).")
    provided = request.headers.get("Authorization", "")
    if not hmac.compare_digest(provided.encode(), f"Bearer {token}".encode()):
        raise Unauthorized("unauthorized", "A valid 'Authorization: Bearer <token>' header is required.",
                           headers={"WWW-Authenticate": "Bearer"})


@bp.get("/orders/<order_number>")
def order(order_number: str):
    """One order of the customer named in X-Customer-Id."""
    customer_id = request.headers.get(CUSTOMER_HEADER, "").strip()
    if not customer_id:
        raise InvalidInput("customer_required", f"The '{CUSTOMER_HEADER}' header names whose order this is.")
    found = sample_orders().get(order_number)
    if found is None or not hmac.compare_digest(found["customer_id"].encode(), customer_id.encode()):
        raise NotFound("order_not_found", "No such order for this customer.")
    return found
