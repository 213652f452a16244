"""Known customers (issue 18): identity verification, history across conversations, the same agent
again, and privacy (export, erasure, retention), through the HTTP API on SQLite and PostgreSQL."""
from __future__ import annotations

import logging

import pytest

from handoff.contacts import sign, verified_customer_id

from handoff_support import Customer

SECRET = "shop-and-service-share-this"


@pytest.fixture
def app(make_app):
    return make_app(IDENTITY_SECRET=SECRET)


def start(client, customer_id=None, name="Hanako Yamada", email="hanako@example.com", signature=None,
          language="en") -> Customer:
    """A widget that starts a conversation, as a shop's signed-in customer when customer_id is given."""
    body = {"language": language}
    if customer_id is not None:
        body["customer"] = {"id": customer_id, "name": name, "email": email,
                            "hash": sign(SECRET, customer_id) if signature is None else signature}
    response = client.post("/api/v1/conversations", json=body)
    assert response.status_code == 201, response.get_json()
    customer = Customer.__new__(Customer)
    customer.client = client
    customer.id, customer.token = response.get_json()["id"], response.get_json()["token"]
    customer.path = f"/api/v1/conversations/{customer.id}"
    customer.identified = response.get_json().get("identified")
    return customer


def shop_customer_of(app, conversation_id):
    with app.extensions["tsunagi"].db.reading() as session:
        return verified_customer_id(session, conversation_id)


# Identity verification

def test_a_correctly_signed_customer_is_verified(app, client):
    customer = start(client, "c-1001")
    assert customer.identified is True
    assert shop_customer_of(app, customer.id) == "c-1001"


@pytest.mark.parametrize("signature", [
    "0" * 64,                                                  # made up
    sign("another-shops-secret", "c-1001"),                    # signed with the wrong secret
    sign(SECRET, "c-1002"),                                    # another customer's signature
    sign(SECRET, "c-1001")[:-1],                               # truncated
])
def test_a_forged_signature_is_ignored_and_the_chat_works_anonymously(app, client, signature, caplog):
    with caplog.at_level(logging.INFO, logger="handoff.contacts"):
        customer = start(client, "c-1001", signature=signature)
    assert customer.identified is False
    assert shop_customer_of(app, customer.id) is None
    assert customer.send("hello").status_code == 201          # the chat goes on
    assert "signature does not match" in caplog.text
    assert SECRET not in caplog.text and signature not in caplog.text


def test_a_missing_identity_or_signature_is_anonymous(app, client):
    anonymous = client.post("/api/v1/conversations", json={"language": "en"}).get_json()
    assert "identified" not in anonymous and anonymous["status"] == "bot"   # nothing said about identities
    assert shop_customer_of(app, anonymous["id"]) is None
    response = client.post("/api/v1/conversations", json={"language": "en", "customer": {"id": "c-1001"}})
    assert response.status_code == 422                         # a hash is required with an id
    assert response.get_json()["error"]["code"]


def test_without_an_identity_secret_nobody_is_verified(make_app):
    client = make_app(IDENTITY_SECRET="").test_client()
    customer = start(client, "c-1001", signature=sign("", "c-1001"))
    assert customer.identified is False


@pytest.mark.parametrize("field, longest", [("id", 200), ("name", 200), ("email", 254), ("hash", 128)])
def test_identity_limits_are_enforced(app, client, field, longest):
    def attempt(length):
        customer = {"id": "c-1001", "name": "Hanako", "email": "hanako@example.com"}
        customer[field] = ("x" * (length - len("@example.com")) + "@example.com") if field == "email" else "x" * length
        customer.setdefault("hash", sign(SECRET, customer["id"]))
        if field != "hash":
            customer["hash"] = sign(SECRET, customer["id"])
        return client.post("/api/v1/conversations", json={"language": "en", "customer": customer})
    assert attempt(longest).status_code == 201
    refused = attempt(longest + 1)
    assert refused.status_code == 422 and refused.get_json()["error"]["code"]


def test_address_and_search_limits(app, client, agent_factory):
    aiko = agent_factory("aiko@shop.example")
    contact_ids = [card(aiko, start(client, f"c-{n}", name=f"Member {n}", email=f"m{n}@example.com").id)["contact"]["id"]
                   for n in range(21)]
    assert len(aiko.get("/api/agent/contacts?q=member").get_json()["contacts"]) == 20
    assert aiko.get("/api/agent/contacts?q=").status_code == 422
    link = f"/api/agent/contacts/{contact_ids[0]}/identities"
    assert aiko.post(link, {"kind": "line", "value": "U" * 254}).status_code == 201
    assert aiko.post(link, {"kind": "line", "value": "U" * 255}).status_code == 422


