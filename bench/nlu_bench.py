"""`make bench-nlu`: our pipeline against Rasa's default pipeline and TF-IDF + logistic
regression, on the same data in one run.

- CLINC150 (full): trained on the in-scope `train` split only; the out-of-scope threshold of
  each pipeline is tuned on `val` (the one maximising in-scope accuracy + out-of-scope recall)
  and scored on `test`.
- BANKING77: accuracy on `test`.
- The shop data (data/nlu, held-out data/tests): training time, and `/model/parse` latency
  p50/p99 over HTTP for 1,000 requests with 1 and 8 concurrent clients, and the Rasa
  server's memory; ours also with the encoder in float32 and on PyTorch (config.yml: int8 on
  ONNX Runtime).
Rasa's default pipeline takes about an hour to train on CLINC150 here, so every pipeline's
result on a data set is cached in bench/results/cache/, keyed by a hash of the data, the
config, our components and the package versions; `--fresh` ignores the cache. Latency is
comparable between pipelines measured in one run (the table says when they were not):
`--datasets shop --fresh` measures all of them again in a few minutes.
Writes bench/results/nlu.json and prints a table.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
DATASETS = Path(os.environ.get("TSUNAGI_DATASETS", ROOT.parent / "shared" / "datasets"))
# Committed, so a peer's hour-long result is reused by every later run and machine.
CACHE = ROOT / "bench" / "results" / "cache"
RESULTS = ROOT / "bench" / "results" / "nlu.json"
RASA = str(Path(sys.executable).with_name("rasa"))
OOS = "oos"
PIPELINE_CODE = ("bot/tokenizer.py", "bot/language.py", "languages.py", "bot/embedding.py", "bot/unigram.py",
                 "bot/torch_encoder.py", "bot/classifier.py", "bot/out_of_scope.py", "intents.py")
# When this run started: the latency of pipelines measured in one run is comparable, across
# runs (a cached result) only as far as the machine's load was alike.
RUN = time.strftime("%Y-%m-%dT%H:%M:%S")

# Rasa's default pipeline: the config.yml `rasa init` writes (Rasa 3.6), without the
# FallbackClassifier, since every pipeline's out-of-scope threshold is tuned on val here.
RASA_DEFAULT = {
    "recipe": "default.v1", "language": "en", "assistant_id": "bench",
    "pipeline": [
        {"name": "WhitespaceTokenizer"}, {"name": "RegexFeaturizer"},
        {"name": "LexicalSyntacticFeaturizer"}, {"name": "CountVectorsFeaturizer"},
        {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
        {"name": "DIETClassifier", "epochs": 100, "constrain_similarities": True},
        {"name": "EntitySynonymMapper"},
        {"name": "ResponseSelector", "epochs": 100, "constrain_similarities": True},
    ],
    "policies": None,
}


def our_pipeline(tuned_on_val: bool, quantize=None, backend=None):
    """config.yml's pipeline; on the benchmarks the thresholds are tuned on val instead.
    quantize, backend: the encoder's precision and runtime, when not config.yml's."""
    config = yaml.safe_load((ROOT / "config.yml").read_text())
    config.pop("policies", None)
    for component in config["pipeline"]:
        if component["name"].endswith("SentenceEmbeddingFeaturizer"):
            # Training runs in a temporary folder: point at the model by its absolute path.
            component["model"] = str(ROOT / component["model"])
            if quantize:
                component["quantize"] = quantize
            if backend:
                component["backend"] = backend
        if tuned_on_val and component["name"].endswith("FAQClassifier"):
            # No fallback of its own: every pipeline's thresholds are tuned on val here.
            component.update({"out_of_scope_threshold": 1.1, "narrow_intents": []})
    return config


# ---- data -------------------------------------------------------------------------
def write_nlu(path: Path, examples):
    by_intent = {}
    for text, intent in examples:
        by_intent.setdefault(intent, []).append(text)
    with path.open("w", encoding="utf-8") as out:
        out.write('version: "3.1"\nnlu:\n')
        for intent, texts in by_intent.items():
            out.write(f"- intent: {intent}\n  examples: |\n")
            for text in dict.fromkeys(texts):
                out.write(f"    - {' '.join(text.split())}\n")


def read_nlu(paths):
    examples = []
    for path in paths:
        for block in (yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}).get("nlu", []):
            for line in block.get("examples", "").splitlines():
                if line.strip().startswith("- "):
                    examples.append((line.strip()[2:].strip(), block["intent"]))
    return examples


def clinc():
    data = json.loads((DATASETS / "clinc150" / "data_full.json").read_text())
    pairs = lambda key: [(t, i) for t, i in data[key]]
    return {"train": pairs("train"), "val": pairs("val") + pairs("oos_val"), "test": pairs("test") + pairs("oos_test")}


def banking():
    def rows(name):
        with open(DATASETS / "banking77" / f"{name}.csv", encoding="utf-8") as f:
            return [(r["text"], r["category"]) for r in csv.DictReader(f)]
    return {"train": rows("train"), "test": rows("test")}


def shop():
    train = read_nlu(sorted((ROOT / "data" / "nlu").glob("*.yml")))
    test = [(t, "oos" if i == "nlu_fallback" else i) for t, i in read_nlu([ROOT / "data" / "tests" / "nlu_test.yml"])]
    return {"train": train, "test": test}


# ---- pipelines --------------------------------------------------------------------
class RasaPipeline:
    def __init__(self, name, config, fallback_rule=None):
        """fallback_rule: (threshold, ambiguity_threshold) of a FallbackClassifier applied to the
        ranking, exactly as the component would (it only relabels); None: the pipeline's own
        top intent decides (our FAQClassifier answers nlu_fallback itself)."""
        self.name, self.config, self.fallback_rule = name, config, fallback_rule

    def key(self, dataset, train):
        from importlib.metadata import version

        versions = " ".join(version(p) for p in ("rasa", "tensorflow", "scikit-learn", "sentence-transformers", "torch"))
        parts = [json.dumps(self.config, sort_keys=True), json.dumps(train), versions, dataset]
        if self.fallback_rule:
            parts.append(f"fallback {self.fallback_rule}")
        if "FAQClassifier" in json.dumps(self.config):
            # Our components' code (what the pipeline runs, not the tools beside it in bot/).
            parts += [(ROOT / p).read_text() for p in PIPELINE_CODE]
            parts.append(os.path.basename(os.path.realpath(ROOT / "models" / "multilingual-e5-small")))
            parts[0] = parts[0].replace(str(ROOT), "<root>")  # the same key on every machine
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]

    def train(self, train, workdir: Path):
        (workdir / "config.yml").write_text(yaml.safe_dump(self.config, allow_unicode=True))
        write_nlu(workdir / "nlu.yml", train)
        started = time.perf_counter()
        result = subprocess.run(
            [RASA, "train", "nlu", "--config", "config.yml", "--nlu", "nlu.yml", "--out", "models",
             "--fixed-model-name", "model"],
            cwd=workdir, capture_output=True, text=True,
            env={"OMP_NUM_THREADS": "1", **os.environ, "PYTHONPATH": str(ROOT)},  # as tools/train.sh
        )
        if result.returncode != 0:
            raise RuntimeError(f"{self.name}: training failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        seconds = time.perf_counter() - started
        return workdir / "models" / "model.tar.gz", seconds

    def predict(self, model, texts):
        """[(ranking [(intent, confidence)], similarity or None, fell back)] for every text, parsed
        in batches as `make evaluate` does (the same graph as Rasa's /model/parse)."""
        from bot.evaluate import parse_in_batches

        os.chdir(ROOT)  # the embedding model path in config.yml is relative to the project
        out = []
        for message in parse_in_batches(model, list(texts)):
            ranking = [(r["name"], float(r["confidence"])) for r in message.get("intent_ranking") or []
                       if r["name"] != "nlu_fallback"]
            similarity = (message.get("out_of_scope") or {}).get("similarity")
            fell_back = (message.get("intent") or {}).get("name") == "nlu_fallback"
            if self.fallback_rule and ranking:
                threshold, ambiguity = self.fallback_rule
                second = ranking[1][1] if len(ranking) > 1 else 0.0
                fell_back = ranking[0][1] < threshold or ranking[0][1] - second < ambiguity
            out.append((ranking, similarity, fell_back))
        return out


class TfidfLogReg:
    name = "TF-IDF + logistic regression"

    def key(self, dataset, train):
        import sklearn

        return hashlib.sha256(f"{dataset}{json.dumps(train)}{sklearn.__version__}v1".encode()).hexdigest()[:16]

    def train(self, train, workdir):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline, make_union

        started = time.perf_counter()
        features = make_union(
            TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True),
        )
        model = make_pipeline(features, LogisticRegression(C=10, max_iter=1000))
        model.fit([normalise(t) for t, _ in train], [i for _, i in train])
        return model, time.perf_counter() - started

    def predict(self, model, texts):
        probs = model.predict_proba([normalise(t) for t in texts])
        classes = model.classes_
        out = []
        for row in probs:
            order = np.argsort(-row)[:10]
            out.append(([(classes[j], float(row[j])) for j in order], None, False))
        return out


