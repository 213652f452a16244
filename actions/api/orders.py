"""The shop's order API (contract: docs/order-api.md): one order of one customer, by its number.

Every answer that is not a usable order comes out as one of two exceptions, so the conversation
logic has two cases to handle: OrderNotFound (no such order *for this customer*: the API answers
404 alike for an unknown number and for another customer's, and so does this client) and
OrderApiUnavailable (refused, timed out, 5xx, refused our token, or an answer that breaks the
contract). The bearer token is never logged, and neither is the customer id.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Optional, Tuple
from urllib.parse import quote

import requests

from actions import config

logger = logging.getLogger(__name__)

CUSTOMER_HEADER = "X-Customer-Id"
STATUSES = ("received", "paid", "preparing", "shipped", "delivered", "cancelled")
# What must be there for each status, or the answer breaks the contract.
REQUIRED_FOR = {"shipped": ("shipped_at",), "delivered": ("shipped_at", "delivered_at")}


class OrderApiError(Exception):
    pass


class OrderNotFound(OrderApiError):
    """No order with this number belongs to this customer (it may not exist, or be someone else's)."""


class OrderApiUnavailable(OrderApiError):
    """The order API gave no usable answer in time; the customer may ask again later, or a person."""


@dataclass(frozen=True)
class OrderItem:
    name: str
    quantity: int


@dataclass(frozen=True)
class Order:
    order_number: str
    customer_id: str
    status: str
    items: Tuple[OrderItem, ...] = ()
    ordered_at: Optional[date] = None
    carrier: Optional[str] = None
    tracking_number: Optional[str] = None
    tracking_url: Optional[str] = None
    shipped_at: Optional[date] = None
    estimated_delivery: Optional[date] = None
    delivered_at: Optional[date] = None


class OrderApi:
    """GET {base_url}/orders/{number} with the customer in `X-Customer-Id`, the bearer token and a
    timeout. The customer id goes in a header, not the query string, so it stays out of URLs and
    therefore out of access logs (the shop's, a proxy's, and urllib3's debug log)."""

    def __init__(self, base_url: str, token: str, timeout: float, session: Optional[requests.Session] = None):
        if not base_url:
            raise ValueError("the order API needs a URL (ORDER_API_URL)")
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        # No session of its own by default: each lookup runs in a worker thread of its own, and a
        # requests.Session is not thread-safe; requests.get opens and closes one per call.
        self._http = session or requests

    @classmethod
    def from_config(cls) -> Optional["OrderApi"]:
        """The configured order API, or None when ORDER_API_URL is not set (the feature is off)."""
        if not config.ORDER_API_URL:
            return None
        return cls(config.ORDER_API_URL, config.ORDER_API_TOKEN, config.ORDER_API_TIMEOUT_SECONDS)

    def order(self, order_number: str, customer_id: str) -> Order:
        """The customer's order with this number; OrderNotFound or OrderApiUnavailable otherwise."""
        if not order_number or not customer_id:
            raise OrderNotFound("no order number or no customer")
        url = f"{self.base_url}/orders/{quote(order_number, safe='')}"
        headers = {"Accept": "application/json", CUSTOMER_HEADER: customer_id}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            response = self._http.get(url, headers=headers, timeout=self.timeout, allow_redirects=False)
        except requests.Timeout as error:
            raise OrderApiUnavailable(f"the order API did not answer within {self.timeout:g} s") from error
        except requests.RequestException as error:
            raise OrderApiUnavailable(f"the order API is unreachable: {type(error).__name__}") from error
        if response.status_code == 404:
            raise OrderNotFound(f"order API answered 404 for order {order_number}")
        if response.status_code != 200:
            # 401/403: our token is wrong (a setting to fix, said loudly); 5xx: the shop is down.
            level = logging.ERROR if response.status_code in (401, 403) else logging.WARNING
            logger.log(level, "order API answered %s for an order lookup", response.status_code)
            raise OrderApiUnavailable(f"the order API answered {response.status_code}")
        try:
            order = parse_order(response.json())
        except ValueError as error:  # includes a body that is not JSON
            logger.warning("order API answer breaks the contract: %s", error)
            raise OrderApiUnavailable(f"the order API's answer breaks the contract: {error}") from error
        # Never another customer's data, even if the shop's API ignored the customer_id it was given
        # or answered for another number.
        if order.customer_id != customer_id or order.order_number != order_number:
            logger.warning("order API answered with an order of another number or customer; not shown")
            raise OrderNotFound("the order API answered for another order or customer")
        return order


def parse_order(body: Any) -> Order:
    """An Order from the API's JSON; ValueError when it breaks the contract."""
    if not isinstance(body, dict):
        raise ValueError("the answer is not a JSON object")
    for key in ("order_number", "customer_id", "status"):
        if not isinstance(body.get(key), str) or not body[key]:
            raise ValueError(f"{key!r} must be a non-empty string")
    status = body["status"]
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    for key in REQUIRED_FOR.get(status, ()):
        if body.get(key) is None:
            raise ValueError(f"a {status} order needs {key!r}")
    items = body.get("items")
    if not isinstance(items, list) or not items or not all(
            isinstance(i, dict) and isinstance(i.get("name"), str) and isinstance(i.get("quantity"), int)
            and not isinstance(i.get("quantity"), bool) for i in items):
        raise ValueError("'items' must be a non-empty list of {name, quantity}")
    if _text(body, "tracking_number") and not _text(body, "carrier"):
        raise ValueError("a tracking number needs its 'carrier'")
    return Order(
        order_number=body["order_number"], customer_id=body["customer_id"], status=status,
        items=tuple(OrderItem(i["name"], i["quantity"]) for i in items),
        ordered_at=_date(body, "ordered_at"),
        carrier=_text(body, "carrier"), tracking_number=_text(body, "tracking_number"),
        tracking_url=_url(body, "tracking_url"),
        shipped_at=_date(body, "shipped_at"), estimated_delivery=_date(body, "estimated_delivery"),
        delivered_at=_date(body, "delivered_at"),
    )


def _text(body: dict, key: str) -> Optional[str]:
    value = body.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key!r} must be a string")
    return value


def _url(body: dict, key: str) -> Optional[str]:
    value = _text(body, key)
    # Shown to the customer as a link: only a web address, never javascript: or the like.
    if value is not None and not value.startswith(("https://", "http://")):
        raise ValueError(f"{key!r} must be an http(s) URL")
    return value


def _date(body: dict, key: str) -> Optional[date]:
    """A date ('2026-11-30') or a date-time with its offset ('2026-11-30T14:05:00+09:00'): the day
    as the shop wrote it (its own time zone), which is the day the customer is told."""
    value = _text(body, key)
    if value is None:
        return None
    try:
        if "T" in value:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
        return date.fromisoformat(value)
    except ValueError as error:
        raise ValueError(f"{key!r} is not an ISO 8601 date: {value!r}") from error