# History for agents

def handed_to(agent, customer, *, resolve=True, reply="Happy to help"):
    """The customer asks for a person; the agent claims (unless routed to them already), replies, resolves."""
    assert customer.post("/handoff", {"reason": "request_human"}).status_code == 200
    if customer.status()["status"] == "waiting":
        assert agent.post(f"/api/agent/conversations/{customer.id}/claim").status_code == 200
    assert agent.post(f"/api/agent/conversations/{customer.id}/messages", {"text": reply}).status_code == 201
    if resolve:
        assert agent.post(f"/api/agent/conversations/{customer.id}/resolve").status_code == 200


def card(agent, conversation_id) -> dict:
    response = agent.get(f"/api/agent/conversations/{conversation_id}/contact")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_verified_customers_conversations_appear_in_each_others_history_and_no_one_elses(app, client,
                                                                                          agent_factory):
    aiko = agent_factory("aiko@shop.example", name="Aiko")
    first = start(client, "c-1001")
    first.send("How much is shipping?")
    handed_to(aiko, first)
    assert first.post("/end", {"csat": 5, "ces": 2, "comment": "quick"}).status_code == 200
    other = start(client, "c-2002", name="Ken Sato", email="ken@example.com")
    other.send("How much is shipping?")
    anonymous = start(client)
    anonymous.send("How much is shipping?")
    second = start(client, "c-1001")                          # the same customer, another day or device

    now = card(aiko, second.id)
    assert now["verified"] is True
    assert now["contact"]["shop_customer_id"] == "c-1001" and now["contact"]["name"] == "Hanako Yamada"
    assert {(i["kind"], i["value"]) for i in now["contact"]["identities"]} == {
        ("shop_id", "c-1001"), ("email", "hanako@example.com")}
    assert [h["id"] for h in now["history"]] == [first.id]
    earlier = now["history"][0]
    assert earlier["outcome"] == "agent" and earlier["agent_name"] == "Aiko" and earlier["channel"] == "web"
    assert earlier["topics"] == ["shipping_fee"]
    assert earlier["rating"] == {"csat": 5, "ces": 2, "comment": "quick"}
    assert [h["id"] for h in card(aiko, first.id)["history"]] == [second.id]
    # Another contact's and the anonymous conversations are never in it, and theirs never show hers.
    assert [h["id"] for h in card(aiko, other.id)["history"]] == []
    assert card(aiko, anonymous.id) == {"contact": None, "verified": False, "history": []}
    # The earlier conversation opens read-only: the transcript through the ordinary detail view.
    transcript = aiko.conversation(first.id)
    assert [m["text"] for m in transcript["messages"] if m["sender"] == "customer"] == ["How much is shipping?"]


def test_a_forged_signature_never_joins_someone_elses_history(app, client, agent_factory):
    aiko = agent_factory("aiko@shop.example")
    genuine = start(client, "c-1001")
    forged = start(client, "c-1001", signature=sign("guessed", "c-1001"))
    assert card(aiko, forged.id)["contact"] is None
    assert card(aiko, genuine.id)["history"] == []


