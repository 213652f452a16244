"""Fixtures of the editors' tests in the bot environment (.venv/bot): copies of the Rasa project
to break or change, and a real Rasa server (with its action server) for publishing to.

Run: .venv/bot/bin/python -m pytest -q tests/editors/bot   (needs `make setup train`)
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.support.bot_project import ROOT, copy_project
from tests.support.ports import free_port
from tests.support.trained_model import trained_model  # noqa: F401 (a fixture)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
RASA = ROOT / ".venv" / "bot" / "bin" / "rasa"


@pytest.fixture
def project(tmp_path) -> Path:
    return copy_project(tmp_path / "project")


def stop(process: subprocess.Popen) -> None:
    # Rasa shuts down on SIGINT (Ctrl-C); SIGTERM may leave it running.
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class BotServer:
    """The action server and the Rasa server on free ports, started as make run starts them
    (tools/action-server.sh, tools/rasa-server.sh: JWT, the action server's token, the SQL tracker
    store, here on a SQLite file of their own), from a copy of the trained model in their own
    models folder."""

    def __init__(self, workdir: Path, model: Path):
        self.workdir = workdir
        self.models = workdir / "models"
        self.models.mkdir(parents=True)
        shutil.copy(model, self.models / "current.tar.gz")
        self.port, self.actions_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.secret = secrets.token_urlsafe(32)
        self.processes = []

    def headers(self) -> dict:
        from rasa_auth import rasa_jwt

        return {"Authorization": f"Bearer {rasa_jwt(self.secret)}"}

    def start(self) -> "BotServer":
        env = dict(os.environ, ACTION_ENDPOINT_URL=f"http://127.0.0.1:{self.actions_port}/webhook",
                   SUPPORT_HOURS="always", PYTHONPATH=str(ROOT), RASA_JWT_SECRET=self.secret,
                   ACTION_SERVER_TOKEN=secrets.token_urlsafe(32), REDIS_URL="",
                   TRACKER_STORE_URL=f"sqlite:///{self.workdir / 'bot.sqlite3'}", TSUNAGI_MODELS_DIR=str(self.models))
        logs = self.workdir / "logs"
        logs.mkdir()
        self.processes.append(subprocess.Popen(
            [str(ROOT / "tools" / "action-server.sh"), str(self.actions_port)],
            cwd=ROOT, env=env, stdout=open(logs / "actions.log", "w"), stderr=subprocess.STDOUT))
        self.processes.append(subprocess.Popen(
            [str(ROOT / "tools" / "rasa-server.sh"), str(self.port), str(self.models / "current.tar.gz")],
            cwd=ROOT, env=env, stdout=open(logs / "rasa.log", "w"), stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 400
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.processes):
                break
            try:
                if requests.get(self.url + "/status", headers=self.headers(), timeout=2).ok and \
                        requests.get(f"http://127.0.0.1:{self.actions_port}/health", timeout=2).ok:
                    # The first message loads the embedding model: do it now, not in a test.
                    self.say("warm-up", "こんにちは")
                    return self
            except requests.RequestException:
                pass
            time.sleep(1)
        self.stop()
        tail = "".join((logs / "rasa.log").read_text(errors="replace").splitlines(keepends=True)[-30:])
        pytest.fail(f"the Rasa server did not start:\n{tail}")

    def say(self, sender: str, text: str, timeout: float = 120) -> dict:
        response = requests.post(self.url + "/webhooks/gateway/webhook", json={"sender": sender, "message": text},
                                 headers=self.headers(), timeout=timeout)
        response.raise_for_status()
        return response.json()

    def model_file(self) -> str:
        return requests.get(self.url + "/status", headers=self.headers(), timeout=10).json()["model_file"]

    def stop(self) -> None:
        for process in reversed(self.processes):
            stop(process)


@pytest.fixture(scope="session")
def bot_server(tmp_path_factory, trained_model):
    server = BotServer(tmp_path_factory.mktemp("bot"), trained_model).start()
    # `python -m bot.publish` (run_publish) signs its calls with the server's secret.
    previous = os.environ.get("RASA_JWT_SECRET")
    os.environ["RASA_JWT_SECRET"] = server.secret
    yield server
    if previous is None:
        os.environ.pop("RASA_JWT_SECRET", None)
    else:
        os.environ["RASA_JWT_SECRET"] = previous
    server.stop()


sys.path.insert(0, str(ROOT))
