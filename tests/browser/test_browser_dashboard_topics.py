"""The dashboard names top topics by their title in the console's language (issue 14), in Chromium."""
from __future__ import annotations

from playwright.sync_api import expect

from page_objects import Console
from service_harness import CustomerClient


def test_top_topics_show_their_titles_in_the_consoles_language(service, new_page):
    for text in ("送料はいくらですか？", "How much is shipping?", "返品できますか？"):
        reply = CustomerClient(service.url, "ja").say(text)
        assert any(m["sender"] == "bot" for m in reply["replies"]), reply

    for lang, shipping in (("ja", "送料について"), ("en", "Shipping fee")):
        admin = Console(new_page(), service.url).login("admin", lang=lang)
        admin.page.goto(f"{service.url}/console/dashboard")
        expect(admin.page.locator("body[data-loaded]")).to_have_count(1)
        labels = admin.page.evaluate("Chart.getChart('chart-top_topics').data.labels")
        counts = admin.page.evaluate("Chart.getChart('chart-top_topics').data.datasets[0].data")
        assert labels[0] == shipping and counts[0] == 2, (labels, counts)
        assert len(labels) == 2 and not any("_" in label for label in labels), labels  # titles, never intent ids
        expect(admin.page.locator("#chart-top_topics")).to_have_attribute("aria-label", f"{labels[0]}: 2, {labels[1]}: 1")