def test_agents_note_about_the_contact_and_link_an_email_address(app, client, agent_factory):
    aiko = agent_factory("aiko@shop.example", name="Aiko")
    customer = start(client, "c-1001")
    contact_id = card(aiko, customer.id)["contact"]["id"]
    # An offline ticket the customer once left anonymously, with another address of theirs.
    ticket = start(client)
    assert ticket.post("/offline-message", {"email": "h.yamada@work.example", "text": "Call me back"}).status_code == 201

    note = aiko.post(f"/api/agent/contacts/{contact_id}/notes", {"text": "Prefers e-mail; card 4111 1111 1111 1111"})
    assert note.status_code == 201 and note.get_json()["note"]["agent_name"] == "Aiko"
    linked = aiko.post(f"/api/agent/contacts/{contact_id}/identities", {"kind": "email", "value": "H.Yamada@work.example"})
    assert linked.status_code == 201, linked.get_json()
    assert linked.get_json() == {"identity": {"kind": "email", "value": "h.yamada@work.example",
                                              "created_at": linked.get_json()["identity"]["created_at"]},
                                 "linked_conversations": 1}
    now = card(aiko, customer.id)
    assert [n["text"] for n in now["contact"]["notes"]] == ["Prefers e-mail; card **** **** **** 1111"]
    assert [h["id"] for h in now["history"]] == [ticket.id] and now["history"][0]["outcome"] == "offline"
    assert shop_customer_of(app, ticket.id) is None           # linked by an agent, never "verified"

    # The same address cannot belong to two contacts; unknown kinds and contacts are clear errors.
    other = card(aiko, start(client, "c-2002", name="Ken Sato", email="ken@example.com").id)["contact"]["id"]
    taken = aiko.post(f"/api/agent/contacts/{other}/identities", {"kind": "email", "value": "h.yamada@work.example"})
    assert taken.status_code == 409 and taken.get_json()["error"]["code"] == "identity_taken"
    assert aiko.post(f"/api/agent/contacts/{other}/identities", {"kind": "shop_id", "value": "c-9"}).status_code == 422
    assert aiko.post("/api/agent/contacts/999999/notes", {"text": "x"}).status_code == 404
    assert aiko.get(f"/api/agent/contacts?q=yamada").get_json()["contacts"][0]["id"] == contact_id
    assert aiko.get(f"/api/agent/contacts?q=work.example").get_json()["contacts"][0]["id"] == contact_id
    assert client.get(f"/api/agent/contacts/{contact_id}").status_code == 401   # agents only


# The same agent again

def set_presence(app, agent, state):
    """The agent is online or away, as the console sets it (handoff/presence.py)."""
    from handoff import presence

    with app.extensions["tsunagi"].db.writing() as session:
        presence.set_state(session, agent.agent["id"], state)


def test_a_returning_customer_goes_to_the_agent_who_helped_them_when_that_agent_is_online(app, client,
                                                                                         agent_factory):
    aiko = agent_factory("aiko@shop.example", name="Aiko")
    ben = agent_factory("ben@shop.example", name="Ben")
    set_presence(app, aiko, "online")
    set_presence(app, ben, "online")
    handed_to(aiko, start(client, "c-1001"))
    handed_to(ben, start(client, "c-2002"))                   # someone else's agent

    back = start(client, "c-1001")
    assert back.post("/handoff", {"reason": "request_human"}).status_code == 200
    status = back.status()
    assert status["status"] == "assigned" and status["agent"] == {"name": "Aiko"}
    assert [m["text"] for m in back.history() if m["sender"] == "system"] == [
        "Connecting you to Aiko, who helped you before."]
    mine = aiko.get("/api/agent/conversations?mine=true").get_json()["conversations"]
    assert back.id in [c["id"] for c in mine]
    assert back.id not in [q["id"] for q in ben.get("/api/agent/queue").get_json()["queue"]]
    assert aiko.post(f"/api/agent/conversations/{back.id}/messages", {"text": "Welcome back"}).status_code == 201
    audit = aiko_admin_audit(app, agent_factory, "conversation.claimed")
    assert any(e["target_id"] == back.id and e["actor"] == "routing:returning-customer" for e in audit)


def aiko_admin_audit(app, agent_factory, action):
    boss = agent_factory("boss@shop.example", role="admin")
    return boss.get(f"/api/admin/audit?action={action}").get_json()["entries"]


def test_a_returning_customer_whose_agent_is_away_waits_in_the_queue_as_usual(app, client, agent_factory):
    aiko = agent_factory("aiko@shop.example", name="Aiko")
    set_presence(app, aiko, "online")
    handed_to(aiko, start(client, "c-1001"))
    set_presence(app, aiko, "away")

    back = start(client, "c-1001")
    assert back.post("/handoff", {"reason": "request_human"}).status_code == 200
    assert back.status()["status"] == "waiting"
    texts = [m["text"] for m in back.history() if m["sender"] == "system"]
    assert "Connecting you to Aiko, who helped you before." not in texts
    assert back.id in [q["id"] for q in aiko.get("/api/agent/queue").get_json()["queue"]]


def test_a_returning_customer_whose_agent_is_at_capacity_waits_in_the_queue(app, client, agent_factory):
    aiko = agent_factory("aiko@shop.example", name="Aiko", max_concurrent=1)
    set_presence(app, aiko, "online")
    handed_to(aiko, start(client, "c-1001"))
    busy = start(client)
    handed_to(aiko, busy, resolve=False)                      # her one place is taken

    back = start(client, "c-1001")
    back.post("/handoff", {"reason": "request_human"})
    assert back.status()["status"] == "waiting"
    assert aiko.post(f"/api/agent/conversations/{busy.id}/resolve").status_code == 200
    assert aiko.post(f"/api/agent/conversations/{back.id}/claim").status_code == 200   # claimed as usual


