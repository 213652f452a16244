"""Staff accounts: deactivation ends sessions and live streams at once and sends the agent's
conversations back to the queue; reactivation; password resets force a change; role changes take
effect at the next request; the last admin is kept; login throttling per account and per address;
the session cookie's Secure flag over HTTPS, directly or through a trusted proxy."""
from __future__ import annotations

import json
import re

import pytest
from sse_reader import BackgroundReader
from handoff_support import AgentSession, Customer, log_in

from tests.support.waiting import wait_until


def open_agent_stream(agent: AgentSession):
    response = agent.client.get("/api/agent/stream", buffered=False)
    assert response.status_code == 200, response.get_data()
    reader = BackgroundReader(response.response)
    assert reader.ready.wait(5)
    assert reader.next()["event"] == "ready"
    return reader


def waiting_customer(client) -> Customer:
    customer = Customer(client)
    assert customer.post("/handoff", {"reason": "request_human"}).status_code == 200
    return customer


def staff_member(admin: AgentSession, email: str) -> dict:
    agents = admin.get("/api/admin/agents").get_json()["agents"]
    return next(a for a in agents if a["email"] == email)


def test_deactivation_closes_the_open_stream_ends_the_session_and_requeues_conversations(app, agent_factory):
    admin = agent_factory("mika@shop.example", role="admin")
    aiko = agent_factory()
    client = app.test_client()
    first, second = waiting_customer(client), waiting_customer(client)
    assert aiko.post(f"/api/agent/conversations/{first.id}/claim").status_code == 200
    assert aiko.post(f"/api/agent/conversations/{second.id}/claim").status_code == 200
    stream = open_agent_stream(aiko)
    customer_stream = client.get(f"{first.path}/stream", headers=first.headers, buffered=False)
    customer_events = BackgroundReader(customer_stream.response)
    assert customer_events.ready.wait(5)

    answer = admin.post(f"/api/admin/agents/{aiko.agent['id']}/deactivate")
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["agent"]["active"] is False and body["requeued_conversations"] == 2

    # The open stream says so and ends (announced on the agents' channel, not at the stream's time limit).
    assert stream.next(kind="signed_out")["data"] == {}
    wait_until(lambda: not stream._thread.is_alive(), "the deactivated agent's stream has ended", timeout=5)
    # The session is over: the next request is refused, even with the old cookie.
    me = aiko.get("/api/agent/me")
    assert me.status_code == 401 and me.get_json()["error"]["code"] == "login_required"
    assert aiko.post(f"/api/agent/conversations/{first.id}/messages", {"text": "still here?"}).status_code == 401
    # Signing in again is refused too, with the same answer as a wrong password.
    again = log_in(app.test_client(), "aiko@shop.example", "correct horse")
    assert again.status_code == 401 and again.get_json()["error"]["code"] == "invalid_credentials"

    # Their conversations went back to the queue, at their old places, and the customer saw it.
    queue = admin.get("/api/agent/queue").get_json()["queue"]
    assert [item["id"] for item in queue] == [first.id, second.id]
    assert first.status()["status"] == "waiting" and first.status()["agent"] is None
    status = customer_events.until(lambda e: e["event"] == "status" and e["data"]["status"] == "waiting")
    assert status["data"]["agent"] is None
    customer_events.close()
    # Another agent takes one over.
    ben = agent_factory("ben@shop.example")
    assert ben.post(f"/api/agent/conversations/{first.id}/claim").status_code == 200
    # Nobody can hand work to a deactivated agent.
    moved = ben.post(f"/api/agent/conversations/{first.id}/transfer", {"agent_id": aiko.agent["id"]})
    assert moved.status_code == 422 and moved.get_json()["error"]["code"] == "unknown_agent"
    assert aiko.agent["id"] not in [a["id"] for a in ben.get("/api/agent/agents").get_json()["agents"]]


