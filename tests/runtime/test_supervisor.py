"""`make run` as a supervisor (tools/run.sh, tools/supervisord.conf), started whole on free ports
with its files in a temporary folder: it serves the published model and says when the trained
content differs; Rasa killed, the chat still answers at once with the "assistant unavailable"
reply, and Rasa comes back by itself; Ctrl-C stops every process. The bot's conversations are in
the handoff service's SQLite file, in Rasa's own table."""
from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import time

import pytest
import requests

from runtime_support import BASE_ENV, LOAD_TIMEOUT, ROOT, free_port, regzipped_copy, stop_process
from tests.support.waiting import wait_until

# What make run's environment must not inherit from the shell running the tests.
CLEARED = ("RASA_URL", "RASA_URLS", "RASA_JWT_SECRET", "ACTION_SERVER_TOKEN", "ACTION_ENDPOINT_URL", "DATABASE_URL",
           "TRACKER_STORE_URL", "SECRET_KEY", "HANDOFF_BIND", "WEB_CONCURRENCY", "REDIS_URL", "TSUNAGI_PROJECT_DIR")


class Run:
    def __init__(self, workdir, trained_model):
        self.workdir = workdir
        self.instance, self.logs, models = workdir / "instance", workdir / "logs", workdir / "models"
        models.mkdir()
        # Published earlier: published.tar.gz. Trained since from changed content: current.tar.gz.
        (models / "published.tar.gz").write_bytes(trained_model.read_bytes())
        regzipped_copy(trained_model, models / "current.tar.gz")
        (models / "live.json").write_text(json.dumps({"live": {"model": "models/published.tar.gz", "action": "publish",
                                                               "since": "2026-01-01T00:00:00Z"},
                                                      "stack": ["models/published.tar.gz"], "history": []}))
        self.handoff_port, self.rasa_port, self.actions_port = free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.handoff_port}"
        self.rasa_url = f"http://127.0.0.1:{self.rasa_port}"
        env = {k: v for k, v in os.environ.items() if k not in CLEARED}
        self.env = dict(env, **BASE_ENV, TSUNAGI_INSTANCE_DIR=str(self.instance), TSUNAGI_LOG_DIR=str(self.logs),
                        TSUNAGI_RUN_DIR=str(workdir / "run"), TSUNAGI_MODELS_DIR=str(models),
                        HANDOFF_PORT=str(self.handoff_port), RASA_PORT=str(self.rasa_port),
                        ACTION_SERVER_PORT=str(self.actions_port), TSUNAGI_ROOT=str(ROOT))
        self.output = workdir / "run.out"
        self.process = None

    def start(self):
        # A session of its own: Ctrl-C is a SIGINT to this process group (run.sh and supervisord).
        self.process = subprocess.Popen([str(ROOT / "tools" / "run.sh")], cwd=ROOT, env=self.env,
                                        stdout=open(self.output, "w"), stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: "Tsunagi is running" in self.text() or self.process.poll() is not None,
                   "make run printed its URLs", LOAD_TIMEOUT, 1)
        assert self.process.poll() is None, self.text()
        return self

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def pids(self) -> dict:
        """supervisorctl's view: each program's pid (0 when it is not running)."""
        done = subprocess.run([str(ROOT / ".venv" / "handoff" / "bin" / "supervisorctl"), "-c",
                               str(ROOT / "tools" / "supervisord.conf"), "status"],
                              cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=30)
        pids, self.status_output = {}, done.stdout + done.stderr
        for line in done.stdout.splitlines():
            name, state, *rest = line.split()
            pids[name] = int(rest[1].rstrip(",")) if state == "RUNNING" else 0
        return pids

    def rasa_headers(self) -> dict:
        from runtime_support import bearer, rasa_token

        return bearer(rasa_token((self.instance / "rasa_jwt_secret").read_text().strip()))

    def rasa_model(self):
        try:
            response = requests.get(self.rasa_url + "/status", headers=self.rasa_headers(), timeout=5)
        except requests.RequestException:
            return None
        return response.json().get("model_file") if response.ok else None


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return False
    return True


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def run(tmp_path_factory, trained_model):
    run = Run(tmp_path_factory.mktemp("make-run"), trained_model).start()
    yield run
    if run.process.poll() is None:
        os.killpg(run.process.pid, signal.SIGINT)
        stop_process(run.process, signal.SIGTERM, 60)


