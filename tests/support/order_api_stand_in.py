"""A real HTTP server that plays a shop's order API (docs/order-api.md) on the loopback, for the
bot's client tests and the end-to-end tests. Standard library only: both environments import it.

It serves the orders it is given, each to its own customer only (404 alike for an unknown number
and another customer's), requires the bearer token, and records every request. A test can make it
answer 5xx (`failing`), answer late (`delay`), answer what it likes (`override`), or stop it.
"""
from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler
from typing import Optional
from urllib.parse import parse_qs, unquote, urlsplit

from tests.support.loopback_server import LoopbackServer

PREFIX = "/shop-api"

SAMPLE_ORDERS = {
    "100231": {
        "order_number": "100231", "customer_id": "c-1001", "status": "shipped",
        "ordered_at": "2026-11-26T10:12:00+09:00",
        "items": [{"name": "白磁の飯碗", "quantity": 2}, {"name": "藍染のランチョンマット", "quantity": 1}],
        "carrier": "ヤマト運輸", "tracking_number": "4521-8890-1234",
        "tracking_url": "https://tracking.example/yamato/452188901234",
        "shipped_at": "2026-11-27T15:40:00+09:00", "estimated_delivery": "2026-11-29",
    },
    "100232": {
        "order_number": "100232", "customer_id": "c-1001", "status": "preparing",
        "ordered_at": "2026-11-29T21:03:00+09:00",
        "items": [{"name": "Celadon tea cup", "quantity": 4}],
        "estimated_delivery": "2026-12-02",
    },
    "100233": {
        "order_number": "100233", "customer_id": "c-1002", "status": "delivered",
        "ordered_at": "2026-11-20T09:00:00+09:00",
        "items": [{"name": "素焼きのプランター", "quantity": 1}],
        "carrier": "ヤマト運輸", "tracking_number": "4521-8890-5678",
        "shipped_at": "2026-11-21T11:00:00+09:00", "delivered_at": "2026-11-23T10:30:00+09:00",
    },
}


class OrderApiStandIn(LoopbackServer):
    def __init__(self, token: str = "stand-in-order-token", orders: Optional[dict] = None,
                 port: int = 0):
        self.token = token
        self.orders = dict(SAMPLE_ORDERS if orders is None else orders)
        self.port = port
        self.failing = False          # answer 503
        self.delay = 0.0              # seconds to wait before answering
        self.override: Optional[tuple[int, bytes]] = None  # (status, body) instead of the real answer
        self.requests: list[dict] = []

    @property
    def url(self) -> str:
        return f"{self.origin}{PREFIX}"

    def handler_class(self):
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                parts = urlsplit(self.path)
                stand_in.requests.append({"path": parts.path, "query": parse_qs(parts.query),
                                          "raw_path": self.path,
                                          "authorization": self.headers.get("Authorization"),
                                          "customer": self.headers.get("X-Customer-Id")})
                if stand_in.delay:
                    time.sleep(stand_in.delay)
                if stand_in.failing:
                    return self._send(503, {"error": {"code": "unavailable", "message": "down for maintenance"}})
                if stand_in.override is not None:
                    status, body = stand_in.override
                    return self._send_raw(status, body)
                if self.headers.get("Authorization") != f"Bearer {stand_in.token}":
                    return self._send(401, {"error": {"code": "unauthorized", "message": "bearer token required"}})
                if not parts.path.startswith(PREFIX + "/orders/"):
                    return self._send(404, {"error": {"code": "not_found", "message": "no such resource"}})
                number = unquote(parts.path[len(PREFIX + "/orders/"):])
                customer = self.headers.get("X-Customer-Id") or ""
                order = stand_in.orders.get(number)
                if order is None or order["customer_id"] != customer:
                    return self._send(404, {"error": {"code": "order_not_found", "message": "no such order"}})
                return self._send(200, order)

            def _send(self, status: int, body: dict):
                self._send_raw(status, json.dumps(body, ensure_ascii=False).encode())

            def _send_raw(self, status: int, data: bytes):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    pass

        return Handler
