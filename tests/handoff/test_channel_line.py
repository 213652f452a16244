"""The LINE channel end to end: webhook requests signed with LINE's real algorithm, the service's
outbox workers, and a real HTTP server on the loopback standing in for the Messaging API
(tests/support/line_stand_in.py), with the Rasa stand-in as the bot."""
from __future__ import annotations

import json
import time
import uuid

import pytest
from sqlalchemy import func, select

from handoff.channels.line import MAX_LABEL, line_messages, quick_reply, retry_key, signature_of, split_text
from handoff.models import ChannelEvent, Conversation, Message, OutboxEntry
from handoff_support import add_agent, AgentSession
from tests.support.line_stand_in import LineStandIn
from tests.support.waiting import wait_until

SECRET = "line-channel-secret"
TOKEN = "line-access-token"
USER = "U4af4980629d3f1b4e1e5f9d3b1c2a3d4"


@pytest.fixture(scope="module")
def line():
    stand_in = LineStandIn(TOKEN).start()
    yield stand_in
    stand_in.stop()


@pytest.fixture
def line_app_factory(make_app, line):
    line.reset()
    apps = []

    def build(**overrides):
        config = dict(LINE_CHANNEL_SECRET=SECRET, LINE_CHANNEL_ACCESS_TOKEN=TOKEN, LINE_API_BASE=line.url,
                      LINE_TIMEOUT=2.0, OUTBOX_BACKOFF_SECONDS=0.05, OUTBOX_BACKOFF_MAX_SECONDS=0.2,
                      OUTBOX_POLL_SECONDS=0.05)
        config.update(overrides)
        app = make_app(**config)
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["tsunagi_channels"].stop()


@pytest.fixture
def line_app(line_app_factory):
    return line_app_factory()


@pytest.fixture
def app(line_app):
    """The conftest's agent_factory and client work on the LINE-configured app."""
    return line_app


