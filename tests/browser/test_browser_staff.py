"""The staff and audit pages in Chromium: an admin changes a role, resets a password, deactivates
and reactivates an account, and reads, filters and exports the audit log; the agent whose password
was reset is sent to the change form at sign-in."""
from __future__ import annotations

import csv
import io

from playwright.sync_api import expect

from page_objects import Console
from service_harness import AGENTS, AgentClient, CustomerClient


def staff_row(page, who: str):
    return page.locator(f'#staff-body tr[data-email="{AGENTS[who][0]}"]')


def test_an_admin_manages_staff_and_reads_the_audit_log(service, new_page):
    console = Console(new_page(locale="en-US"), service.url).login("admin", lang="en")
    page = console.page
    expect(page.locator('.topnav a[href="/console/staff"]')).to_be_visible()
    page.locator('.topnav a[href="/console/staff"]').click()
    expect(page.locator("#app-view")).to_be_visible()
    expect(page.locator("#staff-body tr")).to_have_count(len(AGENTS))
    expect(staff_row(page, "admin")).to_contain_text("(you)")

    # A role change.
    staff_row(page, "yamada").locator("select").select_option("editor")
    expect(page.locator("#staff-result-text")).to_have_text(f"{AGENTS['yamada'][1]} is now Editor")
    expect(staff_row(page, "yamada").locator("select")).to_have_value("editor")

    # A password reset with a temporary password, shown once.
    staff_row(page, "smith").locator("[data-action=reset]").click()
    expect(page.locator("#reset-dialog")).to_be_visible()
    page.locator("#reset-submit").click()
    expect(page.locator("#reset-dialog")).to_be_hidden()
    expect(page.locator("#staff-temporary")).to_be_visible()
    temporary = page.locator("#staff-temporary-value").text_content()
    assert temporary and len(temporary) >= 12
    expect(staff_row(page, "smith").locator(".badge.must-change")).to_be_visible()

    # Deactivating Kimura ends Kimura's sessions: the console open in another browser (its live
    # stream is up: a handoff made now shows in its queue) goes back to the sign-in form, and an
    # API client's next request is refused.
    kimura_console = Console(new_page(locale="en-US"), service.url).login("kimura", lang="en")
    expect(kimura_console.page.locator("#queue-empty")).to_be_visible()
    CustomerClient(service.url, "en").ask_for_person()
    expect(kimura_console.page.locator("#queue .queue-item")).to_have_count(1)
    kimura = AgentClient(service.url, "kimura")
    assert kimura.http.get(f"{service.url}/api/agent/me", timeout=10).status_code == 200
    staff_row(page, "kimura").locator("[data-action=deactivate]").click()
    expect(page.locator("#confirm-dialog")).to_be_visible()
    expect(page.locator("#confirm-text")).to_contain_text(AGENTS["kimura"][1])
    page.locator("#confirm-ok").click()
    expect(staff_row(page, "kimura").locator('.badge.state[data-state="inactive"]')).to_be_visible()
    assert kimura.http.get(f"{service.url}/api/agent/me", timeout=10).status_code == 401
    expect(kimura_console.page.locator("#login-view")).to_be_visible()
    expect(kimura_console.page.locator("#app-view")).to_be_hidden()
    staff_row(page, "kimura").locator("[data-action=reactivate]").click()
    expect(staff_row(page, "kimura").locator('.badge.state[data-state="active"]')).to_be_visible()
    # The last admin is protected: the page shows the server's refusal.
    staff_row(page, "admin").locator("[data-action=deactivate]").click()
    page.locator("#confirm-ok").click()
    expect(page.locator("#toasts .toast.error")).to_contain_text("last active admin")

    # Smith signs in with the temporary password and is sent to choose a new one first.
    smith = new_page(locale="en-US")
    smith.goto(f"{service.url}/console?lang=en")
    smith.locator("#login-email").fill(AGENTS["smith"][0])
    smith.locator("#login-password").fill(temporary)
    smith.locator("#login-form button[type=submit]").click()
    smith.wait_for_url("**/console/password")
    smith.locator("#password-current").fill(temporary)
    smith.locator("#password-new").fill("smith-chose-this")
    smith.locator("#password-confirm").fill("smith-chose-this-too")
    smith.locator("#password-form button[type=submit]").click()
    expect(smith.locator("#password-error")).to_have_text("The two new passwords differ.")
    smith.locator("#password-confirm").fill("smith-chose-this")
    smith.locator("#password-form button[type=submit]").click()
    smith.wait_for_url("**/console")
    expect(smith.locator("#app-view")).to_be_visible()
    expect(smith.locator("#me-name")).to_have_text(AGENTS["smith"][1])

    # The audit log holds all of it; filters narrow it; the export has the same selection.
    page.locator('.topnav a[href="/console/audit"]').click()
    expect(page.locator("#app-view")).to_be_visible()
    for action in ("agent.role_changed", "agent.password_reset", "agent.deactivated", "agent.reactivated",
                   "agent.password_changed", "login.succeeded"):
        expect(page.locator(f'#audit-body tr[data-action="{action}"]').first).to_be_visible()
    page.locator("#filter-action").select_option("agent.deactivated")
    page.locator("#filter-actor").select_option(label=f"{AGENTS['admin'][1]} <{AGENTS['admin'][0]}>")
    page.locator("#audit-filters button[type=submit]").click()
    expect(page.locator("#audit-body tr")).to_have_count(1)
    expect(page.locator("#audit-body tr")).to_contain_text("agent.deactivated")
    expect(page.locator("#audit-body tr")).to_contain_text(f"{AGENTS['kimura'][1]} <{AGENTS['kimura'][0]}>")
    expect(page.locator("#audit-page")).to_have_text("Page 1 of 1 (1 entries)")
    href = page.locator("#audit-export").get_attribute("href")
    assert "action=agent.deactivated" in href
    exported = page.request.get(service.url + href)
    assert exported.ok and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text())))
    assert [(r["action"], r["actor"]) for r in rows] == [("agent.deactivated", AGENTS["admin"][0])]
    assert rows[0]["ip"] == "127.0.0.1" and "Chrome" in rows[0]["user_agent"]


def test_the_staff_and_audit_pages_are_for_admins_only(service, new_page):
    console = Console(new_page(locale="en-US"), service.url).login("yamada", lang="en")
    page = console.page
    expect(page.locator('.topnav a[href="/console/staff"]')).to_be_hidden()
    for path in ("/console/staff", "/console/audit"):
        response = page.goto(f"{service.url}{path}?lang=en")
        assert response.status == 403
        expect(page.locator("#forbidden")).to_be_visible()
        expect(page.locator("#me-name")).to_have_text(AGENTS["yamada"][1])
