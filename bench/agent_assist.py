"""`make bench-assist`: the answers the console suggests to agents (handoff/agent_assist.py).

1. Accuracy. Every in-scope message of both held-out sets (data/tests/nlu_test.yml and
   data/tests/blind/nlu_blind.yml: the intents that are FAQ topics) is read by the real trained
   model (models/current.tar.gz, served by tools/with-bot.sh: Rasa's `/model/parse`, the call the
   service makes for a message written after the handoff); its ranking goes through
   agent_assist.suggest as in the service, and the suggestions are scored top-1 (the first is the
   message's topic) and top-3 (one of the three is), per language and set. The peer, in the same
   run: TF-IDF over character 1-3-grams of the topics' training examples (data/nlu), each topic
   scored by its most similar example. The held-out sets are only measured here, never tuned on:
   nothing in this file or in agent_assist has a threshold.
2. Latency, "from a customer's message being stored to the suggestions being available to the
   console": the handoff service runs in-process behind a threaded HTTP server (SQLite, no Redis,
   the same real Rasa), an agent's console is a client on the agent stream (SSE) that, as
   console.js does, asks GET .../suggestions when a customer message event arrives. Customers who
   were handed off write held-out questions; for each, the time from the message's `created_at`
   (set when it is stored) to the end of the suggestions response. The peer: a second GET for the
   same message, whose ranking is now kept (no Rasa call).

Writes bench/results/agent_assist.json and prints a table. Needs the real bot:

    tools/with-bot.sh .venv/handoff/bin/python bench/agent_assist.py [--latency-messages 80]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import requests
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.metrics.pairwise import cosine_similarity  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from handoff import create_app  # noqa: E402
from handoff.agent_assist import ranking_from_parse, suggest  # noqa: E402
from handoff.agents import create_agent  # noqa: E402
from handoff.cli import migrate  # noqa: E402
from handoff.content_files import ContentFiles, examples_of, normalise, topic_titles  # noqa: E402
from handoff.rasa import RasaClient  # noqa: E402
from intents import NOT_TOPICS  # noqa: E402
from languages import message_language  # noqa: E402
from tests.support.ports import free_port  # noqa: E402

SETS = {"nlu_test": ROOT / "data/tests/nlu_test.yml", "blind": ROOT / "data/tests/blind/nlu_blind.yml"}
RESULTS = ROOT / "bench/results/agent_assist.json"
PASSWORD = "bench-password"


def held_out(path: Path) -> list[tuple[str, str, str]]:
    """(text, topic, language) of every message of a held-out set whose intent is an FAQ topic."""
    rows = []
    for item in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
        if item["intent"] in NOT_TOPICS:
            continue
        for text in examples_of(item["examples"]):
            rows.append((text, item["intent"], message_language(text, None) or "ja"))
    return rows


class TfidfPeer:
    """Nearest training example by TF-IDF over character 1-3-grams (no tokenizer: Japanese has no
    spaces); a topic scores its best example."""

    def __init__(self, topics):
        self.texts, self.labels = [], []
        for topic in topics:
            for example in topic.examples:
                self.texts.append(normalise(example))
                self.labels.append(topic.id)
        self.vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True)
        self.matrix = self.vectorizer.fit_transform(self.texts)

    def rank(self, text: str, k: int = 3) -> list[str]:
        scores = cosine_similarity(self.vectorizer.transform([normalise(text)]), self.matrix)[0]
        best: dict[str, float] = {}
        for label, score in zip(self.labels, scores):
            best[label] = max(best.get(label, -1.0), float(score))
        return [topic for topic, _ in sorted(best.items(), key=lambda kv: -kv[1])[:k]]


def accuracy(rasa: RasaClient, content: ContentFiles) -> dict:
    answers, titles = content.answers(), topic_titles(content)
    peer = TfidfPeer([t for t in content.topics() if t.id not in NOT_TOPICS])
    result: dict = {}
    for name, path in SETS.items():
        tally = defaultdict(lambda: {"messages": 0, "ours_top1": 0, "ours_top3": 0, "peer_top1": 0, "peer_top3": 0,
                                     "no_suggestion": 0})
        misses = []
        for text, topic, language in held_out(path):
            ranking = ranking_from_parse(rasa.parse(f"bench-{name}", text, timeout=30))
            ours = [s.topic for s in suggest(ranking, language, answers, titles)]
            theirs = peer.rank(text)
            for scope in (language, "all"):
                row = tally[scope]
                row["messages"] += 1
                row["ours_top1"] += ours[:1] == [topic]
                row["ours_top3"] += topic in ours
                row["peer_top1"] += theirs[:1] == [topic]
                row["peer_top3"] += topic in theirs
                row["no_suggestion"] += not ours
            if topic not in ours:
                misses.append({"text": text, "topic": topic, "suggested": ours})
        result[name] = {scope: dict(row, **{key + "_rate": round(row[key] / row["messages"], 4)
                                            for key in ("ours_top1", "ours_top3", "peer_top1", "peer_top3")})
                        for scope, row in tally.items()}
        result[name]["misses_top3"] = misses
    return result


# Latency through the service.

class Console(threading.Thread):
    """An agent's console: reads the agent stream and, on each customer message event, asks for the
    suggestions, noting when they arrived (as console.js loadSuggestions)."""

    def __init__(self, url: str, http: requests.Session):
        super().__init__(daemon=True)
        self.url, self.http = url, http
        self.arrived: dict[int, dict] = {}  # message id -> {"at", "suggestions", "seconds_to_event"}
        self.ready = threading.Event()
        self.stop = False

    def run(self):
        with self.http.get(self.url + "/api/agent/stream", stream=True, timeout=(5, 120)) as response:
            self.ready.set()
            event = None
            for line in response.iter_lines(decode_unicode=True):
                if self.stop:
                    return
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event == "message":
                    data = json.loads(line.split(":", 1)[1])
                    message = data.get("message") or data
                    if message.get("sender") == "customer":
                        received = time.time()
                        body = self.http.get(f"{self.url}/api/agent/conversations/{data['conversation_id']}/suggestions",
                                             timeout=30).json()
                        self.arrived[message["id"]] = {"at": time.time(), "event_at": received, "body": body}


def latency(rasa_url: str, jwt_secret: str, texts: list[tuple[str, str, str]], count: int) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="bench-assist-"))
    database = f"sqlite:///{workdir / 'handoff.sqlite3'}"
    migrate(database)
    app = create_app({"DATABASE_URL": database, "RASA_URL": rasa_url, "RASA_JWT_SECRET": jwt_secret,
                      "SECRET_KEY": "bench", "SUPPORT_HOURS": "always", "REDIS_URL": "", "LOG_LEVEL": "WARNING",
                      "RASA_TIMEOUT": 30.0, "RATE_LIMIT_PER_IP": "1000000/minute",
                      "RATE_LIMIT_CONVERSATIONS_PER_IP": "1000000/minute",
                      "RATE_LIMIT_PER_CONVERSATION": "1000000/minute", "RATE_LIMIT_LOGIN": "1000/minute"})
    with app.extensions["tsunagi"].db.writing() as session:
        create_agent(session, "bench@shop.example", "Bench", "agent", PASSWORD, 1000)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request would drown the table
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    agent = requests.Session()
    token = agent.get(url + "/api/agent/login").json()["csrf_token"]
    csrf = agent.post(url + "/api/agent/login", json={"email": "bench@shop.example", "password": PASSWORD},
                      headers={"X-CSRF-Token": token}).json()["csrf_token"]
    console = Console(url, agent)
    console.start()
    console.ready.wait(10)
    step = max(1, len(texts) // count)
    sample = texts[::step][:count]
    stored_to_shown, stored_to_event, kept_ranking = [], [], []
    correct_top3 = 0
    customers_per_conversation = 4  # a handed-off customer asks a few questions in a row
    try:
        for start in range(0, len(sample), customers_per_conversation):
            language = sample[start][2]
            customer = requests.Session()
            conversation = customer.post(url + "/api/v1/conversations", json={"language": language}).json()
            customer.headers["Authorization"] = f"Bearer {conversation['token']}"
            path = f"{url}/api/v1/conversations/{conversation['id']}"
            customer.post(path + "/messages", json={"text": "/request_human"})
            claimed = agent.post(f"{url}/api/agent/conversations/{conversation['id']}/claim",
                                 headers={"X-CSRF-Token": csrf})
            assert claimed.status_code == 200, claimed.text
            for text, topic, _ in sample[start:start + customers_per_conversation]:
                sent = customer.post(path + "/messages", json={"text": text})
                assert sent.status_code == 201, sent.text
                message = sent.json()["message"]
                stored = datetime.fromisoformat(message["created_at"].replace("Z", "+00:00")).timestamp()
                deadline = time.time() + 30
                while message["id"] not in console.arrived and time.time() < deadline:
                    time.sleep(0.002)
                seen = console.arrived.get(message["id"])
                if seen is None:
                    raise RuntimeError(f"no suggestions arrived for {text!r}")
                stored_to_shown.append((seen["at"] - stored) * 1000)
                stored_to_event.append((seen["event_at"] - stored) * 1000)
                correct_top3 += topic in [s["topic"] for s in seen["body"]["suggestions"]]
                began = time.time()
                agent.get(f"{url}/api/agent/conversations/{conversation['id']}/suggestions", timeout=30).json()
                kept_ranking.append((time.time() - began) * 1000)
                time.sleep(0.05)
    finally:
        console.stop = True
        server.shutdown()
    return {"messages": len(stored_to_shown), "top3_of_these": correct_top3,
            "stored_to_suggestions_ms": figures(stored_to_shown),
            "stored_to_console_event_ms": figures(stored_to_event),
            "peer_kept_ranking_get_ms": figures(kept_ranking)}


def figures(values: list[float]) -> dict:
    ordered = sorted(values)

    def nearest_rank(share):
        return round(ordered[max(0, min(len(ordered) - 1, int(share * len(ordered) + 0.999999) - 1))], 1)
    return {"p50": nearest_rank(0.5), "p95": nearest_rank(0.95), "max": round(ordered[-1], 1),
            "mean": round(statistics.fmean(ordered), 1), "count": len(ordered)}


def print_table(result: dict) -> None:
    print("\nSuggested answers on the held-out in-scope messages (top-k: the message's topic among the first k)")
    print(f"{'set':<10}{'lang':<6}{'n':>5}{'ours top-1':>12}{'ours top-3':>12}{'TF-IDF top-1':>14}{'TF-IDF top-3':>14}")
    for name in SETS:
        for scope in ("ja", "en", "all"):
            row = result["accuracy"][name][scope]
            print(f"{name:<10}{scope:<6}{row['messages']:>5}{row['ours_top1_rate']:>12.1%}{row['ours_top3_rate']:>12.1%}"
                  f"{row['peer_top1_rate']:>14.1%}{row['peer_top3_rate']:>14.1%}")
    lat = result["latency"]
    print(f"\nStored -> suggestions in the console, {lat['messages']} messages after a handoff (ms)")
    for key, label in (("stored_to_suggestions_ms", "stored -> suggestions (event + GET + /model/parse)"),
                       ("stored_to_console_event_ms", "stored -> message event in the console"),
                       ("peer_kept_ranking_get_ms", "peer: GET with the ranking kept (no Rasa)")):
        f = lat[key]
        print(f"  {label:<55} p50 {f['p50']:>7.1f}  p95 {f['p95']:>7.1f}  max {f['max']:>7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency-messages", type=int, default=80)
    args = parser.parse_args()
    rasa_url = os.environ.get("TSUNAGI_E2E_RASA_URL")
    secret = os.environ.get("RASA_JWT_SECRET", "")
    if not rasa_url:
        sys.exit("Run under tools/with-bot.sh (it serves models/current.tar.gz and sets TSUNAGI_E2E_RASA_URL).")
    rasa = RasaClient(rasa_url, "/webhooks/gateway/webhook", 30.0, secret)
    content = ContentFiles(ROOT)
    began = time.time()
    result = {"model": str(ROOT / "models/current.tar.gz"), "rasa": requests.get(rasa_url + "/version").json(),
              "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
              "accuracy": accuracy(rasa, content)}
    texts = held_out(SETS["nlu_test"]) + held_out(SETS["blind"])
    result["latency"] = latency(rasa_url, secret, texts, args.latency_messages)
    result["seconds"] = round(time.time() - began, 1)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print_table(result)
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