def normalise(text):
    return unicodedata.normalize("NFKC", text).lower()


# ---- scoring ----------------------------------------------------------------------
def decide(prediction, conf_t, sim_t):
    ranking, similarity, fell_back = prediction
    if not ranking or fell_back:
        return OOS
    name, confidence = ranking[0]
    if name in ("out_of_scope", OOS) or confidence < conf_t or (similarity is not None and similarity < sim_t):
        return OOS
    return name


def scores(predictions, labels, conf_t=0.0, sim_t=-1.0):
    decided = [decide(p, conf_t, sim_t) for p in predictions]
    ins = [i for i, l in enumerate(labels) if l != OOS]
    oos = [i for i, l in enumerate(labels) if l == OOS]
    accuracy = sum(decided[i] == labels[i] for i in ins) / max(len(ins), 1)
    recall = sum(decided[i] == OOS for i in oos) / len(oos) if oos else None
    return accuracy, recall


def tune(predictions, labels):
    """The thresholds that maximise in-scope accuracy + out-of-scope recall on val."""
    confidences = sorted({round(p[0][0][1], 3) for p in predictions if p[0]})
    conf_grid = [0.0] + list(np.quantile(confidences, np.linspace(0, 1, 101)))
    sims = [p[1] for p in predictions if p[1] is not None]
    sim_grid = [-1.0] + (list(np.quantile(sims, np.linspace(0, 0.6, 61))) if sims else [])
    best = None
    for c in conf_grid:
        for s in sim_grid:
            accuracy, recall = scores(predictions, labels, c, s)
            if best is None or accuracy + recall > best[0]:
                best = (accuracy + recall, float(c), float(s))
    return best[1], best[2]


