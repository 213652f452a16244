"""Benchmark of the handoff service's live delivery: agent -> customer through the SSE stream.

For each setup (SQLite alone; SQLite + Redis, PostgreSQL + Redis, with 1 and 2 gunicorn gevent
processes) an agent posts messages at a fixed rate to conversations whose customers hold streams
(spread over the processes); each message's time from the POST to its arrival on the customer's
stream is measured, and lost or duplicated messages are counted. Then one process is asked to
hold many concurrent streams, each of which must receive an event pushed after all are open.
Then "two Rasa servers, one killed mid-run": customers' messages at a fixed rate through two
processes (PostgreSQL + Redis) with RASA_URLS naming two Rasa stand-ins (tests/support/
rasa_stand_in.py, each its own process: the bench measures the gateway, not the model); once
without a kill and once with one stand-in SIGKILLed halfway; each message's time to its answer,
the answers from the bot and the "assistant unavailable" apologies, lost and duplicated messages.

All traffic stays on 127.0.0.1; counts and durations are bounded. Writes bench/results/handoff.json
and prints a table. The setups are the peers compared against each other in one run.

    .venv/handoff/bin/python bench/handoff_bench.py [--rates 50 200] [--seconds 10] [--streams 500 1000]
        [--failover-rate 50] [--failover-repeats 3] [--keep]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import secrets
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from http.client import HTTPConnection, HTTPException
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handoff import create_app  # noqa: E402
from handoff.agents import create_agent  # noqa: E402
from handoff.cli import migrate  # noqa: E402
from tests.support.pg_schema import postgres_schema  # noqa: E402
from tests.support.ports import free_port  # noqa: E402

PG_BASE = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
PASSWORD = "bench-password"


def raise_file_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(hard, 65536)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def latency_figures(latencies: list[float]) -> dict:
    """p50, p99 and max of sorted latencies in ms, rounded to 0.1; None each when there are none."""
    if not latencies:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    return {"p50_ms": round(statistics.median(latencies), 1),
            "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1),
            "max_ms": round(latencies[-1], 1)}


class Database:
    """A fresh SQLite file or PostgreSQL schema per setup, removed afterwards."""

    def __init__(self, kind: str, workdir: Path):
        self.kind = kind
        self._schema = contextlib.ExitStack()
        if kind == "sqlite":
            self.url = f"sqlite:///{workdir / f'bench-{secrets.token_hex(3)}.sqlite3'}"
        else:
            self.url = self._schema.enter_context(postgres_schema(PG_BASE, "tsunagi_bench"))
        migrate(self.url)

    def drop(self):
        self._schema.close()  # the PostgreSQL schema, if any


class Servers:
    def __init__(self, count: int, env: dict, workdir: Path):
        self.urls, self.processes = [], []
        for number in range(count):
            port = free_port()
            log = open(workdir / f"server-{port}.log", "wb")
            self.processes.append(subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "handoff/gunicorn.conf.py", "-b", f"127.0.0.1:{port}",
                 "-w", "1", "handoff:create_app()"], cwd=ROOT, env={**os.environ, **env}, stdout=log,
                stderr=subprocess.STDOUT))
            self.urls.append(f"http://127.0.0.1:{port}")
        for url in self.urls:
            self._wait(url)

    @staticmethod
    def _wait(url: str, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(url + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{url} did not start")

    def stop(self):
        for process in self.processes:
            process.send_signal(3)  # SIGQUIT: quick shutdown, open streams need not finish
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def server_env(database: Database, redis: bool) -> dict:
    return {"DATABASE_URL": database.url, "REDIS_URL": REDIS if redis else "",
            "REDIS_CHANNEL_PREFIX": f"bench-{secrets.token_hex(3)}:", "SECRET_KEY": "bench-secret",
            # Customers hand off before the bench's agents sign in: queued, as a shop's would be.
            "SUPPORT_HOURS": "always", "WHEN_NOBODY_ONLINE": "queue",
            "RASA_URL": "http://127.0.0.1:9", "AGENT_MAX_CONCURRENT": "100000",
            "RATE_LIMIT_PER_IP": "1000000/minute", "RATE_LIMIT_CONVERSATIONS_PER_IP": "1000000/minute",
            "RATE_LIMIT_PER_CONVERSATION": "1000000/minute", "RATE_LIMIT_LOGIN": "1000/minute",
            "RATE_LIMIT_LOGIN_PER_ACCOUNT": "1000/minute",
            "STREAM_HEARTBEAT_SECONDS": "5", "LOG_LEVEL": "WARNING", "WORKER_CONNECTIONS": "5000"}


def add_agent(database_url: str):
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "bench-secret", "LOG_LEVEL": "WARNING"})
    with app.extensions["tsunagi"].db.writing() as session:
        create_agent(session, "bench@shop.example", "Bench", "agent", PASSWORD)
    app.extensions["tsunagi"].db.engine.dispose()


def agent_session(url: str) -> tuple[requests.Session, dict]:
    session = requests.Session()
    sign_in = {"X-CSRF-Token": session.get(url + "/api/agent/login").json()["csrf_token"]}
    login = session.post(url + "/api/agent/login", json={"email": "bench@shop.example", "password": PASSWORD},
                         headers=sign_in)
    login.raise_for_status()
    return session, {"X-CSRF-Token": login.json()["csrf_token"]}


def start_waiting_conversations(url: str, count: int) -> list[dict]:
    conversations = []
    with requests.Session() as http:
        for _ in range(count):
            started = http.post(url + "/api/v1/conversations", json={"language": "en"}).json()
            http.post(f"{url}/api/v1/conversations/{started['id']}/handoff", json={},
                      headers={"Authorization": f"Bearer {started['token']}"}).raise_for_status()
            conversations.append(started)
    return conversations


class StreamReader(threading.Thread):
    """Holds one customer's stream and notes when each bench message arrives."""

    def __init__(self, url: str, conversation: dict, arrivals: dict, lock: threading.Lock):
        super().__init__(daemon=True)
        # The token in the header (a URL never carries it; browsers use a stream ticket).
        self.url = f"{url}/api/v1/conversations/{conversation['id']}/stream"
        self.headers = {"Authorization": f"Bearer {conversation['token']}"}
        self.arrivals, self.lock = arrivals, lock
        self.ready = threading.Event()
        self.stop = False
        self.seqs: list[int] = []

    def run(self):
        try:
            self._read()
        except requests.RequestException:
            pass  # the server was stopped at the end of the setup

    def _read(self):
        with requests.get(self.url, headers=self.headers, stream=True, timeout=(5, 30)) as response:
            buffer = ""
            for chunk in response.iter_content(chunk_size=None, decode_unicode=True):
                self.ready.set()
                buffer += chunk
                while "\n\n" in buffer:
                    block, buffer = buffer.split("\n\n", 1)
                    if "event: message" not in block:
                        continue
                    data = json.loads(block.split("data: ", 1)[1])
                    if data["sender"] == "agent" and data["text"].startswith("bench#"):
                        now = time.perf_counter()
                        with self.lock:
                            self.arrivals.setdefault(data["text"], []).append(now)
                        self.seqs.append(data["seq"])
                if self.stop:
                    return


