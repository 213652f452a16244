"""Fixtures of the editors' tests in the bot environment (.venv/bot): copies of the Rasa project
to break or change, and a real Rasa server (with its action server) for publishing to.

Run: .venv/bot/bin/python -m pytest -q tests/editors/bot   (needs `make setup train`)
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.support.project_copy import copy_paths, example_lines

ROOT = Path(__file__).resolve().parents[3]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
BOT_PYTHON = ROOT / ".venv" / "bot" / "bin" / "python"
RASA = ROOT / ".venv" / "bot" / "bin" / "rasa"
# The top-level modules (languages.py, support_hours.py, ...) are shared by the bot and the actions.
COPIED = ("config.yml", "credentials.yml", "endpoints.yml", "data", "domain.yml", "actions", "bot",
          *sorted(p.name for p in ROOT.glob("*.py")), "tools/train.sh", "requirements/bot.lock")


def copy_project(target: Path) -> Path:
    """The Rasa project (content, configuration, components and training script) in target, with
    the environment and the embedding model linked, so tools/train.sh works there as here."""
    copy_paths(target, COPIED)
    (target / ".venv").symlink_to(ROOT / ".venv")
    (target / "models").mkdir()
    (target / "models" / "multilingual-e5-small").symlink_to((ROOT / "models" / "multilingual-e5-small").resolve())
    return target


def line_of(path: Path, text: str, after: int = 0) -> int:
    """1-based number of the first line (after line `after`) that is `text` once stripped."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if number > after and line.strip() == text:
            return number
    raise AssertionError(f"{text!r} not in {path}")


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= count, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def keep_examples(project: Path, per_language: int) -> None:
    """Cuts every intent of data/nlu down to its first `per_language` Japanese and English
    examples, line by line (the layout stays), and the test set to 2 of each per intent."""
    for path in (project / "data" / "nlu").glob("*.yml"):
        _keep(path, per_language)
    _keep(project / "data" / "tests" / "nlu_test.yml", 2)


def _keep(path: Path, per_language: int) -> None:
    from languages import detect_language

    kept, counts = [], {}
    for line, number in example_lines(path.read_text(encoding="utf-8").splitlines(keepends=True)):
        if number is not None:
            counts = {} if number == 1 else counts
            language = detect_language(line.strip()[2:]) or "ja"
            counts[language] = counts.get(language, 0) + 1
            if counts[language] > per_language:
                continue
        kept.append(line)
    path.write_text("".join(kept), encoding="utf-8")


@pytest.fixture
def project(tmp_path) -> Path:
    return copy_project(tmp_path / "project")


@pytest.fixture(scope="session")
def trained_model() -> Path:
    path = ROOT / "models" / "current.tar.gz"
    if not path.is_file():
        pytest.fail("models/current.tar.gz is missing: run `make train` (make test does)")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    """The action server and `rasa run --enable-api` on free ports, started from a copy of the
    trained model in their own models folder (what make run starts: models/current.tar.gz)."""

    def __init__(self, workdir: Path, model: Path):
        self.workdir = workdir
        self.models = workdir / "models"
        self.models.mkdir(parents=True)
        shutil.copy(model, self.models / "current.tar.gz")
        self.port, self.actions_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.processes = []

    def start(self) -> "BotServer":
        env = dict(os.environ, ACTION_ENDPOINT_URL=f"http://127.0.0.1:{self.actions_port}/webhook",
                   SUPPORT_HOURS="always", PYTHONPATH=str(ROOT))
        logs = self.workdir / "logs"
        logs.mkdir()
        self.processes.append(subprocess.Popen(
            [str(RASA), "run", "actions", "--actions", "actions", "--port", str(self.actions_port)],
            cwd=ROOT, env=env, stdout=open(logs / "actions.log", "w"), stderr=subprocess.STDOUT))
        self.processes.append(subprocess.Popen(
            [str(RASA), "run", "--enable-api", "--model", str(self.models / "current.tar.gz"), "--port", str(self.port),
             "--credentials", "credentials.yml", "--endpoints", "endpoints.yml"],
            cwd=ROOT, env=env, stdout=open(logs / "rasa.log", "w"), stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 400
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.processes):
                break
            try:
                if requests.get(self.url + "/status", timeout=2).ok and \
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
                                 timeout=timeout)
        response.raise_for_status()
        return response.json()

    def model_file(self) -> str:
        return requests.get(self.url + "/status", timeout=10).json()["model_file"]

    def stop(self) -> None:
        for process in reversed(self.processes):
            stop(process)


@pytest.fixture(scope="session")
def bot_server(tmp_path_factory, trained_model):
    server = BotServer(tmp_path_factory.mktemp("bot"), trained_model).start()
    yield server
    server.stop()


def run_publish(*args: str, cwd: Path = ROOT, timeout: float = 1200) -> subprocess.CompletedProcess:
    """`python -m bot.publish ...` as make publish runs it, output in English."""
    return subprocess.run([str(BOT_PYTHON), "-m", "bot.publish", *args, "--lang", "en"], cwd=cwd,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True,
                          timeout=timeout)


sys.path.insert(0, str(ROOT))