# ---- latency ----------------------------------------------------------------------
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid):
    total = 0
    for child in [pid] + [int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()]:
        try:
            for line in Path(f"/proc/{child}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return round(total / 1024)


def latency(model: Path, texts, requests_total=1000):
    import urllib.request

    port = free_port()
    # An empty working directory: `rasa run` would otherwise read the project's endpoints.yml
    # and credentials.yml (action server, tracker store), which an NLU benchmark does not need.
    workdir = Path(tempfile.mkdtemp(prefix="nlu-bench-server-"))
    log = open(workdir / "rasa.log", "wb")
    server = subprocess.Popen([RASA, "run", "--enable-api", "--model", str(model), "--port", str(port),
                               "--interface", "127.0.0.1"],
                              cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
                              env={"OMP_NUM_THREADS": "1", **os.environ, "PYTHONPATH": str(ROOT)})  # as make run
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 600
        while time.time() < deadline:
            if server.poll() is not None:
                raise RuntimeError(f"the Rasa server exited:\n{(workdir / 'rasa.log').read_text()[-3000:]}")
            try:
                if json.loads(urllib.request.urlopen(url + "/status", timeout=5).read()).get("model_id"):
                    break
            except Exception:
                pass
            time.sleep(1)
        else:
            raise RuntimeError(f"the Rasa server did not start:\n{(workdir / 'rasa.log').read_text()[-3000:]}")

        def parse(text):
            body = json.dumps({"text": text}).encode()
            request = urllib.request.Request(url + "/model/parse", data=body, headers={"Content-Type": "application/json"})
            started = time.perf_counter()
            urllib.request.urlopen(request, timeout=30).read()
            return (time.perf_counter() - started) * 1000

        for text in texts[:20]:  # warm-up
            parse(text)
        out = {}
        for clients in (1, 8):
            batch = [texts[i % len(texts)] for i in range(requests_total)]
            started = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                times = list(pool.map(parse, batch))
            wall = time.perf_counter() - started
            out[f"{clients}_client"] = {"p50_ms": round(float(np.percentile(times, 50)), 1),
                                        "p99_ms": round(float(np.percentile(times, 99)), 1),
                                        "requests_per_second": round(requests_total / wall, 1)}
        out["server_rss_mb"] = rss_mb(server.pid)
        out["run"], out["load_average_1min"] = RUN, round(os.getloadavg()[0], 1)
        return out
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


# ---- runs -------------------------------------------------------------------------
def cached(pipeline, dataset, train, compute, fresh):
    path = CACHE / f"{dataset}-{pipeline.name.replace(' ', '_').replace('/', '_')}-{pipeline.key(dataset, train)}.json"
    if path.exists() and not fresh:
        result = json.loads(path.read_text())
        result["cached"] = True
        return result
    result = compute()
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result))
    result["cached"] = False
    return result