def test_offline_tickets_of_a_deactivated_agent_go_back_to_the_offline_tickets(app, agent_factory):
    admin = agent_factory("mika@shop.example", role="admin")
    aiko = agent_factory()
    customer = Customer(app.test_client())
    assert customer.post("/offline-message", {"email": "kei@example.com", "text": "Where is my parcel?"}).status_code == 201
    assert aiko.post(f"/api/agent/conversations/{customer.id}/claim").status_code == 200
    assert admin.post(f"/api/admin/agents/{aiko.agent['id']}/deactivate").get_json()["requeued_conversations"] == 1
    assert customer.status()["status"] == "offline"
    item = next(i for i in admin.get("/api/agent/queue").get_json()["queue"] if i["id"] == customer.id)
    assert item["offline"] is True and item["email"] == "kei@example.com"


def test_a_deactivation_from_the_command_line_closes_streams_of_other_processes_at_the_next_heartbeat(
        make_app, agent_factory, app):
    aiko = agent_factory()
    agent_factory("mika@shop.example", role="admin")
    stream = open_agent_stream(aiko)
    # Another process (its own app and in-process broker, as `flask agents` on the same host without
    # Redis): nothing is announced to this one's streams, so the heartbeat check must notice.
    other = make_app()
    result = other.test_cli_runner().invoke(args=["agents", "deactivate", "aiko@shop.example"])
    assert result.exit_code == 0, result.output
    assert "deactivated" in result.output
    assert stream.next(kind="signed_out", timeout=5)["data"] == {}
    wait_until(lambda: not stream._thread.is_alive(), "the stream has ended at its heartbeat", timeout=5)
    assert aiko.get("/api/agent/me").status_code == 401


def test_reactivation_lets_the_agent_sign_in_again_but_not_revive_old_sessions(app, agent_factory):
    admin = agent_factory("mika@shop.example", role="admin")
    aiko = agent_factory()
    aiko_id = aiko.agent["id"]
    assert admin.post(f"/api/admin/agents/{aiko_id}/deactivate").status_code == 200
    twice = admin.post(f"/api/admin/agents/{aiko_id}/deactivate")
    assert twice.status_code == 409 and twice.get_json()["error"]["code"] == "already_inactive"
    answer = admin.post(f"/api/admin/agents/{aiko_id}/reactivate")
    assert answer.status_code == 200 and answer.get_json()["agent"]["active"] is True
    assert admin.post(f"/api/admin/agents/{aiko_id}/reactivate").get_json()["error"]["code"] == "already_active"
    assert aiko.get("/api/agent/me").status_code == 401  # the session from before stays ended
    fresh = AgentSession(app, "aiko@shop.example")
    assert fresh.get("/api/agent/me").status_code == 200
    # The command line does the same, by e-mail or id.
    runner = app.test_cli_runner()
    assert runner.invoke(args=["agents", "deactivate", str(aiko_id)]).exit_code == 0
    assert fresh.get("/api/agent/me").status_code == 401
    result = runner.invoke(args=["agents", "reactivate", "AIKO@shop.example"])
    assert result.exit_code == 0 and "reactivated" in result.output
    listed = runner.invoke(args=["agents", "list", "--all"]).output
    assert "aiko@shop.example" in listed and "deactivated" not in listed
    assert AgentSession(app, "aiko@shop.example").get("/api/agent/me").status_code == 200


