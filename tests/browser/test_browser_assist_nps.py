"""Answers at the agent's hand and NPS, in Chromium: after a handoff the console suggests the FAQ
answer for the customer's question and inserts it into the reply box on a click; an NPS given
through the widget shows on the dashboard. Meant for the real bot:

    tools/with-bot.sh .venv/handoff/bin/python -m pytest -q tests/browser/test_browser_assist_nps.py
"""
from __future__ import annotations

import re
from pathlib import Path

import requests
import yaml
from playwright.sync_api import expect

from page_objects import Console, Widget

ROOT = Path(__file__).resolve().parents[2]


def answer(topic: str, language: str) -> str:
    """The topic's answer as its content file spells it."""
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        responses = yaml.safe_load(path.read_text(encoding="utf-8")).get("responses") or {}
        for variation in responses.get(f"utter_{topic}", []):
            if {"type": "slot", "name": "language", "value": language} in variation.get("condition", []):
                return variation["text"]
    raise AssertionError(f"no {language} answer for {topic}")


def test_the_console_suggests_the_faq_answer_and_inserts_it_on_click(service, new_page, rasa):
    console = Console(new_page(), service.url).login("yamada")
    customer = new_page()
    widget = Widget(customer).goto(service.url).open()
    widget.send("送料はいくらですか？")
    expect(widget.messages("bot").first).to_be_visible()
    widget.host.get_by_role("button", name="担当者と話す").click()
    expect(widget.subtitle).to_have_text("担当者を呼んでいます")

    console.queue_item("送料はいくらですか？").get_by_role("button", name=re.compile("対応する")).click()
    panel = console.panel()
    # The question behind the handoff: its answer first, in the customer's language.
    first = panel.locator(".assist-item").first
    expect(first).to_have_attribute("data-topic", "shipping_fee")
    expect(first.locator(".assist-topic")).to_have_text("送料について")
    expect(first.locator(".assist-text")).to_have_text(answer("shipping_fee", "ja"))
    if rasa.real:  # the stand-in ranks one intent only
        expect(panel.locator(".assist-item")).to_have_count(3)  # the three closest topics

    # A question written after the handoff (the bot is silent): the console has it read and
    # suggests its answer as it arrives.
    widget.send("返品できますか？")
    expect(panel.locator(".assist-item").first).to_have_attribute("data-topic", "returns_policy")
    insert = panel.locator(".assist-item").first.get_by_role("button", name="「返品の条件」の回答を返信欄に挿入")
    reply = panel.locator(".reply-text")
    insert.click()
    expect(reply).to_have_value(answer("returns_policy", "ja"))
    expect(reply).to_be_focused()
    # Editable before sending.
    reply.press("End")
    reply.type("ご不明な点があればお知らせください。")
    reply.press("Enter")
    expect(widget.messages("agent")).to_have_text([answer("returns_policy", "ja") + "ご不明な点があればお知らせください。"])
    metrics = requests.get(service.url + "/metrics", timeout=10).text
    assert 'tsunagi_assist_suggestions_used_total{topic="returns_policy"} 1.0' in metrics
    assert 'tsunagi_assist_suggestions_shown_total{topic="shipping_fee"} 1.0' in metrics


def rate_with_nps(new_page, url: str, score: int, why: str = "") -> None:
    page = new_page(locale="en-US")
    widget = Widget(page).goto(url, lang="en").open()
    widget.send("How much is shipping?")
    expect(widget.messages("bot").first).to_be_visible()
    widget.host.get_by_role("button", name="End chat").first.click()
    widget.host.locator(".confirm").get_by_role("button", name="End chat").click()
    group = widget.card.get_by_role("group", name="How likely are you to recommend us to a friend?")
    expect(group.get_by_role("radio")).to_have_count(11)
    expect(group.get_by_role("radio", name="0 Not at all likely")).to_be_visible()
    expect(group.get_by_role("radio", name="10 Extremely likely")).to_be_visible()
    group.locator(f"label[for=tsunagi-nps-{score}]").click()  # what a person clicks: the number
    expect(group.get_by_role("radio", name=re.compile(rf"^{score}\b"))).to_be_checked()
    if why:
        widget.card.get_by_label("Why? (optional)").fill(why)
    widget.card.get_by_role("button", name="Send rating").click()
    expect(widget.card).to_contain_text("Thank you for your feedback!")


def test_nps_given_in_the_widget_shows_on_the_dashboard(service, new_page):
    rate_with_nps(new_page, service.url, 10, "Quick and kind answers")
    rate_with_nps(new_page, service.url, 9)
    rate_with_nps(new_page, service.url, 4, "Delivery was late")

    admin = Console(new_page(), service.url).login("admin")
    admin.page.get_by_role("link", name="ダッシュボード").click()
    expect(admin.page.locator("body[data-loaded]")).to_have_count(1)
    # By hand: promoters 10, 9; detractor 4; (2 - 1) / 3 = +33.3.
    expect(admin.page.locator("#tile-nps")).to_have_text("+33.3")
    expect(admin.page.locator("#tile-nps-sub")).to_contain_text("3")
    distribution = admin.page.evaluate("Chart.getChart('chart-nps').data.datasets[0].data")
    assert distribution == [0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1]
    trend = admin.page.evaluate("Chart.getChart('chart-nps_trend').data.datasets[0].data")
    assert [p for p in trend if p is not None] == [33.3]
    rows = admin.page.locator("#nps-comments-body tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator("td").nth(1)).to_have_text("4")
    expect(rows.nth(0).locator("td").nth(2)).to_have_text("Delivery was late")
    expect(rows.nth(1).locator("td").nth(2)).to_have_text("Quick and kind answers")
