"""The help center in Chromium (handoff/help_center.py): a customer finds an article through the
categories and says it did not help, with a comment the dashboard then shows; searches in Japanese
and in English; a search with no result offers the chat; every page works with JavaScript off; the
widget's empty state searches the help center and a bot answer links to its article. The pages'
strict CSP stays on: any violation fails the test (conftest.new_page), and the JSON-LD data blocks
are checked for one explicitly."""
from __future__ import annotations

import json
import re

import requests
from playwright.sync_api import expect

from page_objects import Widget
from service_harness import AgentClient
from tests.support.waiting import wait_until

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline')), true);
"""


def _admin_kpis(service) -> dict:
    admin = AgentClient(service.url, "admin")
    response = admin.http.get(service.url + "/api/admin/kpis?lang=en", timeout=10)
    response.raise_for_status()
    return response.json()["help_center"]


def test_home_category_article_then_not_helpful_with_a_comment(service, new_page):
    page = new_page()
    page.add_init_script(RECORD_VIOLATIONS)
    page.goto(service.url + "/help")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.locator("h1")).to_have_text("どのようなことでお困りですか？")
    page.get_by_role("link", name="配送・送料").click()
    expect(page).to_have_url(re.compile(r"/help/shipping$"))
    page.locator("main").get_by_role("link", name="荷物が届かない").click()
    expect(page).to_have_url(re.compile(r"/help/shipping/shipping_not_arrived$"))
    expect(page.locator("h1")).to_have_text("荷物が届かない")
    # the structured data is there, valid, and the policy did not object to it
    faq = json.loads(page.locator("#faq-ld").text_content())
    assert faq["@type"] == "FAQPage" and faq["mainEntity"][0]["name"] == "荷物が届かない"
    assert page.evaluate("window.__csp") == []

    page.get_by_role("button", name="いいえ").click()
    comment = page.get_by_label(re.compile("ご意見"))
    expect(comment).to_be_visible()
    comment.fill("追跡番号の見方が知りたかった")
    page.get_by_role("button", name="送信する").click()
    expect(page.locator(".feedback .thanks")).to_contain_text("ご意見を受け付けました")

    figures = _admin_kpis(service)
    assert figures["votes"]["no"] == 1
    assert [(c["topic"], c["helpful"], c["comment"]) for c in figures["comments"]] == [
        ("shipping_not_arrived", False, "追跡番号の見方が知りたかった")]
    assert {a["topic"]: a["views"] for a in figures["articles"]}["shipping_not_arrived"] >= 1


def test_search_in_japanese_and_in_english(service, new_page):
    page = new_page()
    page.goto(service.url + "/help")
    page.locator("#help-q").fill("カードが使えない")
    page.locator("#help-q").press("Enter")
    expect(page).to_have_url(re.compile(r"/help/search\?q="))
    first = page.locator("#results li").first
    expect(first.get_by_role("link")).to_have_attribute("href", "/help/payment/payment_card_declined")
    expect(first.locator("mark").first).to_be_visible()

    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.locator("#help-q").fill("card declined")
    page.locator(".search-form button").click()
    expect(page).to_have_url(re.compile(r"/en/help/search\?q=card"))
    expect(page.locator("#results li").first.get_by_role("link")).to_have_attribute(
        "href", "/en/help/payment/payment_card_declined")


def _search_warm(service) -> None:
    """Waits until the search's embeddings are computed (in the background since the service
    started): while they are, it ranks by keywords alone, and this test is about the real ranking."""
    wait_until(lambda: not requests.get(service.url + "/api/v1/help/search?q=x&record=false",
                                        timeout=10).json()["warming"], "the search's embeddings", timeout=240, interval=1)


def test_a_search_with_no_result_offers_the_chat(service, new_page):
    _search_warm(service)
    page = new_page(locale="en-US")
    page.goto(service.url + "/en/help/search?q=zzqx+vvtr+kkpl")
    no_result = page.locator("#no-result")
    expect(no_result).to_be_visible()
    no_result.get_by_role("link", name="Ask us in the chat").click()
    widget = Widget(page)
    expect(widget.panel).to_be_visible()   # the widget opens on the help page itself
    widget.send("my parcel is lost")
    expect(widget.messages("customer").first).to_have_text("my parcel is lost")
    # The message shows at once; the conversation is started with it (wait for the service's answer).
    expect(widget.messages("bot").first).to_be_visible()
    conversation = page.evaluate("window.TsunagiWidget.conversationId")
    assert conversation
    assert _admin_kpis(service)["chats_from_help"] == 1   # started on a help-center page


def test_the_pages_work_without_javascript(service, new_page):
    page = new_page(java_script_enabled=False)
    page.goto(service.url + "/en/help")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("link", name="Payment", exact=True).click()
    page.locator("main").get_by_role("link", name="Payment methods").click()
    expect(page.locator("h1")).to_have_text("Payment methods")
    expect(page.locator("#tsunagi-widget")).to_have_count(0)   # no script ran
    page.get_by_role("button", name="No").click()
    page.get_by_label(re.compile("Your comment")).fill("Does PayPay work for gift cards?")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".feedback .thanks")).to_contain_text("we have your comment")
    page.locator("#help-q").fill("shipping fee")
    page.locator(".search-form button").click()
    expect(page.locator("#results li").first.get_by_role("link")).to_have_attribute(
        "href", "/en/help/shipping/shipping_fee")
    expect(page.locator(".contact noscript")).to_have_count(1)   # the chat says it needs JavaScript
    assert [(c["topic"], c["comment"]) for c in _admin_kpis(service)["comments"]] == [
        ("payment_methods", "Does PayPay work for gift cards?")]


def test_the_pages_fit_a_phone(service, new_page):
    page = new_page(width=375, height=740)
    page.goto(service.url + "/help/shipping/shipping_fee")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.keyboard.press("Tab")
    skip = page.locator(".skip-link")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()


def test_the_widget_s_empty_state_searches_the_help_center(service, new_page):
    page = new_page()
    widget = Widget(page).goto(service.url).open()
    search = widget.host.locator("#tsunagi-help-q")
    expect(search).to_be_visible()
    search.fill("送料")
    search.press("Enter")
    link = widget.host.locator(".help-results a").first
    expect(link).to_have_attribute("href", service.url + "/help/shipping/shipping_fee")
    expect(widget.host.locator(".help-results mark").first).to_be_visible()
    # "ask us": the words go to the chat, the search gives way to the conversation
    widget.host.get_by_role("button", name="チャットで質問する").click()
    expect(widget.messages("customer").first).to_have_text("送料")
    expect(widget.host.locator(".help")).to_be_hidden()
    article = widget.log.locator(".msg.bot .article-link").first
    expect(article).to_have_text("詳しくはヘルプ記事へ")
    expect(article).to_have_attribute("href", service.url + "/help/shipping/shipping_fee")
