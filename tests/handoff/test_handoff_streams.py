"""Live streams through the WSGI app: the customer's (with Last-Event-ID resume) and the agent's."""
from __future__ import annotations

from sse_reader import BackgroundReader
from handoff_support import Customer


def open_stream(client, path, **headers):
    response = client.get(path, headers=headers, buffered=False)
    assert response.status_code == 200, response.get_data()
    assert response.mimetype == "text/event-stream"
    reader = BackgroundReader(response.response)
    assert reader.ready.wait(5)
    return response, reader


def test_customer_stream_delivers_live_and_resumes_after_last_event_id(app, agent_factory):
    client = app.test_client()
    customer = Customer(client)
    customer.send("/request_human")
    response, reader = open_stream(client, f"{customer.path}/stream", **customer.headers)
    replayed = [reader.next() for _ in range(3)]  # the question, the bot's "connecting you", the status
    assert [e["event"] for e in replayed] == ["message", "message", "status"]
    assert [e["id"] for e in replayed] == [1, 2, 3]
    assert replayed[-1]["data"]["status"] == "waiting"
    # No agent online yet: the place in line, and no estimate (handoff/agent_queue.py).
    assert reader.next(kind="queue")["data"] == {"position": 1, "eta_seconds": None}

    agent = agent_factory()
    agent.post(f"/api/agent/conversations/{customer.id}/claim")
    agent.post(f"/api/agent/conversations/{customer.id}/typing", {"typing": True})
    agent.post(f"/api/agent/conversations/{customer.id}/messages", {"text": "Hi, Aiko here"})
    joined = reader.until(lambda e: e["event"] == "status")
    assert joined["data"]["status"] == "assigned" and joined["data"]["agent"] == {"name": "Aiko"}
    typing = reader.next(kind="typing")
    assert typing["id"] is None and typing["data"]["typing"] is True
    message = reader.until(lambda e: e["event"] == "message" and e["data"]["sender"] == "agent")
    assert message["data"]["text"] == "Hi, Aiko here"
    reader.close()

    # Reconnect having seen only up to event 3: everything after it comes again, nothing before.
    resumed, reader = open_stream(client, f"{customer.path}/stream", **customer.headers, **{"Last-Event-ID": "3"})
    again = [reader.next() for _ in range(3)]
    assert [e["id"] for e in again] == [4, 5, 6]
    assert [e["event"] for e in again] == ["message", "status", "message"]
    assert again[-1]["data"]["text"] == "Hi, Aiko here"
    reader.close()


def test_waiting_customers_see_their_queue_position_move(app, agent_factory):
    client = app.test_client()
    first, second = Customer(client), Customer(client)
    first.send("/request_human")
    second.send("/request_human")
    response, reader = open_stream(client, f"{second.path}/stream", **second.headers)
    assert reader.next(kind="queue")["data"]["position"] == 2
    agent = agent_factory()
    agent.post(f"/api/agent/conversations/{first.id}/claim")
    assert reader.next(kind="queue")["data"]["position"] == 1
    reader.close()


def test_agent_stream_carries_queue_changes_and_own_conversations_only(app, agent_factory):
    client = app.test_client()
    aiko = agent_factory()
    ben = agent_factory("ben@shop.example")
    response, reader = open_stream(aiko.client, "/api/agent/stream")
    assert reader.next()["event"] == "ready"
    mine, theirs = Customer(client), Customer(client)
    mine.send("/request_human")
    queued = reader.next(kind="queue")
    assert queued["data"]["conversation_id"] == mine.id and queued["data"]["waiting"] == 1
    theirs.send("/request_human")
    aiko.post(f"/api/agent/conversations/{mine.id}/claim")
    ben.post(f"/api/agent/conversations/{theirs.id}/claim")
    theirs.send("message for Ben")
    mine.post("/typing", {"typing": True})
    mine.send("message for Aiko")
    seen = []
    while True:
        event = reader.next()
        if event["event"] in ("message", "typing"):
            seen.append((event["event"], event["data"]["conversation_id"], event["data"].get("text")))
        if event["event"] == "message" and event["data"].get("text") == "message for Aiko":
            break
    assert ("message", theirs.id, "message for Ben") not in seen
    assert ("typing", mine.id, None) in seen
    reader.close()


def test_agents_status_events_name_the_owner_by_id_and_customers_by_name_only(app, agent_factory):
    """A console tells whether a conversation is still its own by this id, in whatever order the
    live event and the transfer's answer arrive."""
    client = app.test_client()
    aiko = agent_factory()
    ben = agent_factory("ben@shop.example")
    customer = Customer(client)
    customer.send("/request_human")
    aiko.post(f"/api/agent/conversations/{customer.id}/claim")
    response, reader = open_stream(aiko.client, "/api/agent/stream")
    assert reader.next()["event"] == "ready"
    answer = aiko.post(f"/api/agent/conversations/{customer.id}/transfer", {"agent_id": ben.agent["id"]})
    assert answer.status_code == 200, answer.get_json()
    event = reader.until(lambda e: e["event"] == "status")
    assert event["data"]["agent_id"] == ben.agent["id"] and event["data"]["status"] == "assigned"
    reader.close()

    _, customer_reader = open_stream(client, f"{customer.path}/stream", **customer.headers)
    transferred = customer_reader.until(lambda e: e["event"] == "status" and e["data"]["agent"] == {"name": "Ben"})
    assert "agent_id" not in transferred["data"]
    customer_reader.close()