def test_a_password_reset_forces_a_change_before_anything_else(app, agent_factory):
    admin = agent_factory("mika@shop.example", role="admin")
    aiko = agent_factory()
    customer = waiting_customer(app.test_client())
    answer = admin.post(f"/api/admin/agents/{aiko.agent['id']}/reset-password", {})
    assert answer.status_code == 200, answer.get_json()
    temporary = answer.get_json()["temporary_password"]
    assert len(temporary) >= 12 and answer.get_json()["agent"]["must_change_password"] is True
    assert aiko.get("/api/agent/me").status_code == 401  # sessions end with a reset
    assert log_in(app.test_client(), "aiko@shop.example", "correct horse").status_code == 401

    elsewhere = app.test_client()  # someone else who learnt the temporary password
    assert log_in(elsewhere, "aiko@shop.example", temporary).status_code == 200
    client = app.test_client()
    signed_in = log_in(client, "aiko@shop.example", temporary)
    assert signed_in.status_code == 200 and signed_in.get_json()["password_change_required"] is True
    csrf = {"X-CSRF-Token": signed_in.get_json()["csrf_token"]}
    for method, path in [("get", "/api/agent/me"), ("get", "/api/agent/queue"), ("get", "/api/agent/stream"),
                         ("post", f"/api/agent/conversations/{customer.id}/claim")]:
        refused = getattr(client, method)(path, headers=csrf)
        assert refused.status_code == 403, path
        assert refused.get_json()["error"]["code"] == "password_change_required", path
    # The console's pages send the agent to the change form.
    assert client.get("/console").status_code == 302
    assert client.get("/console").headers["Location"].endswith("/console/password")
    page = client.get("/console/password")
    assert page.status_code == 200 and b'id="password-form"' in page.data

    wrong = client.post("/api/agent/password", json={"current_password": "guess", "new_password": "a new secret"},
                        headers=csrf)
    assert wrong.status_code == 403 and wrong.get_json()["error"]["code"] == "wrong_password"
    weak = client.post("/api/agent/password", json={"current_password": temporary, "new_password": "short"},
                       headers=csrf)
    assert weak.status_code == 422 and weak.get_json()["error"]["code"] == "weak_password"
    same = client.post("/api/agent/password", json={"current_password": temporary, "new_password": temporary},
                       headers=csrf)
    assert same.status_code == 422 and same.get_json()["error"]["code"] == "same_password"
    missing = client.post("/api/agent/password", json={"current_password": temporary}, headers=csrf)
    assert missing.status_code == 422 and missing.get_json()["error"]["code"] == "missing_field"
    changed = client.post("/api/agent/password",
                          json={"current_password": temporary, "new_password": "my own secret"}, headers=csrf)
    assert changed.status_code == 200 and changed.get_json()["password_change_required"] is False
    csrf = {"X-CSRF-Token": changed.get_json()["csrf_token"]}
    # This session carries on; everything works again. Every other session has ended.
    assert client.get("/api/agent/me").status_code == 200
    assert elsewhere.get("/api/agent/me").status_code == 401
    assert client.post(f"/api/agent/conversations/{customer.id}/claim", headers=csrf).status_code == 200
    assert log_in(app.test_client(), "aiko@shop.example", temporary).status_code == 401
    assert log_in(app.test_client(), "aiko@shop.example", "my own secret").get_json()["password_change_required"] is False


def test_an_admin_sets_a_password_and_the_command_line_makes_a_temporary_one(app, agent_factory):
    admin = agent_factory("mika@shop.example", role="admin")
    aiko = agent_factory()
    short = admin.post(f"/api/admin/agents/{aiko.agent['id']}/reset-password", {"password": "abc"})
    assert short.status_code == 422 and short.get_json()["error"]["code"] == "weak_password"
    answer = admin.post(f"/api/admin/agents/{aiko.agent['id']}/reset-password", {"password": "chosen by admin"})
    assert answer.status_code == 200 and answer.get_json()["temporary_password"] is None
    signed_in = log_in(app.test_client(), "aiko@shop.example", "chosen by admin")
    assert signed_in.get_json()["password_change_required"] is True

    result = app.test_cli_runner().invoke(args=["agents", "reset-password", "aiko@shop.example"])
    assert result.exit_code == 0, result.output
    temporary = result.output.strip().splitlines()[-1].removeprefix("temporary password: ")
    assert log_in(app.test_client(), "aiko@shop.example", "chosen by admin").status_code == 401
    assert log_in(app.test_client(), "aiko@shop.example", temporary).get_json()["password_change_required"] is True
    result = app.test_cli_runner().invoke(args=["agents", "reset-password", "aiko@shop.example", "--password", "x"])
    assert result.exit_code != 0 and "8 characters" in result.output
    missing = app.test_cli_runner().invoke(args=["agents", "reset-password", "nobody@shop.example"])
    assert missing.exit_code != 0 and "No agent" in missing.output