def delivery(kind: str, redis: bool, processes: int, rate: float, seconds: float, workdir: Path,
             conversations_count: int = 20, senders: int = 12) -> dict:
    database = Database(kind, workdir)
    servers = None
    try:
        servers = Servers(processes, server_env(database, redis), workdir)
        add_agent(database.url)
        urls = servers.urls
        conversations = start_waiting_conversations(urls[0], conversations_count)
        agents = [agent_session(urls[i % len(urls)]) for i in range(senders)]
        http, csrf = agents[0]
        for conversation in conversations:
            http.post(f"{urls[0]}/api/agent/conversations/{conversation['id']}/claim", headers=csrf).raise_for_status()
        arrivals: dict[str, list[float]] = {}
        lock = threading.Lock()
        readers = [StreamReader(urls[(i + 1) % len(urls)], c, arrivals, lock) for i, c in enumerate(conversations)]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.ready.wait(10)
        total = int(rate * seconds)
        sent_at: dict[str, float] = {}
        failures = [0]
        counter = iter(range(total))
        counter_lock = threading.Lock()
        start = time.perf_counter() + 0.2

        def send(number: int):
            # A plain keep-alive HTTP connection per sender: the load generator shares the 2 cores
            # with the servers, and http.client costs a third of what requests does per POST.
            session, headers = agents[number]
            url = urls[number % len(urls)]
            connection = HTTPConnection(*url.removeprefix("http://").split(":"), timeout=30)
            post_headers = {**headers, "Content-Type": "application/json", "Cookie": "; ".join(
                f"{name}={value}" for name, value in session.cookies.items())}
            while True:
                with counter_lock:
                    index = next(counter, None)
                if index is None:
                    return
                due = start + index / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                conversation = conversations[index % len(conversations)]
                label = f"bench#{index}"
                with lock:
                    sent_at[label] = time.perf_counter()
                connection.request("POST", f"/api/agent/conversations/{conversation['id']}/messages",
                                   json.dumps({"text": label}), post_headers)
                response = connection.getresponse()
                response.read()
                if response.status != 201:
                    failures[0] += 1

        threads = [threading.Thread(target=send, args=(n,)) for n in range(senders)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        sending_done = time.perf_counter()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with lock:
                if len(arrivals) >= total - failures[0]:
                    break
            time.sleep(0.05)
        for reader in readers:
            reader.stop = True
        with lock:
            latencies = sorted((times[0] - sent_at[label]) * 1000 for label, times in arrivals.items())
            duplicates = sum(len(times) - 1 for times in arrivals.values())
            lost = total - failures[0] - len(arrivals)
            last_arrival = max((t for times in arrivals.values() for t in times), default=sending_done)
        in_order = all(r.seqs == sorted(r.seqs) for r in readers)
        return {
            "database": kind, "redis": redis, "processes": processes, "target_rate": rate,
            "messages": total, "post_failures": failures[0],
            "delivered_per_second": round(len(arrivals) / (last_arrival - start), 1),
            **latency_figures(latencies),
            "lost": lost, "duplicated": duplicates, "order_kept": in_order,
        }
    finally:
        if servers:
            servers.stop()
        database.drop()


STAND_IN = """
import os, time
from tests.support.rasa_stand_in import RasaStandIn
server = RasaStandIn(delay=float(os.environ.get("STAND_IN_DELAY", "0"))).start()
print(server.port, flush=True)
while True:
    time.sleep(3600)
"""


class RasaStandIns:
    """Rasa stand-ins, each in a process of its own, so one can be killed as a crash would."""

    def __init__(self, count: int, delay: float = 0.0):
        self.processes = [subprocess.Popen([sys.executable, "-c", STAND_IN], cwd=ROOT, stdout=subprocess.PIPE,
                                           env={**os.environ, "STAND_IN_DELAY": str(delay)}, text=True)
                          for _ in range(count)]
        self.urls = [f"http://127.0.0.1:{int(p.stdout.readline())}" for p in self.processes]

    def kill(self, index: int) -> None:
        self.processes[index].send_signal(signal.SIGKILL)
        self.processes[index].wait(10)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(10)


def rasa_failover(kill: bool, rate: float, seconds: float, workdir: Path, conversations_count: int = 40,
                  senders: int = 32) -> dict:
    """Customers' messages through two processes to two Rasa stand-ins; optionally one killed halfway.
    32 senders keep the offered rate up while an answer takes up to 600 ms at 50/s."""
    database = Database("postgresql", workdir)
    rasas = RasaStandIns(2)
    servers = None
    try:
        env = dict(server_env(database, True), RASA_URLS=",".join(rasas.urls), RASA_TIMEOUT="5")
        servers = Servers(2, env, workdir)
        urls = servers.urls
        with requests.Session() as http:
            conversations = [http.post(urls[i % 2] + "/api/v1/conversations", json={"language": "en"}).json()
                             for i in range(conversations_count)]
        total = int(rate * seconds)
        results: dict[int, tuple[float, int, list[str]]] = {}  # index -> (ms, status, reply senders)
        lock = threading.Lock()
        counter = iter(range(total))
        start = time.perf_counter() + 0.2
        killed_at = [None]
        errors: dict[str, int] = {}

        def killer():
            time.sleep(max(0.0, start + seconds / 2 - time.perf_counter()))
            rasas.kill(0)
            killed_at[0] = time.perf_counter() - start

        def send(number: int):
            # One keep-alive connection per process; a conversation's messages alternate between the
            # two processes (message i goes to process i % 2), as behind a load balancer.
            connections = [HTTPConnection(*url.removeprefix("http://").split(":"), timeout=30) for url in urls]
            while True:
                with lock:
                    index = next(counter, None)
                if index is None:
                    return
                delay = start + index / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                conversation = conversations[index % len(conversations)]
                side = (index // len(conversations)) % 2
                began = time.perf_counter()
                # client_message_id makes a resend safe (the service answers it once), so a request
                # on a kept-alive connection the server had closed is sent again, as browsers do.
                payload = json.dumps({"text": f"How much is shipping? bench#{index}",
                                      "client_message_id": f"bench-{index}"})
                status, body = 0, b""
                for attempt in range(2):
                    try:
                        connections[side].request(
                            "POST", f"/api/v1/conversations/{conversation['id']}/messages", payload,
                            {"Authorization": f"Bearer {conversation['token']}", "Content-Type": "application/json"})
                        response = connections[side].getresponse()
                        status, body = response.status, response.read()
                        break
                    except (OSError, HTTPException) as error:  # after the second: a failed POST
                        with lock:
                            errors[type(error).__name__] = errors.get(type(error).__name__, 0) + 1
                        connections[side].close()  # reconnects at the next request
                elapsed = (time.perf_counter() - began) * 1000
                who = [r["sender"] for r in json.loads(body)["replies"]] if status in (200, 201) else []
                with lock:
                    results[index] = (elapsed, status, who)

        threads = [threading.Thread(target=send, args=(n,)) for n in range(senders)]
        if kill:
            threads.append(threading.Thread(target=killer))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        finished = time.perf_counter()
        ok = (200, 201)  # 200: a resent message's first answer
        answered = [ms for ms, status, who in results.values() if status in ok and who and who[0] == "bot"]
        apologies = sum(1 for _, status, who in results.values() if status in ok and who and who[0] == "system")
        failures = sum(1 for _, status, _ in results.values() if status not in ok)
        latencies = sorted(ms for ms, status, _ in results.values() if status in ok)
        # The transcripts: every bench message stored once, in the order sent per conversation.
        stored: dict[int, int] = {}
        in_order = True
        with requests.Session() as http:
            for conversation in conversations:
                messages = http.get(f"{urls[0]}/api/v1/conversations/{conversation['id']}/messages",
                                    headers={"Authorization": f"Bearer {conversation['token']}"}).json()["messages"]
                numbers = [int(m["text"].rsplit("#", 1)[1]) for m in messages
                           if m["sender"] == "customer" and "bench#" in m["text"]]
                in_order &= numbers == sorted(numbers)
                for n in numbers:
                    stored[n] = stored.get(n, 0) + 1
        return {
            "rasa_servers": 2, "killed_one": kill, "killed_at_s": round(killed_at[0], 1) if killed_at[0] else None,
            "processes": 2, "target_rate": rate, "messages": total, "post_failures": failures,
            "bot_answers": len(answered), "apologies": apologies,
            "delivered_per_second": round(len(answered) / (finished - start), 1),
            **latency_figures(latencies),
            "lost": sum(1 for n, (_, status, _) in results.items() if status in ok and n not in stored),
            "duplicated": sum(c - 1 for c in stored.values()), "order_kept": in_order,
            "rasa": "stand-in (tests/support/rasa_stand_in.py), one process each",
            "connection_errors_resent": errors, "answered_without_reply": sum(
                1 for _, status, who in results.values() if status in ok and not who),
        }
    finally:
        if servers:
            servers.stop()
        rasas.stop()
        database.drop()


LINE_SECRET, LINE_TOKEN = "bench-line-secret", "bench-line-token"
FAQ_QUESTION = "How much is shipping?"


def line_channel(rate: float, seconds: float, failure_rate: float, rasa_delay: float, workdir: Path,
                 rasa_url: str = "", agent_share: float = 0.2, handed_off: int = 20, senders: int = 16,
                 drain_seconds: float = 180.0) -> dict:
    """LINE customers through the webhook, with a LINE stand-in (tests/support/line_stand_in.py, in
    this process) that fails `failure_rate` of the message calls (500, not delivered) for the whole
    run: two processes (PostgreSQL + Redis), each with its outbox and event workers. Of the `rate`
    messages per second, (1 - agent_share) are FAQ questions from new LINE users (each answered by
    the bot: one reply call expected per user, by the reply API or a push after retries) and
    agent_share are agent replies to `handed_off` LINE conversations (pushed, each a unique text);
    every 20th webhook event is delivered twice (a LINE redelivery). After the sending, the outbox
    drains (failures still on); then what the stand-in delivered is counted: per user and per text.
    Latency: from the webhook POST to LINE's first reply/push call for that user (bot included)."""
    from handoff.channels.line import signature_of
    from tests.support.line_stand_in import LineStandIn

    database = Database("postgresql", workdir)
    line = LineStandIn(LINE_TOKEN).start()
    rasas = None if rasa_url else RasaStandIns(1, rasa_delay)
    servers = None
    try:
        env = dict(server_env(database, True), RASA_URL=rasa_url or rasas.urls[0], LINE_CHANNEL_SECRET=LINE_SECRET,
                   LINE_CHANNEL_ACCESS_TOKEN=LINE_TOKEN, LINE_API_BASE=line.url, CHANNEL_EVENT_THREADS="16",
                   OUTBOX_THREADS="4")
        if rasa_url and os.environ.get("RASA_JWT_SECRET"):
            env["RASA_JWT_SECRET"] = os.environ["RASA_JWT_SECRET"]
        servers = Servers(2, env, workdir)
        urls = servers.urls
        add_agent(database.url)
        connections_lock = threading.Lock()

        def post_events(connection: HTTPConnection, events: list[dict]) -> int:
            body = json.dumps({"destination": "Ubench", "events": events}, ensure_ascii=False).encode()
            headers = {"Content-Type": "application/json", "X-Line-Signature": signature_of(LINE_SECRET, body)}
            for attempt in range(3):
                # A kept-alive connection the server closed (gunicorn's 5 s keep-alive) fails the
                # request: sent again, as LINE redelivers; the webhookEventId keeps it one event.
                try:
                    connection.request("POST", "/channels/line/webhook", body, headers)
                    response = connection.getresponse()
                    response.read()
                    return response.status
                except (OSError, HTTPException):
                    connection.close()
            return 0

        def text_event(user: str, text: str, number: int) -> dict:
            return {"type": "message", "mode": "active", "timestamp": int(time.time() * 1000),
                    "source": {"type": "user", "userId": user}, "webhookEventId": f"bench-{user}-{number}",
                    "deliveryContext": {"isRedelivery": False}, "replyToken": line.reply_token_for(user),
                    "message": {"type": "text", "id": f"m-{user}-{number}", "text": text}}

        # The conversations agents answer: handed off ("talk to a person") and claimed.
        agent_users = [f"Ubenchagent{k:04d}" for k in range(handed_off)]
        setup = HTTPConnection(*urls[0].removeprefix("http://").split(":"), timeout=30)
        for user in agent_users:
            post_events(setup, [text_event(user, "talk to a person", 0)])
        http, csrf = agent_session(urls[0])
        deadline = time.monotonic() + 60
        waiting: list[dict] = []
        while time.monotonic() < deadline and len(waiting) < handed_off:
            waiting = [item for item in http.get(urls[0] + "/api/agent/queue").json()["queue"]
                       if item.get("channel") == "line"]
            time.sleep(0.2)
        conversation_of = {}
        for item in waiting:
            http.post(f"{urls[0]}/api/agent/conversations/{item['id']}/claim", headers=csrf).raise_for_status()
            conversation_of[item["channel_address"]] = item["id"]
        _wait_outbox_drained(database.url, 60)
        line.reset()
        line.failure_rate = failure_rate
        cookie = "; ".join(f"{name}={value}" for name, value in http.cookies.items())

        total = int(rate * seconds)
        every = round(1 / agent_share) if agent_share else 0
        plan = [("agent" if every and n % every == every - 1 else "faq") for n in range(total)]
        sent_at: dict[str, float] = {}
        statuses: dict[int, int] = {}
        lock = threading.Lock()
        counter = iter(range(total))
        start = time.perf_counter() + 0.3

        def send(number: int):
            connections = [HTTPConnection(*url.removeprefix("http://").split(":"), timeout=30) for url in urls]
            while True:
                with lock:
                    index = next(counter, None)
                if index is None:
                    return
                delay = start + index / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                connection = connections[index % 2]
                try:
                    if plan[index] == "faq":
                        user = f"Ubench{index:06d}"
                        event = text_event(user, FAQ_QUESTION, 1)
                        with lock:
                            sent_at[user] = time.perf_counter()
                        status = post_events(connection, [event])
                        if index % 20 == 0:  # LINE redelivers it (the same webhookEventId)
                            redelivered = dict(event, deliveryContext={"isRedelivery": True})
                            post_events(connections[(index + 1) % 2], [redelivered])
                    else:
                        user = agent_users[index % len(agent_users)]
                        connection.request("POST", f"/api/agent/conversations/{conversation_of[user]}/messages",
                                           json.dumps({"text": f"bench#{index}"}),
                                           {**csrf, "Content-Type": "application/json", "Cookie": cookie})
                        response = connection.getresponse()
                        response.read()
                        status = response.status
                except (OSError, HTTPException):
                    status = 0
                    connection.close()
                with lock:
                    statuses[index] = status

        threads = [threading.Thread(target=send, args=(n,)) for n in range(senders)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        sending_seconds = time.perf_counter() - start
        drained, left = _wait_outbox_drained(database.url, drain_seconds)
        drained_after = round(time.perf_counter() - start - sending_seconds, 1)

        with line._lock:
            requests_seen = list(line.requests)
            delivered = list(line.delivered)
        tokens_user = dict(line._reply_tokens)
        faq_users = [f"Ubench{n:06d}" for n in range(total) if plan[n] == "faq" and statuses.get(n) == 200]
        deliveries_per_user: dict[str, int] = {}
        for entry in delivered:
            deliveries_per_user[entry["to"]] = deliveries_per_user.get(entry["to"], 0) + 1
        answered_right = sum(1 for d in delivered if d["to"] in sent_at
                             and d["messages"][0]["text"].startswith("Shipping is 550 yen"))
        agent_texts: dict[str, int] = {}
        for entry in delivered:
            for message in entry["messages"]:
                if message.get("text", "").startswith("bench#"):
                    agent_texts[message["text"]] = agent_texts.get(message["text"], 0) + 1
        agent_sent = [f"bench#{n}" for n in range(total) if plan[n] == "agent" and statuses.get(n) == 201]
        first_call: dict[str, float] = {}
        for r in requests_seen:
            if r["path"] not in ("/v2/bot/message/reply", "/v2/bot/message/push") or not isinstance(r["body"], dict):
                continue
            user = tokens_user.get(r["body"].get("replyToken")) or r["body"].get("to")
            if user in sent_at and user not in first_call:
                first_call[user] = r["at"]
        # The stand-in's clock is time.monotonic, the sender's perf_counter: both monotonic, so the
        # offset between them is measured once and taken off.
        offset = time.monotonic() - time.perf_counter()
        latencies = sorted((at - offset - sent_at[user]) * 1000 for user, at in first_call.items())
        delivered_latencies = sorted(
            (min(d["at"] for d in delivered if d["to"] == user) - offset - sent_at[user]) * 1000
            for user in faq_users if deliveries_per_user.get(user))
        message_calls = [r for r in requests_seen if r["path"] in ("/v2/bot/message/reply", "/v2/bot/message/push")]
        return {
            "rasa": f"real bot at {rasa_url}" if rasa_url else f"stand-in (tests/support/rasa_stand_in.py), {rasa_delay:g} s per turn",
            "processes": 2, "database": "postgresql", "target_rate": rate, "seconds": seconds,
            "failure_rate": failure_rate, "sent_seconds": round(sending_seconds, 1),
            "faq_messages": len(faq_users), "agent_messages": len(agent_sent),
            "webhook_or_post_failures": sum(1 for s_ in statuses.values() if s_ not in (200, 201)),
            "redelivered_events": sum(1 for n in range(0, total, 20) if plan[n] == "faq"),
            "message_api_calls": len(message_calls),
            "reply_calls": sum(1 for r in message_calls if r["path"].endswith("/reply")),
            "push_calls": sum(1 for r in message_calls if r["path"].endswith("/push")),
            "calls_failed_by_the_stand_in": sum(1 for r in message_calls if r.get("status", 0) >= 500),
            "calls_409_retry_key_seen": sum(1 for r in message_calls if r.get("status") == 409),
            "calls_400": sum(1 for r in message_calls if r.get("status") == 400),
            "outbox_drained": drained, "outbox_left": left, "drained_after_s": drained_after,
            "faq_lost": sum(1 for u in faq_users if not deliveries_per_user.get(u)),
            "faq_duplicated": sum(deliveries_per_user[u] - 1 for u in faq_users if deliveries_per_user.get(u, 0) > 1),
            "faq_answered_with_the_faq": answered_right,
            "agent_lost": sum(1 for t in agent_sent if t not in agent_texts),
            "agent_duplicated": sum(c - 1 for c in agent_texts.values()),
            "reply_latency_ms": {"p50": _pct(latencies, 0.5), "p95": _pct(latencies, 0.95),
                                 "p99": _pct(latencies, 0.99), "max": _pct(latencies, 1.0), "count": len(latencies)},
            "delivered_latency_ms": {"p50": _pct(delivered_latencies, 0.5), "p95": _pct(delivered_latencies, 0.95),
                                     "p99": _pct(delivered_latencies, 0.99), "count": len(delivered_latencies)},
        }
    finally:
        if servers:
            servers.stop()
        if rasas:
            rasas.stop()
        line.stop()
        database.drop()


def _pct(values: list[float], share: float):
    if not values:
        return None
    return round(values[max(0, min(len(values) - 1, int(len(values) * share + 0.999999) - 1))], 1)


def _wait_outbox_drained(database_url: str, timeout: float) -> tuple[bool, dict]:
    """Until no outbox row or webhook event is waiting (pending or being sent); the rows left else."""
    from sqlalchemy import create_engine, text
    engine = create_engine(database_url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            with engine.connect() as connection:
                left = {table: connection.execute(text(
                    f"SELECT COUNT(*) FROM {table} WHERE status IN ('pending', 'sending')")).scalar()
                    for table in ("outbox", "channel_events")}
                failed = {table: connection.execute(text(
                    f"SELECT COUNT(*) FROM {table} WHERE status = 'failed'")).scalar()
                    for table in ("outbox", "channel_events")}
            if not any(left.values()):
                return True, {"waiting": left, "failed": failed}
            if time.monotonic() > deadline:
                return False, {"waiting": left, "failed": failed}
            time.sleep(0.5)
    finally:
        engine.dispose()


def held_streams(count: int, workdir: Path) -> dict:
    """One process (gevent worker, SQLite, no Redis) holds `count` streams, each then gets its event."""
    database = Database("sqlite", workdir)
    servers = Servers(1, server_env(database, False), workdir)
    url = servers.urls[0]
    host, port = "127.0.0.1", int(url.rsplit(":", 1)[1])
    sockets: dict[socket.socket, dict] = {}
    selector = selectors.DefaultSelector()
    try:
        with requests.Session() as http:
            conversations = [http.post(url + "/api/v1/conversations", json={"language": "en"}).json()
                             for _ in range(count)]
        opened_at = time.perf_counter()
        for conversation in conversations:
            sock = socket.create_connection((host, port))
            sock.sendall((f"GET /api/v1/conversations/{conversation['id']}/stream HTTP/1.1\r\nHost: {host}\r\n"
                          f"Authorization: Bearer {conversation['token']}\r\n"
                          f"Accept: text/event-stream\r\n\r\n").encode())
            sock.setblocking(False)
            sockets[sock] = {"conversation": conversation, "data": b""}
            selector.register(sock, selectors.EVENT_READ)

        def pump(until, condition):
            while time.monotonic() < until and not condition():
                for key, _ in selector.select(timeout=0.2):
                    try:
                        chunk = key.fileobj.recv(65536)
                    except BlockingIOError:
                        continue
                    if not chunk:
                        selector.unregister(key.fileobj)
                        sockets[key.fileobj]["closed"] = True
                    sockets[key.fileobj]["data"] += chunk

        pump(time.monotonic() + 60, lambda: all(b"retry:" in s["data"] for s in sockets.values()))
        open_seconds = time.perf_counter() - opened_at
        connected = sum(1 for s in sockets.values() if b"200 OK" in s["data"] and not s.get("closed"))
        # Now push one event into every held stream (a handoff status change) and wait for all.
        pushed_at = time.perf_counter()
        with requests.Session() as http:
            for conversation in conversations:
                http.post(f"{url}/api/v1/conversations/{conversation['id']}/handoff", json={},
                          headers={"Authorization": f"Bearer {conversation['token']}"})
        pump(time.monotonic() + 30, lambda: all(b"event: status" in s["data"] for s in sockets.values()))
        received = sum(1 for s in sockets.values() if b"event: status" in s["data"] and not s.get("closed"))
        rss = 0
        try:
            pid = servers.processes[0].pid
            children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
            for p in [pid, *map(int, children)]:
                rss += int(Path(f"/proc/{p}/status").read_text().split("VmRSS:")[1].split()[0])
        except Exception:
            pass
        return {"streams": count, "connected": connected, "received_pushed_event": received,
                "seconds_to_open_all": round(open_seconds, 2),
                "seconds_to_push_all": round(time.perf_counter() - pushed_at, 2),
                "server_rss_mb": round(rss / 1024, 1) if rss else None}
    finally:
        for sock in sockets:
            sock.close()
        servers.stop()
        database.drop()


def print_table(results: dict):
    print(f"\nAgent -> customer delivery through SSE ({results['machine']})")
    head = f"{'database':<11}{'redis':<7}{'procs':<7}{'target/s':>9}{'got/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'lost':>6}{'dup':>5}  order"
    print(head)
    print("-" * len(head))
    for r in results["delivery"]:
        print(f"{r['database']:<11}{'yes' if r['redis'] else 'no':<7}{r['processes']:<7}{r['target_rate']:>9.0f}"
              f"{r['delivered_per_second']:>8.1f}{str(r['p50_ms']):>8}{str(r['p99_ms']):>8}{str(r['max_ms']):>8}{r['lost']:>6}"
              f"{r['duplicated']:>5}  {'kept' if r['order_kept'] else 'BROKEN'}")
    print("\nConcurrent streams held by one gevent process (SQLite)")
    head = f"{'streams':>8}{'connected':>11}{'got event':>11}{'open s':>8}{'push s':>8}{'RSS MB':>8}"
    print(head)
    print("-" * len(head))
    for r in results["streams"]:
        print(f"{r['streams']:>8}{r['connected']:>11}{r['received_pushed_event']:>11}{r['seconds_to_open_all']:>8}"
              f"{r['seconds_to_push_all']:>8}{str(r['server_rss_mb']):>8}")
    if results.get("rasa_failover"):
        print("\nTwo Rasa servers, one killed mid-run: customer message -> bot answer, 2 processes "
              "(PostgreSQL + Redis). Rasa: stand-ins (tests/support/rasa_stand_in.py), not the model")
        head = (f"{'kill':<24}{'target/s':>9}{'got/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'bot':>6}"
                f"{'apology':>8}{'failed':>7}{'lost':>6}{'dup':>5}  order")
        print(head)
        print("-" * len(head))
        for r in results["rasa_failover"]:
            kill = f"one SIGKILLed at {r['killed_at_s']} s" if r["killed_one"] else "none"
            print(f"{kill:<24}{r['target_rate']:>9.0f}{r['delivered_per_second']:>8.1f}{str(r['p50_ms']):>8}"
                  f"{str(r['p99_ms']):>8}{str(r['max_ms']):>8}{r['bot_answers']:>6}{r['apologies']:>8}"
                  f"{r['post_failures']:>7}{r['lost']:>6}{r['duplicated']:>5}  {'kept' if r['order_kept'] else 'BROKEN'}")


def print_line_table(results: dict):
    if not results.get("line"):
        return
    print("\nLINE channel: webhook -> bot -> outbox -> LINE stand-in, 2 processes (PostgreSQL + Redis)")
    head = (f"{'run':<9}{'fail':>6}{'msg/s':>7}{'s':>5}{'faq':>6}{'agent':>6}{'calls':>7}{'5xx':>6}{'lost':>6}{'dup':>5}"
            f"{'reply p50':>10}{'p95':>8}{'p99':>8}  rasa")
    print(head)
    print("-" * len(head))
    for r in results["line"]:
        lat = r["reply_latency_ms"]
        print(f"{r['run']:<9}{r['failure_rate']:>6.0%}{r['target_rate']:>7.0f}{r['seconds']:>5.0f}{r['faq_messages']:>6}"
              f"{r['agent_messages']:>6}{r['message_api_calls']:>7}{r['calls_failed_by_the_stand_in']:>6}"
              f"{r['faq_lost'] + r['agent_lost']:>6}{r['faq_duplicated'] + r['agent_duplicated']:>5}"
              f"{str(lat['p50']):>10}{str(lat['p95']):>8}{str(lat['p99']):>8}  {r['rasa']}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[50, 200],
                        help="agent messages per second to try in each setup (default 50 200)")
    parser.add_argument("--seconds", type=float, default=10, help="seconds of sending per setup (default 10)")
    parser.add_argument("--streams", type=int, nargs="*", default=[500, 1000], help="stream counts to hold")
    parser.add_argument("--setups", nargs="*", default=["sqlite:1", "sqlite+redis:2", "postgresql+redis:1",
                                                         "postgresql+redis:2"],
                        help="database[+redis]:processes (default: all four; none: no delivery runs)")
    parser.add_argument("--failover-rate", type=float, default=50,
                        help="customer messages per second in the two-Rasa-servers runs (0 skips them)")
    parser.add_argument("--failover-repeats", type=int, default=3,
                        help="pairs of runs (no kill, then a kill), alternated: on a shared machine one pair "
                             "is mostly noise (default 3)")
    parser.add_argument("--line-rate", type=float, default=50,
                        help="LINE outage run: messages per second (webhook questions and agent pushes; 0 skips it)")
    parser.add_argument("--line-seconds", type=float, default=60, help="LINE outage run: seconds of sending (default 60)")
    parser.add_argument("--line-drain-seconds", type=float, default=900,
                        help="LINE runs: how long to wait, after the sending, for every event and outbox row to be done")
    parser.add_argument("--line-failure", type=float, default=0.2,
                        help="LINE outage run: share of LINE message calls the stand-in fails (default 0.2)")
    parser.add_argument("--line-rasa-delay", type=float, default=0.3,
                        help="seconds the Rasa stand-in takes per turn in the LINE runs (default 0.3)")
    parser.add_argument("--line-latency-rate", type=float, default=10,
                        help="LINE latency run (no failures): questions per second (default 10; 0 skips it)")
    parser.add_argument("--line-latency-seconds", type=float, default=30)
    parser.add_argument("--line-rasa-url", default=os.environ.get("TSUNAGI_E2E_RASA_URL", ""),
                        help="the real bot for the LINE latency run (tools/with-bot.sh sets TSUNAGI_E2E_RASA_URL); "
                             "empty: the Rasa stand-in with --line-rasa-delay")
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "handoff.json"))
    parser.add_argument("--keep", action="store_true",
                        help="keep the figures of the parts not run this time from the output file (marked so)")
    args = parser.parse_args()
    if max(args.rates + [args.failover_rate]) * args.seconds > 20000 or args.line_rate * args.line_seconds > 20000 \
            or args.line_latency_rate * args.line_latency_seconds > 20000 or max(args.streams, default=0) > 5000:
        parser.error("bounded: at most 20,000 messages per setup and 5,000 streams")
    limit = raise_file_limit()
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"tsunagi-bench-{os.getpid()}"
    workdir.mkdir(parents=True, exist_ok=True)
    setups = []
    for setup in args.setups:
        stores, _, processes = setup.partition(":")
        kind, _, redis = stores.partition("+")
        if kind not in ("sqlite", "postgresql") or redis not in ("", "redis") or processes not in ("1", "2"):
            parser.error(f"--setups: {setup!r} is not database[+redis]:1|2")
        if processes == "2" and not redis:
            parser.error(f"--setups: {setup!r}: two processes share live events through Redis")
        setups.append((kind, bool(redis), int(processes)))
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
               "file_limit": limit, "rates": args.rates, "seconds": args.seconds, "delivery": [], "streams": [],
               "rasa_failover": [], "line": [], "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    for kind, redis, processes in setups:
        for rate in args.rates:
            print(f"delivery: {kind}{' + redis' if redis else ''}, {processes} process(es), {rate:.0f}/s ...", flush=True)
            results["delivery"].append(delivery(kind, redis, processes, rate, args.seconds, workdir))
    for count in args.streams:
        print(f"holding {count} streams ...", flush=True)
        results["streams"].append(held_streams(count, workdir))
    for _ in range(args.failover_repeats if args.failover_rate else 0):
        for kill in (False, True):
            print(f"two Rasa servers (stand-ins), {'one killed mid-run' if kill else 'no kill'}, "
                  f"{args.failover_rate:.0f} messages/s ...", flush=True)
            results["rasa_failover"].append(rasa_failover(kill, args.failover_rate, args.seconds, workdir))
    if args.line_rate:
        print(f"LINE: stand-in failing {args.line_failure:.0%} of message calls, {args.line_rate:.0f} messages/s "
              f"for {args.line_seconds:g} s ...", flush=True)
        results["line"].append(dict(line_channel(args.line_rate, args.line_seconds, args.line_failure,
                                                 args.line_rasa_delay, workdir, drain_seconds=args.line_drain_seconds),
                                    run="outage"))
    if args.line_latency_rate:
        print(f"LINE: reply latency, {args.line_latency_rate:.0f} questions/s, no failures, "
              f"{'the real bot' if args.line_rasa_url else 'Rasa stand-in'} ...", flush=True)
        results["line"].append(dict(line_channel(args.line_latency_rate, args.line_latency_seconds, 0.0,
                                                 args.line_rasa_delay, workdir, rasa_url=args.line_rasa_url,
                                                 agent_share=0.0, drain_seconds=args.line_drain_seconds),
                                    run="latency"))
    if args.keep and Path(args.output).is_file():
        earlier = json.loads(Path(args.output).read_text())
        for part in ("delivery", "streams", "rasa_failover", "line"):
            if not results[part] and earlier.get(part):
                results[part] = earlier[part]
                results.setdefault("parts_from_an_earlier_run", []).append(part)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    print_line_table(results)
    print(f"\nwritten to {args.output}")


if __name__ == "__main__":
    main()