def run_clinc(pipeline, data, fresh):
    def compute():
        with tempfile.TemporaryDirectory() as tmp:
            model, seconds = pipeline.train(data["train"], Path(tmp))
            texts_val, labels_val = zip(*data["val"])
            texts_test, labels_test = zip(*data["test"])
            predictions_val = pipeline.predict(model, texts_val)
            predictions_test = pipeline.predict(model, texts_test)
        conf_t, sim_t = tune(predictions_val, labels_val)
        accuracy, recall = scores(predictions_test, labels_test, conf_t, sim_t)
        plain_accuracy, _ = scores(predictions_test, labels_test)
        return {"train_seconds": round(seconds, 1), "in_scope_accuracy": round(accuracy, 4),
                "out_of_scope_recall": round(recall, 4), "in_scope_accuracy_without_threshold": round(plain_accuracy, 4),
                "thresholds": {"confidence": round(conf_t, 4), "similarity": round(sim_t, 4)}}
    return cached(pipeline, "clinc150", data["train"], compute, fresh)


def run_banking(pipeline, data, fresh):
    def compute():
        with tempfile.TemporaryDirectory() as tmp:
            model, seconds = pipeline.train(data["train"], Path(tmp))
            texts, labels = zip(*data["test"])
            predictions = pipeline.predict(model, texts)
        accuracy, _ = scores(predictions, labels)
        return {"train_seconds": round(seconds, 1), "accuracy": round(accuracy, 4)}
    return cached(pipeline, "banking77", data["train"], compute, fresh)


def run_shop(pipeline, data, fresh, measure_latency):
    def compute():
        with tempfile.TemporaryDirectory() as tmp:
            model, seconds = pipeline.train(data["train"], Path(tmp))
            texts, labels = zip(*data["test"])
            predictions = pipeline.predict(model, texts)
            accuracy, recall = scores(predictions, labels)
            result = {"train_seconds": round(seconds, 1), "in_scope_accuracy": round(accuracy, 4),
                      "out_of_scope_recall": round(recall, 4) if recall is not None else None,
                      "examples": [{"text": t, "expected": l, "predicted": decide(p, 0.0, -1.0)}
                                   for t, l, p in zip(texts, labels, predictions)]}
            if measure_latency:
                print(f"   shop: trained in {seconds:.0f} s; measuring /model/parse latency", flush=True)
                result["parse_latency"] = latency(model, list(texts))
        return result
    return cached(pipeline, "shop", data["train"], compute, fresh)


