"""A real HTTP server that speaks Rasa's side of the gateway contract (docs/architecture.md,
"Gateway -> Rasa"), so the handoff and browser tests run without a trained model. One stand-in
for both suites; it can be stopped, slowed down and restarted.

It knows a few FAQ topics in both languages with the yes/no follow-up, an explicit request for a
person (`/request_human`, "talk to a person"), `/deny` as "not helpful", a complaint ('complaint',
'クレーム': high priority), and hands over after two turns in a row it does not understand, with
the NLU result of the recent turns, as the real bot's custom handoff payload does. A restart
event resets what it remembers. The REST channel (`/webhooks/rest/webhook`) answers the messages
only. The browser tests can use the real bot instead (TSUNAGI_E2E_RASA_URL).
"""
from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler

from pathlib import Path

import yaml

from intents import AFFIRM, COMPLAINT, DENY, FALLBACK_INTENTS, NLU_FALLBACK, REQUEST_HUMAN
from languages import message_language
from tests.support.loopback_server import LoopbackServer

PROJECT = Path(__file__).resolve().parents[2]


def domain_intents(project: Path = PROJECT) -> frozenset[str]:
    """The real bot's intents: domain.yml's `intents:` that have examples in data/nlu, and the
    fallback intents (Rasa's `nlu_fallback` is in no file)."""
    domain = yaml.safe_load((project / "domain.yml").read_text(encoding="utf-8"))
    listed = {next(iter(i)) if isinstance(i, dict) else i for i in domain.get("intents") or []}
    with_examples = set()
    for path in sorted((project / "data" / "nlu").glob("*.yml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or []:
            if isinstance(item, dict) and "intent" in item:
                with_examples.add(item["intent"])
    return frozenset(listed & with_examples) | frozenset(FALLBACK_INTENTS)


DOMAIN_INTENTS = domain_intents()


def _named(*names: str) -> tuple[str, ...]:
    """Intents the real bot has, so the stand-in cannot drift from it (`complain` for `complaint`)."""
    unknown = [name for name in names if name not in DOMAIN_INTENTS]
    if unknown:
        raise ValueError(f"not intents of domain.yml and data/nlu: {unknown}")
    return names


_named(AFFIRM, DENY, REQUEST_HUMAN, COMPLAINT, NLU_FALLBACK)

ANSWERS = {
    "shipping_fee": {
        "ja": "送料は全国一律550円です。5,000円（税込）以上のご注文で送料無料になります。沖縄・離島は別途1,100円がかかります。",
        "en": "Shipping is 550 yen per order anywhere in Japan, and free for orders of 5,000 yen or more (tax included). "
              "Okinawa and remote islands add 1,100 yen.",
    },
    "returns_policy": {
        "ja": "商品到着後30日以内、未使用・未開封であれば返品いただけます。お客様都合の返品送料はお客様のご負担です。セール品は返品できません。",
        "en": "You can return items within 30 days of delivery if they are unused and in their original packaging. "
              "Return shipping for a change of mind is paid by the customer; sale items cannot be returned.",
    },
    "shipping_time": {
        "ja": "平日13時までのご注文は当日発送します。発送から通常1〜3日でお届けします（北海道・沖縄・離島は2〜5日）。",
        "en": "Orders placed by 13:00 on business days ship the same day and usually arrive 1–3 days later "
              "(Hokkaido, Okinawa and islands: 2–5 days).",
    },
    "payment_methods": {
        "ja": "クレジットカード（Visa・Mastercard・JCB・American Express・Diners Club）、PayPay、Apple Pay、コンビニ前払い、銀行振込、代金引換がご利用いただけます。",
        "en": "We accept credit cards (Visa, Mastercard, JCB, American Express, Diners Club), PayPay, Apple Pay, "
              "convenience-store prepayment, bank transfer and cash on delivery.",
    },
    "gift_wrapping": {
        "ja": "ギフトラッピングは1包装220円です。のし紙は無料です。ご注文手続きの際にお選びください。",
        "en": "Gift wrapping is 220 yen per package and noshi paper is free. Choose it at checkout.",
    },
}
_named(*ANSWERS)
# The last topic whose words match wins ("how long does shipping take" is shipping_time).
TOPIC_WORDS = {
    "shipping_fee": ("送料", "shipping"),
    "shipping_time": ("いつ届", "何日", "when will", "how long"),
    "returns_policy": ("返品", "return"),
    "payment_methods": ("支払", "payment", "pay with"),
    "gift_wrapping": ("ラッピング", "包装", "wrap"),
}
_named(*TOPIC_WORDS)
# What a fallback's ranking offers next (as the real classifier's runners-up would).
FALLBACK_RUNNERS_UP = _named("shipping_time", "order_status")
REQUEST_HUMAN_WORDS = ("人と話", "オペレーター", "talk to a person", "human", "agent")
COMPLAINT_WORDS = ("complaint", "クレーム")
FOLLOW_UP = {
    "ja": ("お役に立ちましたか？", [("はい", "/affirm"), ("いいえ", "/deny")]),
    "en": ("Did that help?", [("Yes", "/affirm"), ("No", "/deny")]),
}
SMALL_TALK = {
    "affirm": {"ja": "よかったです！ほかにご質問があればどうぞ。", "en": "Glad to hear it! Anything else?"},
    "fallback": {"ja": "申し訳ありません、うまく理解できませんでした。言い換えていただけますか？",
                 "en": "Sorry, I didn't quite understand. Could you rephrase that?"},
    "handoff": {"ja": "担当者におつなぎします。", "en": "Let me connect you to a member of our team."},
    "other_payload": {"ja": "承知しました。", "en": "OK."},
}


class RasaStandIn(LoopbackServer):
    """The bot (what it remembers per conversation) and its HTTP server.

    Test controls: `delay` (seconds before each answer), `offline` (the handoff payload says
    outside support hours), `received` / `texts_for()` (what the gateway sent), `restarts`,
    `answering` (requests being answered now, including ones the gateway gave up on),
    `stop()` (the port then refuses connections) / `start()`, and `reset()`.
    """

    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self._initial_delay = delay
        self.offline = False
        self.received: list[dict] = []
        self.restarts: list[str] = []
        self.parsed: list[str] = []  # texts read through /model/parse
        self._turns: dict[str, list[dict]] = {}
        self._fallbacks: dict[str, int] = {}
        self.answering = 0
        self._lock = threading.Lock()
        self._server = None
        self.port = 0

    @property
    def url(self) -> str:
        return self.origin

    def handler_class(self):
        """The request handler class the server answers with (a subclass may wrap it)."""
        return _handler(self)

    def reset(self) -> None:
        with self._lock:
            self.delay, self.offline = self._initial_delay, False
            self.received.clear()
            self.restarts.clear()
            self.parsed.clear()
            self._turns.clear()
            self._fallbacks.clear()
        if self._server is None:
            self.start()

    def texts_for(self, sender: str) -> list[str]:
        with self._lock:
            return [r["message"] for r in self.received if r["sender"] == sender]

    def restart(self, sender: str) -> None:
        with self._lock:
            self._turns.pop(sender, None)
            self._fallbacks.pop(sender, None)
            self.restarts.append(sender)

    def answer(self, body: dict) -> dict:
        """The gateway channel's answer: {"messages", "nlu"}."""
        with self._lock:
            self.answering += 1
        try:
            return self._answer(body)
        finally:
            with self._lock:
                self.answering -= 1

    def parse(self, body: dict) -> dict:
        """Rasa's /model/parse: the NLU reading of a text, no turn (nothing remembered)."""
        if self.delay:
            time.sleep(self.delay)
        text = str(body.get("text", ""))
        with self._lock:
            self.parsed.append(text)
        intent, confidence = self._understand(text)
        return {"text": text, "intent": {"name": intent, "confidence": confidence},
                "intent_ranking": self._ranking(intent, confidence), "entities": []}

    @staticmethod
    def _ranking(intent: str, confidence: float) -> list[dict]:
        ranking = [{"name": intent, "confidence": confidence}]
        if intent == NLU_FALLBACK:
            ranking += [{"name": name, "confidence": c} for name, c in zip(FALLBACK_RUNNERS_UP, (0.22, 0.12))]
        return ranking

    def _answer(self, body: dict) -> dict:
        if self.delay:
            time.sleep(self.delay)  # a real model takes a moment: lets the widget show its typing dots
        sender, text = body["sender"], body["message"]
        hint = (body.get("metadata") or {}).get("language_hint")
        language = message_language(text, hint) or "ja"  # the real bot's rule (bot/language.py)
        intent, confidence = self._understand(text)
        ranking = self._ranking(intent, confidence)
        nlu = {"text": text, "language": language, "intent": {"name": intent, "confidence": confidence},
               "intent_ranking": ranking}
        messages: list[dict] = []
        handoff = priority = None
        with self._lock:
            self.received.append(body)
            turns = self._turns.setdefault(sender, [])
            turns.append({"text": text, "language": language, "intent": intent, "confidence": confidence,
                          "intent_ranking": ranking})
            del turns[:-5]
            if intent == NLU_FALLBACK:
                self._fallbacks[sender] = self._fallbacks.get(sender, 0) + 1
                if self._fallbacks[sender] >= 2:
                    handoff = "repeated_fallback"
                else:
                    messages.append({"text": SMALL_TALK["fallback"][language]})
            else:
                self._fallbacks[sender] = 0
                if intent in ANSWERS:
                    question, buttons = FOLLOW_UP[language]
                    messages.append({"text": ANSWERS[intent][language]})
                    messages.append({"text": question, "buttons": [{"title": t, "payload": p} for t, p in buttons]})
                elif intent == AFFIRM:
                    messages.append({"text": SMALL_TALK["affirm"][language]})
                elif intent == COMPLAINT:
                    handoff, priority = "complaint", "high"
                elif intent in (REQUEST_HUMAN, DENY):
                    handoff = "request_human" if intent == REQUEST_HUMAN else "not_helpful"
                else:
                    messages.append({"text": SMALL_TALK["other_payload"][language]})
            if handoff:
                messages.append({"text": SMALL_TALK["handoff"][language]})
                messages.append({"custom": {"handoff": {
                    "reason": handoff, "language": language, "priority": priority or "normal",
                    "offline": self.offline, "turns": list(turns)}}})
        return {"messages": [dict(m, recipient_id=sender) for m in messages], "nlu": nlu}

    @staticmethod
    def _understand(text: str) -> tuple[str, float]:
        if text.startswith("/"):
            return text[1:].split("{")[0], 1.0
        lowered = text.lower()
        intent, confidence = NLU_FALLBACK, 0.31
        for topic, words in TOPIC_WORDS.items():
            if any(w in lowered for w in words):
                intent, confidence = topic, 0.93
        if any(w in lowered for w in REQUEST_HUMAN_WORDS):
            intent, confidence = REQUEST_HUMAN, 0.95
        if any(w in lowered for w in COMPLAINT_WORDS):
            intent, confidence = COMPLAINT, 0.9
        return intent, confidence


def _handler(stand_in: RasaStandIn):
    class Handler(BaseHTTPRequestHandler):
        # One request per connection: when the stand-in is stopped, no kept-alive connection
        # lingers to answer for it, so "down" is down.
        protocol_version = "HTTP/1.0"

        def log_message(self, *args):  # keep pytest output clean
            pass

        def do_GET(self):
            self._send(200, {"version": "3.6.21-stand-in"})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"null")
            match = re.match(r"^/conversations/([^/]+)/tracker/events$", self.path)
            if match:
                if body == [{"event": "restart"}]:
                    stand_in.restart(match.group(1))
                self._send(200, {"sender_id": match.group(1)})
            elif self.path == "/webhooks/gateway/webhook":
                self._send(200, stand_in.answer(body))
            elif self.path == "/model/parse":
                self._send(200, stand_in.parse(body))
            elif self.path == "/webhooks/rest/webhook":
                self._send(200, stand_in.answer(body)["messages"])
            else:
                self._send(404, {"error": "no such channel"})

        def _send(self, status, payload):
            data = json.dumps(payload, ensure_ascii=False).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the gateway gave up waiting (timeout tests, a test that ended)

    return Handler
