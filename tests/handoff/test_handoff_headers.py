"""Security headers on every response; pages with no inline script, handler or style for the
Content-Security-Policy to refuse; the widget's script and the customer API still usable from a
shop's origin. (That the pages work under the policy in Chromium: tests/browser.)"""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from handoff_support import AgentSession, Customer, add_agent

TEMPLATES = Path(__file__).resolve().parents[2] / "handoff" / "templates"
PAGES = ["/console", "/console/dashboard", "/console/unanswered", "/demo", "/demo?lang=en",
         "/demo/products/iga-donabe", "/help", "/en/help/shipping", "/help/shipping/shipping_fee",
         "/help/search?q=送料"]
# Data blocks: a browser never runs them, so the policy (no inline script) does not apply to them.
# application/ld+json is the help center's structured data for search engines (schema.org FAQPage).
DATA_BLOCK_TYPES = ("application/json", "application/ld+json")


def policy(response) -> dict[str, str]:
    directives = [d.strip().split(None, 1) for d in response.headers["Content-Security-Policy"].split(";")]
    return {d[0]: d[1] if len(d) > 1 else "" for d in directives if d}


def assert_common_headers(response):
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] in ("strict-origin-when-cross-origin", "same-origin", "no-referrer")
    permissions = response.headers["Permissions-Policy"]
    for feature in ("camera", "microphone", "geolocation", "payment"):
        assert f"{feature}=()" in permissions
    assert policy(response)["frame-ancestors"] == "'none'"


@pytest.mark.parametrize("path", PAGES)
def test_pages_allow_scripts_and_styles_from_this_origin_only_and_no_framing(client, path):
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert_common_headers(response)
    csp = policy(response)
    for directive in ("script-src", "style-src"):
        assert csp[directive] == "'self'", csp  # no 'unsafe-inline', no nonce, no other host
    assert csp["object-src"] == "'none'" and csp["base-uri"] == "'none'"
    assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"]


def test_the_forbidden_variant_of_a_page_has_the_headers_too(app, client):
    add_agent(app, "aiko@shop.example")
    agent = AgentSession(app, "aiko@shop.example")
    forbidden = agent.get("/console/dashboard")
    assert forbidden.status_code == 403
    assert_common_headers(forbidden)
    assert policy(forbidden)["script-src"] == "'self'"
    assert inline_code(forbidden.get_data(as_text=True)) == []


@pytest.mark.parametrize("path", ["/widget.js", "/static/console.js", "/static/demo.css", "/api/openapi.json",
                                  "/healthz", "/metrics", "/no-such-page", "/api/v1/conversations/x"])
def test_every_other_response_gets_a_policy_that_runs_nothing(client, path):
    response = client.get(path)
    assert response.mimetype != "text/html"
    assert_common_headers(response)
    assert policy(response)["default-src"] == "'none'"


class _InlineCode(HTMLParser):
    """Collects what a CSP without 'unsafe-inline' refuses: script blocks that would run, on*
    attributes, style attributes and style elements."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script" and "src" not in attributes and attributes.get("type") not in DATA_BLOCK_TYPES:
            self.found.append(f"inline <script> ({self.getpos()})")
        if tag == "style":
            self.found.append(f"<style> element ({self.getpos()})")
        for name, _ in attrs:
            if name.startswith("on") or name == "style":
                self.found.append(f"{name}= on <{tag}> ({self.getpos()})")


def inline_code(html: str) -> list[str]:
    parser = _InlineCode()
    parser.feed(html)
    return parser.found


@pytest.mark.parametrize("path", PAGES)
def test_rendered_pages_have_no_inline_code(client, path):
    assert inline_code(client.get(path).get_data(as_text=True)) == []


def test_no_template_has_inline_code_in_any_branch():
    """The templates' source, every {% if %} branch included (the 403 variants, the product page)."""
    found = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        source = re.sub(r"{[{%#].*?[}%#]}", "x", template.read_text(encoding="utf-8"), flags=re.S)
        found += [f"{template.name}: {what}" for what in inline_code(source)]
    assert found == []


def test_the_widget_and_the_customer_api_still_work_from_a_shops_origin(client):
    shop = {"Origin": "https://shop.example"}
    script = client.get("/widget.js", headers=shop)
    assert script.status_code == 200 and script.headers["Access-Control-Allow-Origin"] == "*"
    assert "Cross-Origin-Resource-Policy" not in script.headers or \
        script.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    preflight = client.options("/api/v1/conversations", headers={
        **shop, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    customer = Customer(client)
    ticket = client.post(customer.path + "/stream-ticket", headers={**shop, **customer.headers})
    assert ticket.status_code == 201 and ticket.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    stream = client.get(f"{customer.path}/stream?ticket={ticket.get_json()['ticket']}", headers=shop, buffered=False)
    assert stream.status_code == 200 and stream.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    stream.close()