def record(pipeline: str, dataset: str, result: dict) -> dict:
    """Merges one result into nlu.json under a lock: several runs (one per pipeline) may share it."""
    import fcntl

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with open(RESULTS.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"pipelines": {}}
        results["pipelines"].setdefault(pipeline, {})[dataset] = result
        results["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                              "cpu": platform.processor() or platform.machine()}
        RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description="NLU benchmark")
    parser.add_argument("--fresh", action="store_true", help="ignore cached results")
    parser.add_argument("--only", choices=["ours", "ours-float32", "ours-torch", "rasa", "sklearn"], action="append")
    parser.add_argument("--datasets", choices=["clinc150", "banking77", "shop"], action="append",
                        help="run only these data sets (default: all)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ["RASA_TELEMETRY_ENABLED"] = "false"
    # One PyTorch thread, as the bot runs (tools/run.sh); set before torch is first imported.
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    pipelines = {
        "ours": (RasaPipeline("Tsunagi (ours)", our_pipeline(tuned_on_val=True)),
                 RasaPipeline("Tsunagi (ours)", our_pipeline(tuned_on_val=False))),
        # On the shop data each pipeline decides as shipped: ours by its own thresholds, Rasa's
        # default with the FallbackClassifier `rasa init` writes (threshold 0.3, ambiguity 0.1).
        "rasa": (RasaPipeline("Rasa default", RASA_DEFAULT), RasaPipeline("Rasa default", RASA_DEFAULT, (0.3, 0.1))),
        "sklearn": (TfidfLogReg(),) * 2,
        # The same, with the encoder in full precision (config.yml ships int8): on the shop
        # data only, to show what int8 costs and saves there.
        "ours-float32": (None, RasaPipeline("Tsunagi (ours, float32 encoder)", our_pipeline(False, "none"))),
        # The same, with the int8 encoder on PyTorch (config.yml ships ONNX Runtime): on the shop
        # data only, to show what ONNX Runtime saves there.
        "ours-torch": (None, RasaPipeline("Tsunagi (ours, PyTorch int8 encoder)", our_pipeline(False, backend="torch"))),
    }
    data = {"clinc150": clinc(), "banking77": banking(), "shop": shop()}
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"pipelines": {}}
    for key in args.only or ["ours", "ours-float32", "ours-torch", "sklearn", "rasa"]:
        tuned, shipped = pipelines[key]
        print(f"== {shipped.name}", flush=True)
        runs = {"clinc150": lambda: run_clinc(tuned, data["clinc150"], args.fresh),
                "banking77": lambda: run_banking(tuned, data["banking77"], args.fresh),
                "shop": lambda: run_shop(shipped, data["shop"], args.fresh, measure_latency=key != "sklearn")}
        for dataset, run in runs.items():
            if (args.datasets and dataset not in args.datasets) or (tuned is None and dataset != "shop"):
                continue
            result = run()
            print(f"   {dataset}: {result}", flush=True)
            results = record(shipped.name, dataset, result)
    print_table(results)


def print_table(results):
    """A Markdown table (docs/benchmarks.md carries the latest one)."""
    rows = [("pipeline", "CLINC in-scope acc", "CLINC oos recall", "BANKING77 acc", "shop acc", "shop oos recall",
             "shop train s", "parse p50/p99 ms, 1 client", "parse p50/p99 ms, 8 clients", "server RSS MB")]
    for name, r in results["pipelines"].items():
        c, b, s = r.get("clinc150", {}), r.get("banking77", {}), r.get("shop", {})
        lat = s.get("parse_latency") or {}
        pct = lambda v: f"{v*100:.1f}%" if isinstance(v, (int, float)) else "-"
        ms = lambda k: f"{lat[k]['p50_ms']} / {lat[k]['p99_ms']}" if k in lat else "n/a"
        rows.append((name, pct(c.get("in_scope_accuracy")), pct(c.get("out_of_scope_recall")), pct(b.get("accuracy")),
                     pct(s.get("in_scope_accuracy")), pct(s.get("out_of_scope_recall")), str(s.get("train_seconds", "-")),
                     ms("1_client"), ms("8_client"), str(lat.get("server_rss_mb", "n/a"))))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for number, row in enumerate(rows):
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |")
        if number == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    runs = {}
    for name, r in results["pipelines"].items():
        lat = (r.get("shop") or {}).get("parse_latency") or {}
        if lat:
            load = lat.get("load_average_1min")
            runs.setdefault(lat.get("run", "an earlier run"), []).append(name + (f" (load average {load})" if load else ""))
    if len(runs) > 1:
        print("Latency and memory were measured in different runs (compare within one; --fresh measures all again):")
    for run, names in runs.items():
        print(f"- {run}: {', '.join(names)}")


if __name__ == "__main__":
    main()
