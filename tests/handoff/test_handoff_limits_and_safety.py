"""Bad input and abuse: limits, masking, HTML as text, CORS, JSON errors; on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest

from handoff_support import Customer, add_agent, log_in

CARD = "4111 1111 1111 1111"


def test_a_message_of_2000_characters_passes_and_2001_is_refused(client):
    customer = Customer(client)
    customer.post("/handoff", {})  # keep the bot out: this is about the limit, not the answer
    assert customer.send("あ" * 2000).status_code == 201
    refused = customer.send("あ" * 2001)
    assert refused.status_code == 422
    assert refused.get_json() == {"error": {"code": "message_too_long",
                                            "message": "'text' is longer than 2000 characters."}}
    assert len(customer.history()) == 2  # the system message and the one that fitted


def test_a_body_over_64_kb_is_refused_with_413(client):
    customer = Customer(client)
    padding = "x" * 70_000
    response = client.post(customer.path + "/messages", data='{"text": "hi", "pad": "' + padding + '"}',
                           content_type="application/json", headers=customer.headers)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "body_too_large"


@pytest.mark.parametrize("body, status, code", [
    ("{not json", 400, "invalid_json"),
    ("[1, 2]", 400, "invalid_json"),
    ("", 400, "body_required"),
    ('{"text": 5}', 422, "invalid_field"),
    ('{"text": "   "}', 422, "missing_field"),
    ('{"client_message_id": "x"}', 422, "missing_field"),
])
def test_malformed_bodies_get_clear_errors(client, body, status, code):
    customer = Customer(client)
    response = client.post(customer.path + "/messages", data=body, content_type="application/json",
                           headers=customer.headers)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code


def test_per_conversation_rate_limit_answers_429_with_retry_after(make_app):
    app = make_app(RATE_LIMIT_PER_CONVERSATION="3/minute")
    customer = Customer(app.test_client())
    statuses = [customer.send(f"How much is shipping {i}?").status_code for i in range(4)]
    assert statuses == [201, 201, 201, 429]
    limited = customer.send("again")
    assert limited.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    other = Customer(app.test_client())  # another conversation has its own allowance
    assert other.send("How much is shipping?").status_code == 201


def test_per_ip_rate_limits(make_app):
    app = make_app(RATE_LIMIT_CONVERSATIONS_PER_IP="2/minute")
    client = app.test_client()
    assert [client.post("/api/v1/conversations", json={}).status_code for _ in range(3)] == [201, 201, 429]
    # another address is counted apart
    assert client.post("/api/v1/conversations", json={}, environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code == 201

    app = make_app(RATE_LIMIT_PER_IP="4/minute")
    client = app.test_client()
    customer = Customer(client)  # 1
    codes = [customer.post("/typing", {"typing": True}).status_code for _ in range(4)]  # 2..5
    assert codes == [204, 204, 204, 429]
    assert "Retry-After" in customer.post("/typing", {"typing": False}).headers


def test_login_attempts_are_rate_limited(make_app):
    app = make_app(RATE_LIMIT_LOGIN="3/minute")
    client = app.test_client()
    codes = [log_in(client, "a@b.example", "wrong pass").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]


def test_login_needs_the_sign_in_token_and_a_json_body(app, client):
    add_agent(app, "aiko@shop.example")
    credentials = {"email": "aiko@shop.example", "password": "correct horse"}
    no_token = client.post("/api/agent/login", json=credentials)
    assert no_token.status_code == 403 and no_token.get_json()["error"]["code"] == "csrf_failed"
    token = client.get("/api/agent/login").get_json()["csrf_token"]
    # A cross-site <form enctype="text/plain"> can post a JSON-looking body, but not as application/json.
    as_form = client.post("/api/agent/login", data='{"email": "aiko@shop.example", "password": "correct horse"}',
                          content_type="text/plain", headers={"X-CSRF-Token": token})
    assert as_form.status_code == 415 and as_form.get_json()["error"]["code"] == "unsupported_media_type"
    wrong = client.post("/api/agent/login", json=credentials, headers={"X-CSRF-Token": token + "x"})
    assert wrong.status_code == 403
    assert client.post("/api/agent/login", json=credentials, headers={"X-CSRF-Token": token}).status_code == 200
    console = app.test_client()  # the sign-in page's token works the same way
    page = console.get("/console").get_data(as_text=True)
    page_token = page.split('id="login-csrf" value="')[1].split('"')[0]
    assert console.post("/api/agent/login", json=credentials, headers={"X-CSRF-Token": page_token}).status_code == 200


def test_card_numbers_are_masked_before_storing_forwarding_and_showing(client, rasa, agent_factory):
    customer = Customer(client)
    body = customer.send(f"My card {CARD} was charged twice").get_json()
    assert body["message"]["text"] == "My card **** **** **** 1111 was charged twice"
    assert rasa.texts_for(customer.id) == ["My card **** **** **** 1111 was charged twice"]
    customer.send("/request_human")
    customer.send("also 5555-5555-5555-4444 please")
    agent = agent_factory()
    agent.post(f"/api/agent/conversations/{customer.id}/claim")
    agent.post(f"/api/agent/conversations/{customer.id}/notes", {"text": "card 4012888888881881"})
    agent.post(f"/api/agent/conversations/{customer.id}/messages", {"text": "Is it 378282246310005?"})
    detail = agent.conversation(customer.id)
    everything = str(detail) + str(customer.history()) + str(rasa.received)
    for number in ("4111 1111 1111 1111", "5555-5555-5555-4444", "4012888888881881", "378282246310005"):
        assert number not in everything
    assert "****-****-****-4444" in everything and "************1881" in everything


def test_html_is_kept_as_text_in_a_json_answer(client):
    customer = Customer(client)
    customer.post("/handoff", {})
    payload = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    response = customer.send(payload)
    assert response.mimetype == "application/json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert customer.history()[-1]["text"] == payload


def test_cors_allows_listed_shop_origins_only(client):
    allowed = client.post("/api/v1/conversations", json={}, headers={"Origin": "https://shop.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "Origin" in allowed.headers["Vary"]
    refused = client.post("/api/v1/conversations", json={}, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in refused.headers
    preflight = client.options("/api/v1/conversations/abc/messages", headers={
        "Origin": "https://shop.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type"})
    assert preflight.status_code == 200
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    agent_side = client.post("/api/agent/login", json={}, headers={"Origin": "https://shop.example"})
    assert "Access-Control-Allow-Origin" not in agent_side.headers  # the console is same-origin only


def test_unknown_routes_and_methods_answer_json(client):
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    wrong = client.delete("/api/v1/conversations")
    assert wrong.status_code == 405 and wrong.get_json()["error"]["code"] == "method_not_allowed"
    customer = Customer(client)
    assert client.get(f"/api/v1/conversations/{customer.id}x", headers=customer.headers).status_code == 403


def test_an_unexpected_error_is_json_and_logged(app, client, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(app.extensions["tsunagi"].gateway, "customer_message", broken)
    customer = Customer(client)
    response = customer.send("hello")
    assert response.status_code == 500
    assert response.get_json() == {"error": {"code": "internal_error", "message": "Something went wrong on our side."}}
