"""Presence and SLA clocks in Chromium: the agent sets their presence in the console's header and
the customer's widget follows it (away: the leave-a-message form; online: the queue); an SLA breach
shows in the queue in words and with a mark, and a clock about to run out turns into a breach on
screen as the page's own clock ticks. Time is moved by setting a conversation's handoff time in the
service's database (its SLA clock starts there), never by waiting minutes.

    tools/with-bot.sh .venv/handoff/bin/python -m pytest -q tests/browser/test_browser_sla_presence.py
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from playwright.sync_api import expect
from sqlalchemy import create_engine, update

from handoff.models import Conversation
from page_objects import Console, Widget
from service_harness import AGENTS, CustomerClient


def handed_off_minutes_ago(service, conversation_id: str, minutes: float) -> None:
    engine = create_engine(f"sqlite:///{service.database}")
    with engine.begin() as connection:
        connection.execute(update(Conversation).where(Conversation.id == conversation_id).values(
            queued_at=datetime.now(timezone.utc) - timedelta(minutes=minutes)))
    engine.dispose()


def test_the_agent_sets_presence_in_the_console_and_the_widget_follows(start_service, new_page):
    service = start_service(WHEN_NOBODY_ONLINE="offline_form")
    page = new_page()
    console = Console(page, service.url).login("yamada")
    select, dot = page.locator("#presence-select"), page.locator("#presence-dot")
    expect(select).to_have_value("online")  # signing in is going online
    expect(dot).to_have_attribute("data-state", "online")
    select.select_option("away")
    expect(dot).to_have_attribute("data-state", "away")
    page.reload()  # the choice is the service's, not the page's
    expect(page.locator("#app-view")).to_be_visible()
    expect(page.locator("#presence-select")).to_have_value("away")

    # Support is open but the only agent is away: the customer is told so and gets the form.
    widget = Widget(new_page()).goto(service.url).open()
    widget.send("/request_human")
    expect(widget.subtitle).to_have_text("ただいま対応できる担当者がいません")
    expect(widget.card.get_by_role("heading", name="ただいま対応できる担当者がいません")).to_be_visible()
    expect(widget.card.locator("#tsunagi-email")).to_be_visible()
    expect(widget.log).to_contain_text("ただいま対応できる担当者がおりません")

    # Back online: the next customer joins the queue and shows up in the console.
    page.locator("#presence-select").select_option("online")
    expect(page.locator("#presence-dot")).to_have_attribute("data-state", "online")
    other = CustomerClient(service.url)
    other.say("配送状況を知りたい")
    assert other.ask_for_person()["status"] == "waiting"
    expect(console.queue_item("配送状況を知りたい")).to_be_visible()

    # The team as an admin sees it: presence in words beside each active account.
    page.locator("#presence-select").select_option("away")
    expect(page.locator("#presence-dot")).to_have_attribute("data-state", "away")
    admin = new_page()
    Console(admin, service.url).login("admin")
    admin.goto(f"{service.url}/console/staff?lang=ja")
    badge = admin.locator(f'#staff-body tr[data-email="{AGENTS["yamada"][0]}"] .presence-badge')
    expect(badge).to_have_text("離席中")
    expect(badge).to_have_attribute("data-state", "away")
    expect(admin.locator(f'#staff-body tr[data-email="{AGENTS["admin"][0]}"] .presence-badge')).to_have_text("対応可能")


def test_an_sla_breach_shows_in_the_queue_in_words_and_turns_on_as_the_clock_runs(start_service, new_page):
    service = start_service(SLA_FIRST_RESPONSE="high=5m,normal=15m", SLA_RESOLUTION="high=2h,normal=8h")
    fresh, overdue, about_due = (CustomerClient(service.url) for _ in range(3))
    for customer, question in ((fresh, "注文を変更したい"), (overdue, "返金はまだですか"), (about_due, "領収書がほしい")):
        customer.say(question)
        assert customer.ask_for_person()["status"] == "waiting"
    handed_off_minutes_ago(service, overdue.id, 20)          # 5 minutes past its 15
    handed_off_minutes_ago(service, about_due.id, 15 - 25 / 60)  # 25 seconds left

    console = Console(new_page(), service.url).login("yamada")
    ok = console.queue_item("注文を変更したい")
    expect(ok.locator(".qi-sla")).to_have_text("初回返信の期限まで 14分")
    expect(ok.locator(".qi-sla")).to_have_attribute("data-sla", "ok")
    expect(ok).not_to_have_class("queue-item sla-breached")

    late = console.queue_item("返金はまだですか")
    expect(late.locator(".qi-sla")).to_have_text("⚠ 初回返信の期限超過 5分")
    expect(late.locator(".qi-sla")).to_have_attribute("data-sla", "breached")
    expect(late).to_have_class("queue-item sla-breached")

    # Seconds from its target when the page loaded; the page's clock carries it over the line.
    soon = console.queue_item("領収書がほしい")
    expect(soon.locator(".qi-sla")).to_have_attribute("data-sla", "ok")
    expect(soon.locator(".qi-sla")).to_have_attribute("data-sla", "breached", timeout=45_000)
    expect(soon.locator(".qi-sla")).to_contain_text("初回返信の期限超過")

    # Claimed and opened: the conversation's header shows the same clock.
    soon.get_by_role("button").click()
    expect(console.panel().locator(".conv-sla")).to_contain_text("初回返信の期限超過")
    expect(console.panel().locator(".conv-sla")).to_have_class("conv-sla sla sla-breached")

    # The dashboard's attainment: two first replies late (one of them now Yamada's), one still in time.
    admin = new_page()
    Console(admin, service.url).login("admin")
    admin.goto(f"{service.url}/console/dashboard?lang=ja")
    expect(admin.locator("body[data-loaded]")).to_have_count(1)
    expect(admin.locator("#sla-summary")).to_contain_text("初回返信 0%（0/2）")
    yamada = admin.locator("#sla-agents-body tr", has_text=AGENTS["yamada"][1])
    expect(yamada.locator(".sla-first")).to_have_text("0%（0/1）")
    expect(yamada.locator(".presence-badge")).to_have_text("対応可能")
