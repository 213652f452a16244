"""Known customers across the channels (issues 17 and 18 together): a LINE user or an e-mail address
an agent linked to a contact brings its new conversations into the contact's history, unverified;
and erasing the contact leaves nothing of them in any table, the channels' tables and Rasa's tracker
table included, on SQLite and PostgreSQL. LINE is a real HTTP stand-in on the loopback, e-mail a
real SMTP server (aiosmtpd) and the service's own SMTP receiver, the bot the Rasa stand-in."""
from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, insert, select

from handoff.contacts import sign, verified_customer_id
from handoff.models import Conversation
from tests.support.line_stand_in import LineStandIn
from tests.support.waiting import wait_until

from test_channel_email import SUPPORT, SmtpSink, a_mail, send_mail
from test_channel_line import SECRET as LINE_SECRET, TOKEN as LINE_TOKEN, USER, LineUser, outbox_settled
from test_contacts import SECRET, card, erase_and_scan, everything_stored, kpis, set_presence, start

from handoff.channels.email_receiver import mail_receiver
from tests.support.ports import free_port

LINE_NAME = "やまだ はなこ"
MAIL_ADDRESS = "yamada@example.jp"


@pytest.fixture(scope="module")
def line():
    stand_in = LineStandIn(LINE_TOKEN).start()
    yield stand_in
    stand_in.stop()


@pytest.fixture
def sink():
    server = SmtpSink().start()
    yield server
    server.stop()


@pytest.fixture
def channels(make_app, line, sink):
    """The service with identity verification, LINE (the stand-in) and e-mail (the sink out, its own
    receiver in) configured; yields (app, mail receiver)."""
    line.reset()
    line.profiles[USER] = LINE_NAME
    app = make_app(IDENTITY_SECRET=SECRET, LINE_CHANNEL_SECRET=LINE_SECRET, LINE_CHANNEL_ACCESS_TOKEN=LINE_TOKEN,
                   LINE_API_BASE=line.url, LINE_TIMEOUT=2.0, SMTP_URL=sink.url, MAIL_FROM=SUPPORT,
                   MAIL_FROM_NAME="つなぎ商店", SMTP_TIMEOUT=2.0, OUTBOX_BACKOFF_SECONDS=0.05,
                   OUTBOX_BACKOFF_MAX_SECONDS=0.2, OUTBOX_POLL_SECONDS=0.05)
    receiver = mail_receiver(app, "127.0.0.1", free_port())
    receiver.start()
    yield app, receiver
    receiver.stop()
    app.extensions["tsunagi_channels"].stop()


@pytest.fixture
def app(channels):
    return channels[0]


def newest_conversation(app, address: str) -> Conversation:
    def found():
        with app.extensions["tsunagi"].db.reading() as session:
            return session.scalars(select(Conversation).where(Conversation.channel_address == address)
                                   .order_by(Conversation.created_at.desc())).first()
    return wait_until(found, f"a conversation of {address}")


def link(agent, contact_id: int, kind: str, value: str) -> None:
    response = agent.post(f"/api/agent/contacts/{contact_id}/identities", {"kind": kind, "value": value})
    assert response.status_code == 201, response.get_json()


def test_a_linked_line_users_next_conversation_is_in_the_contacts_history_unverified(app, client, line,
                                                                                      agent_factory):
    aiko = agent_factory("aiko@shop.example", name="Aiko")
    web = start(client, "c-1001")
    contact_id = card(aiko, web.id)["contact"]["id"]
    phone = LineUser(app, line)
    phone.says("送料はいくら？")                                 # before the link: attached at link time
    first = newest_conversation(app, USER)
    link(aiko, contact_id, "line", USER)
    phone.says("人と話したい")
    wait_until(lambda: newest_conversation(app, USER).status == "waiting", "the first handoff")
    assert aiko.post(f"/api/agent/conversations/{first.id}/claim").status_code == 200
    assert aiko.post(f"/api/agent/conversations/{first.id}/resolve").status_code == 200

    phone.says("返品はできますか？")                             # after the link: a new conversation
    second = wait_until(lambda: (c := newest_conversation(app, USER)).id != first.id and c, "a new conversation")
    wait_until(lambda: outbox_settled(app), "the answer delivered")
    assert second.contact_id == contact_id and second.contact_verified is False
    with app.extensions["tsunagi"].db.reading() as session:
        assert verified_customer_id(session, second.id) is None  # the bot never gets the customer id
    assert [h["id"] for h in card(aiko, web.id)["history"]] == [second.id, first.id]
    assert card(aiko, web.id)["history"][0]["channel"] == "line"
    panel = card(aiko, second.id)
    assert panel["contact"]["id"] == contact_id and panel["verified"] is False
    assert [h["id"] for h in panel["history"]] == [first.id, web.id]
    # Routing: a handoff of this unverified conversation is not a returning customer's (queued as usual).
    phone.says("人と話したい")
    wait_until(lambda: newest_conversation(app, USER).status == "waiting", "the handoff")
    assert newest_conversation(app, USER).agent_id is None


