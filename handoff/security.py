"""Security headers on every response: a Content-Security-Policy with no inline script or style,
no framing (the console and dashboard can never be clickjacked), nosniff, a referrer policy and
a permissions policy.

The widget embeds on shops' pages with one <script> tag, not a frame: its script and the customer
API are fetched cross-origin (CORS, in handoff/__init__.py), and a policy on those responses binds
only them, never the shop's page. Pages (text/html) get the page policy; everything else (JSON,
scripts, event streams) a policy that lets nothing run if a browser were ever made to render it.
"""
from __future__ import annotations

from flask import Flask

# Our pages load scripts, styles and data from this origin only. No 'unsafe-inline' anywhere: the
# templates have no <script> blocks (only JSON data blocks, which never run), no on* attributes
# and no style attributes; the widget styles its shadow root with a constructed stylesheet.
PAGE_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
# JSON, scripts, streams, stylesheets: nothing of theirs may load anything if rendered as a page.
RESOURCE_POLICY = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
# Browser features none of our pages use; the console's notifications and sound are not among
# the policy-controlled features, so they keep working.
PERMISSIONS_POLICY = ", ".join(f"{feature}=()" for feature in (
    "accelerometer", "camera", "geolocation", "gyroscope", "magnetometer", "microphone", "payment", "usb"))
REFERRER_POLICY = "strict-origin-when-cross-origin"


def security_headers(mimetype: str) -> dict[str, str]:
    """The headers of a response of this type (setdefault: a view may choose its own)."""
    return {
        "Content-Security-Policy": PAGE_POLICY if mimetype == "text/html" else RESOURCE_POLICY,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": REFERRER_POLICY,
        "Permissions-Policy": PERMISSIONS_POLICY,
    }


def install_security_headers(app: Flask) -> None:
    @app.after_request
    def add_security_headers(response):
        for name, value in security_headers(response.mimetype).items():
            response.headers.setdefault(name, value)
        return response