def test_a_role_change_takes_effect_at_the_next_request(app, agent_factory):
    admin = agent_factory("mika@shop.example", role="admin")
    aiko = agent_factory()
    assert aiko.get("/api/admin/kpis").status_code == 403
    assert aiko.get("/api/admin/agents").status_code == 403
    assert admin.post(f"/api/admin/agents/{aiko.agent['id']}/role", {"role": "admin"}).status_code == 200
    assert aiko.get("/api/admin/kpis").status_code == 200  # same session, no new sign-in
    assert aiko.get("/api/agent/me").get_json()["agent"]["role"] == "admin"
    assert admin.post(f"/api/admin/agents/{aiko.agent['id']}/role", {"role": "editor"}).status_code == 200
    assert aiko.get("/api/admin/kpis").status_code == 403
    assert aiko.get("/api/admin/unanswered").status_code == 200
    result = app.test_cli_runner().invoke(args=["agents", "set-role", "aiko@shop.example", "agent"])
    assert result.exit_code == 0 and "is now agent" in result.output
    assert aiko.get("/api/admin/unanswered").status_code == 403
    bad = admin.post(f"/api/admin/agents/{aiko.agent['id']}/role", {"role": "owner"})
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "invalid_field"
    unknown = admin.post("/api/admin/agents/999999/role", {"role": "agent"})
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "agent_not_found"


def test_the_last_active_admin_can_be_neither_deactivated_nor_demoted(app, agent_factory):
    admin = agent_factory("mika@shop.example", role="admin")
    mika = admin.agent["id"]
    for path, body in [(f"/api/admin/agents/{mika}/deactivate", None), (f"/api/admin/agents/{mika}/role", {"role": "editor"})]:
        refused = admin.post(path, body)
        assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "last_admin", path
    runner = app.test_cli_runner()
    for args in (["agents", "deactivate", "mika@shop.example"], ["agents", "set-role", "mika@shop.example", "agent"]):
        result = runner.invoke(args=args)
        assert result.exit_code != 0 and "last active admin" in result.output
    assert admin.get("/api/agent/me").get_json()["agent"]["role"] == "admin"

    # A deactivated admin does not count: with two admins, one deactivated, the other is still the last.
    other = agent_factory("sora@shop.example", role="admin")
    assert admin.post(f"/api/admin/agents/{other.agent['id']}/deactivate").status_code == 200
    assert admin.post(f"/api/admin/agents/{mika}/role", {"role": "agent"}).status_code == 409
    assert admin.post(f"/api/admin/agents/{other.agent['id']}/reactivate").status_code == 200
    # With another active admin, an admin may step down, and loses the admin API at once.
    assert admin.post(f"/api/admin/agents/{mika}/role", {"role": "agent"}).status_code == 200
    assert admin.get("/api/admin/agents").status_code == 403
    sora = AgentSession(app, "sora@shop.example")
    assert sora.post(f"/api/admin/agents/{sora.agent['id']}/deactivate").get_json()["error"]["code"] == "last_admin"


def test_admins_add_accounts_and_only_admins_manage_staff(app, agent_factory):
    admin = agent_factory("mika@shop.example", role="admin")
    aiko = agent_factory()
    created = admin.post("/api/admin/agents", {"email": "Ren@Shop.example", "name": "Ren", "role": "editor"})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["agent"]["email"] == "ren@shop.example" and body["agent"]["must_change_password"] is True
    assert log_in(app.test_client(), "ren@shop.example", body["temporary_password"]).get_json()["password_change_required"]
    duplicate = admin.post("/api/admin/agents", {"email": "ren@shop.example", "name": "Ren 2"})
    assert duplicate.status_code == 409 and duplicate.get_json()["error"]["code"] == "agent_exists"
    bad_email = admin.post("/api/admin/agents", {"email": "not an address", "name": "X"})
    assert bad_email.status_code == 422 and bad_email.get_json()["error"]["code"] == "invalid_email"
    emails = [a["email"] for a in admin.get("/api/admin/agents").get_json()["agents"]]
    assert set(emails) == {"mika@shop.example", "aiko@shop.example", "ren@shop.example"}
    for path in ("/api/admin/agents", f"/api/admin/agents/{admin.agent['id']}/deactivate",
                 f"/api/admin/agents/{admin.agent['id']}/reset-password", f"/api/admin/agents/{admin.agent['id']}/role"):
        refused = aiko.post(path, {"role": "agent", "email": "x@y.example", "name": "X"})
        assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "role_required", path
    no_csrf = admin.client.post(f"/api/admin/agents/{aiko.agent['id']}/deactivate")
    assert no_csrf.status_code == 403 and no_csrf.get_json()["error"]["code"] == "csrf_failed"
    signed_out = app.test_client().get("/api/admin/agents")
    assert signed_out.status_code == 401
    assert app.test_client().get("/console/staff").status_code == 200  # the page shows the sign-in form
    assert aiko.get("/console/staff").status_code == 403
    assert admin.get("/console/staff").status_code == 200 and admin.get("/console/audit").status_code == 200


