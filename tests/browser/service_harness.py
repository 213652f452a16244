"""The product as the browser tests (and tests/browser/screenshots.py) run it: Debian's Chromium,
the real handoff service in its own process on 127.0.0.1 with a fresh SQLite database, and the
Rasa gateway webhook (the stand-in, or the real bot when TSUNAGI_E2E_RASA_URL is set)."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import requests

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]

PASSWORD = "komorebi-support-2024"
AGENTS = {
    "admin": ("sato@komorebi.example", "佐藤 美咲", "admin"),
    "yamada": ("yamada@komorebi.example", "山田 花子", "agent"),
    "smith": ("smith@komorebi.example", "Emily Smith", "agent"),
    "kimura": ("kimura@komorebi.example", "木村 健", "editor"),
}

_SERVE = """
import sys
from werkzeug.serving import make_server
from handoff import create_app
server = make_server("127.0.0.1", int(sys.argv[1]), create_app(), threaded=True)
print("serving", flush=True)
server.serve_forever()
"""


def ensure_chromium() -> str:
    """Debian's Chromium; installed with apt-get when missing (never Playwright's own download)."""
    if not os.path.exists(CHROMIUM):
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    return CHROMIUM


def launch_browser(playwright):
    return playwright.chromium.launch(executable_path=ensure_chromium(), args=CHROMIUM_ARGS, headless=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def service_environment(database: Path, rasa_url: str, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "SUPPORT_", "RASA_"))}
    env.update({
        "DATABASE_URL": f"sqlite:///{database}",
        "RASA_URL": rasa_url,
        "SECRET_KEY": "browser-tests-secret",
        "SUPPORT_HOURS": "always",
        "STREAM_HEARTBEAT_SECONDS": "2",
        "RATE_LIMIT_PER_IP": "10000/minute",
        "RATE_LIMIT_CONVERSATIONS_PER_IP": "1000/minute",
        "RATE_LIMIT_PER_CONVERSATION": "1000/minute",
        "RATE_LIMIT_LOGIN": "1000/minute",
        "LOG_LEVEL": "WARNING",
        # The widget tests hand off with nobody signed in and expect the queue (the form offered
        # when nobody is online: test_browser_sla_presence.py).
        "WHEN_NOBODY_ONLINE": "queue",
        "PYTHONPATH": str(ROOT),
    })
    if os.environ.get("RASA_JWT_SECRET"):  # the real bot (tools/with-bot.sh) accepts signed calls only
        env["RASA_JWT_SECRET"] = os.environ["RASA_JWT_SECRET"]
    env.update(overrides)
    return env


def seed_database(database: Path, rasa_url: str) -> Path:
    """Migrate an empty database and create the agents, through the service's own CLI."""
    env = service_environment(database, rasa_url)
    flask = [sys.executable, "-m", "flask", "--app", "handoff"]
    subprocess.run(flask + ["db-upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
    for email, name, role in AGENTS.values():
        subprocess.run(flask + ["agents", "create", "--email", email, "--name", name, "--role", role,
                                "--password", PASSWORD], env=env, cwd=ROOT, check=True, capture_output=True)
    return database


class HandoffService:
    """One handoff service process on its own copy of the seeded database."""

    def __init__(self, template: Path, workdir: Path, rasa_url: str, **env: str):
        workdir.mkdir(parents=True, exist_ok=True)
        self.database = workdir / "handoff.sqlite3"
        shutil.copyfile(template, self.database)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "service.log"
        self.env = service_environment(self.database, rasa_url, **env)
        self.process: Optional[subprocess.Popen] = None

    def start(self) -> "HandoffService":
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen([sys.executable, "-c", _SERVE, str(self.port)], env=self.env, cwd=ROOT,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"handoff service exited:\n{self.log_path.read_text()}")
            try:
                if requests.get(self.url + "/demo", timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"handoff service did not start:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if getattr(self, "log", None):
            self.log.close()

    def logs(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""


class AgentClient:
    """An agent working through the agent API directly (for what a test needs done off-screen)."""

    def __init__(self, base_url: str, who: str):
        self.base = base_url
        self.http = requests.Session()
        email = AGENTS[who][0]
        sign_in = self.http.get(f"{base_url}/api/agent/login", timeout=10).json()["csrf_token"]
        response = self.http.post(f"{base_url}/api/agent/login", json={"email": email, "password": PASSWORD},
                                  headers={"X-CSRF-Token": sign_in}, timeout=10)
        response.raise_for_status()
        body = response.json()
        self.agent = body["agent"]
        self.http.headers["X-CSRF-Token"] = body["csrf_token"]

    def post(self, path: str, body: Optional[dict] = None) -> requests.Response:
        return self.http.post(self.base + "/api/agent" + path, json=body or {}, timeout=10)

    def get(self, path: str) -> dict:
        response = self.http.get(self.base + "/api/agent" + path, timeout=10)
        response.raise_for_status()
        return response.json()

    def claim(self, conversation_id: str) -> requests.Response:
        return self.post(f"/conversations/{conversation_id}/claim")

    def reply(self, conversation_id: str, text: str) -> dict:
        response = self.post(f"/conversations/{conversation_id}/messages", {"text": text})
        response.raise_for_status()
        return response.json()["message"]


class CustomerClient:
    """A customer talking through the customer API directly (other people in the queue)."""

    def __init__(self, base_url: str, language: str = "ja"):
        self.base = base_url
        self.http = requests.Session()
        body = self.http.post(f"{base_url}/api/v1/conversations", json={"language": language}, timeout=10).json()
        self.id = body["id"]
        self.http.headers["Authorization"] = f"Bearer {body['token']}"

    def say(self, text: str) -> dict:
        response = self.http.post(f"{self.base}/api/v1/conversations/{self.id}/messages", json={"text": text}, timeout=20)
        response.raise_for_status()
        return response.json()

    def ask_for_person(self) -> dict:
        response = self.http.post(f"{self.base}/api/v1/conversations/{self.id}/handoff",
                                  json={"reason": "request_human"}, timeout=10)
        response.raise_for_status()
        return response.json()