def test_anonymous_and_agent_linked_customers_are_never_routed(app, client, agent_factory):
    aiko = agent_factory("aiko@shop.example", name="Aiko")
    set_presence(app, aiko, "online")
    first = start(client, "c-1001")
    handed_to(aiko, first)
    forged = start(client, "c-1001", signature="f" * 64)
    forged.post("/handoff", {"reason": "request_human"})
    assert forged.status()["status"] == "waiting"


# Privacy: export, erasure, retention

HANAKO = ("Hanako Yamada", "hanako@example.com", "c-1001", "h.yamada@work.example",
          "My parcel QX-81 never came", "Call me on 090-1234", "Sorry Hanako, resending now",
          "Hanako is a regular", "Aiko fixed it in minutes", "Prefers morning delivery")


def hanakos_data(app, client, agent_factory):
    """Hanako, a verified customer, with everything the service can hold about a person: two chats
    (topics, fallbacks that led to a handoff and flagged questions, an agent's reply, a note about
    the conversation and one about her, a rating with a comment, a stream ticket), an offline ticket
    left anonymously with her other address, linked by an agent; and Ken, whose data must stay."""
    boss = agent_factory("boss@shop.example", role="admin", name="Boss")
    set_presence(app, boss, "online")
    first = start(client, "c-1001")
    first.send("How much is shipping?")
    first.send("My parcel QX-81 never came")
    first.send("My parcel QX-81 never came")                 # a second fallback: handed off
    assert first.status()["status"] == "waiting"
    assert first.post("/stream-ticket").status_code == 201
    boss.post(f"/api/agent/conversations/{first.id}/claim")
    boss.post(f"/api/agent/conversations/{first.id}/messages", {"text": "Sorry Hanako, resending now"})
    boss.post(f"/api/agent/conversations/{first.id}/notes", {"text": "Hanako is a regular"})
    boss.post(f"/api/agent/conversations/{first.id}/resolve")
    first.post("/end", {"csat": 5, "ces": 1, "comment": "Aiko fixed it in minutes"})
    ticket = start(client)
    ticket.post("/offline-message", {"email": "h.yamada@work.example", "text": "Call me on 090-1234"})
    boss.post(f"/api/agent/conversations/{ticket.id}/claim")
    boss.post(f"/api/agent/conversations/{ticket.id}/resolve")
    second = start(client, "c-1001")
    second.send("How much is shipping?")
    second.post("/end", {"csat": 4})
    contact_id = card(boss, second.id)["contact"]["id"]
    boss.post(f"/api/agent/contacts/{contact_id}/notes", {"text": "Prefers morning delivery"})
    boss.post(f"/api/agent/contacts/{contact_id}/identities", {"kind": "email", "value": "h.yamada@work.example"})
    ken = start(client, "c-2002", name="Ken Sato", email="ken@example.com")
    ken.send("Where is Ken's order K-77?")
    ken.post("/end", {"csat": 3, "comment": "Ken was happy"})
    return boss, contact_id, (first, ticket, second), ken


def everything_stored(app) -> dict[str, list[str]]:
    """Every row of every table in the database (as the database has them, not as the models say),
    as text: table -> rows."""
    from sqlalchemy import MetaData, select
    engine = app.extensions["tsunagi"].db.engine
    metadata = MetaData()
    metadata.reflect(bind=engine)
    with engine.connect() as connection:
        return {name: [repr(tuple(row)) for row in connection.execute(select(table))]
                for name, table in metadata.tables.items()}


def kpis(boss):
    from datetime import date, timedelta
    today = date.today()
    response = boss.get(f"/api/admin/kpis?from={today - timedelta(days=1)}&to={today + timedelta(days=1)}&lang=en")
    assert response.status_code == 200
    return response.get_json()


def erase_and_scan(app, admin, contact_id, needles, conversations):
    """Erases the contact through the admin API, with every table scanned before (each needle is
    found somewhere) and after (no needle in any row of any table). Returns (before, after, the
    dashboard's figures from before)."""
    before = everything_stored(app)
    for needle in needles:                                    # the scan finds what is there
        assert any(needle in row for rows in before.values() for row in rows), needle
    figures = kpis(admin)

    response = admin.post(f"/api/admin/contacts/{contact_id}/erase")
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"contact_id": contact_id, "conversations": conversations}

    after = everything_stored(app)
    for table, rows in after.items():                         # table by table
        for needle in needles:
            assert not [row for row in rows if needle in row], (table, needle)
    return before, after, figures


