"""The dialogue: Rasa test stories, and whole conversations through the real action server."""
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.ports import free_port

HERE = Path(__file__).resolve().parent


def test_rasa_test_stories(trained_model, project_root, tmp_path):
    rasa = Path(sys.executable).with_name("rasa")
    result = subprocess.run(
        [str(rasa), "test", "core", "--model", str(trained_model), "--stories", str(HERE / "test_stories.yml"),
         "--out", str(tmp_path), "--fail-on-prediction-errors"],
        cwd=project_root, capture_output=True, text=True, timeout=600,
    )
    failed = tmp_path / "failed_test_stories.yml"
    assert result.returncode == 0, (failed.read_text() if failed.exists() else "") + result.stdout[-3000:] + result.stderr[-3000:]
    assert failed.read_text().startswith("# None of the test stories failed")
    assert "Correct:          6 / 6" in result.stdout + result.stderr


@pytest.fixture(scope="module")
def action_server(project_root):
    port = free_port()
    rasa = Path(sys.executable).with_name("rasa")
    env = {**os.environ, "SUPPORT_HOURS": "always"}
    process = subprocess.Popen([str(rasa), "run", "actions", "--port", str(port), "--actions", "actions"],
                               cwd=project_root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None:
                pytest.fail("the action server exited at start")
            time.sleep(0.5)
    yield f"http://127.0.0.1:{port}/webhook"
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def agent(trained_model, action_server):
    from rasa.core.agent import Agent
    from rasa.utils.endpoints import EndpointConfig

    return Agent.load(str(trained_model), action_endpoint=EndpointConfig(action_server))


def say(agent, sender, text):
    return asyncio.run(agent.handle_text(text, sender_id=sender))


def handoffs(messages):
    return [m["custom"]["handoff"] for m in messages if (m.get("custom") or {}).get("handoff")]


def test_answer_in_the_customers_language_and_switch(agent):
    ja = say(agent, "switch", "送料はいくらですか")
    assert "550" in ja[0]["text"] and "円" in ja[0]["text"]
    assert [b["payload"] for b in ja[1]["buttons"]] == ["/affirm", "/deny"]
    en = say(agent, "switch", "and how long does delivery take?")
    assert en[0]["text"].isascii() or "business day" in en[0]["text"].lower()
    assert "Yes" in [b["title"] for b in en[1]["buttons"]]


def test_two_fallbacks_hand_off_with_the_nlu_of_recent_turns(agent):
    first = say(agent, "fallbacks", "今日の東京の天気を教えて")
    assert not handoffs(first)
    second = say(agent, "fallbacks", "おすすめのラーメン屋さんは？")
    [payload] = handoffs(second)
    assert payload["reason"] == "repeated_fallback" and payload["language"] == "ja"
    assert [t["intent"] for t in payload["turns"]] == ["nlu_fallback", "nlu_fallback"]
    assert all(t["intent_ranking"] for t in payload["turns"])


def test_request_human_hands_off(agent):
    [payload] = handoffs(say(agent, "human", "I want to talk to a human agent"))
    assert payload["reason"] == "request_human" and payload["language"] == "en"


def test_complaint_apologises_and_hands_off_first(agent):
    messages = say(agent, "angry", "何度問い合わせても返事がない！本当に最悪です")
    [payload] = handoffs(messages)
    assert payload["reason"] == "complaint" and payload["priority"] == "high"
    assert messages[0].get("text")  # the apology comes before the payload


def test_did_not_help_then_person(agent):
    say(agent, "nohelp", "送料はいくら？")
    suggestions = say(agent, "nohelp", "/deny")
    assert suggestions[0]["buttons"][-1]["payload"] == "/request_human"
    [payload] = handoffs(say(agent, "nohelp", "/request_human"))
    assert payload["reason"] == "not_helpful"


def test_yes_or_no_when_nothing_was_asked_is_not_understood(agent):
    first = say(agent, "stray", "/affirm")
    assert not handoffs(first)
    # One rephrase prompt with its "talk to a person" button, not "glad it helped" (and not
    # the same prompt again until Rasa's prediction limit, as before).
    assert len(first) == 1 and first[0]["buttons"][-1]["payload"] == "/request_human"
    [payload] = handoffs(say(agent, "stray", "/deny"))
    assert payload["reason"] == "repeated_fallback"