def test_make_run_serves_the_published_model_and_says_what_make_publish_would_change(run):
    assert run.rasa_model() == "published.tar.gz"
    assert "the content changed since the last publish" in run.text()
    assert "`make publish`" in run.text()
    assert {"127.0.0.1"} == {line.split("//")[1].split(":")[0] for line in run.text().splitlines()
                             if "http://" in line and ("Rasa server" in line or "Action server" in line)}


def test_rasa_killed_the_chat_answers_at_once_and_rasa_comes_back(run):
    http = requests.Session()
    created = http.post(f"{run.url}/api/v1/conversations", json={"language": "ja"}, timeout=30)
    assert created.status_code == 201, created.text
    conversation = created.json()
    http.headers["Authorization"] = f"Bearer {conversation['token']}"
    messages = f"{run.url}/api/v1/conversations/{conversation['id']}/messages"

    answered = http.post(messages, json={"text": "送料はいくらですか？"}, timeout=120)
    assert answered.status_code == 201, answered.text
    assert any(r["sender"] == "bot" and "550" in (r["text"] or "") for r in answered.json()["replies"])
    # The bot's turn is in the handoff service's SQLite file, in Rasa's table beside the service's.
    with sqlite3.connect(run.instance / "handoff.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT count(*) FROM events WHERE sender_id = ?", (conversation["id"],)).fetchone()[0] > 0
        assert db.execute("SELECT count(*) FROM messages WHERE conversation_id = ?", (conversation["id"],)).fetchone()[0] >= 2

    # Rasa may answer before supervisord counts it as started (startsecs); its pid shows from then.
    wait_until(lambda: run.pids().get("rasa"), "supervisord counts Rasa as running", 60, 0.5)
    before = run.pids()
    # A pid of 0 would be this test's own process group: never signal it.
    assert before.get("rasa", 0) > 0, f"supervisorctl status: {run.status_output}"
    os.kill(before["rasa"], signal.SIGKILL)                    # as a crash would
    wait_until(lambda: not listening(run.rasa_port), "the Rasa server's port is closed")
    # While Rasa is down the customer is answered within 2 s: the polite reply and a way to a person.
    down = http.post(messages, json={"text": "返品したい"}, timeout=2)
    assert down.status_code == 201, down.text
    [reply] = down.json()["replies"]
    assert reply["sender"] == "system" and "自動応答が利用できません" in reply["text"]
    assert reply["buttons"][0]["payload"] == "/request_human"
    # The database is up, so the service is live (200), naming Rasa as the part that is down.
    def rasa_degraded():
        health = requests.get(f"{run.url}/healthz", timeout=5)
        return health.status_code == 200 and "rasa" in health.json()["degraded"] and health.json()
    health = wait_until(rasa_degraded, "/healthz answers 200 with rasa in degraded", 10, 0.5)
    assert health["checks"]["database"] is True and health["status"] == "degraded", health

    # supervisord starts Rasa again by itself; it answers once the model is loaded.
    wait_until(lambda: run.pids().get("rasa") not in (0, before["rasa"]), "supervisord restarted Rasa", 60, 0.5)
    wait_until(run.rasa_model, "the restarted Rasa server answers", LOAD_TIMEOUT, 1)
    assert run.rasa_model() == "published.tar.gz"

    def bot_answers():
        replies = http.post(messages, json={"text": "送料はいくらですか？"}, timeout=120).json()["replies"]
        return any(r["sender"] == "bot" for r in replies)
    wait_until(bot_answers, "the chat gets the bot's answers again", 60, 2)
    assert run.pids()["handoff"] == before["handoff"]           # the service never stopped


def test_ctrl_c_stops_every_process(run):
    wait_until(lambda: all(run.pids().get(name) for name in ("actions", "rasa", "handoff")),
               "supervisord counts every program as running", 60, 0.5)
    pids = run.pids()
    supervisor = int((run.workdir / "run" / "supervisord.pid").read_text())
    assert all(pids[name] > 0 for name in ("actions", "rasa", "handoff")), run.status_output
    os.killpg(run.process.pid, signal.SIGINT)                  # what Ctrl-C in the terminal sends
    run.process.wait(90)
    # 0: a program not running (the mail receiver exits at once when e-mail is not configured).
    everything = [supervisor, *(pid for pid in pids.values() if pid)]
    wait_until(lambda: not any(alive(pid) for pid in everything), f"every process of make run ended: {everything}", 60)
    assert not any(listening(port) for port in (run.handoff_port, run.rasa_port, run.actions_port))