def test_erasing_a_contact_leaves_nothing_of_them_in_any_table_and_the_kpi_totals_unchanged(app, client,
                                                                                           agent_factory):
    boss, contact_id, conversations, ken = hanakos_data(app, client, agent_factory)
    _, after, figures = erase_and_scan(app, boss, contact_id, HANAKO, conversations=3)
    # Ken's data is all still there.
    assert any("Where is Ken's order K-77?" in row for row in after["messages"])
    assert any("Ken Sato" in row for row in after["contacts"])
    # The dashboard's figures are the same, but for the comments a customer wrote with a rating.
    now = kpis(boss)
    erased = {c.id for c in conversations}
    assert {k: v for k, v in now.items() if k != "recent_ratings"} == \
           {k: v for k, v in figures.items() if k != "recent_ratings"}
    assert [dict(r, comment=None) for r in now["recent_ratings"]] == \
           [dict(r, comment=None) for r in figures["recent_ratings"]]
    assert [r["comment"] for r in now["recent_ratings"] if r["conversation_id"] in erased] == [None, None]
    assert figures["conversations"] >= 4 and figures["csat"]["count"] == 3
    # The erased conversations answer their customers' old tokens with an empty transcript.
    assert conversations[0].history() == []
    # Once gone, the contact is gone.
    assert boss.post(f"/api/admin/contacts/{contact_id}/erase").status_code == 404
    assert boss.post(f"/api/admin/contacts/{contact_id}/export").status_code == 404


def test_export_holds_everything_about_the_contact_and_nothing_of_anyone_else(app, client, agent_factory):
    boss, contact_id, (first, ticket, second), ken = hanakos_data(app, client, agent_factory)
    response = boss.post(f"/api/admin/contacts/{contact_id}/export")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == f'attachment; filename="contact-{contact_id}.json"'
    exported = response.get_json()
    assert exported["contact"]["name"] == "Hanako Yamada" and exported["contact"]["shop_customer_id"] == "c-1001"
    assert {(i["kind"], i["value"]) for i in exported["contact"]["identities"]} == {
        ("shop_id", "c-1001"), ("email", "hanako@example.com"), ("email", "h.yamada@work.example")}
    assert [n["text"] for n in exported["contact"]["notes"]] == ["Prefers morning delivery"]
    assert [c["id"] for c in exported["conversations"]] == [first.id, ticket.id, second.id]
    chat = exported["conversations"][0]
    assert [m["text"] for m in chat["messages"] if m["sender"] in ("customer", "agent")] == [
        "How much is shipping?", "My parcel QX-81 never came", "My parcel QX-81 never came",
        "Sorry Hanako, resending now"]
    assert chat["notes"][0]["text"] == "Hanako is a regular"
    assert chat["rating"]["comment"] == "Aiko fixed it in minutes" and chat["topics"] == ["shipping_fee"]
    assert exported["conversations"][1]["email"] == "h.yamada@work.example"
    assert "Ken" not in response.get_data(as_text=True)
    # Admins only.
    agent = agent_factory("aiko@shop.example")
    assert agent.post(f"/api/admin/contacts/{contact_id}/export").status_code == 403
    assert agent.post(f"/api/admin/contacts/{contact_id}/erase").status_code == 403


def test_exports_and_erasures_are_in_the_audit_log_with_who_did_them(app, client, agent_factory):
    boss, contact_id, _, _ = hanakos_data(app, client, agent_factory)
    boss.post(f"/api/admin/contacts/{contact_id}/export")
    boss.post(f"/api/admin/contacts/{contact_id}/erase")
    runner = app.test_cli_runner()
    ken = runner.invoke(args=["contacts", "export", "ken@example.com"])
    assert ken.exit_code == 0 and '"Ken Sato"' in ken.output
    assert runner.invoke(args=["contacts", "erase", "c-2002", "--yes"]).exit_code == 0
    entries = boss.get("/api/admin/audit").get_json()["entries"]
    mine = [(e["action"], e["actor"], e["actor_id"], e["target_type"], e["detail"]) for e in entries
            if e["action"].startswith("contact.")]
    cli = mine[0][1]
    assert cli.startswith("cli:")
    assert mine[:4] == [("contact.erased", cli, None, "contact", {"conversations": 1}),
                        ("contact.exported", cli, None, "contact", {"conversations": 1}),
                        ("contact.erased", "boss@shop.example", boss.agent["id"], "contact", {"conversations": 3}),
                        ("contact.exported", "boss@shop.example", boss.agent["id"], "contact", {"conversations": 3})]
    linked = [e for e in entries if e["action"] == "contact.identity_linked"]
    assert linked[0]["target_id"] == str(contact_id) and linked[0]["detail"] == {"kind": "email",
                                                                                 "linked_conversations": 1}


