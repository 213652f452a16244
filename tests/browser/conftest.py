"""Fixtures of the browser tests: Chromium, the Rasa webhook, and a fresh handoff service per test."""
from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from service_harness import HandoffService, launch_browser, seed_database
from tests.support.rasa_stand_in import RasaStandIn

E2E_RASA_URL = os.environ.get("TSUNAGI_E2E_RASA_URL", "").strip()


class Rasa:
    def __init__(self, url: str, stand_in=None):
        self.url = url
        self.stand_in = stand_in   # None when the tests talk to the real bot

    @property
    def real(self) -> bool:
        return self.stand_in is None


@pytest.fixture(scope="session")
def rasa():
    if E2E_RASA_URL:
        yield Rasa(E2E_RASA_URL.rstrip("/"))
        return
    stand_in = RasaStandIn(delay=0.4).start()  # a real model takes a moment: the typing dots show
    yield Rasa(stand_in.url, stand_in)
    stand_in.stop()


@pytest.fixture(scope="session")
def seeded_database(tmp_path_factory, rasa) -> Path:
    return seed_database(tmp_path_factory.mktemp("seed") / "handoff.sqlite3", rasa.url)


@pytest.fixture
def start_service(seeded_database, rasa, tmp_path):
    """Starts a handoff service on a fresh copy of the seeded database; env overrides settings."""
    started = []

    def start(**env: str) -> HandoffService:
        service = HandoffService(seeded_database, tmp_path / f"service{len(started)}", rasa.url, **env).start()
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()


@pytest.fixture
def service(start_service) -> HandoffService:
    return start_service()


@pytest.fixture
def shop():
    """Another origin (a shop's site) serving the pages a test puts in shop.pages: path -> the
    page's HTML, or (HTML, headers of its choosing)."""
    pages: dict[str, str | tuple[str, dict]] = {}

    class Shop(BaseHTTPRequestHandler):
        def do_GET(self):
            page = pages.get(self.path, "")
            html, headers = page if isinstance(page, tuple) else (page, {})
            body = html.encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Shop)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.pages = pages
    server.origin = f"http://localhost:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def playwright_instance():
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance):
    browser = launch_browser(playwright_instance)
    yield browser
    browser.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture
def new_page(browser, request, tmp_path):
    """Opens a page in a context of its own (its own storage and cookies: one person each).

    Every page records dialogs (an alert() from injected markup would show up here), uncaught
    script errors and Content-Security-Policy violations; a test fails at teardown if a page had
    any.
    """
    contexts, pages = [], []

    def open_page(locale: str = "ja-JP", width: int = 1280, height: int = 860, **options):
        context = browser.new_context(locale=locale, viewport={"width": width, "height": height}, **options)
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.dialogs = []
        page.errors = []
        page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        # What the pages' Content-Security-Policy refused: Chromium logs each refusal as an error.
        page.on("console", lambda message: page.errors.append(message.text)
                if "Content Security Policy" in message.text else None)
        contexts.append(context)
        pages.append(page)
        return page

    yield open_page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        # What each person had on screen when the test failed, for whoever reads the failure.
        for i, page in enumerate(pages):
            try:
                page.screenshot(path=tmp_path / f"failure-page{i}.png")
            except Exception:
                pass
        print(f"screenshots of the failure: {tmp_path}/failure-page*.png")
    errors = [e for p in pages for e in p.errors]
    for context in contexts:
        context.close()
    assert not errors, f"script errors in the page: {errors}"