# Login throttling

def _attempt(app, email: str, password: str, ip: str):
    client = app.test_client()
    token = client.get("/api/agent/login", environ_base={"REMOTE_ADDR": ip}).get_json()["csrf_token"]
    return client.post("/api/agent/login", json={"email": email, "password": password},
                       headers={"X-CSRF-Token": token}, environ_base={"REMOTE_ADDR": ip})


def test_login_is_throttled_per_account_from_any_address_without_telling_whether_it_exists(make_app):
    app = make_app(RATE_LIMIT_LOGIN_PER_ACCOUNT="3/minute")
    from handoff_support import add_agent

    add_agent(app, "aiko@shop.example")
    answers = {}
    for email in ("aiko@shop.example", "nobody@shop.example"):
        tries = [_attempt(app, email, "wrong password", f"198.51.100.{n}") for n in range(1, 4)]
        assert [t.status_code for t in tries] == [401, 401, 401]
        throttled = _attempt(app, email, "wrong password", "198.51.100.99")
        assert throttled.status_code == 429
        assert 1 <= int(throttled.headers["Retry-After"]) <= 60
        # The seconds to wait depend on when each window began; all else must be the same.
        body = re.sub(r"\d+", "N", json.dumps(throttled.get_json()))
        answers[email] = (body, sorted(throttled.headers.keys()))
    # An account that exists and one that does not are throttled alike, word for word.
    assert answers["aiko@shop.example"] == answers["nobody@shop.example"]
    assert json.loads(answers["aiko@shop.example"][0])["error"]["code"] == "rate_limited"
    # While throttled, even the right password is refused: the limit comes before the check.
    assert _attempt(app, "AIKO@shop.example ", "correct horse", "198.51.100.100").status_code == 429
    # Other accounts are not affected.
    add_agent(app, "ben@shop.example")
    assert _attempt(app, "ben@shop.example", "correct horse", "198.51.100.1").status_code == 200


def test_login_is_throttled_per_address_across_accounts(make_app):
    app = make_app(RATE_LIMIT_LOGIN="3/minute")
    tries = [_attempt(app, f"person{n}@shop.example", "wrong password", "192.0.2.7") for n in range(3)]
    assert [t.status_code for t in tries] == [401, 401, 401]
    throttled = _attempt(app, "someone.else@shop.example", "wrong password", "192.0.2.7")
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1
    assert _attempt(app, "someone.else@shop.example", "wrong password", "192.0.2.8").status_code == 401


# The session cookie's Secure flag

def _session_cookie(app, base_url: str = "http://localhost", **headers) -> str:
    import secrets

    from handoff_support import add_agent

    email = f"agent-{secrets.token_hex(4)}@shop.example"
    add_agent(app, email)
    client = app.test_client()
    token = client.get("/api/agent/login", base_url=base_url, headers=headers).get_json()["csrf_token"]
    answer = client.post("/api/agent/login", json={"email": email, "password": "correct horse"},
                         headers={"X-CSRF-Token": token, **headers}, base_url=base_url)
    assert answer.status_code == 200, answer.get_json()
    cookie = next(v for v in answer.headers.getlist("Set-Cookie") if v.startswith("tsunagi_session="))
    return cookie.lower()


def test_session_cookie_is_secure_over_https(make_app):
    assert "; secure" in _session_cookie(make_app(), "https://localhost")


def test_session_cookie_is_not_secure_over_plain_http_unless_forced(make_app):
    cookie = _session_cookie(make_app())
    assert "; secure" not in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "; secure" in _session_cookie(make_app(SESSION_COOKIE_SECURE=True))


def test_session_cookie_is_secure_behind_a_trusted_proxy_that_says_https(make_app):
    cookie = _session_cookie(make_app(TRUSTED_PROXIES=1), **{"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"})
    assert "; secure" in cookie


