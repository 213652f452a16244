"""The widget's offline form once e-mail is configured (issue 17): it promises a reply by e-mail
as well as in the chat, and says so again after the message is left. Without SMTP_URL it promises
the chat only (test_browser_widget.py)."""
from __future__ import annotations

from playwright.sync_api import expect

from page_objects import Widget
from tests.support.ports import free_port


def test_with_email_configured_the_offline_form_promises_an_email_reply(start_service, new_page):
    # No relay needs to listen: the form's texts depend on the settings, and no reply is sent here.
    service = start_service(SUPPORT_HOURS="never", SMTP_URL=f"smtp://127.0.0.1:{free_port()}",
                            MAIL_FROM="support@shop.example")
    widget = Widget(new_page()).goto(service.url).open()
    widget.host.get_by_role("button", name="担当者と話す").click()
    form = widget.card
    expect(form.get_by_role("heading")).to_have_text("ただいま営業時間外です")
    expect(form).to_contain_text("営業時間になりしだい担当者がメールとこのチャットでお返事します")
    form.get_by_label("メールアドレス").fill("hanako@example.jp")
    form.get_by_label("お問い合わせ内容").fill("割れた器の交換をお願いしたいです。")
    form.get_by_role("button", name="送信する").click()
    expect(widget.card).to_contain_text("担当者がご入力のメールアドレスとこのチャットでお返事します")
    expect(widget.log.locator(".msg.system").last).to_contain_text("ご入力のメールアドレスとこのチャットでお返事します")
