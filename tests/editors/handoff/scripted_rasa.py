"""A real HTTP server speaking Rasa's side of the gateway contract (docs/architecture.md), scripted
for the editors' tests: a few known questions are answered as topics, "/deny" after an answer
sends the bot's "did not help" feedback payload (actions/actions.py ActionSuggestTopics), and
"/request_human" hands off. Anything else falls back."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KNOWN = {
    "送料はいくらですか": "shipping_fee",
    "How much is shipping?": "shipping_fee",
    "注文をキャンセルしたい": "order_cancel",
}


class ScriptedRasa:
    def __init__(self):
        self.last_question: dict[str, tuple[str, str]] = {}
        self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "ScriptedRasa":
        rasa = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):
                pass

            def do_GET(self):
                self._send({"version": "3.6.21-scripted"})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if self.path.endswith("/tracker/events"):
                    self._send({})
                    return
                self._send(rasa.answer(body["sender"], body["message"]))

            def _send(self, payload):
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, sender: str, text: str) -> dict:
        language = "en" if text.isascii() else "ja"
        if text == "/request_human":
            return self._turn(text, "request_human", language, [{"custom": {"handoff": {
                "reason": "request_human", "language": language, "priority": "normal", "offline": False,
                "turns": []}}}])
        if text == "/deny" and sender in self.last_question:
            question, topic = self.last_question.pop(sender)
            return self._turn(text, "deny", language, [
                {"text": "Here are other topics", "buttons": [{"title": "Talk to a person", "payload": "/request_human"}]},
                {"custom": {"feedback": {"helpful": False, "topic": topic, "question": question}}}])
        topic = KNOWN.get(text)
        if topic:
            self.last_question[sender] = (text, topic)
            return self._turn(text, topic, language, [
                {"text": f"The answer about {topic}."},
                {"text": "Did this help?", "buttons": [{"title": "Yes", "payload": "/affirm"},
                                                        {"title": "No", "payload": "/deny"}]}])
        return self._turn(text, "nlu_fallback", language, [{"text": "Sorry, I did not understand."}],
                          ranking=[{"name": "nlu_fallback", "confidence": 0.3}, {"name": "shipping_fee", "confidence": 0.2}])

    @staticmethod
    def _turn(text, intent, language, messages, ranking=None) -> dict:
        return {"messages": [dict(m, recipient_id="x") for m in messages],
                "nlu": {"text": text, "language": language, "intent": {"name": intent, "confidence": 0.9},
                        "intent_ranking": ranking or [{"name": intent, "confidence": 0.9}]}}