def test_an_untrusted_x_forwarded_proto_changes_nothing(make_app):
    cookie = _session_cookie(make_app(TRUSTED_PROXIES=0), **{"X-Forwarded-Proto": "https"})
    assert "; secure" not in cookie


def test_two_admins_demoting_each_other_at_once_leave_one_admin(app, agent_factory):
    """Each round, both requests start together (a barrier); without the lock both would see the
    other still an admin and both succeed, leaving none."""
    import threading

    first = agent_factory("mika@shop.example", role="admin")
    second = agent_factory("sora@shop.example", role="admin")
    rounds = 8
    for _ in range(rounds):
        barrier = threading.Barrier(2)
        answers = {}

        def demote(me: AgentSession, other: AgentSession):
            barrier.wait()
            answers[me.agent["email"]] = me.post(f"/api/admin/agents/{other.agent['id']}/role", {"role": "agent"})

        threads = [threading.Thread(target=demote, args=pair) for pair in ((first, second), (second, first))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        outcomes = sorted((answer.status_code, (answer.get_json().get("error") or {}).get("code"))
                          for answer in answers.values())
        # One wins; the other is refused as the last admin (it counted after the winner committed),
        # or as no longer an admin (its request began after that).
        assert outcomes[0] == (200, None), outcomes
        assert outcomes[1] in ((403, "role_required"), (409, "last_admin")), outcomes
        admins = [a for a in AgentSession(app, "mika@shop.example" if answers["mika@shop.example"].status_code == 200
                                          else "sora@shop.example").get("/api/admin/agents").get_json()["agents"]
                  if a["role"] == "admin" and a["active"]]
        assert len(admins) == 1
        # The remaining admin promotes the other again for the next round.
        remaining = first if admins[0]["id"] == first.agent["id"] else second
        demoted = second if remaining is first else first
        assert remaining.post(f"/api/admin/agents/{demoted.agent['id']}/role", {"role": "admin"}).status_code == 200


def test_a_claim_authorised_just_before_the_deactivation_committed_is_refused(app, agent_factory):
    """The request passed its session check, then the deactivation committed before its claim ran:
    the claim must not hand the customer to an account that no longer exists for them."""
    from handoff.agents import agent_of_session
    from handoff.errors import Conflict
    from handoff.lifecycle import claim

    agent_factory("mika@shop.example", role="admin")
    aiko = agent_factory()
    db = app.extensions["tsunagi"].db
    seen_by_request = agent_of_session(db, aiko.agent["id"], 0)  # what agent_required loaded
    assert seen_by_request is not None
    customer = waiting_customer(app.test_client())
    result = app.test_cli_runner().invoke(args=["agents", "deactivate", "aiko@shop.example"])
    assert result.exit_code == 0, result.output
    with pytest.raises(Conflict) as refused:
        with db.writing() as session:
            claim(session, customer.id, seen_by_request, 5)
    assert refused.value.code == "agent_inactive"
    assert customer.status()["status"] == "waiting"  # rolled back: still in the queue


@pytest.mark.parametrize("shared", ["in_process", "redis"])
def test_a_deactivation_closes_streams_at_once_not_at_the_heartbeat(make_app, request, shared):
    """Heartbeats 30 s apart: a stream that ends within seconds was told, not polled. Through Redis,
    a deactivation made on another process reaches this one's streams too."""
    import secrets

    settings = {"STREAM_HEARTBEAT_SECONDS": 30.0}
    if shared == "redis":
        settings.update(REDIS_URL=request.getfixturevalue("redis_url"),
                        REDIS_CHANNEL_PREFIX=f"test-{secrets.token_hex(4)}:")
    streaming = make_app(**settings)
    acting = make_app(**settings) if shared == "redis" else streaming
    from handoff_support import add_agent

    add_agent(streaming, "mika@shop.example", role="admin")
    aiko_id = add_agent(streaming, "aiko@shop.example")
    aiko = AgentSession(streaming, "aiko@shop.example")
    stream = open_agent_stream(aiko)
    admin = AgentSession(acting, "mika@shop.example")
    assert admin.post(f"/api/admin/agents/{aiko_id}/deactivate").status_code == 200
    assert stream.next(kind="signed_out", timeout=5)["data"] == {}
    wait_until(lambda: not stream._thread.is_alive(), "the stream has ended", timeout=5)
