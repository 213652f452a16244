"""What a customer and an agent see, as Playwright locators: the widget (inside its shadow root;
Playwright's CSS locators pierce open shadow roots) and the agent console."""
from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from service_harness import AGENTS, PASSWORD

JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")


class Widget:
    def __init__(self, page: Page):
        self.page = page
        self.host = page.locator("#tsunagi-widget")
        self.launcher = self.host.locator("button.launcher")
        self.panel = self.host.locator("section.panel")
        self.input = self.host.locator("#tsunagi-input")
        self.send_button = self.host.locator("button.send")
        self.log = self.host.locator("[role=log]")
        self.banner = self.host.locator(".banner")
        self.typing = self.host.locator(".typing")
        self.quick_replies = self.host.locator(".quick button")
        self.card = self.host.locator(".card")
        self.subtitle = self.host.locator(".subtitle")

    def goto(self, base_url: str, path: str = "/demo", lang: str = "ja") -> "Widget":
        self.page.goto(f"{base_url}{path}?lang={lang}")
        expect(self.page.locator("#tsunagi-widget[data-ready]")).to_have_count(1)
        return self

    def open(self) -> "Widget":
        expect(self.page.locator("#tsunagi-widget[data-ready]")).to_have_count(1)   # restored
        if not self.panel.is_visible():
            self.launcher.click()
        expect(self.panel).to_be_visible()
        return self

    def send(self, text: str) -> None:
        self.input.fill(text)
        self.input.press("Enter")

    def messages(self, sender: str):
        return self.log.locator(f".msg.{sender} .bubble")

    def all_texts(self) -> list[str]:
        return self.log.locator(".msg[data-seq]").evaluate_all(
            "els => els.map(e => e.getAttribute('data-seq') + ':' + e.querySelector('.bubble, :scope').textContent)")

    def seqs(self) -> list[int]:
        return [int(s) for s in self.log.locator(".msg[data-seq]").evaluate_all(
            "els => els.map(e => e.getAttribute('data-seq'))")]

    def conversation_id(self) -> str:
        return self.page.evaluate("window.TsunagiWidget.conversationId")


class Console:
    def __init__(self, page: Page, base_url: str):
        self.page = page
        self.base = base_url
        self.queue = page.locator("#queue")
        self.tabs = page.locator("#tabs [role=tab]")

    def login(self, who: str, lang: str = "ja") -> "Console":
        self.page.goto(f"{self.base}/console?lang={lang}")
        self.page.locator("#login-email").fill(AGENTS[who][0])
        self.page.locator("#login-password").fill(PASSWORD)
        self.page.locator("#login-form button[type=submit]").click()
        expect(self.page.locator("#app-view")).to_be_visible()
        expect(self.page.locator("#me-name")).to_have_text(AGENTS[who][1])
        return self

    def queue_item(self, text: str):
        return self.queue.locator(".queue-item", has_text=text)

    def panel(self):
        return self.page.locator("#panels .conversation:not([hidden])")

    def transcript(self):
        return self.panel().locator(".transcript")
