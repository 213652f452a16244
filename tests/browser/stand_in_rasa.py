"""A small HTTP server that answers like the Rasa bot's gateway channel (docs/architecture.md,
"Gateway -> Rasa"), so the browser tests run without a trained model.

It knows a few FAQ topics in both languages, the yes/no follow-up, an explicit request for a
person, and hands over after two turns in a row it does not understand, with the NLU result of
each turn, exactly as the real bot's custom handoff payload does. Set TSUNAGI_E2E_RASA_URL to
run the same tests against the real bot instead.
"""
from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")

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
}
ANSWERS.update({
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
})
TOPIC_WORDS = {
    "shipping_fee": ("送料", "shipping cost", "much is shipping"),
    "shipping_time": ("いつ届", "何日", "when will", "how long"),
    "returns_policy": ("返品", "return"),
    "payment_methods": ("支払", "payment", "pay with"),
    "gift_wrapping": ("ラッピング", "包装", "wrap"),
}
FOLLOW_UP = {
    "ja": ("お役に立ちましたか？", [("はい", "/affirm"), ("いいえ", "/deny")]),
    "en": ("Did that help?", [("Yes", "/affirm"), ("No", "/deny")]),
}
SMALL_TALK = {
    "affirm": {"ja": "よかったです！ほかにご質問があればどうぞ。", "en": "Glad to hear it! Anything else?"},
    "fallback": {"ja": "申し訳ありません、うまく理解できませんでした。言い換えていただけますか？",
                 "en": "Sorry, I didn't quite understand. Could you rephrase that?"},
    "handoff": {"ja": "担当者におつなぎします。", "en": "Let me connect you to a member of our team."},
}


class StandInBot:
    """What the bot remembers per conversation: its recent turns and the fallbacks in a row."""

    def __init__(self, delay: float = 0.4):
        self.delay = delay
        self.lock = threading.Lock()
        self.turns: dict[str, list[dict]] = {}
        self.fallbacks: dict[str, int] = {}
        self.restarts: list[str] = []

    def answer(self, sender: str, text: str, hint: str) -> dict:
        time.sleep(self.delay)  # a real model takes a moment: lets the widget show its typing dots
        language = "ja" if _JAPANESE.search(text) else ("en" if re.search(r"[A-Za-z]{2,}", text) and not text.startswith("/") else hint)
        lowered = text.lower()
        intent, confidence = "nlu_fallback", 0.31
        if text.startswith("/"):
            intent, confidence = text[1:].split("{")[0], 1.0
        else:
            for topic, words in TOPIC_WORDS.items():
                if any(w in lowered for w in words):
                    intent, confidence = topic, 0.93
            if any(w in lowered for w in ("人と話", "オペレーター", "talk to a person", "human", "agent")):
                intent, confidence = "request_human", 0.95
        ranking = [{"name": intent, "confidence": confidence}]
        if intent == "nlu_fallback":
            ranking += [{"name": "shipping_time", "confidence": 0.22}, {"name": "order_status", "confidence": 0.12}]
        nlu = {"text": text, "language": language, "intent": {"name": intent, "confidence": confidence},
               "intent_ranking": ranking}
        with self.lock:
            turns = self.turns.setdefault(sender, [])
            turns.append({"text": text, "language": language, "intent": intent, "confidence": confidence,
                          "intent_ranking": ranking})
            del turns[:-5]
            messages = []
            handoff = None
            if intent in ANSWERS:
                self.fallbacks[sender] = 0
                question, buttons = FOLLOW_UP[language]
                messages.append({"text": ANSWERS[intent][language]})
                messages.append({"text": question, "buttons": [{"title": t, "payload": p} for t, p in buttons]})
            elif intent == "affirm":
                self.fallbacks[sender] = 0
                messages.append({"text": SMALL_TALK["affirm"][language]})
            elif intent in ("request_human", "deny"):
                self.fallbacks[sender] = 0
                handoff = "request_human" if intent == "request_human" else "not_helpful"
            else:
                self.fallbacks[sender] = self.fallbacks.get(sender, 0) + 1
                if self.fallbacks[sender] >= 2:
                    handoff = "repeated_fallback"
                else:
                    messages.append({"text": SMALL_TALK["fallback"][language]})
            if handoff:
                messages.append({"text": SMALL_TALK["handoff"][language]})
                messages.append({"custom": {"handoff": {
                    "reason": handoff, "language": language, "priority": "normal", "offline": False,
                    "turns": list(turns)}}})
        return {"messages": [dict(m, recipient_id=sender) for m in messages], "nlu": nlu}

    def restart(self, sender: str) -> None:
        with self.lock:
            self.turns.pop(sender, None)
            self.fallbacks.pop(sender, None)
            self.restarts.append(sender)


def _handler(bot: StandInBot):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _reply(self, status: int, body) -> None:
            data = json.dumps(body, ensure_ascii=False).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the service went away mid-answer (a test ended): nothing to tell

        def do_GET(self):
            self._reply(200, {"version": "stand-in"})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"null")
            if self.path == "/webhooks/gateway/webhook":
                hint = ((body.get("metadata") or {}).get("language_hint")) or "ja"
                self._reply(200, bot.answer(body["sender"], body["message"], hint))
            elif self.path.startswith("/conversations/") and self.path.endswith("/tracker/events"):
                bot.restart(self.path.split("/")[2])
                self._reply(200, {"ok": True})
            else:
                self._reply(404, {"error": "not found"})

        def log_message(self, *args):  # keep pytest output clean
            pass

    return Handler


class StandInRasa:
    def __init__(self, delay: float = 0.4):
        self.bot = StandInBot(delay)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.bot))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "StandInRasa":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
