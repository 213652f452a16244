"""Measures the classifier designs the bot could use, to choose one on evidence.

Features: e5 sentence embeddings, character n-grams (TF-IDF), or both; classifiers:
logistic regression, nearest neighbour. Scored on the held-out set (data/tests) with the
out-of-scope thresholds chosen by cross-validation on the training data only, exactly as
bot.classifier does. Writes bench/results/nlu_design.json and prints a table.

usage: .venv/bot/bin/python -m bench.nlu_design
"""
from __future__ import annotations

import json
import time
import unicodedata
from pathlib import Path

import numpy as np
import scipy.sparse
import yaml
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from bot.classifier import choose_thresholds, softmax
from bot.embedding import embed_texts
from languages import detect_language

ROOT = Path(__file__).resolve().parent.parent
E5_STATS = {}
MODEL = str(ROOT / "models" / "multilingual-e5-small")
OOS = "out_of_scope"


def read_nlu(paths):
    texts, labels = [], []
    for path in paths:
        for block in (yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}).get("nlu", []):
            if "intent" not in block:
                continue
            for line in block["examples"].splitlines():
                line = line.strip()
                if line.startswith("- "):
                    texts.append(line[2:].strip())
                    labels.append(block["intent"])
    return texts, labels


def normalise(text):
    return unicodedata.normalize("NFKC", text).lower()


class Design:
    def __init__(self, name, use_e5, use_chars, kind="lr", C=10.0, standardise=True, knn_weight=0.0):
        self.name, self.use_e5, self.use_chars, self.kind, self.C = name, use_e5, use_chars, kind, C
        self.standardise, self.knn_weight = standardise, knn_weight

    def features(self, e5, chars):
        blocks = []
        if self.use_chars:
            blocks.append(chars)
        if self.use_e5:
            if self.standardise:
                # e5 vectors share a large common direction; centring and scaling them makes
                # logistic regression far better conditioned (faster, and more accurate).
                e5 = (e5 - E5_STATS["mean"]) / E5_STATS["std"] / np.sqrt(e5.shape[1])
            blocks.append(scipy.sparse.csr_matrix(e5))
        return scipy.sparse.hstack(blocks, format="csr")

    def fit_predict(self, Xtr, ytr, Xte, n_classes, e5tr, e5te):
        if self.kind == "knn":
            sims = e5te @ e5tr.T
            probs = np.zeros((len(e5te), n_classes))
            for c in range(n_classes):
                mask = ytr == c
                if mask.any():
                    probs[:, c] = sims[:, mask].max(axis=1)
            return softmax(probs * 20)
        clf = LogisticRegression(C=self.C, max_iter=3000)
        clf.fit(Xtr, ytr)
        probs = np.zeros((Xte.shape[0], n_classes))
        probs[:, clf.classes_] = clf.predict_proba(Xte)
        if self.knn_weight:
            knn = Design("knn", True, False, kind="knn").fit_predict(Xtr, ytr, Xte, n_classes, e5tr, e5te)
            probs = (1 - self.knn_weight) * probs + self.knn_weight * knn
        return probs


def evaluate(design, train, test, e5, vectorizer_args):
    (tr_texts, tr_y, classes), (te_texts, te_labels) = train, test
    n_classes = len(classes)
    oos_index = classes.index(OOS) if OOS in classes else -1
    t0 = time.perf_counter()
    vec = TfidfVectorizer(**vectorizer_args)
    chars_tr = vec.fit_transform([normalise(t) for t in tr_texts])
    Xtr = design.features(e5["train"], chars_tr)

    # Cross-validation on the training data chooses the thresholds (as bot.classifier).
    n = len(tr_y)
    conf, sim = np.zeros(n), np.ones(n)
    correct, pred_oos = np.zeros(n, bool), np.zeros(n, bool)
    is_oos = tr_y == oos_index
    for a, b in StratifiedKFold(5, shuffle=True, random_state=42).split(np.zeros(n), tr_y):
        probs = design.fit_predict(Xtr[a], tr_y[a], Xtr[b], n_classes, e5["train"][a], e5["train"][b])
        top = probs.argmax(1)
        conf[b], correct[b], pred_oos[b] = probs.max(1), top == tr_y[b], top == oos_index
        ref = e5["train"][a][~is_oos[a]]
        sim[b] = (e5["train"][b] @ ref.T).max(1)
    thresholds, _ = choose_thresholds(conf, sim, correct, is_oos, pred_oos, 0.02)
    probs = design.fit_predict(Xtr, tr_y, design.features(e5["test"], vec.transform([normalise(t) for t in te_texts])),
                               n_classes, e5["train"], e5["test"])
    seconds = time.perf_counter() - t0
    nearest = (e5["test"] @ e5["train"][~is_oos].T).max(1)
    top = probs.argmax(1)
    predicted = []
    for i in range(len(te_texts)):
        name = classes[top[i]]
        if name == OOS or probs[i, top[i]] < thresholds.confidence or nearest[i] < thresholds.similarity:
            name = "nlu_fallback"
        predicted.append(name)
    return score(te_texts, te_labels, predicted) | {"train_and_cv_seconds": round(seconds, 1),
                                                    "thresholds": [thresholds.confidence, thresholds.similarity]}


