"""Takes the product screenshots in docs/screenshots/: the widget (a conversation, the handoff
waiting state, phone width), the agent console and the KPI dashboard.

    .venv/handoff/bin/python tests/browser/screenshots.py [--out docs/screenshots]

It runs what the browser tests run (Debian's Chromium, the real handoff service on a fresh
database, the stand-in Rasa webhook) and plays a short day of support to have something to show.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the repo root

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from page_objects import Console, Widget  # noqa: E402
from service_harness import ROOT, AgentClient, CustomerClient, HandoffService, launch_browser, seed_database  # noqa: E402
from tests.support.rasa_stand_in import RasaStandIn  # noqa: E402


def ensure_japanese_fonts() -> None:
    """Without a CJK font Chromium draws Japanese as boxes."""
    found = subprocess.run(["fc-list", ":lang=ja"], capture_output=True, text=True).stdout.strip()
    if not found:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "fonts-noto-cjk"], check=True, env=env)


def play_a_day(url: str) -> None:
    """Conversations for the dashboard: answered by the bot, handed over, resolved and rated."""
    yamada, smith, sato = (AgentClient(url, who) for who in ("yamada", "smith", "admin"))
    for language, title, text in [
            ("ja", "お詫び（配送遅延）", "お届けが遅れており、誠に申し訳ございません。ただいま配送状況を確認いたします。"),
            ("ja", "交換のご案内", "破損していた商品は無料で交換いたします。お手数ですが、お名前とご注文番号をお知らせください。"),
            ("ja", "締めのあいさつ", "ほかにご不明な点はございますか？お問い合わせありがとうございました。"),
            ("en", "Apology (delay)", "We are very sorry your parcel is late. Let me check where it is."),
            ("en", "Closing", "Is there anything else I can help you with? Thank you for contacting us.")]:
        sato.http.post(f"{url}/api/admin/canned-replies", json={"language": language, "title": title, "text": text},
                       timeout=10).raise_for_status()
    faq = [("ja", "送料はいくらですか？", 5), ("ja", "支払い方法を教えて", 4), ("en", "How much is shipping?", 5),
           ("ja", "返品はできますか？", 4), ("ja", "いつ届きますか？", None), ("en", "Do you offer gift wrapping?", 5),
           ("ja", "送料無料になる金額は？", 5), ("ja", "ラッピングできますか", None), ("en", "Which payment methods do you accept?", 4),
           ("ja", "何日で届きますか", 3), ("ja", "コンビニで支払いできますか", None)]
    for lang, question, csat in faq:
        customer = CustomerClient(url, lang)
        customer.say(question)
        if csat:
            customer.http.post(f"{url}/api/v1/conversations/{customer.id}/end", json={"csat": csat, "ces": min(5, csat)})
    handled = [("ja", "注文した器が割れて届きました", "complaint", yamada, 4, 4, 1.0),
               ("ja", "法人でまとめて50個注文したいです", "request_human", smith, 5, 5, 2.5),
               ("en", "I was charged twice for my order", "complaint", sato, 3, 2, 1.5),
               ("ja", "実店舗はありますか？", "request_human", yamada, 5, 4, 3.0),
               ("ja", "この土鍋はIHで使えますか", "request_human", smith, 2, 3, 2.0)]
    for lang, question, reason, agent, csat, ces, wait in handled:
        customer = CustomerClient(url, lang)
        customer.say(question)
        customer.http.post(f"{url}/api/v1/conversations/{customer.id}/handoff", json={"reason": reason})
        time.sleep(wait)      # a few seconds of queue, answer and handling time, for the charts
        agent.claim(customer.id)
        time.sleep(wait / 2)
        agent.reply(customer.id, "お問い合わせありがとうございます。確認いたします。" if lang == "ja" else "Thanks, let me check that for you.")
        time.sleep(wait)
        agent.post(f"/conversations/{customer.id}/resolve")
        customer.http.post(f"{url}/api/v1/conversations/{customer.id}/end", json={"csat": csat, "ces": ces})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    out = Path(parser.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    ensure_japanese_fonts()

    rasa = RasaStandIn(delay=0.05).start()
    work = Path(tempfile.mkdtemp(prefix="tsunagi-shots-"))
    service = HandoffService(seed_database(work / "seed.sqlite3", rasa.url), work / "service", rasa.url).start()
    try:
        url = service.url
        play_a_day(url)
        with sync_playwright() as playwright:
            browser = launch_browser(playwright)

            def page(width=1280, height=800, locale="ja-JP", **options):
                context = browser.new_context(viewport={"width": width, "height": height}, locale=locale,
                                              timezone_id="Asia/Tokyo", device_scale_factor=1, **options)
                return context.new_page()

            # The widget with a conversation.
            shop = page()
            widget = Widget(shop).goto(url).open()
            widget.send("送料はいくらですか？")
            expect(widget.quick_replies).to_have_count(2)
            shop.mouse.move(0, 0)
            shop.wait_for_timeout(400)
            shop.screenshot(path=out / "widget-conversation.png")

            # The same at phone width, in English.
            phone = page(390, 780, locale="en-US", is_mobile=True, has_touch=True)
            widget_en = Widget(phone).goto(url, lang="en").open()
            widget_en.send("How much is shipping?")
            expect(widget_en.quick_replies).to_have_count(2)
            widget_en.quick_replies.first.click()
            expect(widget_en.messages("bot")).to_have_count(3)
            phone.wait_for_timeout(400)
            phone.screenshot(path=out / "widget-phone-en.png")

            # Others are waiting; this customer asks for a person and sees the line move.
            waiting = []
            for lang, question, reason in [("ja", "ギフト用に名入れはできますか？", "request_human"),
                                           ("en", "My parcel arrived broken, I'm really upset", "complaint")]:
                other = CustomerClient(url, lang)
                other.say(question)
                other.http.post(f"{url}/api/v1/conversations/{other.id}/handoff", json={"reason": reason})
                waiting.append(other)
            shop2 = page()
            widget2 = Widget(shop2).goto(url, path="/demo/products/iga-donabe").open()
            widget2.send("この土鍋は直火とIHのどちらで使えますか？")
            expect(widget2.messages("bot")).to_have_count(1)
            widget2.send("IH対応かどうか知りたいです")
            expect(widget2.banner).to_contain_text("あと2人")
            shop2.wait_for_timeout(400)
            shop2.screenshot(path=out / "widget-waiting.png")

            # The agent console: live queue, two conversations open, transcript with NLU.
            desk = page(1440, 900)
            console = Console(desk, url).login("yamada")
            offline = CustomerClient(url, "ja")
            offline.say("領収書の宛名を変更したい")
            offline.http.post(f"{url}/api/v1/conversations/{offline.id}/offline-message",
                              json={"email": "tanaka@example.jp", "text": "領収書の宛名を会社名に変更したいです。"})
            first = CustomerClient(url, "ja")
            first.say("送料はいくらですか？")
            first.ask_for_person()
            console.queue_item("送料はいくらですか").get_by_role("button", name="対応する").click()
            expect(console.tabs).to_have_count(1)
            console.queue_item("この土鍋は直火").get_by_role("button", name="対応する").click()
            expect(console.tabs).to_have_count(2)
            panel = console.panel()
            expect(panel.locator(".tm-customer")).to_have_count(2)
            panel.locator(".reply-text").fill("お問い合わせありがとうございます。担当の山田です。こちらの土鍋は直火専用で、IHではお使いいただけません。")
            panel.locator(".reply-text").press("Enter")
            expect(widget2.messages("agent")).to_have_count(1)
            widget2.send("そうなんですね。IH対応の鍋はありますか？")
            expect(panel.locator(".tm-customer")).to_have_count(3)
            panel.locator(".note-text").fill("IH対応の土鍋の問い合わせが多い。商品ページに明記を提案")
            panel.get_by_role("button", name="メモを追加").click()
            expect(panel.locator(".note")).to_have_count(1)
            panel.locator(".reply-text").fill("IH対応の土鍋は")
            desk.mouse.move(0, 0)
            desk.wait_for_timeout(600)
            desk.screenshot(path=out / "console.png")

            shop2.wait_for_timeout(300)
            shop2.screenshot(path=out / "widget-agent.png")

            # The KPI dashboard.
            board = page(1440, 900)
            Console(board, url).login("admin")
            board.goto(url + "/console/dashboard")
            expect(board.locator("body[data-loaded]")).to_have_count(1)
            board.wait_for_timeout(900)
            board.screenshot(path=out / "dashboard.png", full_page=True)

            # The sign-in page, in English.
            login = page(1280, 720, locale="en-US")
            login.goto(url + "/console?lang=en")
            expect(login.locator("#login-view")).to_be_visible()
            login.screenshot(path=out / "console-login.png")
            browser.close()
    finally:
        service.stop()
        rasa.stop()
    for png in sorted(out.glob("*.png")):
        print(png.relative_to(ROOT) if png.is_relative_to(ROOT) else png)


if __name__ == "__main__":
    main()
