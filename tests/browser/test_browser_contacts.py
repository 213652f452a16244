"""Known customers in the browser: a signed-in member of the demo shop chats twice, from two
devices; the agent helping with the second chat sees the first one in the side panel and opens it."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from page_objects import Console, Widget

IDENTITY_SECRET = "browser-tests-identity-secret"
UNANSWERABLE = ["昨日のプロ野球の試合結果を教えて", "おすすめの映画を教えてください"]


def signed_in_member(new_page, base_url: str):
    """A device of the demo shop's sample member 鈴木 陽子 (c-1001): the shop signs her id for the widget."""
    page = new_page()
    page.goto(f"{base_url}/demo/sign-in?customer=c-1001&lang=ja")
    expect(page.locator("header .member")).to_have_text(re.compile("鈴木 陽子"))
    return page


def test_a_verified_customers_second_chat_shows_the_first_in_the_agents_side_panel(start_service, new_page):
    service = start_service(IDENTITY_SECRET=IDENTITY_SECRET)

    # First chat, on her phone: a question the bot answers.
    phone = Widget(signed_in_member(new_page, service.url)).goto(service.url).open()
    phone.send("送料はいくらですか")
    expect(phone.messages("bot").first).to_contain_text("送料")
    first_id = phone.conversation_id()

    # Second chat, on her laptop: the bot cannot help, so she is handed to a person.
    laptop = Widget(signed_in_member(new_page, service.url)).goto(service.url).open()
    for question in UNANSWERABLE:
        laptop.send(question)
    expect(laptop.banner).to_contain_text("担当者におつなぎしています")
    assert laptop.conversation_id() != first_id

    console = Console(new_page(), service.url).login("yamada")
    console.queue_item(UNANSWERABLE[0]).get_by_role("button", name=re.compile("対応する")).click()
    contact = console.panel().locator(".contact-section")
    expect(contact.locator(".contact-name")).to_contain_text("鈴木 陽子")
    expect(contact.locator(".badge.verified")).to_have_text("本人確認済み")
    expect(contact.locator(".contact-identities")).to_contain_text("yoko.suzuki@example.com")
    earlier = contact.locator(".history-item")
    expect(earlier).to_have_count(1)
    expect(earlier).to_have_attribute("data-conversation-id", first_id)
    expect(earlier.locator(".hi-outcome")).to_have_text("対応中")       # still open with the bot
    expect(earlier.locator(".badge.channel")).to_have_text("web")

    # Opened read-only: the first chat's transcript, with nothing to act on.
    earlier.click()
    dialog = console.page.locator("dialog.history-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator(".tm-customer .tm-bubble")).to_have_text(["送料はいくらですか"])
    expect(dialog.locator(".tm-bot .tm-bubble").first).to_contain_text("送料")
    expect(dialog.locator("button, textarea")).to_have_count(1)      # its close button only
    dialog.locator("button").click()

    # A note about her stays with her, for the next agent.
    contact.locator(".contact-note-text").fill("配送時間は午前希望")
    contact.get_by_role("button", name="メモを追加").click()
    expect(contact.locator(".contact-notes .note-text")).to_have_text(["配送時間は午前希望"])


def test_an_anonymous_visitor_is_shown_as_not_verified(start_service, new_page):
    service = start_service(IDENTITY_SECRET=IDENTITY_SECRET)
    widget = Widget(new_page()).goto(service.url).open()
    for question in UNANSWERABLE:
        widget.send(question)
    expect(widget.banner).to_contain_text("担当者におつなぎしています")
    console = Console(new_page(), service.url).login("yamada")
    console.queue_item(UNANSWERABLE[0]).get_by_role("button", name=re.compile("対応する")).click()
    expect(console.panel().locator(".contact-anonymous")).to_be_visible()
    expect(console.panel().locator(".history-item")).to_have_count(0)


def test_an_admin_finds_a_customer_and_exports_their_data(start_service, new_page):
    import json

    service = start_service(IDENTITY_SECRET=IDENTITY_SECRET)
    member = Widget(signed_in_member(new_page, service.url)).goto(service.url).open()
    member.send("送料はいくらですか")
    expect(member.messages("bot").first).to_contain_text("送料")

    admin = Console(new_page(), service.url).login("admin")
    admin.page.goto(f"{service.url}/console/contacts?lang=ja")
    admin.page.locator("#contacts-q").fill("suzuki")
    admin.page.get_by_role("button", name="検索").click()
    row = admin.page.locator("#contacts-body tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("鈴木 陽子")
    expect(row).to_contain_text("c-1001")
    with admin.page.expect_download() as download:
        row.get_by_role("button", name="データを書き出す").click()
    exported = json.loads(open(download.value.path(), encoding="utf-8").read())
    assert exported["contact"]["shop_customer_id"] == "c-1001"
    assert [m["text"] for m in exported["conversations"][0]["messages"] if m["sender"] == "customer"] == ["送料はいくらですか"]
    entries = admin.page.evaluate("fetch('/api/admin/audit?action=contact.exported').then(r => r.json())")["entries"]
    assert [e["actor"] for e in entries] == ["sato@komorebi.example"]