def score(texts, expected, predicted):
    out = {}
    for lang in ("ja", "en"):
        idx = [i for i, t in enumerate(texts) if (detect_language(t) or "ja") == lang]
        ins = [i for i in idx if expected[i] != "nlu_fallback"]
        oos = [i for i in idx if expected[i] == "nlu_fallback"]
        out[lang] = {
            "in_scope_accuracy": round(sum(predicted[i] == expected[i] for i in ins) / max(len(ins), 1), 4),
            "out_of_scope_recall": round(sum(predicted[i] == "nlu_fallback" for i in oos) / max(len(oos), 1), 4),
            "false_fallback_rate": round(sum(predicted[i] == "nlu_fallback" for i in ins) / max(len(ins), 1), 4),
            "wrong_answers_to_out_of_scope": sum(predicted[i] != "nlu_fallback" for i in oos),
        }
    return out


def main():
    tr_texts, tr_labels = read_nlu(sorted((ROOT / "data" / "nlu").glob("*.yml")))
    te_texts, te_labels = read_nlu([ROOT / "data" / "tests" / "nlu_test.yml"])
    classes = sorted(set(tr_labels))
    tr_y = np.array([classes.index(l) for l in tr_labels])
    cache = Path("/tmp/tsunagi-design-e5.npz")
    key = str(hash(tuple(tr_texts + te_texts)))
    if cache.exists() and str(np.load(cache)["key"]) == key:
        e5 = {k: np.load(cache)[k] for k in ("train", "test")}
    else:
        e5 = {"train": embed_texts(MODEL, tr_texts, "query: "), "test": embed_texts(MODEL, te_texts, "query: ")}
        np.savez(cache, key=key, **e5)
    E5_STATS.update(mean=e5["train"].mean(0), std=e5["train"].std(0) + 1e-6)
    chars = {"analyzer": "char_wb", "ngram_range": (1, 3), "sublinear_tf": True}
    designs = [
        Design("e5 nearest neighbour", True, False, kind="knn"),
        Design("e5 raw + LR", True, False, standardise=False),
        Design("e5 std + LR (C=1)", True, False, C=1.0),
        Design("e5 std + LR (C=10)", True, False, C=10.0),
        Design("e5 std + LR + kNN", True, False, C=10.0, knn_weight=0.5),
        Design("e5 std + chars + LR", True, True, C=10.0),
        Design("e5 std + chars + LR + kNN", True, True, C=10.0, knn_weight=0.5),
        Design("chars + LR", False, True),
    ]
    results = {}
    for design in designs:
        results[design.name] = evaluate(design, (tr_texts, tr_y, classes), (te_texts, te_labels), e5, chars)
        print(design.name, json.dumps(results[design.name]), flush=True)
    out = ROOT / "bench" / "results" / "nlu_design.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"train_examples": len(tr_texts), "test_examples": len(te_texts),
                               "results": results}, indent=2, ensure_ascii=False))
    print(f"{'design':28} {'ja acc':>7} {'ja oos':>7} {'ja ffr':>7} {'en acc':>7} {'en oos':>7} {'en ffr':>7} {'secs':>6}")
    for name, r in results.items():
        print(f"{name:28} " + " ".join(f"{r[l][k]*100:6.1f}%" for l in ("ja", "en")
                                        for k in ("in_scope_accuracy", "out_of_scope_recall", "false_fallback_rate"))
              + f" {r['train_and_cv_seconds']:6.1f}")


if __name__ == "__main__":
    main()
