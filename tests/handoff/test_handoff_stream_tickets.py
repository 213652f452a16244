"""The customer's stream opens with a short-lived, single-use ticket, never with the long-lived token
in its URL; reconnecting with Last-Event-ID takes a fresh ticket; nothing secret reaches gunicorn's
access log. On SQLite and PostgreSQL."""
from __future__ import annotations

import threading

import requests

from handoff_support import Customer
from sse_reader import BackgroundReader
from test_handoff_processes import Server
from test_handoff_streams import open_stream
from tests.support.waiting import wait_until


def ticket_for(customer: Customer) -> str:
    response = customer.post("/stream-ticket")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["expires_in"] == 60 and len(body["ticket"]) >= 40
    return body["ticket"]


def test_a_ticket_opens_its_conversation_stream_once(client):
    customer = Customer(client)
    customer.send("How much is shipping?")
    ticket = ticket_for(customer)
    response, reader = open_stream(client, f"{customer.path}/stream?ticket={ticket}")
    assert reader.next()["data"]["sender"] == "customer"
    reader.close()

    again = client.get(f"{customer.path}/stream?ticket={ticket}")
    assert again.status_code == 401 and again.get_json()["error"]["code"] == "ticket_invalid"
    forged = client.get(f"{customer.path}/stream?ticket=not-a-ticket")
    assert forged.status_code == 401 and forged.get_json()["error"]["code"] == "ticket_invalid"


def test_a_ticket_opens_no_other_conversation_and_needs_the_token_in_the_header(client):
    mine, theirs = Customer(client), Customer(client)
    wrong = client.get(f"{theirs.path}/stream?ticket={ticket_for(mine)}")
    assert wrong.status_code == 403 and wrong.get_json()["error"]["code"] == "ticket_mismatch"

    assert client.post(f"{mine.path}/stream-ticket").get_json()["error"]["code"] == "token_required"
    other = client.post(f"{theirs.path}/stream-ticket", headers=mine.headers)
    assert other.status_code == 403 and other.get_json()["error"]["code"] == "token_mismatch"
    missing = client.post("/api/v1/conversations/" + "0" * 32 + "/stream-ticket", headers=mine.headers)
    assert missing.status_code == 403  # the token is checked before anything is looked up


def test_an_expired_ticket_is_refused(make_app):
    app = make_app(STREAM_TICKET_SECONDS=0)  # expires as it is issued
    client = app.test_client()
    customer = Customer(client)
    expired = client.get(f"{customer.path}/stream?ticket={customer.post('/stream-ticket').get_json()['ticket']}")
    assert expired.status_code == 401 and expired.get_json()["error"]["code"] == "ticket_expired"


def test_the_long_lived_token_in_a_url_is_refused_everywhere(client):
    customer = Customer(client)
    for method, suffix in (("get", "/stream"), ("get", ""), ("get", "/messages"), ("post", "/messages")):
        response = getattr(client, method)(f"{customer.path}{suffix}?token={customer.token}",
                                           json={"text": "hi"} if method == "post" else None)
        assert response.status_code == 400, (suffix, response.get_json())
        assert response.get_json()["error"]["code"] == "token_in_url"
        assert "Authorization" in response.get_json()["error"]["message"]
    assert customer.history() == []  # the refused POST stored nothing


def test_a_ticket_is_spent_once_when_two_requests_race(app):
    client = app.test_client()
    customer = Customer(client)
    ticket = ticket_for(customer)
    statuses, start = [], threading.Barrier(4)

    def spend():
        start.wait()
        response = app.test_client().get(f"{customer.path}/stream?ticket={ticket}", buffered=False)
        statuses.append(response.status_code)
        response.close()

    threads = [threading.Thread(target=spend) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(statuses) == [200, 401, 401, 401]


def test_reconnecting_with_a_fresh_ticket_resumes_after_last_event_id(app, agent_factory):
    client = app.test_client()
    customer = Customer(client)
    customer.send("/request_human")
    _, reader = open_stream(client, f"{customer.path}/stream?ticket={ticket_for(customer)}")
    seen = [reader.next() for _ in range(3)]  # question, "connecting you", status waiting
    reader.close()
    agent = agent_factory()
    agent.post(f"/api/agent/conversations/{customer.id}/claim")
    agent.post(f"/api/agent/conversations/{customer.id}/messages", {"text": "Hello, Aiko here"})

    # As the widget does: a new ticket for each connection, the last event id in the URL.
    _, resumed = open_stream(client, f"{customer.path}/stream?ticket={ticket_for(customer)}&last_event_id={seen[-1]['id']}")
    replay = [resumed.next() for _ in range(3)]
    assert [e["id"] for e in replay] == [seen[-1]["id"] + 1, seen[-1]["id"] + 2, seen[-1]["id"] + 3]
    assert replay[-1]["data"]["text"] == "Hello, Aiko here"
    resumed.close()


def test_no_secret_reaches_gunicorns_access_log(sqlite_url, rasa, tmp_path):
    """A real gunicorn with its access log on: the stream's ticket and the token never show in it."""
    access_log = tmp_path / "access.log"
    server = Server({"DATABASE_URL": sqlite_url, "SECRET_KEY": "access-log-secret", "SUPPORT_HOURS": "always",
                     "RASA_URL": rasa.url, "REDIS_URL": "", "WEB_CONCURRENCY": "1", "LOG_LEVEL": "WARNING",
                     "HANDOFF_ACCESS_LOG": str(access_log), "STREAM_HEARTBEAT_SECONDS": "0.2",
                     "STREAM_MAX_SECONDS": "1"}, tmp_path / "server.log")
    try:
        server.wait_ready()
        started = requests.post(server.url + "/api/v1/conversations", json={"language": "en"}, timeout=10).json()
        conversation = f"{server.url}/api/v1/conversations/{started['id']}"
        headers = {"Authorization": f"Bearer {started['token']}"}
        ticket = requests.post(conversation + "/stream-ticket", headers=headers, timeout=10).json()["ticket"]
        stream = requests.get(conversation + f"/stream?ticket={ticket}&last_event_id=0", stream=True, timeout=(2, 10))
        assert stream.status_code == 200
        reader = BackgroundReader(stream.iter_content(chunk_size=None))
        assert reader.ready.wait(5)
        refused = requests.get(conversation + f"/messages?token={started['token']}", timeout=10)
        assert refused.status_code == 400

        # The stream ends after STREAM_MAX_SECONDS; gunicorn logs a request when it is done.
        log = wait_until(lambda: access_log.exists() and "/stream " in access_log.read_text() and
                         "/messages " in access_log.read_text() and access_log.read_text(),
                         "gunicorn logged the stream and the refused request", timeout=15)
        assert f"GET /api/v1/conversations/{started['id']}/stream HTTP/1.1\" 200" in log
        assert ticket not in log and started["token"] not in log
        assert "ticket=" not in log and "token=" not in log
    finally:
        server.stop()
