"""The customer API and the agent API together, on SQLite and PostgreSQL."""
from __future__ import annotations

from sqlalchemy import func, select

from handoff.models import MetricEvent

from handoff_support import AgentSession, Customer, add_agent, log_in


def metric_count(app, name, label=None):
    with app.extensions["tsunagi"].db.reading() as session:
        query = select(func.count()).select_from(MetricEvent).where(MetricEvent.name == name)
        if label is not None:
            query = query.where(MetricEvent.label == label)
        return session.scalar(query)


def test_start_gives_id_token_status_and_language(client):
    response = client.post("/api/v1/conversations", json={"language": "ja", "page_url": "https://shop.example/cart"})
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"id", "token", "status", "language", "surveys", "email_replies"}  # surveys: SURVEYS, for the widget
    assert body["status"] == "bot" and body["language"] == "ja"
    assert body["email_replies"] is False  # no SMTP_URL: the offline form promises no e-mail


def test_language_follows_the_browser_when_the_widget_does_not_say(client):
    response = client.post("/api/v1/conversations", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert response.get_json()["language"] == "en"


def test_faq_answer_is_stored_with_the_nlu_result(app, client, rasa, agent_factory):
    customer = Customer(client)
    response = customer.send("How much is shipping?")
    assert response.status_code == 201
    body = response.get_json()
    assert body["message"]["sender"] == "customer" and body["message"]["seq"] == 1
    assert [r["sender"] for r in body["replies"]] == ["bot", "bot"]
    assert body["replies"][1]["buttons"] == [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
    assert rasa.texts_for(customer.id) == ["How much is shipping?"]
    assert [m["seq"] for m in customer.history()] == [1, 2, 3]
    assert "nlu" not in customer.history()[0]  # the customer never sees the bot's reading
    agent = agent_factory()
    transcript = agent.conversation(customer.id)["messages"]
    assert transcript[0]["nlu"]["intent"] == "shipping_fee"
    assert transcript[0]["nlu"]["confidence"] == 0.93
    assert transcript[0]["nlu"]["intent_ranking"][0] == {"name": "shipping_fee", "confidence": 0.93}
    assert metric_count(app, "topic_answered", "shipping_fee") == 1


def test_a_token_opens_only_its_own_conversation(client):
    first, second = Customer(client), Customer(client)
    for method, suffix, body in (("get", "", None), ("get", "/messages", None), ("post", "/messages", {"text": "hi"}),
                                 ("post", "/handoff", {}), ("post", "/end", {}), ("get", "/stream", None)):
        response = getattr(client, method)(second.path + suffix, json=body, headers=first.headers)
        assert response.status_code == 403, (suffix, response.get_json())
        assert response.get_json()["error"]["code"] == "token_mismatch"
    assert client.get(second.path).status_code == 401
    assert client.get(second.path, headers={"Authorization": "Bearer forged"}).status_code == 401
    in_url = client.get(second.path + "?token=" + first.token)  # never from a URL, whichever conversation
    assert in_url.status_code == 400 and in_url.get_json()["error"]["code"] == "token_in_url"
    assert second.history() == []


def test_a_repeated_client_message_id_returns_the_first_result(client, rasa):
    customer = Customer(client)
    first = customer.send("How much is shipping?", client_message_id="m-1")
    again = customer.send("How much is shipping?", client_message_id="m-1")
    assert first.status_code == 201 and again.status_code == 200
    assert again.get_json() == first.get_json()
    assert len(customer.history()) == 3
    assert len(rasa.texts_for(customer.id)) == 1


def test_bot_handoff_queues_once_and_the_bot_then_stays_out(app, client, rasa):
    customer = Customer(client)
    body = customer.send("/request_human").get_json()
    # The bot's own "connecting you" is the one line the customer reads: no near-duplicate system line.
    assert [(r["sender"], r["text"]) for r in body["replies"]] == [("bot", "Let me connect you to a member of our team.")]
    status = customer.status()
    assert status["status"] == "waiting"
    assert status["queue"] == {"position": 1, "eta_seconds": None}  # no agent online: no estimate
    # The same signal again, from the API and from the bot: still one ticket.
    assert customer.post("/handoff", {"reason": "request_human"}).get_json()["status"] == "waiting"
    before = len(rasa.texts_for(customer.id))
    reply = customer.send("/request_human").get_json()
    assert reply["replies"] == []
    assert len(rasa.texts_for(customer.id)) == before  # the bot never saw it
    assert metric_count(app, "handoff") == 1


def test_two_fallbacks_hand_off_with_the_turns(app, client, agent_factory):
    customer = Customer(client)
    customer.send("my parcel smells of fish")
    customer.send("the fish smell, again")
    agent = agent_factory()
    queue = agent.get("/api/agent/queue").get_json()["queue"]
    assert [(q["id"], q["reason"], q["first_question"]) for q in queue] == \
        [(customer.id, "repeated_fallback", "my parcel smells of fish")]
    detail = agent.conversation(customer.id)
    assert [t["text"] for t in detail["handoff_turns"]] == ["my parcel smells of fish", "the fish smell, again"]
    assert detail["messages"][0]["nlu"]["intent"] == "nlu_fallback"
    assert metric_count(app, "fallback") == 2


def test_queue_orders_by_priority_then_wait_and_filters_by_language(client, agent_factory):
    calm = Customer(client, "en")
    calm.send("/request_human")
    japanese = Customer(client, "ja")
    japanese.send("/request_human")
    upset = Customer(client, "en")
    upset.send("This is a complaint!")
    agent = agent_factory()
    queue = agent.get("/api/agent/queue").get_json()["queue"]
    assert [q["id"] for q in queue] == [upset.id, calm.id, japanese.id]
    assert queue[0]["priority"] == "high" and queue[1]["priority"] == "normal"
    assert [q["id"] for q in agent.get("/api/agent/queue?language=ja").get_json()["queue"]] == [japanese.id]
    assert agent.get("/api/agent/queue?language=fr").status_code == 422
    assert upset.status()["queue"]["position"] == 1
    assert japanese.status()["queue"]["position"] == 3


def test_agent_claims_replies_notes_transfers_hands_back_and_resolves(app, client, rasa, agent_factory):
    customer = Customer(client)
    customer.send("/request_human")
    aiko = agent_factory("aiko@shop.example")
    add_agent(app, "ben@shop.example", name="Ben")
    ben = AgentSession(app, "ben@shop.example")

    claimed = aiko.post(f"/api/agent/conversations/{customer.id}/claim")
    assert claimed.status_code == 200 and claimed.get_json()["status"] == "assigned"
    assert customer.status()["agent"] == {"name": "Aiko"}
    assert ben.post(f"/api/agent/conversations/{customer.id}/claim").status_code == 409
    assert ben.post(f"/api/agent/conversations/{customer.id}/messages", {"text": "me too"}).status_code == 403

    reply = aiko.post(f"/api/agent/conversations/{customer.id}/messages", {"text": "Hello, I'm Aiko."})
    assert reply.status_code == 201
    assert aiko.post(f"/api/agent/conversations/{customer.id}/notes", {"text": "VIP customer"}).status_code == 201
    customer.send("Thanks Aiko")
    history = customer.history()
    assert [m["sender"] for m in history][-3:] == ["system", "agent", "customer"]
    assert history[-2]["agent_name"] == "Aiko"
    assert all("VIP" not in m["text"] for m in history)
    assert aiko.conversation(customer.id)["notes"][0]["text"] == "VIP customer"

    agents = aiko.get("/api/agent/agents").get_json()["agents"]
    ben_id = next(a["id"] for a in agents if a["name"] == "Ben")
    assert aiko.post(f"/api/agent/conversations/{customer.id}/transfer", {"agent_id": ben_id}).status_code == 200
    assert customer.status()["agent"] == {"name": "Ben"}
    assert aiko.post(f"/api/agent/conversations/{customer.id}/messages", {"text": "still here"}).status_code == 403
    mine = ben.get("/api/agent/conversations?mine=1").get_json()["conversations"]
    assert [c["id"] for c in mine] == [customer.id]

    assert ben.post(f"/api/agent/conversations/{customer.id}/handback").get_json()["status"] == "bot"
    assert rasa.restarts == [customer.id]
    answer = customer.send("How much is shipping?").get_json()
    assert answer["replies"][0]["sender"] == "bot"

    customer.send("/request_human")
    ben.post(f"/api/agent/conversations/{customer.id}/claim")
    resolved = ben.post(f"/api/agent/conversations/{customer.id}/resolve")
    assert resolved.get_json()["status"] == "resolved"
    assert customer.send("hello?").status_code == 409
    assert metric_count(app, "claimed") == 2 and metric_count(app, "resolved") == 1
    assert metric_count(app, "first_agent_reply") == 1


def test_per_agent_limit_on_open_conversations(app, client, agent_factory):
    agent = agent_factory(max_concurrent=2)
    customers = [Customer(client) for _ in range(3)]
    for customer in customers:
        customer.send("/request_human")
    assert agent.post(f"/api/agent/conversations/{customers[0].id}/claim").status_code == 200
    assert agent.post(f"/api/agent/conversations/{customers[1].id}/claim").status_code == 200
    refused = agent.post(f"/api/agent/conversations/{customers[2].id}/claim")
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "agent_at_capacity"
    assert customers[2].status()["status"] == "waiting"  # the refused claim left no trace
    agent.post(f"/api/agent/conversations/{customers[0].id}/resolve")
    assert agent.post(f"/api/agent/conversations/{customers[2].id}/claim").status_code == 200


def test_agent_api_needs_a_session_csrf_and_roles(app, client, agent_factory):
    assert client.get("/api/agent/queue").status_code == 401
    assert log_in(client, "nobody@x.example", "12345678").status_code == 401
    agent = agent_factory()
    customer = Customer(client)
    customer.send("/request_human")
    no_csrf = agent.client.post(f"/api/agent/conversations/{customer.id}/claim")
    assert no_csrf.status_code == 403 and no_csrf.get_json()["error"]["code"] == "csrf_failed"
    assert agent.get("/api/admin/kpis").status_code == 403
    assert agent.get("/api/admin/unanswered").status_code == 403
    assert agent.post("/api/admin/canned-replies", {"language": "en", "title": "t", "text": "x"}).status_code == 403
    editor = agent_factory("eri@shop.example", role="editor")
    assert editor.get("/api/admin/unanswered").status_code == 200
    assert editor.get("/api/admin/kpis").status_code == 403
    assert agent.post("/api/agent/logout").status_code == 204
    assert agent.get("/api/agent/me").status_code == 401


def test_outside_support_hours_a_handoff_becomes_an_offline_ticket(make_app):
    app = make_app(SUPPORT_HOURS="never")
    client = app.test_client()
    customer = Customer(client, "ja")
    customer.send("/request_human")
    status = customer.status()
    assert status["status"] == "offline" and status["online"] is False and status["queue"] is None
    left = customer.post("/offline-message", {"email": "hana@example.jp", "text": "返品したいです"})
    assert left.status_code == 201 and left.get_json()["status"] == "offline"
    add_agent(app, "aiko@shop.example")
    agent = AgentSession(app, "aiko@shop.example")
    queue = agent.get("/api/agent/queue").get_json()["queue"]
    assert queue[0]["id"] == customer.id and queue[0]["offline"] is True and queue[0]["email"] == "hana@example.jp"
    assert agent.post(f"/api/agent/conversations/{customer.id}/claim").status_code == 200


def test_the_service_speaks_when_the_bot_did_not_announce_the_outcome(make_app, rasa):
    app = make_app(SUPPORT_HOURS="never")  # the bot (stand-in) thinks agents are online
    client = app.test_client()
    customer = Customer(client)
    replies = customer.send("/request_human").get_json()["replies"]
    assert [r["sender"] for r in replies] == ["bot", "system"]  # the bot said "connecting", the service "closed"
    assert replies[1]["text"].startswith("Our team is away right now")
    by_button = Customer(client)  # the widget's own "talk to a person" button: only the service speaks
    by_button.post("/handoff", {"reason": "request_human"})
    assert [m["sender"] for m in by_button.history()] == ["system"]


def test_offline_message_straight_from_the_bot(make_app):
    app = make_app(SUPPORT_HOURS="never")
    customer = Customer(app.test_client())
    assert customer.post("/offline-message", {"email": "not-an-email", "text": "x"}).status_code == 422
    response = customer.post("/offline-message", {"email": "sam@example.com", "text": "Call me back"})
    assert response.status_code == 201 and response.get_json()["status"] == "offline"
    assert metric_count(app, "handoff", "offline_message") == 1


def test_end_with_rating_is_counted_once(app, client):
    customer = Customer(client)
    customer.send("How much is shipping?")
    ended = customer.post("/end", {"csat": 5, "ces": 2, "comment": "quick"})
    assert ended.status_code == 200 and ended.get_json()["status"] == "resolved"
    again = customer.post("/end", {"csat": 1})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_rated"
    assert customer.post("/end", {"csat": 6}).status_code == 422
    assert metric_count(app, "rated", "csat") == 1


def test_typing_reaches_the_other_side_only_when_a_person_is_there(client, agent_factory):
    customer = Customer(client)
    assert customer.post("/typing", {"typing": True}).status_code == 204
    assert customer.post("/typing", {"typing": "yes"}).status_code == 422
    customer.send("/request_human")
    agent = agent_factory()
    assert agent.post(f"/api/agent/conversations/{customer.id}/typing", {"typing": True}).status_code == 403
    agent.post(f"/api/agent/conversations/{customer.id}/claim")
    assert agent.post(f"/api/agent/conversations/{customer.id}/typing", {"typing": True}).status_code == 204


def test_canned_replies_are_edited_by_admins_and_read_by_agents(app, agent_factory):
    admin = agent_factory("boss@shop.example", role="admin")
    created = admin.post("/api/admin/canned-replies", {"language": "en", "title": "Hi", "text": "Hello! How can I help?"})
    assert created.status_code == 201
    reply_id = created.get_json()["canned_reply"]["id"]
    assert admin.client.put(f"/api/admin/canned-replies/{reply_id}", json={"language": "en", "title": "Hi", "text": "Hey"},
                            headers={"X-CSRF-Token": admin.csrf}).status_code == 200
    agent = agent_factory()
    listed = agent.get("/api/agent/canned-replies?language=en").get_json()["canned_replies"]
    assert [(r["title"], r["text"]) for r in listed] == [("Hi", "Hey")]
    assert agent.get("/api/agent/canned-replies?language=ja").get_json()["canned_replies"] == []
    assert admin.client.delete(f"/api/admin/canned-replies/{reply_id}", headers={"X-CSRF-Token": admin.csrf}).status_code == 204
    assert admin.client.delete(f"/api/admin/canned-replies/{reply_id}", headers={"X-CSRF-Token": admin.csrf}).status_code == 404


def test_a_quick_reply_click_shows_the_button_title_and_sends_the_payload(client, rasa, agent_factory):
    customer = Customer(client)
    sent = customer.send("/request_human", display_text="Talk to a person")
    assert sent.status_code == 201
    assert sent.get_json()["message"]["text"] == "/request_human"  # the payload went to Rasa: handed off
    assert sent.get_json()["message"]["display_text"] == "Talk to a person"
    assert customer.status()["status"] == "waiting"
    history = customer.history()
    assert [(m["text"], m.get("display_text")) for m in history if m["sender"] == "customer"] == [
        ("/request_human", "Talk to a person")]
    agent = agent_factory()
    agent.post(f"/api/agent/conversations/{customer.id}/claim")
    shown = agent.get(f"/api/agent/conversations/{customer.id}").get_json()["messages"]
    assert shown[0]["display_text"] == "Talk to a person"
    assert "display_text" not in customer.send("plain words").get_json()["message"]


def test_my_conversations_carry_the_first_question_and_last_message_time(client, agent_factory):
    customer = Customer(client)
    customer.send("Where is my parcel?")
    customer.send("/request_human")
    agent = agent_factory()
    agent.post(f"/api/agent/conversations/{customer.id}/claim")
    agent.post(f"/api/agent/conversations/{customer.id}/messages", {"text": "Let me check"})
    mine = agent.get("/api/agent/conversations?mine=1").get_json()["conversations"]
    detail = agent.get(f"/api/agent/conversations/{customer.id}").get_json()
    assert [c["first_question"] for c in mine] == ["Where is my parcel?"] == [detail["first_question"]]
    assert mine[0]["last_message_at"] == detail["last_message_at"] == detail["messages"][-1]["created_at"]


def test_messages_after_seq_for_reloads(client):
    customer = Customer(client)
    customer.send("How much is shipping?")
    later = client.get(customer.path + "/messages?after=1", headers=customer.headers).get_json()["messages"]
    assert [m["seq"] for m in later] == [2, 3]
    assert client.get(customer.path + "/messages?after=x", headers=customer.headers).status_code == 422
