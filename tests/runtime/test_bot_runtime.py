"""The bot's runtime with real processes: Rasa's API, the gateway channel and the action server
refuse calls without their tokens; a conversation keeps its state (the fallback count, the
language) through a model swap (make publish) and through a crash and restart of Rasa; after a
restart Rasa serves the published model, and after a rollback the rolled-back one.

The tests of this module share one action server and one Rasa server (started three times in
all: at first, after the crash, after the rollback) and run in the order written."""
from __future__ import annotations

import json
import socket
import uuid

import pytest
import requests

from runtime_support import FALLBACKS, Bot, bearer, free_port, handoff_reason, rasa_token, regzipped_copy


@pytest.fixture(scope="module")
def bot(tmp_path_factory, trained_model, tracker_store_url):
    bot = Bot(tmp_path_factory.mktemp("runtime"), tracker_store_url)
    # What make run served before anything was published: the trained model (here in other bytes,
    # so that `make publish` of the working tree's content has something to replace).
    regzipped_copy(trained_model, bot.models / "current.tar.gz")
    bot.start_actions()
    bot.start_rasa()
    yield bot
    bot.stop()


def live(bot: Bot) -> dict:
    return json.loads((bot.models / "live.json").read_text())["live"]


def conversation() -> str:
    return f"runtime-{uuid.uuid4().hex[:12]}"


# Tokens.

def test_rasa_api_refuses_calls_without_the_token(bot):
    events = f"{bot.url}/conversations/{conversation()}/tracker/events"
    slot = [{"event": "slot", "name": "language", "value": "en"}]
    assert requests.post(events, json=slot, timeout=30).status_code == 401
    assert requests.post(events, json=slot, headers=bearer(rasa_token("another secret")), timeout=30).status_code == 401
    assert requests.post(events, json=slot, headers=bearer(rasa_token(bot.secret, lifetime=-600)),
                         timeout=30).status_code == 401                              # expired (sanic-jwt allows 60 s of leeway)
    assert requests.put(f"{bot.url}/model", json={"model_file": "/tmp/x.tar.gz"}, timeout=30).status_code == 401
    assert requests.get(f"{bot.url}/status", timeout=30).status_code == 401
    accepted = requests.post(events, json=slot, headers=bot.headers(), timeout=30)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["slots"]["language"] == "en"


def test_the_gateway_channel_refuses_calls_without_a_valid_token(bot):
    webhook = f"{bot.url}/webhooks/gateway/webhook"
    body = {"sender": conversation(), "message": "送料はいくらですか？"}
    for headers in ({}, bearer(rasa_token("another secret")), bearer(rasa_token(bot.secret, lifetime=-600)),
                    bearer(rasa_token(bot.secret, role="user")), {"Authorization": "Bearer"},
                    {"Authorization": "Basic dXNlcjpwYXNz"}, bearer("not.a.jwt")):
        refused = requests.post(webhook, json=body, headers=headers, timeout=30)
        assert refused.status_code == 401, (headers, refused.text)
        assert refused.json()["error"]["code"] == "unauthorized"
    # Rasa's own REST channel is not served: it would take messages without any token.
    assert requests.post(f"{bot.url}/webhooks/rest/webhook", json=body, timeout=30).status_code == 404
    answered = bot.say(body["sender"], body["message"])
    assert answered["messages"] and answered["nlu"]["intent"]["name"] == "shipping_fee"


def test_the_action_server_refuses_calls_without_its_token(bot):
    call = {"next_action": "action_handle_fallback", "sender_id": "x", "tracker": {}, "domain": {}, "version": "3.6.21"}
    for headers in ({}, bearer("wrong"), {"Authorization": bot.action_token}):
        assert requests.post(f"{bot.actions_url}/webhook", json=call, headers=headers, timeout=30).status_code == 401
        assert requests.get(f"{bot.actions_url}/actions", headers=headers, timeout=30).status_code == 401
    listed = requests.get(f"{bot.actions_url}/actions", headers=bearer(bot.action_token), timeout=30)
    assert listed.status_code == 200 and {"name": "action_handle_fallback"} in listed.json()
    # The Rasa server sends the token (endpoints.yml): its custom actions run. The first fallback
    # is action_handle_fallback's answer (suggested topics), which the action server computes.
    turn = bot.say(conversation(), FALLBACKS[0])
    assert turn["nlu"]["intent"]["name"] == "nlu_fallback"
    assert turn["messages"] and handoff_reason(turn) is None


def test_rasa_and_the_action_server_listen_on_the_loopback_only(bot):
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outward address
        outward = probe.getsockname()[0]
    except OSError:
        pytest.skip("this host has no address but the loopback")
    finally:
        probe.close()
    if outward.startswith("127."):
        pytest.skip("this host has no address but the loopback")
    for port in (bot.port, bot.actions_port):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((outward, port), timeout=5)


# State through a model swap and a restart; the published model after a restart.

def test_a_publish_swaps_the_model_and_the_conversation_goes_on(bot):
    sender = conversation()
    first = bot.say(sender, FALLBACKS[0])
    assert first["nlu"]["intent"]["name"] == "nlu_fallback" and handoff_reason(first) is None
    before = bot.model_file()

    done = bot.publish("publish", "--no-similarity")            # the working tree's content
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Published:" in done.stdout
    published = live(bot)["model"]
    assert live(bot)["action"] == "publish"
    assert bot.model_file() == published.split("/")[-1] != before

    # The second fallback in a row hands over: the new model's agent read the first from the store.
    second = bot.say(sender, FALLBACKS[1])
    assert handoff_reason(second) == "repeated_fallback", second


def test_after_a_crash_rasa_serves_the_published_model_and_the_conversation_goes_on(bot):
    sender = conversation()
    first = bot.say(sender, FALLBACKS[0])
    assert first["nlu"]["intent"]["name"] == "nlu_fallback" and handoff_reason(first) is None

    bot.kill_rasa()
    bot.start_rasa()                                            # no model given: the published one
    assert bot.model_file() == live(bot)["model"].split("/")[-1]
    tracker = requests.get(f"{bot.url}/conversations/{sender}/tracker", headers=bot.headers(), timeout=30).json()
    assert tracker["slots"]["language"] == "ja"
    assert [e["parse_data"]["text"] for e in tracker["events"] if e["event"] == "user"] == [FALLBACKS[0]]

    second = bot.say(sender, FALLBACKS[1])
    assert handoff_reason(second) == "repeated_fallback", second


def test_publish_and_rollback_change_nothing_when_one_of_the_servers_cannot_be_reached(bot):
    record = (bot.models / "live.json").read_text()
    served = bot.model_file()
    unreachable = f"http://127.0.0.1:{free_port()}"
    for command in (("rollback",), ("publish", "--no-similarity")):
        done = bot.publish(*command, rasa_urls=f"{bot.url},{unreachable}")
        assert done.returncode == 2, done.stdout + done.stderr
        assert f"The Rasa server at {unreachable} cannot be reached" in done.stdout
        assert "Nothing was changed" in done.stdout
        assert (bot.models / "live.json").read_text() == record and bot.model_file() == served


def test_a_rollback_then_a_restart_serves_the_rolled_back_model(bot):
    published = live(bot)["model"]
    done = bot.publish("rollback")
    assert done.returncode == 0, done.stdout + done.stderr
    rolled_back = live(bot)["model"]
    assert live(bot)["action"] == "rollback" and rolled_back != published
    assert bot.model_file() == rolled_back.split("/")[-1]

    bot.kill_rasa()
    bot.start_rasa()
    assert bot.model_file() == rolled_back.split("/")[-1]