def test_a_linked_email_address_brings_a_new_mail_and_an_offline_ticket_into_the_history(channels, client, sink,
                                                                                          agent_factory):
    app, receiver = channels
    aiko = agent_factory("aiko@shop.example", name="Aiko")
    web = start(client, "c-1001")
    contact_id = card(aiko, web.id)["contact"]["id"]
    link(aiko, contact_id, "email", "Yamada@Example.jp")
    send_mail(receiver, a_mail(f"山田 花子 <{MAIL_ADDRESS}>", SUPPORT, "送料について", "送料はいくらですか？"))
    wait_until(lambda: sink.to(MAIL_ADDRESS), "the bot's answer mailed")
    by_mail = newest_conversation(app, MAIL_ADDRESS)
    ticket = start(client)                                      # anonymous on the website, then the form
    assert ticket.post("/offline-message", {"email": "YAMADA@example.jp", "text": "Call me back"}).status_code == 201
    history = card(aiko, web.id)["history"]
    assert [h["id"] for h in history] == [ticket.id, by_mail.id]
    assert [h["channel"] for h in history] == ["web", "email"]
    assert card(aiko, ticket.id)["verified"] is False and card(aiko, by_mail.id)["verified"] is False
    # An address nobody linked stays anonymous.
    send_mail(receiver, a_mail("someone@example.org", SUPPORT, "送料", "送料はいくらですか？"))
    assert card(aiko, newest_conversation(app, "someone@example.org").id)["contact"] is None


# ---- erasure across the channels -------------------------------------------------------------------

def rasa_tracker_table(metadata: MetaData) -> Table:
    """Rasa 3.6's SQLTrackerStore table as Rasa creates it (rasa/core/tracker_store.py, SQLEvent)."""
    return Table("events", metadata,
                 Column("id", Integer, primary_key=True),
                 Column("sender_id", String(255), nullable=False, index=True),
                 Column("type_name", String(255), nullable=False),
                 Column("timestamp", Float),
                 Column("intent_name", String(255)),
                 Column("action_name", String(255)),
                 Column("data", Text))


@pytest.fixture
def tracker(app):
    """The bot's tracker table in the service's database (TRACKER_STORE_URL's default), dropped after."""
    engine = app.extensions["tsunagi"].db.engine
    table = rasa_tracker_table(MetaData())
    table.create(engine)
    yield table
    table.drop(engine)


def bot_turns(engine, table: Table, conversation_id: str, text: str, customer_id: str | None) -> None:
    """A conversation's turns as Rasa stores them: the user's message with its metadata (the verified
    customer id the service sends the bot), then the bot's utterance."""
    now = time.time()
    metadata = {"conversation_id": conversation_id, **({"customer_id": customer_id} if customer_id else {})}
    user = {"event": "user", "timestamp": now, "text": text, "metadata": metadata,
            "parse_data": {"intent": {"name": "shipping_fee", "confidence": 0.9}, "text": text}}
    bot = {"event": "bot", "timestamp": now + 0.1, "text": "送料は全国一律550円です。", "metadata": {}}
    with engine.begin() as connection:
        connection.execute(insert(table), [
            {"sender_id": conversation_id, "type_name": "user", "timestamp": now, "intent_name": "shipping_fee",
             "action_name": None, "data": json.dumps(user, ensure_ascii=False)},
            {"sender_id": conversation_id, "type_name": "bot", "timestamp": now + 0.1, "intent_name": None,
             "action_name": None, "data": json.dumps(bot, ensure_ascii=False)}])


HANAKO_WEB = "My parcel QX-81 never came"
HANAKO_LINE = "送料はいくら？QX-82の件です"
HANAKO_MAIL = "送料はいくらですか？QX-83について"
HANAKO_SUBJECT = "送料についての質問QX-84"


