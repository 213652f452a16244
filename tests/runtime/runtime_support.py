"""The runtime tests' helpers: the real bot's processes, started by the scripts make run uses
(tools/rasa-server.sh, tools/action-server.sh), on free ports, with their files in temporary
folders; the contract's JWT. A module of its own name, so `from conftest import` never finds
another suite's conftest."""
from __future__ import annotations

import gzip
import os
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Optional

import pytest
import requests

from rasa_auth import JWT_LIFETIME, JWT_USER, rasa_jwt
from tests.support.ports import free_port  # noqa: F401 (the runtime tests import it from here)
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
BOT_PYTHON = ROOT / ".venv" / "bot" / "bin" / "python"
# What the action server, Rasa and the handoff service need to find their models offline.
BASE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
            "RASA_TELEMETRY_ENABLED": "false", "OMP_NUM_THREADS": "1", "SUPPORT_HOURS": "always",
            "TF_CPP_MIN_LOG_LEVEL": "3"}
LOAD_TIMEOUT = 400  # seconds for a Rasa server to load its model on a busy 2-core machine
# Two messages the shop's model does not understand (tests/e2e): a first fallback, then a second.
FALLBACKS = ("同じ注文で2回もカードから引き落とされてるんですけど", "会社でまとめて50個買いたいので見積もりをお願いしたいです")


def rasa_token(secret: str, lifetime: int = JWT_LIFETIME, role: str = JWT_USER["role"]) -> str:
    """The contract's JWT (rasa_auth, docs/architecture.md); another lifetime or role to be refused."""
    return rasa_jwt(secret, lifetime, role=role)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def handoff_reason(turn: dict) -> Optional[str]:
    """The reason of the handoff payload among the bot's messages, if it handed over."""
    for message in turn.get("messages", []):
        handoff = (message.get("custom") or {}).get("handoff")
        if handoff:
            return handoff["reason"]
    return None


def stop_process(process: subprocess.Popen, sig: int = signal.SIGINT, timeout: float = 30) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def regzipped_copy(model: Path, target: Path) -> Path:
    """The same model in a file of other bytes (another gzip level): `make publish` sees a model
    that differs from the one trained from the working tree, without a second training."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(model, "rb") as source, gzip.GzipFile(target, "wb", compresslevel=1, mtime=0) as out:
        shutil.copyfileobj(source, out)
    return target


class Bot:
    """The action server and one Rasa server, as make run starts them, on free ports; the Rasa
    server can be killed and started again on the same state and models folder."""

    def __init__(self, workdir: Path, tracker_store_url: str):
        self.workdir = workdir
        self.models = workdir / "models"
        self.models.mkdir(parents=True, exist_ok=True)
        self.logs = workdir / "logs"
        self.logs.mkdir(exist_ok=True)
        self.port, self.actions_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.actions_url = f"http://127.0.0.1:{self.actions_port}"
        self.secret = secrets.token_urlsafe(32)
        self.action_token = secrets.token_urlsafe(32)
        self.env = dict(os.environ, **BASE_ENV, RASA_JWT_SECRET=self.secret, ACTION_SERVER_TOKEN=self.action_token,
                        ACTION_ENDPOINT_URL=f"{self.actions_url}/webhook", TRACKER_STORE_URL=tracker_store_url,
                        REDIS_URL=os.environ.get("TEST_REDIS_URL", ""), TSUNAGI_MODELS_DIR=str(self.models),
                        PYTHONPATH=str(ROOT))
        self.actions: Optional[subprocess.Popen] = None
        self.rasa: Optional[subprocess.Popen] = None
        self.starts = 0

    def headers(self) -> dict:
        return bearer(rasa_token(self.secret))

    def start_actions(self) -> None:
        self.actions = subprocess.Popen([str(ROOT / "tools" / "action-server.sh"), str(self.actions_port)], cwd=ROOT,
                                        env=self.env, stdout=open(self.logs / "actions.log", "a"),
                                        stderr=subprocess.STDOUT)
        wait_until(lambda: self._answers(f"{self.actions_url}/health"), "the action server answers", 60, 0.5)

    def start_rasa(self, model: Optional[Path] = None) -> None:
        """tools/rasa-server.sh PORT [MODEL]: without a model, the published one (or current)."""
        self.starts += 1
        command = [str(ROOT / "tools" / "rasa-server.sh"), str(self.port)] + ([str(model)] if model else [])
        self.rasa = subprocess.Popen(command, cwd=ROOT, env=self.env, stderr=subprocess.STDOUT,
                                     stdout=open(self.logs / f"rasa-{self.starts}.log", "w"))
        deadline = time.monotonic() + LOAD_TIMEOUT
        while time.monotonic() < deadline and self.rasa.poll() is None:
            try:
                if requests.get(self.url + "/status", headers=self.headers(), timeout=5).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(1)
        tail = (self.logs / f"rasa-{self.starts}.log").read_text(errors="replace")[-3000:]
        pytest.fail(f"the Rasa server did not start:\n{tail}")

    def kill_rasa(self) -> None:
        """As a crash would: SIGKILL, no shutdown of any kind."""
        self.rasa.kill()
        self.rasa.wait(30)

    def say(self, sender: str, text: str) -> dict:
        response = requests.post(self.url + "/webhooks/gateway/webhook", json={"sender": sender, "message": text},
                                 headers=self.headers(), timeout=300)
        assert response.status_code == 200, response.text
        return response.json()

    def model_file(self) -> str:
        return requests.get(self.url + "/status", headers=self.headers(), timeout=30).json()["model_file"]

    def publish(self, *args: str, rasa_urls: Optional[str] = None) -> subprocess.CompletedProcess:
        """`python -m bot.publish ...` as make publish runs it, against this bot (or the servers
        given, comma-separated as in RASA_URLS), in English."""
        return subprocess.run([str(BOT_PYTHON), "-m", "bot.publish", *args, "--models-dir", str(self.models),
                               "--lang", "en", "--rasa-url", rasa_urls or self.url],
                              cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=1800)

    def stop(self) -> None:
        for process in (self.rasa, self.actions):
            if process is not None:
                stop_process(process)

    @staticmethod
    def _answers(url: str) -> bool:
        try:
            return requests.get(url, timeout=2).ok
        except requests.RequestException:
            return False
