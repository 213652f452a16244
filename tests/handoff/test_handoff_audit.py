"""The audit log: an entry for each staff action (who, what, target, when, from where), written in
the action's own transaction; admins browse it with filters and pages and export it as CSV; nothing
in the product changes or deletes an entry, and the database refuses to."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from handoff.audit import AuditLogIsAppendOnly
from handoff.models import AuditEntry
from handoff_support import AgentSession, Customer, add_agent, log_in

BROWSER = "Mozilla/5.0 (audit test)"


def entries(admin: AgentSession, **filters) -> list[dict]:
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    answer = admin.get("/api/admin/audit" + (f"?{query}" if query else ""))
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["entries"]


def queued(client) -> Customer:
    customer = Customer(client)
    assert customer.post("/handoff", {"reason": "request_human"}).status_code == 200
    return customer


def test_every_staff_action_is_recorded_with_who_what_target_and_origin(app, agent_factory):
    add_agent(app, "mika@shop.example", role="admin")
    add_agent(app, "aiko@shop.example")
    add_agent(app, "ben@shop.example")
    # Sign-ins from a known address and browser, and two failures (unknown e-mail, wrong password).
    origin = {"environ_base": {"REMOTE_ADDR": "203.0.113.7"}}
    client = app.test_client()
    token = client.get("/api/agent/login").get_json()["csrf_token"]
    assert client.post("/api/agent/login", json={"email": "nobody@shop.example", "password": "guess guess"},
                       headers={"X-CSRF-Token": token, "User-Agent": BROWSER}, **origin).status_code == 401
    assert client.post("/api/agent/login", json={"email": "aiko@shop.example", "password": "guess guess"},
                       headers={"X-CSRF-Token": token, "User-Agent": BROWSER}, **origin).status_code == 401
    answer = client.post("/api/agent/login", json={"email": "mika@shop.example", "password": "correct horse"},
                         headers={"X-CSRF-Token": token, "User-Agent": BROWSER}, **origin)
    assert answer.status_code == 200
    admin = AgentSession.__new__(AgentSession)
    admin.client, admin.csrf, admin.agent = client, answer.get_json()["csrf_token"], answer.get_json()["agent"]
    aiko, ben = AgentSession(app, "aiko@shop.example"), AgentSession(app, "ben@shop.example")
    ids = {who.agent["email"]: who.agent["id"] for who in (admin, aiko, ben)}

    customers = app.test_client()
    one, two, three = queued(customers), queued(customers), queued(customers)
    assert aiko.post(f"/api/agent/conversations/{one.id}/claim").status_code == 200
    assert aiko.post(f"/api/agent/conversations/{one.id}/transfer", {"agent_id": ids["ben@shop.example"]}).status_code == 200
    assert ben.post(f"/api/agent/conversations/{one.id}/resolve").status_code == 200
    assert aiko.post(f"/api/agent/conversations/{two.id}/claim").status_code == 200
    assert aiko.post(f"/api/agent/conversations/{two.id}/handback").status_code == 200
    assert ben.post(f"/api/agent/conversations/{three.id}/claim").status_code == 200
    assert admin.post(f"/api/agent/conversations/{three.id}/resolve").status_code == 200  # an admin's override
    assert admin.post(f"/api/admin/agents/{ids['aiko@shop.example']}/role", {"role": "editor"}).status_code == 200
    temporary = admin.post(f"/api/admin/agents/{ids['aiko@shop.example']}/reset-password").get_json()["temporary_password"]
    again = AgentSession.__new__(AgentSession)
    again.client = app.test_client()
    signed_in = log_in(again.client, "aiko@shop.example", temporary)
    again.csrf = signed_in.get_json()["csrf_token"]
    changed = again.post("/api/agent/password", {"current_password": temporary, "new_password": "aiko's own"})
    assert changed.status_code == 200
    again.csrf = changed.get_json()["csrf_token"]  # the session's token is renewed with the new password
    assert admin.post(f"/api/admin/agents/{ids['ben@shop.example']}/deactivate").status_code == 200
    assert admin.post(f"/api/admin/agents/{ids['ben@shop.example']}/reactivate").status_code == 200
    created = admin.post("/api/admin/agents", {"email": "ren@shop.example", "name": "Ren", "password": "ren's secret"})
    assert created.status_code == 201
    # An editor's content change (dismissing questions from the unanswered list).
    customer = Customer(customers)
    customer.send("asdfghjkl qwerty")
    with app.extensions["tsunagi"].db.reading() as session:
        question = session.scalar(text("SELECT id FROM messages WHERE sender = 'customer' ORDER BY id DESC LIMIT 1"))
    assert again.post("/api/editor/unanswered/dismiss", {"message_ids": [question]}).status_code == 200
    assert aiko.get("/api/agent/me").status_code == 401  # (its session ended with the reset)
    assert again.post("/api/agent/logout").status_code == 204
    result = app.test_cli_runner().invoke(args=["agents", "set-role", "ren@shop.example", "admin"])
    assert result.exit_code == 0, result.output

    log = list(reversed(entries(admin)))  # oldest first
    seen = [(e["action"], e["actor"], e["target_type"], e["target_id"]) for e in log]
    aiko_id, ben_id, mika_id = (str(ids[e]) for e in ("aiko@shop.example", "ben@shop.example", "mika@shop.example"))
    ren_id = str(created.get_json()["agent"]["id"])
    expected = [
        ("login.failed", "nobody@shop.example", None, None),
        ("login.failed", "aiko@shop.example", "agent", aiko_id),
        ("login.succeeded", "mika@shop.example", "agent", mika_id),
        ("login.succeeded", "aiko@shop.example", "agent", aiko_id),
        ("login.succeeded", "ben@shop.example", "agent", ben_id),
        ("conversation.claimed", "aiko@shop.example", "conversation", one.id),
        ("conversation.transferred", "aiko@shop.example", "conversation", one.id),
        ("conversation.resolved", "ben@shop.example", "conversation", one.id),
        ("conversation.claimed", "aiko@shop.example", "conversation", two.id),
        ("conversation.handed_back", "aiko@shop.example", "conversation", two.id),
        ("conversation.claimed", "ben@shop.example", "conversation", three.id),
        ("conversation.resolved", "mika@shop.example", "conversation", three.id),
        ("agent.role_changed", "mika@shop.example", "agent", aiko_id),
        ("agent.password_reset", "mika@shop.example", "agent", aiko_id),
        ("login.succeeded", "aiko@shop.example", "agent", aiko_id),
        ("agent.password_changed", "aiko@shop.example", "agent", aiko_id),
        ("agent.deactivated", "mika@shop.example", "agent", ben_id),
        ("agent.reactivated", "mika@shop.example", "agent", ben_id),
        ("agent.created", "mika@shop.example", "agent", ren_id),
        ("content.questions_dismissed", "aiko@shop.example", "topic", None),
        ("logout", "aiko@shop.example", "agent", aiko_id),
    ]
    assert seen[:len(expected)] == expected
    cli_entry = log[len(expected)]
    assert cli_entry["action"] == "agent.role_changed" and cli_entry["actor"].startswith("cli:")
    assert cli_entry["actor_id"] is None and cli_entry["ip"] is None and cli_entry["detail"] == {
        "previous": "agent", "role": "admin"}
    assert len(log) == len(expected) + 1

    by_action = {}
    for entry in log:
        by_action.setdefault(entry["action"], []).append(entry)
    failed_unknown, failed_wrong = by_action["login.failed"]
    assert failed_unknown["actor_id"] is None and failed_unknown["detail"] == {"reason": "unknown_account"}
    assert failed_wrong["detail"] == {"reason": "wrong_password"}
    for entry in (failed_unknown, failed_wrong, by_action["login.succeeded"][0]):
        assert entry["ip"] == "203.0.113.7" and entry["user_agent"] == BROWSER
    assert by_action["login.succeeded"][0]["actor_id"] == ids["mika@shop.example"]
    assert by_action["conversation.transferred"][0]["detail"] == {
        "from_agent_id": ids["aiko@shop.example"], "to_agent_id": ids["ben@shop.example"]}
    assert by_action["conversation.resolved"][1]["detail"] == {"owner_agent_id": ids["ben@shop.example"]}
    assert by_action["agent.role_changed"][0]["detail"] == {"previous": "agent", "role": "editor"}
    assert by_action["agent.password_reset"][0]["detail"] == {"temporary": True}
    assert by_action["agent.deactivated"][0]["detail"] == {"requeued_conversations": 0}
    assert by_action["content.questions_dismissed"][0]["detail"] == {"questions_handled": 1}
    assert temporary not in str(log) and "aiko's own" not in str(log) and "ren's secret" not in str(log)
    datetime.fromisoformat(log[0]["at"].replace("Z", "+00:00"))  # an ISO time, in UTC
    assert log[0]["at"].endswith("Z")


def test_deactivation_records_its_requeued_conversations_and_the_client_address_behind_a_trusted_proxy(make_app):
    app = make_app(TRUSTED_PROXIES=1)
    add_agent(app, "mika@shop.example", role="admin")
    add_agent(app, "aiko@shop.example")
    admin, aiko = AgentSession(app, "mika@shop.example"), AgentSession(app, "aiko@shop.example")
    customer = queued(app.test_client())
    aiko.post(f"/api/agent/conversations/{customer.id}/claim")
    answer = admin.client.post(f"/api/admin/agents/{aiko.agent['id']}/deactivate",
                               headers={"X-CSRF-Token": admin.csrf, "X-Forwarded-For": "198.51.100.23"})
    assert answer.status_code == 200
    deactivated = entries(admin, action="agent.deactivated")
    assert len(deactivated) == 1
    assert deactivated[0]["ip"] == "198.51.100.23" and deactivated[0]["detail"] == {"requeued_conversations": 1}
    requeued = entries(admin, action="conversation.requeued")
    assert [(e["target_id"], e["actor"]) for e in requeued] == [(customer.id, "mika@shop.example")]


def test_an_action_that_rolls_back_leaves_no_entry(make_app):
    app = make_app(AGENT_MAX_CONCURRENT=1)
    add_agent(app, "mika@shop.example", role="admin")
    add_agent(app, "aiko@shop.example")
    admin, aiko = AgentSession(app, "mika@shop.example"), AgentSession(app, "aiko@shop.example")
    client = app.test_client()
    first, second = queued(client), queued(client)
    assert aiko.post(f"/api/agent/conversations/{first.id}/claim").status_code == 200
    refused = aiko.post(f"/api/agent/conversations/{second.id}/claim")  # over capacity: rolled back
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "agent_at_capacity"
    assert [e["target_id"] for e in entries(admin, action="conversation.claimed")] == [first.id]
    last_admin = admin.post(f"/api/admin/agents/{admin.agent['id']}/deactivate")
    assert last_admin.status_code == 409
    assert entries(admin, action="agent.deactivated") == []


def _seed(app, rows):
    with app.extensions["tsunagi"].db.writing() as session:
        for row in rows:
            session.add(AuditEntry(**row))


def test_admins_filter_page_and_export_the_log(make_app):
    app = make_app(AUDIT_PAGE_SIZE=2, SUPPORT_TIMEZONE="Asia/Tokyo")
    mika = add_agent(app, "mika@shop.example", role="admin")
    aiko = add_agent(app, "aiko@shop.example")
    admin = AgentSession(app, "mika@shop.example")
    tokyo_midnight = datetime(2026, 3, 10, 15, 0, tzinfo=timezone.utc)  # 2026-03-11 00:00 in Tokyo
    _seed(app, [
        {"at": tokyo_midnight - timedelta(seconds=1), "actor_id": aiko, "actor_label": "aiko@shop.example",
         "action": "conversation.claimed", "target_type": "conversation", "target_id": "c1"},
        {"at": tokyo_midnight, "actor_id": aiko, "actor_label": "aiko@shop.example",
         "action": "conversation.resolved", "target_type": "conversation", "target_id": "c1"},
        {"at": tokyo_midnight + timedelta(hours=3), "actor_id": mika, "actor_label": "mika@shop.example",
         "action": "agent.role_changed", "target_type": "agent", "target_id": str(aiko),
         "detail": {"previous": "agent", "role": "editor"}, "ip": "192.0.2.1", "user_agent": "=HYPERLINK(\"x\")"},
        {"at": tokyo_midnight + timedelta(days=1), "actor_id": aiko, "actor_label": "aiko@shop.example",
         "action": "conversation.claimed", "target_type": "conversation", "target_id": "c2"},
    ])
    day = {"from": "2026-03-11", "to": "2026-03-11"}
    assert [e["target_id"] for e in entries(admin, **day)] == [str(aiko), "c1"]  # that Tokyo day, newest first
    assert [e["target_id"] for e in entries(admin, **{"from": "2026-03-12", "to": "2026-03-12"})] == ["c2"]
    assert [e["target_id"] for e in entries(admin, to="2026-03-10")] == ["c1"]
    assert {e["action"] for e in entries(admin, actor_id=aiko, **{"from": "2026-03-01", "to": "2026-03-31"})} == {
        "conversation.claimed", "conversation.resolved"}
    claimed = entries(admin, action="conversation.claimed", actor_id=aiko)
    assert [e["target_id"] for e in claimed] == ["c2", "c1"]

    # Pages of AUDIT_PAGE_SIZE, with the total (the admin's own sign-in is an entry too).
    first = admin.get("/api/admin/audit?actor_id=%d" % aiko).get_json()
    assert (first["page"], first["per_page"], first["total"]) == (1, 2, 3)
    assert [e["target_id"] for e in first["entries"]] == ["c2", "c1"]
    second = admin.get("/api/admin/audit?actor_id=%d&page=2" % aiko).get_json()
    assert [e["action"] for e in second["entries"]] == ["conversation.claimed"] and second["total"] == 3
    assert admin.get("/api/admin/audit?actor_id=%d&page=3" % aiko).get_json()["entries"] == []
    assert "agent.deactivated" in first["actions"]

    # CSV: every matching entry (not one page), oldest first, as text a spreadsheet will not run.
    export = admin.get("/api/admin/audit.csv?from=2026-03-11&to=2026-03-11")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    assert export.headers["Content-Disposition"].startswith("attachment; filename=\"tsunagi-audit-")
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    assert [(r["action"], r["target_id"]) for r in rows] == [("conversation.resolved", "c1"),
                                                             ("agent.role_changed", str(aiko))]
    assert rows[0]["at"] == "2026-03-10T15:00:00Z" and rows[0]["actor"] == "aiko@shop.example"
    assert rows[1]["ip"] == "192.0.2.1" and rows[1]["user_agent"] == "'=HYPERLINK(\"x\")"
    assert rows[1]["detail"] == '{"previous": "agent", "role": "editor"}'
    everything = admin.get("/api/admin/audit.csv").get_data(as_text=True)
    assert len(list(csv.DictReader(io.StringIO(everything)))) == 5  # the four, and the admin's sign-in


@pytest.mark.parametrize("query, code", [
    ("action=agent.exploded", "invalid_parameter"), ("from=2026-03-12&to=2026-03-11", "invalid_parameter"),
    ("page=0", "invalid_parameter"), ("actor_id=abc", "invalid_parameter"), ("from=yesterday", "invalid_parameter"),
])
def test_bad_filters_are_clear_422s(app, agent_factory, query, code):
    admin = agent_factory("mika@shop.example", role="admin")
    for path in ("/api/admin/audit", "/api/admin/audit.csv"):
        answer = admin.get(f"{path}?{query}")
        assert answer.status_code == 422 and answer.get_json()["error"]["code"] == code, (path, query)


def test_only_admins_read_the_log(app, agent_factory):
    editor = agent_factory("kimura@shop.example", role="editor")
    for path in ("/api/admin/audit", "/api/admin/audit.csv"):
        assert editor.get(path).status_code == 403
        assert app.test_client().get(path).status_code == 401
    assert editor.get("/console/audit").status_code == 403


def test_nothing_in_the_product_changes_or_deletes_an_entry(app, agent_factory):
    admin = agent_factory("mika@shop.example", role="admin")
    entry_id = entries(admin)[0]["id"]
    # No route: every way of writing to the log is refused.
    for method in ("put", "patch", "delete", "post"):
        for path in ("/api/admin/audit", f"/api/admin/audit/{entry_id}", "/api/admin/audit.csv"):
            answer = getattr(admin.client, method)(path, json={"action": "nothing"}, headers={"X-CSRF-Token": admin.csrf})
            assert answer.status_code in (404, 405), (method, path)
            assert answer.get_json()["error"]["code"] in ("not_found", "method_not_allowed")
    writable = [rule for rule in app.url_map.iter_rules()
                if "audit" in rule.rule and rule.methods - {"GET", "HEAD", "OPTIONS"}]
    assert writable == []

    # The ORM refuses to flush a change or a deletion.
    db = app.extensions["tsunagi"].db
    with pytest.raises(AuditLogIsAppendOnly):
        with db.writing() as session:
            session.get(AuditEntry, entry_id).action = "forged"
    with pytest.raises(AuditLogIsAppendOnly):
        with db.writing() as session:
            session.delete(session.get(AuditEntry, entry_id))
    # And the database itself refuses UPDATE and DELETE, whoever connects.
    for statement in ("UPDATE audit_entries SET action = 'forged'", "DELETE FROM audit_entries"):
        with pytest.raises(Exception, match="append-only"):
            with db.engine.begin() as connection:
                connection.execute(text(statement))
    assert [(e["id"], e["action"]) for e in entries(admin)] == [(entry_id, "login.succeeded")]


def test_publishes_and_rollbacks_made_outside_the_service_are_recorded_from_the_command_line(app, agent_factory, tmp_path):
    admin = agent_factory("mika@shop.example", role="admin")
    live = tmp_path / "live.json"
    live.write_text('{"live": {"model": "releases/abc123.tar.gz", "since": "2026-11-30T05:00:00Z", "action": "publish"}, '
                    '"stack": [], "history": []}', encoding="utf-8")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["audit", "record", "content.published", "--live-record", str(live)])
    assert result.exit_code == 0 and "releases/abc123.tar.gz" in result.output, result.output
    assert runner.invoke(args=["audit", "record", "content.rolled_back"]).exit_code == 0
    refused = runner.invoke(args=["audit", "record", "agent.deactivated"])  # only what happens outside
    assert refused.exit_code != 0
    unreadable = runner.invoke(args=["audit", "record", "content.published", "--live-record", str(tmp_path / "none.json")])
    assert unreadable.exit_code != 0 and "cannot read" in unreadable.output
    published, rolled_back = entries(admin, action="content.published"), entries(admin, action="content.rolled_back")
    assert [(e["target_type"], e["target_id"], e["detail"]) for e in published] == [
        ("model", "releases/abc123.tar.gz", {"since": "2026-11-30T05:00:00Z", "action": "publish"})]
    assert published[0]["actor"].startswith("cli:") and published[0]["actor_id"] is None
    assert len(rolled_back) == 1 and rolled_back[0]["target_id"] is None


def test_an_editors_content_change_is_recorded_with_its_files(make_app, tmp_path):
    from handoff.content_files import ContentFiles
    from tests.support.project_copy import copy_content

    project = copy_content(tmp_path / "project", examples_per_intent=3)
    app = make_app(TSUNAGI_PROJECT_DIR=str(project))
    add_agent(app, "kimura@shop.example", role="editor")
    add_agent(app, "mika@shop.example", role="admin")
    editor, admin = AgentSession(app, "kimura@shop.example"), AgentSession(app, "mika@shop.example")
    topic = ContentFiles(project).topics()[0]
    answer = editor.post("/api/editor/unanswered/add-examples",
                         {"topic": topic.id, "examples": ["a way of asking nobody has used before"], "message_ids": []})
    assert answer.status_code == 200, answer.get_json()
    files = answer.get_json()["change"]["files"]
    [entry] = entries(admin, action="content.examples_added")
    assert (entry["actor"], entry["target_type"], entry["target_id"]) == ("kimura@shop.example", "topic", topic.id)
    assert entry["detail"] == {"files": files, "examples_added": 1, "questions_handled": 0}


def test_a_deactivation_from_the_command_line_records_the_requeued_conversations_as_the_command_lines(make_app):
    app = make_app()
    add_agent(app, "mika@shop.example", role="admin")
    add_agent(app, "aiko@shop.example")
    admin, aiko = AgentSession(app, "mika@shop.example"), AgentSession(app, "aiko@shop.example")
    customer = queued(app.test_client())
    assert aiko.post(f"/api/agent/conversations/{customer.id}/claim").status_code == 200
    result = app.test_cli_runner().invoke(args=["agents", "deactivate", "aiko@shop.example"])
    assert result.exit_code == 0, result.output
    [deactivated] = entries(admin, action="agent.deactivated")
    assert deactivated["actor"].startswith("cli:") and deactivated["actor_id"] is None
    requeued = entries(admin, action="conversation.requeued")
    assert [(e["target_id"], e["actor"], e["actor_id"]) for e in requeued] == [(customer.id, deactivated["actor"], None)]


def test_every_action_the_listener_can_write_is_one_the_log_lists_and_filters_by():
    from handoff import events
    from handoff.audit import ACTIONS, CONTENT_ACTIONS, EVENT_ACTIONS, OUTSIDE_ACTIONS
    from handoff.listeners.audit_listener import AuditListener
    from handoff.unanswered import HANDLED_ACTIONS

    for name in AuditListener.handles - {events.CONTENT_CHANGED}:
        assert EVENT_ACTIONS[name][0] in ACTIONS, name
    for kind in HANDLED_ACTIONS:  # every kind of content change an editor makes
        assert CONTENT_ACTIONS[kind] in ACTIONS, kind
    assert set(OUTSIDE_ACTIONS) <= set(ACTIONS) and len(set(ACTIONS)) == len(ACTIONS)
