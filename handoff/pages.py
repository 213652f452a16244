"""Browser pages: the embeddable widget script, the demo shop, the agent console and dashboard.

The pages are shells: what they show comes from the JSON APIs (customer, agent, admin) through
the scripts in handoff/static/, so the browser and any other client use the same contract.
"""
from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import Optional

from flask import Blueprint, abort, current_app, redirect, render_template, request, send_from_directory, url_for

from languages import LANGUAGES
from .auth import ensure_csrf_token, has_role, signed_in_agent

bp = Blueprint("pages", __name__)


def _language() -> str:
    """?lang= wins, then the console's remembered choice, then the browser's preference."""
    lang = request.args.get("lang") or request.cookies.get("tsunagi_lang")
    if lang in LANGUAGES:
        return lang
    return request.accept_languages.best_match(LANGUAGES) or "ja"


@lru_cache(maxsize=1)
def _console_strings() -> dict:
    """The console's UI text in every language: templates and scripts read this one table."""
    folder = os.path.join(os.path.dirname(__file__), "templates", "console")
    with open(os.path.join(folder, "strings.json"), encoding="utf-8") as handle:
        strings = json.load(handle)
    # The staff and audit pages' own text (handoff/templates/console/staff_strings.json).
    with open(os.path.join(folder, "staff_strings.json"), encoding="utf-8") as handle:
        for lang, table in json.load(handle).items():
            strings[lang].update(table)
    return strings


def _render_console(template: str, page: str, status: int = 200, **context):
    lang = _language()
    return render_template(template, lang=lang, t=_console_strings()[lang], page=page,
                           login_csrf=ensure_csrf_token(), **context), status


@bp.get("/widget.js")
def widget_js():
    # Shops embed this URL directly, so it is served at the root with a short cache lifetime:
    # a fixed widget reaches every shop within minutes.
    response = send_from_directory(current_app.static_folder, "widget.js", max_age=300)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _catalogue(lang: str):
    return current_app.jinja_env.get_template("demo/_products.html").make_module({"lang": lang}).products


def _shop_language() -> str:
    # The demo shop is Japanese unless ?lang=en: the shop's language, not the browser's.
    return request.args.get("lang") if request.args.get("lang") in LANGUAGES else "ja"


# The demo shop's sample members (issue 18): signing in as one shows a verified customer in the
# console, with their history. A real shop signs its own signed-in customer (docs/identity.md).
DEMO_CUSTOMERS = {
    "c-1001": {"ja": "鈴木 陽子", "en": "Yoko Suzuki", "email": "yoko.suzuki@example.com"},
    "c-1002": {"ja": "佐藤 健", "en": "Ken Sato", "email": "ken.sato@example.com"},
}
DEMO_CUSTOMER_COOKIE = "demo_customer"


def _demo_customer(lang: str) -> Optional[dict]:
    """The sample member signed in on the demo shop, signed as a shop's server would sign it; None
    when nobody is signed in or the service has no IDENTITY_SECRET."""
    from .contacts import sign

    customer_id = request.cookies.get(DEMO_CUSTOMER_COOKIE)
    secret = current_app.config["IDENTITY_SECRET"]
    member = DEMO_CUSTOMERS.get(customer_id or "")
    if member is None or not secret:
        return None
    return {"id": customer_id, "name": member[lang], "email": member["email"], "hash": sign(secret, customer_id)}


def _render_shop(lang: str, product):
    return render_template("demo/shop.html", lang=lang, product=product, customer=_demo_customer(lang),
                           members=DEMO_CUSTOMERS)


@bp.get("/demo")
def demo():
    return _render_shop(_shop_language(), None)


@bp.get("/demo/sign-in")
def demo_sign_in():
    """Signs in as a sample member (?customer=c-1001), or signs out (no customer)."""
    customer_id = request.args.get("customer")
    response = redirect(url_for("pages.demo", lang=_shop_language()))
    if customer_id in DEMO_CUSTOMERS:
        response.set_cookie(DEMO_CUSTOMER_COOKIE, customer_id, httponly=True, samesite="Lax", path="/demo")
    else:
        response.delete_cookie(DEMO_CUSTOMER_COOKIE, path="/demo")
    return response


@bp.get("/demo/products/<slug>")
def demo_product(slug: str):
    lang = _shop_language()
    product = next((p for p in _catalogue(lang) if p["slug"] == slug), None)
    if product is None:
        abort(404)
    return _render_shop(lang, product)


@bp.get("/console")
def console():
    return _console_page("console/app.html", "console")


def _console_page(template: str, page: str, role: Optional[str] = None):
    """A console page; after a password reset, the password change instead. With a role, a page for
    that role and up: signed out, the page itself shows the sign-in form; signed in without the
    role, the server answers 403."""
    agent = signed_in_agent()
    if agent is not None and agent.must_change_password:
        return redirect(url_for("pages.change_password"))
    if role is None:
        return _render_console(template, page)
    if agent is not None and not has_role(agent, role):
        return _render_console(template, page, 403, forbidden=True)
    return _render_console(template, page, forbidden=False)


@bp.get("/console/dashboard")
def dashboard():
    return _console_page("console/dashboard.html", "dashboard", "admin")


@bp.get("/console/unanswered")
def unanswered():
    return _console_page("console/unanswered.html", "unanswered", "editor")


@bp.get("/console/staff")
def staff():
    return _console_page("console/staff.html", "staff", "admin")


@bp.get("/console/audit")
def audit():
    return _console_page("console/audit.html", "audit", "admin")


@bp.get("/console/contacts")
def contacts():
    """Known customers: find one, export or erase their data (admin; docs/identity.md)."""
    return _console_page("console/contacts.html", "contacts", "admin")


@bp.get("/console/password")
def change_password():
    """Choosing a new password: required after a reset before anything else works."""
    return _render_console("console/password.html", "password")
