"""A LINE customer in the agent console and on the dashboard: the channel badge, the LINE display
name and user id, an agent's reply typed in the console delivered by LINE's push API, the figures
by channel and the month's push quota. LINE's API is a real HTTP server on the loopback
(tests/support/line_stand_in.py); webhook requests are signed with LINE's algorithm."""
from __future__ import annotations

import json
import re
import time
import uuid

import pytest
import requests
from playwright.sync_api import expect

from page_objects import Console
from handoff.channels.line import signature_of
from tests.support.line_stand_in import LineStandIn
from tests.support.waiting import wait_until

SECRET, TOKEN = "browser-line-secret", "browser-line-token"
USER = "U5b1e0000000000000000000000000042"


@pytest.fixture
def line():
    stand_in = LineStandIn(TOKEN).start()
    yield stand_in
    stand_in.stop()


def line_says(service, line, text: str) -> None:
    event = {"type": "message", "mode": "active", "timestamp": int(time.time() * 1000),
             "source": {"type": "user", "userId": USER}, "webhookEventId": uuid.uuid4().hex,
             "deliveryContext": {"isRedelivery": False}, "replyToken": line.reply_token_for(USER),
             "message": {"type": "text", "id": uuid.uuid4().hex[:18], "text": text}}
    body = json.dumps({"destination": "Ubrowser", "events": [event]}, ensure_ascii=False).encode()
    answer = requests.post(service.url + "/channels/line/webhook", data=body, timeout=10,
                           headers={"Content-Type": "application/json", "X-Line-Signature": signature_of(SECRET, body)})
    assert answer.status_code == 200, answer.text


def test_a_line_customer_in_the_console_and_on_the_dashboard(start_service, new_page, line):
    service = start_service(LINE_CHANNEL_SECRET=SECRET, LINE_CHANNEL_ACCESS_TOKEN=TOKEN, LINE_API_BASE=line.url)
    line.profiles[USER] = "鈴木 一郎"
    line.quota = {"type": "limited", "value": 200}
    console = Console(new_page(), service.url).login("yamada")
    line_says(service, line, "/request_human")  # the "talk to a person" button's payload: the same for the real bot and the stand-in

    item = console.queue_item("/request_human")
    expect(item.locator(".badge.channel")).to_have_text("LINE")
    expect(item.locator(".badge.channel")).to_have_attribute("title", f"鈴木 一郎 · {USER}")
    item.get_by_role("button", name=re.compile("対応する")).click()
    panel = console.panel()
    expect(panel.locator(".conv-name")).to_have_text("鈴木 一郎")
    expect(panel.locator(".conv-title .badge.channel")).to_have_text("LINE")
    expect(panel.locator(".d-channel")).to_have_text(f"LINE · 鈴木 一郎 · {USER}")

    reply = panel.locator(".reply-text")
    reply.fill("LINEでのお問い合わせありがとうございます")
    reply.press("Enter")
    wait_until(lambda: "LINEでのお問い合わせありがとうございます" in line.delivered_texts(USER), "pushed to LINE")
    push = [d for d in line.delivered if d["kind"] == "push"][-1]
    assert push["to"] == USER and push["retry_key"]

    admin = Console(new_page(), service.url).login("admin")
    admin.page.get_by_role("link", name="ダッシュボード").click()
    expect(admin.page.locator("body[data-loaded]")).to_have_count(1)
    row = admin.page.locator('#channels-body tr[data-channel="line"]')
    expect(row.locator("td").nth(0)).to_have_text("LINE")
    expect(row.locator("td").nth(1)).to_have_text("1")
    pushes = len([d for d in line.delivered if d["kind"] == "push"])
    expect(admin.page.locator("#channels-status")).to_contain_text(f"LINE プッシュ通数（今月）: {pushes} / 200")