def test_erasing_a_contact_with_web_line_and_email_conversations_leaves_nothing_of_them(channels, client, line,
                                                                                       sink, tracker,
                                                                                       agent_factory):
    app, receiver = channels
    engine = app.extensions["tsunagi"].db.engine
    boss = agent_factory("boss@shop.example", role="admin", name="Boss")
    set_presence(app, boss, "online")
    web = start(client, "c-1001")
    web.send(HANAKO_WEB)
    contact_id = card(boss, web.id)["contact"]["id"]
    link(boss, contact_id, "line", USER)
    link(boss, contact_id, "email", MAIL_ADDRESS)
    LineUser(app, line).says(HANAKO_LINE)
    send_mail(receiver, a_mail(f"山田 花子 <{MAIL_ADDRESS}>", SUPPORT, HANAKO_SUBJECT, HANAKO_MAIL))
    wait_until(lambda: sink.to(MAIL_ADDRESS), "the bot's answer mailed")
    by_line, by_mail = newest_conversation(app, USER), newest_conversation(app, MAIL_ADDRESS)
    wait_until(lambda: outbox_settled(app), "every answer delivered")
    assert wait_until(lambda: line.delivered_texts(USER), "the LINE answer")
    ken = start(client, "c-2002", name="Ken Sato", email="ken@example.com")
    ken.send("Where is Ken's order K-77?")
    for conversation_id, text, customer in ((web.id, HANAKO_WEB, "c-1001"), (by_line.id, HANAKO_LINE, None),
                                            (by_mail.id, HANAKO_MAIL, None), (ken.id, "Where is Ken's order K-77?",
                                                                              "c-2002")):
        bot_turns(engine, tracker, conversation_id, text, customer)

    hanako = ("Hanako Yamada", "hanako@example.com", "c-1001", USER, LINE_NAME, MAIL_ADDRESS, "山田 花子",
              HANAKO_WEB, HANAKO_LINE, HANAKO_MAIL, HANAKO_SUBJECT)
    before, after, figures = erase_and_scan(app, boss, contact_id, hanako, conversations=3)
    for table in ("outbox", "channel_events", "email_messages", "events"):   # the channels' tables held her
        assert any(needle in row for row in before[table] for needle in hanako), table
    # Ken's data is all still there, his bot turns included.
    assert any("Where is Ken's order K-77?" in row for row in after["messages"])
    assert any("K-77" in row and ken.id in row for row in after["events"])
    assert {k: v for k, v in kpis(boss).items() if k != "recent_ratings"} == \
           {k: v for k, v in figures.items() if k != "recent_ratings"}
    assert figures["conversations"] >= 4


def test_retention_erases_an_old_line_conversation_and_its_events_and_keeps_the_newer_one(app, line, tracker,
                                                                                          agent_factory):
    from datetime import timedelta
    from sqlalchemy import update

    from handoff.audit import Actor
    from handoff.database import utcnow
    from handoff.privacy import purge_expired

    aiko = agent_factory("aiko@shop.example", name="Aiko")
    engine, db = app.extensions["tsunagi"].db.engine, app.extensions["tsunagi"].db
    phone = LineUser(app, line)
    phone.says("送料はいくら？QX-91")
    phone.says("人と話したい")
    old = wait_until(lambda: (c := newest_conversation(app, USER)).status == "waiting" and c, "the handoff")
    assert aiko.post(f"/api/agent/conversations/{old.id}/claim").status_code == 200
    assert aiko.post(f"/api/agent/conversations/{old.id}/resolve").status_code == 200
    with db.writing() as session:                              # it ended 40 days ago
        session.execute(update(Conversation).where(Conversation.id == old.id)
                        .values(resolved_at=utcnow() - timedelta(days=40)))
    phone.says("返品はできますか？QX-92")
    new = wait_until(lambda: (c := newest_conversation(app, USER)).id != old.id and c, "a new conversation")
    phone.says("いつ届きますか？QX-93")
    wait_until(lambda: outbox_settled(app), "every answer delivered")
    bot_turns(engine, tracker, old.id, "送料はいくら？QX-91", None)
    bot_turns(engine, tracker, new.id, "いつ届きますか？QX-93", None)
    assert any("QX-91" in row for row in everything_stored(app)["channel_events"])

    assert purge_expired(db, 30, Actor.command_line())["conversations"] == 1
    stored = everything_stored(app)
    assert not [(table, row) for table, rows in stored.items() for row in rows if "QX-91" in row]
    assert any("QX-93" in row for row in stored["channel_events"])     # the newer conversation's events stay
    assert any("QX-93" in row and new.id in row for row in stored["events"])
    assert any("QX-92" in row for row in stored["messages"]) and any("QX-93" in row for row in stored["messages"])
