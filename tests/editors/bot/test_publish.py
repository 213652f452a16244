"""`make publish` and `make rollback` (bot/publish.py) against a real Rasa server: a model made
worse on purpose is refused; a publish and a rollback swap the running model and record it;
a swap while messages are being sent loses no request and no conversation."""
from __future__ import annotations

import asyncio
import json
import re
import shutil
import threading
import time

import pytest
import requests

from tests.support.bot_project import ROOT, copy_project, keep_examples, run_publish
from bot import evaluate
from bot.publish import RasaServer


def test_batched_prediction_matches_rasas_own_parsing(trained_model):
    from rasa.core.agent import Agent

    examples = evaluate.read_examples(ROOT / "data" / "tests" / "nlu_test.yml")[::15]
    batched = evaluate.predict(trained_model, examples)
    agent = Agent.load(str(trained_model))
    one_by_one = [asyncio.run(agent.parse_message(e["text"]))["intent"] for e in examples]
    assert [r["predicted"] for r in batched] == [i["name"] for i in one_by_one]
    assert max(abs(a["confidence"] - b["confidence"]) for a, b in zip(batched, one_by_one)) < 1e-3


@pytest.mark.parametrize("old, new", [
    ("  examples: |\n    - 支払い方法は何がありますか？\n", "  examples: |\n   - 支払い方法は何がありますか？\n"),  # hides the rest
    ("    - 代引き手数料はいくらですか\n", "      - 代引き手数料はいくらですか\n"),  # hides this one
], ids=["three spaces under examples", "six spaces"])
def test_publish_refuses_an_editors_indentation_slip_before_training(tmp_path, old, new):
    project = copy_project(tmp_path / "project")
    nlu = project / "data" / "nlu" / "payment.yml"
    nlu.write_text(nlu.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")
    line = next(n for n, text in enumerate(nlu.read_text(encoding="utf-8").splitlines(), 1) if text == new.splitlines()[-1])
    models = tmp_path / "models"
    done = run_publish("publish", "--project", str(project), "--models-dir", str(models), "--no-load", "--no-similarity",
                       timeout=600)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"data/nlu/payment.yml:{line}: " in done.stdout and "skip" in done.stdout
    assert "Not published: the content has errors" in done.stdout
    assert "[2/4]" not in done.stdout and not (project / "logs" / "publish-train.log").exists()  # no training
    assert not (models / "releases").exists()


@pytest.fixture(scope="module")
def worse_project(tmp_path_factory):
    """The shop's content cut to 3 Japanese and 3 English examples per intent: valid (with
    --min-examples 3) but clearly worse. Its test set is cut to 2 of each per intent."""
    project = copy_project(tmp_path_factory.mktemp("worse") / "project")
    keep_examples(project, per_language=3)
    return project


def publish_args(project, server, *extra):
    return ("publish", "--project", str(project), "--models-dir", str(server.models), "--rasa-url", server.url,
            "--min-examples", "3", "--no-similarity", *extra)


def live_record(server) -> dict:
    path = server.models / "live.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def test_publish_refuses_a_model_made_worse_on_purpose(worse_project, bot_server):
    before = bot_server.model_file()
    done = run_publish(*publish_args(worse_project, bot_server))
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "Not published:" in out and "dropped by more than 2.0 points" in out
    assert re.search(r"(Japanese|English) (in-scope accuracy|out-of-scope recall)", out.split("Not published:")[1])
    per_intent = out.split("Per intent")[1].split("Not published:")[0]
    assert "->" in per_intent                              # what changed, intent by intent
    assert bot_server.model_file() == before               # the live model stays
    assert "publish" not in [h["action"] for h in live_record(bot_server).get("history", [])]


def test_publish_then_rollback_swap_the_running_model_and_record_it(worse_project, bot_server):
    # A margin of 100 points lets the worse model through; its training is cached from above.
    done = run_publish(*publish_args(worse_project, bot_server, "--max-drop", "1"))
    assert done.returncode == 0, done.stdout + done.stderr
    record = live_record(bot_server)
    assert record["live"]["action"] == "publish"
    release = record["live"]["model"]
    assert bot_server.model_file() == release.split("/")[-1]
    assert [h["action"] for h in record["history"]] == ["baseline", "publish"]
    assert record["stack"][-1] == release and len(record["stack"]) == 2
    assert "Published:" in done.stdout

    done = run_publish("rollback", "--models-dir", str(bot_server.models), "--rasa-url", bot_server.url)
    assert done.returncode == 0, done.stdout + done.stderr
    record = live_record(bot_server)
    assert [h["action"] for h in record["history"]] == ["baseline", "publish", "rollback"]
    assert record["live"]["model"] == record["stack"][-1] == record["history"][0]["model"]
    assert bot_server.model_file() == record["live"]["model"].split("/")[-1]
    assert record["live"]["since"] > record["history"][1]["since"]

    done = run_publish("rollback", "--models-dir", str(bot_server.models), "--rasa-url", bot_server.url)
    assert done.returncode == 1 and "no earlier model" in done.stdout


def test_a_model_swap_while_messages_are_sent_loses_no_request(bot_server):
    swapped_in = bot_server.models / "swapped-in.tar.gz"
    shutil.copy(ROOT / "models" / "current.tar.gz", swapped_in)
    questions = ["送料はいくらですか？", "How much is shipping?", "注文をキャンセルしたい", "I forgot my password"]
    results: dict[str, list] = {}
    stop = threading.Event()

    def customer(sender: str) -> None:
        sent = results.setdefault(sender, [])
        while not stop.is_set():
            started = time.monotonic()
            try:
                turn = bot_server.say(sender, questions[len(sent) % len(questions)], timeout=300)
                sent.append((started, time.monotonic(), bool(turn["messages"]), None))
            except requests.RequestException as error:
                sent.append((started, time.monotonic(), False, repr(error)))

    threads = [threading.Thread(target=customer, args=(f"swap-{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    while min((len(results.get(f"swap-{i}", [])) for i in range(4)), default=0) < 1:
        time.sleep(0.2)
    swap_started = time.monotonic()
    RasaServer(bot_server.url, bot_server.secret).load(swapped_in)   # what publish and rollback do
    swap_done = time.monotonic()
    counts = {sender: len(sent) for sender, sent in results.items()}
    while any(len(results[s]) < counts[s] + 2 for s in counts):
        time.sleep(0.2)
    stop.set()
    for thread in threads:
        thread.join()

    assert bot_server.model_file() == "swapped-in.tar.gz"
    every = [r for sent in results.values() for r in sent]
    assert all(answered and error is None for _, _, answered, error in every), every
    assert any(started < swap_done and finished > swap_started for started, finished, _, _ in every), \
        "no message was in flight during the swap"
    # Every conversation kept all its turns across the swap (the SQL tracker store, bot/tracker_store.py).
    for sender, sent in results.items():
        events = requests.get(f"{bot_server.url}/conversations/{sender}/tracker", headers=bot_server.headers(),
                              timeout=30).json()["events"]
        assert sum(e["event"] == "user" for e in events) == len(sent), sender


def test_the_bot_tells_the_gateway_which_question_did_not_help(bot_server):
    """The contract with the handoff service's unanswered questions (handoff/gateway.py)."""
    bot_server.say("feedback", "送料はいくらですか？")
    turn = bot_server.say("feedback", "/deny")
    assert turn["nlu"]["intent"]["name"] == "deny"
    feedback = [m["custom"] for m in turn["messages"] if "custom" in m]
    assert feedback == [{"feedback": {"helpful": False, "topic": "shipping_fee", "question": "送料はいくらですか？"}}]
