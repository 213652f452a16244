"""A real HTTP server that speaks Rasa's side of the gateway contract (docs/architecture.md),
for tests that need a bot without training one. It can be stopped, slowed down and restarted.

Script: '/request_human' -> handoff; text with 'complaint' or 'クレーム' -> complaint handoff
(high priority); 'shipping'/'送料'/'/shipping_fee' -> the shipping answer with buttons; anything
else -> a fallback, and the second fallback in a row -> repeated_fallback handoff with the turns.
A restart event resets the fallback count.
"""
from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class RasaStandIn:
    def __init__(self):
        self.delay = 0.0
        self.offline = False
        self.received: list[dict] = []
        self.restarts: list[str] = []
        self._fallbacks: dict[str, list] = {}
        self._lock = threading.Lock()
        self._server = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            # One request per connection: when the stand-in is stopped, no kept-alive connection
            # lingers to answer for it, so "down" is down.
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):
                pass

            def do_GET(self):
                self._send(200, {"version": "3.6.21-stand-in"})

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"null")
                match = re.match(r"^/conversations/([^/]+)/tracker/events$", self.path)
                if match:
                    stand_in._restart(match.group(1), body)
                    self._send(200, {"sender_id": match.group(1)})
                    return
                if self.path not in ("/webhooks/gateway/webhook", "/webhooks/rest/webhook"):
                    self._send(404, {"error": "no such channel"})
                    return
                if stand_in.delay:
                    time.sleep(stand_in.delay)
                messages, nlu = stand_in._answer(body)
                self._send(200, messages if self.path == "/webhooks/rest/webhook" else {"messages": messages, "nlu": nlu})

            def _send(self, status, payload):
                data = json.dumps(payload, ensure_ascii=False).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the gateway gave up waiting (timeout tests)

        ThreadingHTTPServer.request_queue_size = 256  # 100 customers at once must not overflow the backlog
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        """Down for real: the port refuses connections until start() again."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def reset(self):
        with self._lock:
            self.delay, self.offline = 0.0, False
            self.received.clear()
            self.restarts.clear()
            self._fallbacks.clear()
        if self._server is None:
            self.start()

    def texts_for(self, sender: str) -> list[str]:
        with self._lock:
            return [r["message"] for r in self.received if r["sender"] == sender]

    def _restart(self, sender, events):
        with self._lock:
            if events == [{"event": "restart"}]:
                self.restarts.append(sender)
                self._fallbacks.pop(sender, None)

    def _answer(self, body):
        sender, text = body["sender"], body["message"]
        language = (body.get("metadata") or {}).get("language_hint", "en")
        with self._lock:
            self.received.append(body)
        recipient = {"recipient_id": sender}

        def nlu(intent, confidence):
            return {"text": text, "language": language, "intent": {"name": intent, "confidence": confidence},
                    "intent_ranking": [{"name": intent, "confidence": confidence},
                                       {"name": "shipping_time", "confidence": round(1 - confidence, 2)}]}

        def handoff(reason, priority="normal", turns=None):
            return dict(recipient, custom={"handoff": {"reason": reason, "language": language, "priority": priority,
                                                       "offline": self.offline, "turns": turns or []}})

        if text == "/request_human":
            return [dict(recipient, text="担当者におつなぎします。" if language == "ja" else "Let me get a person."),
                    handoff("request_human")], nlu("request_human", 0.99)
        if "complaint" in text or "クレーム" in text:
            return [handoff("complaint", "high")], nlu("complain", 0.9)
        if "shipping" in text or "送料" in text or text == "/shipping_fee":
            self._fallbacks.pop(sender, None)
            answer = "送料は全国一律550円です。" if language == "ja" else "Shipping is 550 yen per order."
            return [dict(recipient, text=answer),
                    dict(recipient, text="Did that help?", buttons=[{"title": "Yes", "payload": "/affirm"},
                                                                    {"title": "No", "payload": "/deny"}])], \
                nlu("shipping_fee", 0.93)
        if text.startswith("/"):
            return [dict(recipient, text="OK.")], nlu(text[1:], 0.99)
        turn = {"text": text, "language": language, "intent": "nlu_fallback", "confidence": 0.31,
                "intent_ranking": [{"name": "shipping_time", "confidence": 0.31}]}
        with self._lock:
            turns = self._fallbacks.setdefault(sender, [])
            turns.append(turn)
            repeated = len(turns) >= 2
        if repeated:
            return [dict(recipient, text="Let me find someone who can help."),
                    handoff("repeated_fallback", turns=list(turns))], nlu("nlu_fallback", 0.31)
        return [dict(recipient, text="Sorry, I did not understand. Could you rephrase?")], nlu("nlu_fallback", 0.31)
