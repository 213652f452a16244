"""The pages under their own Content-Security-Policy in Chromium: the console, the dashboard, the
editors' page and the widget work and log no violation; the widget also works on a shop whose
policy forbids inline styles; another site cannot frame the console. (Every browser test fails on
a violation too: see conftest.new_page.)"""
from __future__ import annotations


import pytest
from playwright.sync_api import expect

from page_objects import Console, Widget
from service_harness import AgentClient
from tests.support.waiting import wait_until

# securitypolicyviolation events, as a second witness beside the console messages.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline')), true);
"""


def csp_page(new_page, **options):
    page = new_page(**options)
    page.add_init_script(RECORD_VIOLATIONS)
    return page


def violations(page) -> list:
    return page.evaluate("window.__csp")


def test_the_policy_is_on_and_a_violation_would_be_seen(service, new_page):
    """The control: an inline script injected into the demo page is refused, and both witnesses
    see it (so the other tests' empty lists mean something)."""
    page = csp_page(new_page)
    response = page.goto(service.url + "/demo")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.evaluate("""() => { const s = document.createElement('script');
                              s.textContent = 'window.__ran = true'; document.body.appendChild(s); }""")
    wait_until(lambda: violations(page), "the refused inline script was reported")
    assert page.evaluate("window.__ran === undefined")
    assert any("Content Security Policy" in e for e in page.errors)
    page.errors.clear()  # expected here; any other test fails on one


def test_console_dashboard_editors_page_and_widget_log_no_violation(service, new_page):
    customer = csp_page(new_page)
    response = customer.goto(service.url + "/demo?lang=ja")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    widget = Widget(customer).open()
    expect(widget.launcher).to_have_css("background-color", "rgb(47, 111, 94)")  # styled: the sheet applied
    widget.send("送料はいくらですか？")
    expect(widget.messages("bot").first).to_contain_text("550")
    widget.host.get_by_role("button", name="担当者と話す").click()
    expect(widget.banner).to_contain_text("担当者におつなぎしています")

    admin = csp_page(new_page, permissions=["notifications"])
    console = Console(admin, service.url).login("admin")
    item = console.queue.locator(".queue-item").first
    expect(item).to_be_visible()
    item.locator(".claim").click()
    expect(console.transcript()).to_contain_text("送料はいくらですか？")
    console.panel().locator(".reply-text").fill("担当の佐藤です。")
    console.panel().locator(".send").click()
    expect(widget.messages("agent")).to_have_text(["担当の佐藤です。"])

    dashboard = admin.goto(service.url + "/console/dashboard")
    assert "frame-ancestors 'none'" in dashboard.headers["content-security-policy"]
    assert dashboard.headers["x-frame-options"] == "DENY"
    expect(admin.locator("body[data-loaded]")).to_have_count(1)
    assert admin.evaluate("Chart.getChart('chart-per_day').data.datasets[0].data.at(-1)") >= 1
    dashboard_violations = violations(admin)

    admin.goto(service.url + "/console/unanswered")
    expect(admin.locator("body[data-loaded]")).to_have_count(1)
    assert (dashboard_violations, violations(admin), violations(customer)) == ([], [], [])


def test_a_page_the_role_does_not_open_signs_in_without_inline_script(service, new_page):
    page = csp_page(new_page)
    Console(page, service.url).login("yamada")
    assert page.goto(service.url + "/console/dashboard").status == 403
    expect(page.locator("#me-name")).to_have_text("山田 花子")  # console-signin.js ran
    assert violations(page) == []


def test_the_widget_works_on_a_shop_whose_policy_forbids_inline_styles(start_service, shop, new_page):
    service = start_service(CORS_ORIGINS=shop.origin)
    shop.pages["/"] = (
        f'<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>Strict shop</title></head>'
        f'<body><h1>Strict shop</h1><script src="{service.url}/widget.js" data-server="{service.url}" '
        f'data-color="#8a3b2e"></script></body></html>',
        {"Content-Security-Policy": f"default-src 'none'; script-src {service.url}; connect-src {service.url}; "
                                    f"style-src 'self'; img-src 'self'"})
    page = csp_page(new_page)
    page.goto(shop.origin + "/")
    widget = Widget(page).open()
    expect(widget.launcher).to_have_css("background-color", "rgb(138, 59, 46)")
    expect(widget.panel).to_have_css("border-top-left-radius", "18px")  # the widget's own stylesheet applies
    widget.send("送料はいくらですか？")
    expect(widget.messages("bot").first).to_contain_text("550")
    # The live stream (opened with a ticket) carries what an agent writes.
    widget.host.get_by_role("button", name="担当者と話す").click()
    expect(widget.banner).to_contain_text("担当者におつなぎしています")
    agent = AgentClient(service.url, "yamada")
    assert agent.claim(widget.conversation_id()).status_code == 200
    agent.reply(widget.conversation_id(), "山田です。")
    expect(widget.messages("agent")).to_have_text(["山田です。"])
    assert violations(page) == []


def test_another_site_cannot_frame_the_console(service, shop, new_page):
    shop.pages["/frame"] = (f'<!doctype html><iframe src="{service.url}/console"></iframe>', {})
    page = new_page()
    page.goto(shop.origin + "/frame")
    wait_until(lambda: any("frame-ancestors" in e for e in page.errors), "Chromium refused to frame the console")
    expect(page.frame_locator("iframe").locator("#login-form")).to_have_count(0)
    page.errors.clear()  # the refusal is what this test wants