def test_a_contact_with_a_conversation_agents_are_working_on_is_not_erased_under_them(app, client, agent_factory):
    boss = agent_factory("boss@shop.example", role="admin")
    customer = start(client, "c-1001")
    customer.post("/handoff", {"reason": "request_human"})
    contact_id = card(boss, customer.id)["contact"]["id"]
    response = boss.post(f"/api/admin/contacts/{contact_id}/erase")
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "contact_has_open_conversation"
    assert card(boss, customer.id)["contact"]["name"] == "Hanako Yamada"


def test_retention_erases_conversations_that_ended_long_ago_once_and_keeps_the_rest(app, client, agent_factory):
    from datetime import timedelta
    from handoff.audit import Actor
    from handoff.database import utcnow
    from handoff.privacy import purge_expired

    boss = agent_factory("boss@shop.example", role="admin")
    old = start(client, "c-1001")
    old.send("Old question about QX-81")
    old.post("/end", {"csat": 5, "comment": "Old comment"})
    still_open = start(client, "c-2002", name="Ken Sato", email="ken@example.com")
    still_open.send("Open question QX-82")
    still_open.post("/handoff", {"reason": "request_human"})
    db = app.extensions["tsunagi"].db
    figures = kpis(boss)
    assert purge_expired(db, 0, Actor.command_line()) == {"conversations": 0, "contacts": 0}   # unset: keep all
    assert purge_expired(db, 30, Actor.command_line()) == {"conversations": 0, "contacts": 0}  # not old yet

    # 31 days on: Hanako's ended chat goes, and Hanako with it (no conversation left, unchanged
    # that long); Ken, waiting for an agent, stays with his conversation.
    later = utcnow() + timedelta(days=31)
    assert purge_expired(db, 30, Actor.command_line(), now=later) == {"conversations": 1, "contacts": 1}
    assert purge_expired(db, 30, Actor.command_line(), now=later) == {"conversations": 0, "contacts": 0}
    stored = everything_stored(app)
    for needle in ("QX-81", "Old comment", "c-1001", "Hanako"):
        assert not [row for rows in stored.values() for row in rows if needle in row], needle
    assert any("Open question QX-82" in row for row in stored["messages"])
    assert any("c-2002" in row for row in stored["contacts"])
    assert {k: v for k, v in kpis(boss).items() if k != "recent_ratings"} == \
           {k: v for k, v in figures.items() if k != "recent_ratings"}
    purges = boss.get("/api/admin/audit?action=privacy.retention_purged").get_json()["entries"]
    assert [(e["actor"][:4], e["detail"]) for e in purges] == [
        ("cli:", {"conversations": 1, "contacts": 1, "retention_days": 30})]


def test_the_purge_command_says_what_it_did(make_app):
    kept = make_app(IDENTITY_SECRET=SECRET).test_cli_runner().invoke(args=["privacy", "purge"])
    assert kept.exit_code == 0 and "nothing to purge" in kept.output
    purged = make_app(RETENTION_DAYS=30).test_cli_runner().invoke(args=["privacy", "purge"])
    assert purged.exit_code == 0 and "retention 30 days: 0 conversation(s) and 0 contact(s) erased" in purged.output


def test_every_conversation_column_that_cannot_be_emptied_is_a_fact_the_kpis_keep():
    """Erasure empties every other column (privacy._erased_values): a column added later that holds
    personal data must be nullable, or erasure could not remove it."""
    from handoff.models import Conversation
    from handoff.privacy import KEPT_CONVERSATION_FACTS
    assert {c.name for c in Conversation.__table__.c if not c.nullable} <= KEPT_CONVERSATION_FACTS


def test_the_side_panel_lists_the_50_latest_earlier_conversations(app, client, agent_factory):
    aiko = agent_factory("aiko@shop.example")
    ids = [start(client, "c-1001").id for _ in range(52)]
    history = card(aiko, ids[-1])["history"]
    assert [h["id"] for h in history] == ids[-2:0:-1]        # newest first; the oldest one left out