class LineUser:
    """A LINE user's phone as our webhook sees it: events, signed and posted as LINE does."""

    def __init__(self, app, line: LineStandIn, user_id: str = USER, secret: str = SECRET):
        self.client = app.test_client()
        self.line, self.user_id, self.secret = line, user_id, secret

    def event(self, kind: str, **fields) -> dict:
        event = {"type": kind, "mode": "active", "timestamp": int(time.time() * 1000),
                 "source": {"type": "user", "userId": self.user_id},
                 "webhookEventId": "01" + uuid.uuid4().hex[:24].upper(),
                 "deliveryContext": {"isRedelivery": False}}
        if kind not in ("unfollow",):
            event["replyToken"] = self.line.reply_token_for(self.user_id)
        event.update(fields)
        return event

    def text(self, text: str) -> dict:
        return self.event("message", message={"type": "text", "id": str(uuid.uuid4().int)[:18], "text": text,
                                              "quoteToken": "q"})

    def post(self, *events: dict, signature: str | None = None):
        body = json.dumps({"destination": "Uxxxxxxxx", "events": list(events)}, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json"}
        if signature is not False:
            headers["X-Line-Signature"] = signature if signature is not None else signature_of(self.secret, body)
        return self.client.post("/channels/line/webhook", data=body, headers=headers)

    def says(self, text: str):
        answer = self.post(self.text(text))
        assert answer.status_code == 200, answer.get_json()
        return answer


def count(app, model) -> int:
    with app.extensions["tsunagi"].db.reading() as session:
        return session.scalar(select(func.count()).select_from(model))


def conversation_of(app, user_id: str = USER) -> Conversation:
    with app.extensions["tsunagi"].db.reading() as session:
        return session.scalars(select(Conversation).where(Conversation.channel_address == user_id)
                               .order_by(Conversation.created_at.desc())).first()


def texts_in(app, conversation_id: str) -> list[tuple[str, str]]:
    with app.extensions["tsunagi"].db.reading() as session:
        return [(m.sender, m.display_text or m.text) for m in session.scalars(
            select(Message).where(Message.conversation_id == conversation_id).order_by(Message.seq))]


def outbox_settled(app) -> bool:
    with app.extensions["tsunagi"].db.reading() as session:
        return session.scalar(select(func.count()).select_from(OutboxEntry)
                              .where(OutboxEntry.status.in_(("pending", "sending")))) == 0 and \
            session.scalar(select(func.count()).select_from(ChannelEvent)
                           .where(ChannelEvent.status.in_(("pending", "sending")))) == 0


# ---- the webhook's door ----------------------------------------------------------------------------

def test_a_bad_or_missing_signature_is_refused_and_nothing_is_stored(line_app, line):
    user = LineUser(line_app, line)
    event = user.text("How much is shipping?")
    wrong = LineUser(line_app, line, secret="not-the-secret")
    for answer in (user.post(event, signature=False), wrong.post(event), user.post(event, signature="AAAA")):
        assert answer.status_code == 401
        assert answer.get_json()["error"]["code"] == "bad_signature"
    # Signed over other bytes (the same JSON re-serialised) is refused too: the raw body is what counts.
    body = json.dumps({"destination": "Uxxxxxxxx", "events": [event]}, ensure_ascii=False).encode()
    spaced = json.dumps({"destination": "Uxxxxxxxx", "events": [event]}, ensure_ascii=False, indent=1).encode()
    answer = user.client.post("/channels/line/webhook", data=spaced,
                              headers={"X-Line-Signature": signature_of(SECRET, body)})
    assert answer.status_code == 401
    time.sleep(0.3)
    assert count(line_app, ChannelEvent) == 0 and count(line_app, Conversation) == 0 and line.requests == []


def test_a_good_signature_with_no_events_is_ok_and_bad_json_is_a_400(line_app, line):
    user = LineUser(line_app, line)
    assert user.post().status_code == 200  # the console's "Verify" button sends no events
    body = b"not json"
    answer = user.client.post("/channels/line/webhook", data=body, headers={"X-Line-Signature": signature_of(SECRET, body)})
    assert answer.status_code == 400 and answer.get_json()["error"]["code"] == "invalid_json"


def test_the_webhook_is_not_found_when_line_is_not_configured(make_app, line):
    app = make_app()
    answer = LineUser(app, line).post(LineUser(app, line).text("hi"))
    assert answer.status_code == 404 and answer.get_json()["error"]["code"] == "channel_not_configured"


# ---- the bot on LINE -------------------------------------------------------------------------------

def test_a_faq_question_is_answered_by_the_reply_api_with_quick_replies(line_app, line):
    line.profiles[USER] = "山田花子"
    user = LineUser(line_app, line)
    user.says("How much is shipping?")
    wait_until(lambda: line.delivered, "a reply delivered")
    delivery = line.delivered[0]
    assert delivery["kind"] == "reply" and delivery["to"] == USER
    texts = [m["text"] for m in delivery["messages"]]
    assert texts[0].startswith("Shipping is 550 yen") and texts[1] == "Did that help?"  # one call, one token
    items = delivery["messages"][1]["quickReply"]["items"]
    assert [i["action"]["label"] for i in items] == ["Yes", "No"]
    assert json.loads(items[0]["action"]["data"]) == {"p": "/affirm", "t": "Yes"}
    assert line.calls_to("/v2/bot/message/push") == []
    # The name is asked of the profile API after the answer (the reply may be out before it is kept).
    wait_until(lambda: conversation_of(line_app).customer_name is not None, "the display name kept")
    conversation = conversation_of(line_app)
    assert (conversation.channel, conversation.customer_name) == ("line", "山田花子")
    assert texts_in(line_app, conversation.id)[0] == ("customer", "How much is shipping?")

    # The quick reply: the payload goes to the bot, the title to the transcript.
    user.post(user.event("postback", postback={"data": items[0]["action"]["data"]}))
    wait_until(lambda: len(line.delivered) == 2, "the answer to the tap")
    assert line.delivered[1]["kind"] == "reply"
    assert line.delivered[1]["messages"][0]["text"] == "Glad to hear it! Anything else?"
    assert ("customer", "Yes") in texts_in(line_app, conversation.id)
    # The profile was asked once: the name is known from then on.
    assert len([r for r in line.requests if r["path"].startswith("/v2/bot/profile/")]) == 1
    # The access token is sent to LINE in the header only.
    assert all(r["authorization"] == f"Bearer {TOKEN}" and TOKEN not in r["path"] for r in line.requests)


def test_the_console_shows_the_channel_and_the_customer(line_app, line, agent_factory):
    line.profiles[USER] = "Hanako"
    user = LineUser(line_app, line)
    user.says("blah")
    user.says("blah blah")  # second fallback: handed off
    conversation = wait_until(lambda: (c := conversation_of(line_app)) and c.status == "waiting" and c, "handed off")
    agent = agent_factory()
    queue = agent.get("/api/agent/queue").get_json()
    item = next(i for i in queue["queue"] if i["id"] == conversation.id)
    assert (item["channel"], item["channel_address"], item["customer_name"]) == ("line", USER, "Hanako")
    detail = agent.conversation(conversation.id)
    assert (detail["channel"], detail["customer_name"]) == ("line", "Hanako")


def test_two_fallbacks_hand_off_and_the_agents_reply_is_pushed_once(line_app, line, agent_factory, rasa):
    user = LineUser(line_app, line)
    user.says("blah")
    wait_until(lambda: line.delivered, "the fallback's apology")
    user.says("blah blah")
    conversation = wait_until(lambda: (c := conversation_of(line_app)) and c.status == "waiting" and c, "handed off")
    wait_until(lambda: len(line.delivered) == 2, "the handoff notice")
    assert line.delivered[1]["kind"] == "reply"
    assert "connect you" in " ".join(m["text"] for m in line.delivered[1]["messages"])

    agent = agent_factory()
    assert agent.post(f"/api/agent/conversations/{conversation.id}/claim").status_code == 200
    assert agent.post(f"/api/agent/conversations/{conversation.id}/typing", {"typing": True}).status_code == 204
    wait_until(lambda: line.calls_to("/v2/bot/chat/loading/start"), "the loading animation")
    assert line.calls_to("/v2/bot/chat/loading/start")[0]["body"] == {"chatId": USER, "loadingSeconds": 20}
    line.fail_next(1)  # LINE is down for the first try of the reply
    answer = agent.post(f"/api/agent/conversations/{conversation.id}/messages", {"text": "Hello, this is Aiko. How can I help?"})
    assert answer.status_code == 201
    wait_until(lambda: any("Hello, this is Aiko" in t for t in line.delivered_texts(USER)), "the agent's reply")
    wait_until(lambda: outbox_settled(line_app), "the outbox settled")
    pushes = line.calls_to("/v2/bot/message/push")
    aiko = [p for p in pushes if "Hello, this is Aiko" in p["body"]["messages"][-1]["text"]]
    assert len(aiko) == 2 and aiko[0]["retry_key"] == aiko[1]["retry_key"]  # retried with the same key
    assert len([d for d in line.delivered if d["kind"] == "push"
                and "Hello, this is Aiko" in d["messages"][-1]["text"]]) == 1
    # The customer answers: it reaches the agent, not the bot.
    user.says("My order 1234 has not arrived")
    wait_until(lambda: ("customer", "My order 1234 has not arrived") in texts_in(line_app, conversation.id), "stored")
    assert rasa.texts_for(conversation.id) == ["blah", "blah blah"]


def test_a_push_delivered_whose_answer_was_lost_is_not_delivered_again(line_app, line, agent_factory):
    user = LineUser(line_app, line)
    user.says("talk to a person")
    conversation = wait_until(lambda: (c := conversation_of(line_app)) and c.status == "waiting" and c, "handed off")
    agent = agent_factory()
    agent.post(f"/api/agent/conversations/{conversation.id}/claim")
    wait_until(lambda: outbox_settled(line_app), "the outbox settled")
    before = len(line.delivered)
    line.fail_next(2, status=500, accepted=True)  # LINE delivers, the answer never reaches us
    agent.post(f"/api/agent/conversations/{conversation.id}/messages", {"text": "Exactly once, please"})
    wait_until(lambda: outbox_settled(line_app), "the outbox settled")
    calls = [c for c in line.calls_to("/v2/bot/message/push") if c["body"]["messages"][-1]["text"] == "Exactly once, please"]
    assert len(calls) >= 2 and len({c["retry_key"] for c in calls}) == 1
    assert line.delivered_texts(USER)[before:].count("Exactly once, please") == 1
    with line_app.extensions["tsunagi"].db.reading() as session:
        row = session.scalars(select(OutboxEntry).order_by(OutboxEntry.id.desc())).first()
    assert row.status == "sent" and row.attempts >= 2


def test_a_redelivered_event_is_processed_once(line_app, line):
    user = LineUser(line_app, line)
    event = user.text("How much is shipping?")
    user.post(event)
    redelivered = dict(event, deliveryContext={"isRedelivery": True})
    assert user.post(redelivered).status_code == 200
    assert user.post(redelivered).status_code == 200
    wait_until(lambda: outbox_settled(line_app) and line.delivered, "answered")
    time.sleep(0.3)
    assert count(line_app, ChannelEvent) == 1
    conversation = conversation_of(line_app)
    assert [t for t in texts_in(line_app, conversation.id) if t[0] == "customer"] == [("customer", "How much is shipping?")]
    assert len(line.delivered) == 1


def test_an_expired_reply_token_means_a_push(line_app_factory, line):
    app = line_app_factory(LINE_REPLY_TOKEN_SECONDS=0.0)
    LineUser(app, line).says("How much is shipping?")
    wait_until(lambda: line.delivered, "answered")
    assert line.delivered[0]["kind"] == "push" and line.delivered[0]["retry_key"]
    assert line.calls_to("/v2/bot/message/reply") == []


def test_a_used_reply_token_falls_back_to_a_push(line_app, line):
    user = LineUser(line_app, line)
    event = user.text("How much is shipping?")
    line._used_tokens.add(event["replyToken"])  # as when the token was spent elsewhere
    user.post(event)
    wait_until(lambda: line.delivered, "answered")
    assert [d["kind"] for d in line.delivered] == ["push"]
    assert len(line.calls_to("/v2/bot/message/reply")) == 1


def test_a_sticker_gets_a_polite_text_only_answer_and_the_agents_see_it(line_app, line):
    user = LineUser(line_app, line)
    user.post(user.event("message", message={"type": "sticker", "id": "9911", "packageId": "1", "stickerId": "2"}))
    wait_until(lambda: line.delivered, "answered")
    assert "テキスト" in line.delivered[0]["messages"][0]["text"]
    conversation = conversation_of(line_app)
    assert texts_in(line_app, conversation.id)[0][0] == "customer"
    assert "sticker" in texts_in(line_app, conversation.id)[0][1]


def test_a_follow_is_greeted(line_app, line):
    user = LineUser(line_app, line)
    user.post(user.event("follow"))
    wait_until(lambda: line.delivered, "greeted")
    assert line.delivered[0]["kind"] == "reply" and "友だち追加" in line.delivered[0]["messages"][0]["text"]


def test_a_resolved_conversation_is_followed_by_a_new_one(line_app, line, agent_factory):
    user = LineUser(line_app, line)
    user.says("talk to a person")
    first = wait_until(lambda: (c := conversation_of(line_app)) and c.status == "waiting" and c, "handed off")
    agent = agent_factory()
    agent.post(f"/api/agent/conversations/{first.id}/claim")
    agent.post(f"/api/agent/conversations/{first.id}/resolve")
    user.says("How much is shipping?")
    second = wait_until(lambda: (c := conversation_of(line_app)) and c.id != first.id and c, "a new conversation")
    assert second.channel == "line" and second.status == "bot"
    wait_until(lambda: any(t.startswith("Shipping is 550") for t in line.delivered_texts(USER)), "answered")


def test_a_long_agent_message_is_split_at_lines_limit(line_app_factory, line, agent_factory):
    app = line_app_factory(MAX_MESSAGE_CHARS=12000, MAX_BODY_BYTES=200000)
    user = LineUser(app, line)
    user.says("talk to a person")
    conversation = wait_until(lambda: (c := conversation_of(app)) and c.status == "waiting" and c, "handed off")
    add_agent(app, "aiko@shop.example")
    agent = AgentSession(app, "aiko@shop.example")
    agent.post(f"/api/agent/conversations/{conversation.id}/claim")
    wait_until(lambda: outbox_settled(app), "settled")
    text = ("あ" * 99 + "\n") * 110  # 11,000 characters
    assert agent.post(f"/api/agent/conversations/{conversation.id}/messages", {"text": text}).status_code == 201
    wait_until(lambda: outbox_settled(app), "settled")
    pushed = line.calls_to("/v2/bot/message/push")[-1]["body"]["messages"]
    assert [len(m["text"]) for m in pushed] == [5000, 5000, 1000]
    assert "".join(m["text"] for m in pushed) == text


# ---- the pieces --------------------------------------------------------------------------------------

def test_quick_replies_keep_to_lines_limits():
    buttons = [{"title": f"とても長いボタンの題名です、番号{i}番目のもの", "payload": f"/choose{{\"n\": {i}}}"} for i in range(20)]
    reply = quick_reply(buttons)
    assert len(reply["items"]) == 13
    assert all(len(item["action"]["label"]) <= MAX_LABEL for item in reply["items"])
    assert reply["items"][0]["action"]["displayText"] == buttons[0]["title"]
    assert json.loads(reply["items"][3]["action"]["data"])["p"] == buttons[3]["payload"]
    assert quick_reply(None) is None and quick_reply([]) is None


def test_split_text_and_five_objects_per_call():
    assert split_text("a" * 12001) == ["a" * 5000, "a" * 5000, "a" * 2001]
    assert split_text("short") == ["short"]
    objects = line_messages([{"text": "x" * 26000, "buttons": [{"title": "Yes", "payload": "/affirm"}]}])
    assert len(objects) == 6 and "quickReply" in objects[-1] and "quickReply" not in objects[0]


def test_retry_keys_are_uuids_stable_per_row_and_part():
    assert retry_key("line:message:1", 0) == retry_key("line:message:1", 0)
    assert retry_key("line:message:1", 0) != retry_key("line:message:1", 1) != retry_key("line:message:2", 1)
    assert str(uuid.UUID(retry_key("line:message:1", 0))) == retry_key("line:message:1", 0)


# ---- the console and the dashboard -----------------------------------------------------------------

def test_the_console_shows_lines_push_quota_and_failed_deliveries(line_app, line, agent_factory):
    line.quota = {"type": "limited", "value": 200}
    user = LineUser(line_app, line)
    user.says("talk to a person")
    conversation = wait_until(lambda: (c := conversation_of(line_app)) and c.status == "waiting" and c, "handed off")
    agent = agent_factory()
    agent.post(f"/api/agent/conversations/{conversation.id}/claim")
    wait_until(lambda: outbox_settled(line_app), "settled")
    pushes = len([d for d in line.delivered if d["kind"] == "push"])
    status = agent.get("/api/agent/channels").get_json()
    line_status = next(c for c in status["channels"] if c["channel"] == "line")
    assert line_status == {"channel": "line", "configured": True,
                           "push_quota": {"type": "limited", "limit": 200, "used": pushes}}
    assert status["outbox"] == {"pending": 0, "failed": 0} and status["failed"] == []
    # LINE refuses a push for good (400): the row fails and the console lists it.
    line.fail_next(1, status=400)
    agent.post(f"/api/agent/conversations/{conversation.id}/messages", {"text": "This one is refused"})
    wait_until(lambda: outbox_settled(line_app), "settled")
    status = agent.get("/api/agent/channels").get_json()
    assert status["outbox"]["failed"] == 1
    assert status["failed"][0]["conversation_id"] == conversation.id and "400" in status["failed"][0]["last_error"]


def test_the_dashboard_splits_its_figures_by_channel(line_app, line, client):
    from handoff_support import Customer
    add_agent(line_app, "boss@shop.example", role="admin")
    boss = AgentSession(line_app, "boss@shop.example")
    Customer(client).send("How much is shipping?")
    user = LineUser(line_app, line)
    user.says("blah")
    wait_until(lambda: line.delivered, "the apology")
    user.says("blah blah")
    wait_until(lambda: (c := conversation_of(line_app)) and c.status == "waiting", "handed off")
    kpis = boss.get("/api/admin/kpis").get_json()
    by_channel = {c["channel"]: c for c in kpis["by_channel"]}
    assert set(by_channel) == {"web", "line"} and kpis["conversations"] == 2
    assert (by_channel["web"]["conversations"], by_channel["web"]["handoffs"], by_channel["web"]["fallback_rate"]) == (1, 0, 0.0)
    assert (by_channel["line"]["conversations"], by_channel["line"]["handoffs"]) == (1, 1)
    assert by_channel["line"]["handoff_rate"] == 1.0 and by_channel["line"]["fallback_rate"] == 1.0
