"""LINE with the real bot: the handoff service as its own process, the real Rasa server and action
server (tools/with-bot.sh), and a real HTTP server standing in for LINE's Messaging API
(tests/support/line_stand_in.py). Webhook requests are signed with LINE's algorithm."""
import json
import time
import uuid

import pytest
import requests

from service_harness import AgentClient, HandoffService, seed_database
from handoff.channels.line import signature_of
from tests.support.line_stand_in import LineStandIn
from tests.support.waiting import wait_until

SECRET, TOKEN = "e2e-line-secret", "e2e-line-token"
USER = "U0e2e0000000000000000000000000001"


@pytest.fixture
def line():
    stand_in = LineStandIn(TOKEN).start()
    yield stand_in
    stand_in.stop()


@pytest.fixture
def line_service(rasa_url, tmp_path, line):
    template = seed_database(tmp_path / "template.sqlite3", rasa_url)
    running = HandoffService(template, tmp_path / "service", rasa_url, LINE_CHANNEL_SECRET=SECRET,
                             LINE_CHANNEL_ACCESS_TOKEN=TOKEN, LINE_API_BASE=line.url,
                             OUTBOX_BACKOFF_SECONDS="0.2").start()
    yield running
    running.stop()


def says(service, line, text: str, kind: str = "message", **extra):
    event = {"type": kind, "mode": "active", "timestamp": int(time.time() * 1000),
             "source": {"type": "user", "userId": USER}, "webhookEventId": uuid.uuid4().hex,
             "deliveryContext": {"isRedelivery": False}, "replyToken": line.reply_token_for(USER)}
    if kind == "message":
        event["message"] = {"type": "text", "id": uuid.uuid4().hex[:18], "text": text}
    event.update(extra)
    body = json.dumps({"destination": "Ue2e", "events": [event]}, ensure_ascii=False).encode()
    answer = requests.post(service.url + "/channels/line/webhook", data=body, timeout=10,
                           headers={"Content-Type": "application/json", "X-Line-Signature": signature_of(SECRET, body)})
    assert answer.status_code == 200, answer.text


def test_line_faq_by_reply_then_handoff_and_the_agents_push(line_service, line):
    line.profiles[USER] = "山田花子"
    says(line_service, line, "送料はいくらですか？")
    wait_until(lambda: line.delivered, "the bot's answer through the reply API", timeout=30)
    first = line.delivered[0]
    assert first["kind"] == "reply"
    assert any("550" in m["text"] for m in first["messages"])
    items = [i for m in first["messages"] for i in (m.get("quickReply") or {}).get("items", [])]
    assert any(json.loads(i["action"]["data"])["p"] == "/affirm" for i in items)
    assert all(len(i["action"]["label"]) <= 20 for i in items)

    # Two messages the bot does not understand: a handoff.
    says(line_service, line, "同じ注文で2回もカードから引き落とされてるんですけど")
    says(line_service, line, "会社でまとめて50個買いたいので見積もりをお願いしたいです")
    agent = AgentClient(line_service.url, "yamada")
    ticket = wait_until(lambda: next((c for c in agent.get("/queue")["queue"] if c.get("channel") == "line"), None),
                        "the LINE conversation in the queue", timeout=30)
    assert ticket["reason"] == "repeated_fallback" and ticket["channel_address"] == USER
    assert ticket["customer_name"] == "山田花子"
    assert agent.claim(ticket["id"]).status_code == 200
    agent.reply(ticket["id"], "担当の山田です。確認いたします。")
    wait_until(lambda: "担当の山田です。確認いたします。" in line.delivered_texts(USER), "the agent's reply pushed", timeout=30)
    push = [d for d in line.delivered if d["kind"] == "push" and d["messages"][-1]["text"] == "担当の山田です。確認いたします。"]
    assert len(push) == 1 and push[0]["retry_key"]
