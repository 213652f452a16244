"""A real HTTP server on the loopback that speaks the LINE Messaging API's side of the calls the
LINE channel makes (handoff/channels/line.py), and records them. Used by the handoff tests and the
handoff benchmark.

What it does as LINE does: checks the Bearer token; a reply token is accepted once (a second use is
400 "Invalid reply token"); a push with an X-Line-Retry-Key it already accepted is 409 and not
delivered again; the profile, quota and consumption endpoints; the loading animation (202).

Test controls: `fail_next(n, status=500, accepted=False)` makes the next n message calls (reply,
push) answer `status`; with accepted=True they are delivered first and the answer is lost (LINE
did it, we never heard). `failure_rate` fails that share of message calls at random (seeded).
`delivered` (what a customer's phone got: one entry per accepted call), `requests` (every call).
"""
from __future__ import annotations

import json
import random
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler

from tests.support.loopback_server import LoopbackServer


class LineStandIn(LoopbackServer):
    def __init__(self, token: str = "line-access-token", seed: int = 17):
        self.token = token
        self.requests: list[dict] = []
        self.delivered: list[dict] = []
        self.profiles: dict[str, str] = {}
        self.quota = {"type": "limited", "value": 200}
        self.failure_rate = 0.0
        self.delay = 0.0
        self._random = random.Random(seed)
        self._fail_next: list[tuple[int, bool]] = []
        self._used_tokens: set[str] = set()
        self._reply_tokens: dict[str, str] = {}  # token -> the user it answers
        self._retry_keys: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server = None
        self.port = 0

    @property
    def url(self) -> str:
        return self.origin

    def handler_class(self):
        return _handler(self)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.delivered.clear()
            self.profiles.clear()
            self.failure_rate = 0.0
            self.delay = 0.0
            self._fail_next.clear()
            self._used_tokens.clear()
            self._reply_tokens.clear()
            self._retry_keys.clear()

    def fail_next(self, count: int, status: int = 500, accepted: bool = False) -> None:
        with self._lock:
            self._fail_next += [(status, accepted)] * count

    def reply_token_for(self, user_id: str) -> str:
        """A new reply token, as LINE puts in a webhook event from this user."""
        token = uuid.uuid4().hex
        with self._lock:
            self._reply_tokens[token] = user_id
        return token

    def calls_to(self, path: str) -> list[dict]:
        with self._lock:
            return [r for r in self.requests if r["path"] == path]

    def delivered_texts(self, to: str | None = None) -> list[str]:
        """Every text message a user got, in order."""
        with self._lock:
            return [m["text"] for d in self.delivered if to is None or d["to"] == to
                    for m in d["messages"] if m.get("type") == "text"]

    # ---- the API ---------------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers, body) -> tuple[int, dict]:
        record = {"method": method, "path": path, "body": body, "at": time.monotonic(),
                  "retry_key": headers.get("X-Line-Retry-Key"), "authorization": headers.get("Authorization")}
        with self._lock:
            self.requests.append(record)
        status, answer = self._handle(method, path, headers, body)
        record["status"] = status
        return status, answer

    def _handle(self, method: str, path: str, headers, body) -> tuple[int, dict]:
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"message": "Authentication failed"}
        if self.delay:
            time.sleep(self.delay)
        match = re.match(r"^/v2/bot/profile/([^/]+)$", path)
        if method == "GET" and match:
            user = match.group(1)
            return 200, {"userId": user, "displayName": self.profiles.get(user, f"LINE user {user[-4:]}")}
        if method == "GET" and path == "/v2/bot/message/quota":
            return 200, dict(self.quota)
        if method == "GET" and path == "/v2/bot/message/quota/consumption":
            with self._lock:
                return 200, {"totalUsage": sum(1 for d in self.delivered if d["kind"] == "push")}
        if method == "POST" and path == "/v2/bot/chat/loading/start":
            return 202, {}
        if method == "POST" and path in ("/v2/bot/message/reply", "/v2/bot/message/push"):
            return self._message(path.rsplit("/", 1)[1], headers, body)
        return 404, {"message": "Not found"}

    def _message(self, kind: str, headers, body) -> tuple[int, dict]:
        messages = body.get("messages") if isinstance(body, dict) else None
        if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
            return 400, {"message": "The request body has 1 error(s)", "details": [{"property": "messages"}]}
        for message in messages:
            if message.get("type") == "text" and len(message.get("text", "")) > 5000:
                return 400, {"message": "The request body has 1 error(s)", "details": [{"property": "text"}]}
            items = (message.get("quickReply") or {}).get("items") or []
            if len(items) > 13 or any(len(i["action"].get("label", "")) > 20 for i in items):
                return 400, {"message": "The request body has 1 error(s)", "details": [{"property": "quickReply"}]}
        with self._lock:
            failure = self._fail_next.pop(0) if self._fail_next else None
            if failure is None and self.failure_rate and self._random.random() < self.failure_rate:
                failure = (500, False)
            retry_key = headers.get("X-Line-Retry-Key") if kind == "push" else None
            if retry_key and retry_key in self._retry_keys:
                return 409, {"message": "The retry key is already accepted",
                             "sentMessages": [{"id": str(self._retry_keys[retry_key])}]}
            if failure is not None and not failure[1]:
                return failure[0], {"message": "An error occurred in the stand-in"}
            if kind == "reply":
                token = body.get("replyToken")
                if token not in self._reply_tokens or token in self._used_tokens:
                    return 400, {"message": "Invalid reply token"}
                self._used_tokens.add(token)
                to = self._reply_tokens[token]
            else:
                to = body.get("to")
            self.delivered.append({"kind": kind, "to": to, "messages": messages, "retry_key": retry_key,
                                   "at": time.monotonic()})
            if retry_key:
                self._retry_keys[retry_key] = len(self.delivered)
            if failure is not None:  # delivered, but the answer is lost
                return failure[0], {"message": "An error occurred in the stand-in"}
        return 200, {"sentMessages": [{"id": str(len(self.delivered)), "quoteToken": "q"} for _ in messages]}


def _handler(stand_in: LineStandIn):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            self._answer("GET")

        def do_POST(self):
            self._answer("POST")

        def _answer(self, method):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            status, payload = stand_in.handle(method, self.path, self.headers, body)
            data = json.dumps(payload, ensure_ascii=False).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler
