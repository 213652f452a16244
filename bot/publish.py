"""Publishes FAQ changes to the running bot, safely (`make publish`), and takes them back
(`make rollback`).

publish: validate the content (bot/validate.py) -> train a release (tools/train.sh, into
models/releases/<hash>.tar.gz) -> evaluate it and the live model on the held-out test set
(data/tests/) -> refuse when, in either language, in-scope accuracy or out-of-scope recall
drops by more than --max-drop (printing what changed per intent) -> otherwise load it into
every running Rasa server (RASA_URLS, or RASA_URL) with Rasa's model-replace endpoint
(`PUT /model`; conversations live in the SQL tracker store, bot/tracker_store.py, so they carry
on) -> record it in models/live.json, which tools/rasa-server.sh serves after any restart.
Every server must answer before anything changes; each call carries the JWT signed with
RASA_JWT_SECRET (else instance/rasa_jwt_secret, which make run writes).
first: on a machine where nothing was published yet (make run): validate, train and evaluate
the same way (there is no live model to compare with), and record the model as live.
rollback: load the model that was live before the current one, the same way.
status: which model is live, since when, and the history.
live-path: the model a Rasa server serves (tools/rasa-server.sh, tools/run.sh): the published
one, else models/current.tar.gz.

usage: python -m bot.publish publish [--rasa-url URL[,URL...]] [--max-drop 0.02] [--project DIR]
       python -m bot.publish first
       python -m bot.publish rollback [--rasa-url URL[,URL...]]
       python -m bot.publish status
       python -m bot.publish live-path [--models-dir DIR]
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import requests

from bot import validate as content_check
from languages import LANGUAGES
from rasa_auth import rasa_jwt, server_urls

ROOT = content_check.ROOT
DEFAULT_RASA_URL = "http://127.0.0.1:5005"
DEFAULT_MAX_DROP = 0.02  # two percentage points
TEST_SET = Path("data") / "tests" / "nlu_test.yml"
# Loading a model blocks Rasa for a few seconds; a busy machine can take much longer.
LOAD_TIMEOUT = 300

TEXTS = {
    "en": {
        "step": "[{n}/4] {what}",
        "validate": "Checking the content (make validate)",
        "invalid": "Not published: the content has errors. Fix them and run `make publish` again.",
        "train": "Training the new model (a few minutes; the log is in {log})",
        "train_failed": "Not published: training failed. The end of the log ({log}):",
        "trained": "New model: {model}",
        "evaluate": "Evaluating the new model and the live model on {tests}",
        "live_is": "Live model: {model}",
        "same": "The live model was trained from exactly this content: nothing to publish.",
        "compare_head": "{metric} {old} {new} {change}",
        "metric_in": "{lang} in-scope accuracy",
        "metric_oos": "{lang} out-of-scope recall",
        "live": "live model", "new": "new model", "change": "change",
        "per_intent": "Per intent (accuracy on the test set; only the intents that changed):",
        "no_intent_change": "Per intent: no intent's accuracy changed.",
        "confused": "now mistaken for: {names}",
        "refused": "Not published: {reasons} dropped by more than {margin:.1f} points (--max-drop {max_drop}).\n"
                   "The live model stays. Add or fix examples of the intents above, then run `make publish` again.",
        "load": "Loading the new model into the running bot at {url}",
        "rasa_down": "The Rasa server at {url} cannot be reached ({error}). Start the bot (make run) or set RASA_URLS. Nothing was changed.",
        "rasa_auth": "The Rasa server at {url} refused the token (HTTP {status}): set RASA_JWT_SECRET to the secret it runs with "
                     "(make run keeps it in instance/rasa_jwt_secret). Nothing was changed.",
        "first_done": "Published: {model} is live since {since} (the first model: nothing to compare with).",
        "first_exists": "Already published: {model} is live (make publish puts new content live).",
        "load_failed": "Rasa did not load the model: {error}",
        "published": "Published: {model} is live since {since}. `make rollback` goes back to {previous}.",
        "rollback_nothing": "There is no earlier model to go back to (see `.venv/bot/bin/python -m bot.publish status`).",
        "rolled_back": "Rolled back: {model} is live again since {since} (instead of {previous}).",
        "status_none": "No model has been published yet (models/live.json does not exist).",
        "status_live": "Live: {model} since {since}",
    },
    "ja": {
        "step": "[{n}/4] {what}",
        "validate": "コンテンツをチェックしています（make validate）",
        "invalid": "公開しませんでした: コンテンツにエラーがあります。直してから、もう一度 `make publish` を実行してください。",
        "train": "新しいモデルを学習しています（数分かかります。ログ: {log}）",
        "train_failed": "公開しませんでした: 学習に失敗しました。ログ（{log}）の最後:",
        "trained": "新しいモデル: {model}",
        "evaluate": "新しいモデルと公開中のモデルを {tests} で評価しています",
        "live_is": "公開中のモデル: {model}",
        "same": "公開中のモデルはこのコンテンツから学習したものです。公開するものはありません。",
        "compare_head": "{metric} {old} {new} {change}",
        "metric_in": "{lang} 対象内の正解率",
        "metric_oos": "{lang} 対象外の検出率",
        "live": "公開中", "new": "新モデル", "change": "差",
        "per_intent": "インテント別（テストセットでの正解率。変わったものだけ）:",
        "no_intent_change": "インテント別: 正解率が変わったインテントはありません。",
        "confused": "取り違え先: {names}",
        "refused": "公開しませんでした: {reasons} が {margin:.1f} ポイントより大きく下がりました（--max-drop {max_drop}）。\n"
                   "公開中のモデルはそのままです。上のインテントの例文を追加・修正してから、もう一度 `make publish` を実行してください。",
        "load": "動いているボット（{url}）に新しいモデルを読み込んでいます",
        "rasa_down": "Rasa サーバー（{url}）に接続できません（{error}）。ボットを起動する（make run）か、RASA_URLS を設定してください。何も変更していません。",
        "rasa_auth": "Rasa サーバー（{url}）がトークンを拒否しました（HTTP {status}）。サーバーと同じ RASA_JWT_SECRET を設定してください"
                     "（make run は instance/rasa_jwt_secret に保存しています）。何も変更していません。",
        "first_done": "公開しました: {model}（{since} から。最初のモデルなので比較はしていません）。",
        "first_exists": "公開済みです: {model}（新しいコンテンツは make publish で公開します）。",
        "load_failed": "Rasa がモデルを読み込めませんでした: {error}",
        "published": "公開しました: {model}（{since} から）。`make rollback` で {previous} に戻せます。",
        "rollback_nothing": "戻せる以前のモデルがありません（`.venv/bot/bin/python -m bot.publish status` を参照）。",
        "rolled_back": "元に戻しました: {model} を {since} から再び公開しています（{previous} の代わりに）。",
        "status_none": "まだ何も公開されていません（models/live.json がありません）。",
        "status_live": "公開中: {model}（{since} から）",
    },
}
LANGUAGE_NAMES = {"en": {"ja": "Japanese", "en": "English"}, "ja": {"ja": "日本語", "en": "英語"}}


class PublishError(Exception):
    """Something the editor must act on: a message of TEXTS, its parameters, the exit status."""

    def __init__(self, key: str, params: Optional[Dict] = None, status: int = 1):
        super().__init__(key)
        self.key = key
        self.params = params or {}
        self.status = status


def now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# The record of what is live: models/live.json.

class LiveRecord:
    """models/live.json: the live model, the stack `make rollback` pops, and the history."""

    def __init__(self, models_dir: Path):
        self.models_dir = models_dir
        self.path = models_dir / "live.json"
        self.releases = models_dir / "releases"
        self.data: Dict = {"live": None, "stack": [], "history": []}
        if self.path.is_file():
            self.data = json.loads(self.path.read_text(encoding="utf-8"))

    @contextlib.contextmanager
    def locked(self):
        """One publish or rollback at a time."""
        self.models_dir.mkdir(parents=True, exist_ok=True)
        with open(self.models_dir / ".live.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield self
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def name(self, path: Path) -> str:
        """How a model is written down: relative to the models folder's parent when inside it."""
        path = path.resolve()
        try:
            return str(path.relative_to(self.models_dir.resolve().parent))
        except ValueError:
            return str(path)

    def path_of(self, name: str) -> Path:
        path = Path(name)
        return path if path.is_absolute() else (self.models_dir.resolve().parent / path)

    def served(self) -> Path:
        """The model a Rasa server serves: the published one, else the trained current.tar.gz."""
        return self.path_of(self.live["model"]) if self.live else self.models_dir / "current.tar.gz"

    @property
    def live(self) -> Optional[Dict]:
        return self.data.get("live")

    def set_live(self, model: Path, action: str, **extra) -> Dict:
        entry = {"model": self.name(model), "since": now(), "action": action, **extra}
        previous = self.live
        self.data["live"] = entry
        self.data["history"].append({**entry, "replaced": previous["model"] if previous else None})
        return entry

    def save(self) -> None:
        self.models_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)


# Rasa's HTTP API.

def jwt_secret() -> Optional[str]:
    """The Rasa servers' JWT secret: RASA_JWT_SECRET, else the one make run generated."""
    secret = os.environ.get("RASA_JWT_SECRET", "").strip()
    stored = ROOT / "instance" / "rasa_jwt_secret"
    if not secret and stored.is_file():
        secret = stored.read_text(encoding="utf-8").strip()
    return secret or None


def rasa_urls(value: Optional[str]) -> List[str]:
    """`http://a:5005,http://b:5006` (RASA_URLS), or one URL (RASA_URL), as the gateway reads them."""
    return server_urls((value or "").split(","), "")


class RasaServer:
    def __init__(self, url: str, secret: Optional[str] = None):
        self.url = url.rstrip("/")
        self.secret = secret

    def headers(self) -> Dict[str, str]:
        return {"Authorization": f"Bearer {rasa_jwt(self.secret)}"} if self.secret else {}

    def _call(self, method: str, path: str, timeout: float, **kwargs) -> requests.Response:
        try:
            response = requests.request(method, self.url + path, headers=self.headers(), timeout=timeout, **kwargs)
        except requests.RequestException as error:
            raise PublishError("rasa_down", {"url": self.url, "error": type(error).__name__}, 2)
        if response.status_code in (401, 403):
            raise PublishError("rasa_auth", {"url": self.url, "status": response.status_code}, 2)
        return response

    def status(self) -> Dict:
        response = self._call("GET", "/status", 10)
        if response.status_code != 200:
            raise PublishError("rasa_down", {"url": self.url, "error": f"HTTP {response.status_code}"}, 2)
        return response.json()

    def load(self, model: Path) -> None:
        """Rasa's model-replace endpoint: the new agent takes the next messages; the messages
        being answered finish on the old one; conversations carry on (bot/tracker_store.py)."""
        response = self._call("PUT", "/model", LOAD_TIMEOUT, json={"model_file": str(model.resolve())})
        if response.status_code != 204:
            raise PublishError("load_failed", {"error": f"{self.url}: HTTP {response.status_code} {response.text[:300]}"}, 2)
        loaded = self.status().get("model_file")
        if loaded != model.name:
            raise PublishError("load_failed", {"error": f"{self.url} reports {loaded!r} after loading {model.name!r}"}, 2)


class RasaServers:
    """Every Rasa server of the deployment: each must answer before any is changed."""

    def __init__(self, urls: List[str], secret: Optional[str] = None):
        self.servers = [RasaServer(url, secret) for url in urls]

    @property
    def url(self) -> str:
        return ", ".join(server.url for server in self.servers)

    def status(self) -> List[Dict]:
        return [server.status() for server in self.servers]

    def load(self, model: Path, previous: Optional[Path] = None) -> None:
        """Loads the model into each server in turn, after checking all are reachable; when one
        fails, the servers already switched go back to `previous`, so they all serve one model."""
        self.status()
        switched = []
        try:
            for server in self.servers:
                server.load(model)
                switched.append(server)
        except PublishError:
            if previous is not None:
                for server in switched:
                    with contextlib.suppress(PublishError):
                        server.load(previous)
            raise


# Training and evaluating.

def train(project: Path, releases: Path, log: Path) -> Path:
    """A release trained by tools/train.sh (cached by content hash), named by that hash."""
    releases.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tsunagi-publish-") as tmp:
        out = Path(tmp) / "model.tar.gz"
        with open(log, "w", encoding="utf-8") as handle:
            done = subprocess.run(["tools/train.sh", str(out)], cwd=project, stdout=handle,
                                  stderr=subprocess.STDOUT)
        if done.returncode != 0 or not out.is_file():
            tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-30:])
            raise PublishError("train_failed", {"log": str(log), "tail": tail})
        release = releases / f"{(Path(tmp) / 'model.tar.gz.hash').read_text().strip()}.tar.gz"
        if not release.is_file():
            shutil.move(str(out), release)
    return release


def evaluate(model: Path, tests: Path) -> Dict:
    """bot.evaluate's summary and per-intent results, cached by model and test-set content."""
    from bot import evaluate as evaluation

    cache = Path(os.environ.get("TSUNAGI_CACHE") or Path.home() / ".cache" / "tsunagi") / "evaluations"
    key = f"{file_hash(model)[:20]}-{file_hash(tests)[:20]}"
    cached = cache / f"{key}.json"
    if cached.is_file():
        return json.loads(cached.read_text(encoding="utf-8"))
    rows = evaluation.predict(model, evaluation.read_examples(tests))
    result = {"summary": evaluation.summarise(rows), "per_intent": evaluation.per_intent(rows)}
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, cached)
    return result


METRICS = {"in_scope_accuracy": "in_scope_examples", "out_of_scope_recall": "out_of_scope_examples"}


def figures(result: Dict) -> List[Tuple[str, str, Optional[float]]]:
    """One evaluation's (metric, language, value), None where the test set has no example to measure it."""
    return [(metric, language, result["summary"].get(language, {}).get(metric, 0.0)
             if result["summary"].get(language, {}).get(count, 0) > 0 else None)
            for language in LANGUAGES for metric, count in METRICS.items()]


def compare(old: Dict, new: Dict, max_drop: float) -> Tuple[List[Tuple[str, str, Optional[float], Optional[float]]],
                                                             List[Tuple[str, str]]]:
    """(rows, failures): rows are (metric, language, old, new), None where the test set has no
    example to measure it; a failure is a metric that dropped by more than max_drop."""
    rows, failures = [], []
    for language in LANGUAGES:
        for metric, count in METRICS.items():
            measured = new["summary"].get(language, {}).get(count, 0) > 0
            before = old["summary"].get(language, {}).get(metric, 0.0) if measured else None
            after = new["summary"].get(language, {}).get(metric, 0.0) if measured else None
            rows.append((metric, language, before, after))
            if measured and before - after > max_drop + 1e-9:
                failures.append((metric, language))
    return rows, failures


def intent_changes(old: Dict, new: Dict) -> List[Tuple[str, float, float, Dict[str, int]]]:
    """Intents whose test accuracy changed, worst change first: (intent, old, new, confused_with)."""
    changes = []
    for intent in sorted(set(old["per_intent"]) | set(new["per_intent"])):
        before = old["per_intent"].get(intent, {}).get("accuracy", 0.0)
        after_entry = new["per_intent"].get(intent, {})
        after = after_entry.get("accuracy", 0.0)
        if abs(after - before) > 1e-9:
            changes.append((intent, before, after, after_entry.get("confused_with", {})))
    return sorted(changes, key=lambda c: (c[2] - c[1], c[0]))


# The commands.

class Publisher:
    def __init__(self, args: argparse.Namespace, lang: str, out=None):
        self.args = args
        self.t = TEXTS[lang]
        self.lang = lang
        self.out = out or sys.stdout
        self.record = LiveRecord(args.models_dir)
        self.rasa = RasaServers(rasa_urls(getattr(args, "rasa_url", None)) or [DEFAULT_RASA_URL], jwt_secret())

    def say(self, key: str, **params) -> None:
        print(self.t[key].format(**params), file=self.out, flush=True)

    def step(self, n: int, key: str, **params) -> None:
        print("\n" + self.t["step"].format(n=n, what=self.t[key].format(**params)), file=self.out, flush=True)

    def live_model(self, reachable: bool) -> Path:
        """The model now live: what models/live.json says, unless Rasa runs another one (it was
        restarted, e.g. by `make run`); then the one Rasa runs, else make run's
        models/current.tar.gz. A live model not yet among the releases is copied there, so a
        later `make train` overwriting models/current.tar.gz cannot change what rollback restores."""
        models = [status.get("model_file") for status in self.rasa.status()] if reachable else []
        running = models[0] if models else None
        if self.record.live:
            recorded = self.record.path_of(self.record.live["model"])
            if running is None or recorded.name in models:
                return recorded
        candidates = [self.record.models_dir / (running or "current.tar.gz"),
                      self.record.releases / (running or "current.tar.gz")]
        current = next((c for c in candidates if c.is_file()), None)
        if current is None:
            raise PublishError("load_failed", {"error": f"cannot find the live model {running or 'current.tar.gz'} "
                                                          f"in {self.record.models_dir}"}, 2)
        baseline = current if current.parent == self.record.releases else \
            self.record.releases / f"{file_hash(current)[:16]}.tar.gz"
        if not baseline.is_file():
            self.record.releases.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(current, baseline)
        entry = self.record.set_live(baseline, "baseline", copied_from=self.record.name(current))
        self.record.data["stack"].append(entry["model"])
        return baseline

    def validate_and_train(self) -> Path:
        """Steps 1 and 2 of publish and first: the content checked (PublishError `invalid` on an
        error), then a model trained into the releases; its path."""
        args = self.args
        self.step(1, "validate")
        report = content_check.validate(args.project, content_check.settings_from(args))
        content_check.print_report(report, self.lang, self.out)
        if report.errors:
            raise PublishError("invalid", {})

        log = args.project / "logs" / "publish-train.log"
        self.step(2, "train", log=log)
        release = train(args.project, self.record.releases, log)
        self.say("trained", model=self.record.name(release))
        return release

    def publish(self) -> int:
        args = self.args
        with self.record.locked():
            if not args.no_load:
                self.rasa.status()  # before minutes of training: is there a bot to publish to?
            release = self.validate_and_train()
            live = self.live_model(reachable=not args.no_load)
            self.say("live_is", model=self.record.name(live))
            if file_hash(live) == file_hash(release):
                self.say("same")
                self.record.save()
                return 0

            tests = args.project / TEST_SET if args.tests is None else args.tests
            self.step(3, "evaluate", tests=tests)
            old, new = evaluate(live, tests), evaluate(release, tests)
            rows, failures = compare(old, new, args.max_drop)
            self.print_comparison(rows, old, new)
            if failures:
                names = LANGUAGE_NAMES[self.lang]
                reasons = ", ".join(self.t["metric_in" if m == "in_scope_accuracy" else "metric_oos"].format(lang=names[l])
                                    for m, l in failures)
                raise PublishError("refused", {"reasons": reasons, "margin": args.max_drop * 100,
                                                "max_drop": args.max_drop})
            if args.no_load:
                return 0

            self.step(4, "load", url=self.rasa.url)
            self.rasa.load(release, previous=live)
            previous = self.record.live["model"]
            entry = self.record.set_live(release, "publish", evaluation=new["summary"])
            self.record.data["stack"].append(entry["model"])
            self.record.save()
            print("", file=self.out)
            self.say("published", model=entry["model"], since=entry["since"], previous=previous)
            return 0

    def first(self) -> int:
        """make run on a machine where nothing was published: the trained model goes live through
        the same checks (validate, train, evaluate), with nothing to compare it with."""
        args = self.args
        with self.record.locked():
            if self.record.live:
                self.say("first_exists", model=self.record.live["model"])
                return 0
            release = self.validate_and_train()
            tests = args.project / TEST_SET
            self.step(3, "evaluate", tests=tests)
            new = evaluate(release, tests)
            self.print_figures(new)
            entry = self.record.set_live(release, "first", evaluation=new["summary"])
            self.record.data["stack"].append(entry["model"])
            self.record.save()
            print("", file=self.out)
            self.say("first_done", model=entry["model"], since=entry["since"])
            return 0

    def rollback(self) -> int:
        with self.record.locked():
            stack = self.record.data.get("stack") or []
            if len(stack) < 2:
                raise PublishError("rollback_nothing", {})
            target = self.record.path_of(stack[-2])
            self.rasa.load(target, previous=self.record.path_of(stack[-1]))
            previous = stack.pop()
            entry = self.record.set_live(target, "rollback")
            self.record.save()
            self.say("rolled_back", model=entry["model"], since=entry["since"], previous=previous)
            return 0

    def status(self) -> int:
        live = self.record.live
        if not live:
            self.say("status_none")
            return 0
        self.say("status_live", model=live["model"], since=live["since"])
        for entry in self.record.data.get("history", []):
            print(f"  {entry['since']}  {entry['action']:9} {entry['model']}", file=self.out)
        return 0

    def print_figures(self, result: Dict) -> None:
        """One model's held-out figures (the first publish has no live model to compare with)."""
        names = LANGUAGE_NAMES[self.lang]
        for metric, language, after in figures(result):
            label = self.t["metric_in" if metric == "in_scope_accuracy" else "metric_oos"].format(lang=names[language])
            shown = "-" if after is None else f"{after * 100:.1f}%"
            print(f"{content_check.pad(label, 30)} {content_check.pad(shown, 11, True)}", file=self.out)

    def print_comparison(self, rows, old: Dict, new: Dict) -> None:
        names = LANGUAGE_NAMES[self.lang]
        def row(metric, old, new, change):
            return self.t["compare_head"].format(metric=content_check.pad(metric, 30), old=content_check.pad(old, 11, True),
                                                 new=content_check.pad(new, 11, True), change=content_check.pad(change, 8, True))

        print(row("", self.t["live"], self.t["new"], self.t["change"]), file=self.out)
        for metric, language, before, after in rows:
            label = self.t["metric_in" if metric == "in_scope_accuracy" else "metric_oos"].format(lang=names[language])
            if before is None:  # nothing in the test set to measure it with
                print(row(label, "-", "-", ""), file=self.out)
                continue
            print(row(label, f"{before * 100:.1f}%", f"{after * 100:.1f}%", f"{(after - before) * 100:+.1f}"),
                  file=self.out)
        changes = intent_changes(old, new)
        print("", file=self.out)
        if not changes:
            self.say("no_intent_change")
            return
        self.say("per_intent")
        for intent, before, after, confused in changes:
            line = f"  {intent:28} {before * 100:5.1f}% -> {after * 100:5.1f}%  ({(after - before) * 100:+.1f})"
            if after < before and confused:
                line += "  " + self.t["confused"].format(names=", ".join(f"{k} ×{v}" for k, v in confused.items()))
            print(line, file=self.out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("publish", "first", "rollback", "status"):
        command = sub.add_parser(name)
        if name != "first":  # first loads nothing into Rasa (make run starts it on the recorded model)
            command.add_argument("--rasa-url", default=os.environ.get("RASA_URLS") or os.environ.get("RASA_URL")
                                 or DEFAULT_RASA_URL, help="the Rasa servers, comma-separated (default: RASA_URLS, RASA_URL)")
        command.add_argument("--models-dir", type=Path, default=Path(os.environ.get("TSUNAGI_MODELS_DIR") or ROOT / "models"),
                             help="where releases and live.json are kept (default: TSUNAGI_MODELS_DIR, models/)")
        if name in ("publish", "first"):
            content_check.add_arguments(command)
            if name == "publish":  # first has no live model to compare with
                command.add_argument("--max-drop", type=float, default=DEFAULT_MAX_DROP,
                                     help="refuse when a metric drops by more than this (0.02 = 2 points)")
            command.add_argument("--tests", type=Path, help="the held-out test set (default: data/tests/nlu_test.yml)")
            command.add_argument("--no-load", action="store_true",
                                 help="validate, train, evaluate and compare only; do not load into Rasa")
        else:
            command.add_argument("--lang", choices=LANGUAGES)
    live_path = sub.add_parser("live-path", help="print the model a Rasa server serves")
    live_path.add_argument("--models-dir", type=Path, default=Path(os.environ.get("TSUNAGI_MODELS_DIR") or ROOT / "models"),
                           help="where live.json is kept (default: TSUNAGI_MODELS_DIR, models/)")
    args = parser.parse_args(argv)
    if args.command == "live-path":
        print(LiveRecord(args.models_dir).served())
        return 0
    content_check.quiet_libraries()
    lang = content_check.editor_language(args.lang)
    if hasattr(args, "project"):
        args.project = args.project.resolve()
    publisher = Publisher(args, lang)
    try:
        return getattr(publisher, args.command)()
    except PublishError as error:
        print("\n" + TEXTS[lang][error.key].format(**error.params))
        if error.key == "train_failed":
            print(error.params["tail"])
        return error.status


if __name__ == "__main__":
    sys.exit(main())
