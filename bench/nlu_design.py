"""Measures the out-of-scope signals the bot could use, alone and combined, to choose on evidence.

The classifier is the shipped one (bot.classifier's design: character n-gram TF-IDF and
standardised e5 features, logistic regression blended with a nearest-neighbour vote). Its
out-of-scope signals (bot/out_of_scope.py): the top in-scope probability, the cosine to the
nearest in-scope training example, the shared-covariance Mahalanobis distance, and logistic-
regression combinations of them; also the design shipped before (two thresholds, confidence
and similarity, picked together).

- The shop: every signal is computed out of fold (5-fold cross-validation on data/nlu); the
  combiner is fitted on those, and the threshold chosen on its own out-of-fold scores, at most
  `BUDGET` of in-scope training examples falling back. Then scored, unchanged, on both held-out
  sets (data/tests/nlu_test.yml and data/tests/blind/nlu_blind.yml), per language, with the
  AUROC of each score (in scope against out of scope).
- CLINC150: trained on `train` (in scope only); the combiner fitted and the threshold chosen
  on `val` (cross-fitted: each half scored by a combiner fitted on the other), maximising
  in-scope accuracy + out-of-scope recall as bench/nlu_bench.py does; scored on `test`.
Neither held-out set chooses anything: they are only scored.

Writes bench/results/nlu_design.json and prints a table.
usage: .venv/bot/bin/python -m bench.nlu_design [--encoder PATH] [--skip-clinc]
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
import hashlib
import json
import os
import time
import unicodedata
from pathlib import Path

import numpy as np
import scipy.sparse
import yaml
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from bot.classifier import softmax
from bot.embedding import embed_texts
from bot.out_of_scope import Combiner, Mahalanobis, auroc, fit_with_threshold, folds, signal_arrays
from languages import detect_language

ROOT = Path(__file__).resolve().parent.parent
DATASETS = Path(os.environ.get("TSUNAGI_DATASETS", ROOT.parent / "shared" / "datasets"))
MODEL = str(ROOT / "models" / "multilingual-e5-small")
OOS = "out_of_scope"
FALLBACK = "nlu_fallback"
# The threshold method shipped (bot.classifier): the combiner and its threshold fitted on the
# calibration set (data/calibration, written by other hands, never trained on; cross-fitted),
# the threshold maximising accuracy + recall with at most 3% of in-scope examples falling back.
# Without a calibration set: out-of-fold training examples, out-of-scope kinds held out whole
# ("grouped"). The method before: stratified folds, a 2% fallback budget.
SHIPPED_SCHEME, SHIPPED_RULE, SHIPPED_SIGNALS = "calibration", "best_sum", ("confidence", "similarity")
CALIBRATION = ROOT / "data" / "calibration" / "nlu_calibration.yml"
MAX_FALSE_FALLBACK = 0.03
BUDGET = 0.02
HELD_OUT = {"ours": ROOT / "data" / "tests" / "nlu_test.yml", "blind": ROOT / "data" / "tests" / "blind" / "nlu_blind.yml"}
COMBINATIONS = {
    "confidence": ("confidence",),
    "similarity": ("similarity",),
    "mahalanobis": ("mahalanobis",),
    "confidence + similarity": ("confidence", "similarity"),
    "confidence + mahalanobis": ("confidence", "mahalanobis"),
    "similarity + mahalanobis": ("similarity", "mahalanobis"),
    "all three": ("confidence", "similarity", "mahalanobis"),
}
PREVIOUS = "two thresholds (before)"


@dataclass
class Thresholds:
    confidence: float
    similarity: float


def choose_thresholds(
    confidence: np.ndarray,
    similarity: np.ndarray,
    correct: np.ndarray,
    is_out_of_scope: np.ndarray,
    predicted_out_of_scope: np.ndarray,
    max_false_fallback_rate: float,
) -> tuple:
    """The design before: (confidence, similarity) thresholds picked together from out-of-fold predictions.

    Among the pairs that make at most `max_false_fallback_rate` of in-scope examples fall
    back on top of those the `out_of_scope` intent already takes, take the one with the
    best out-of-scope recall, then the best in-scope accuracy, then the higher thresholds
    (safer against unseen out-of-scope topics).
    """
    in_scope = ~is_out_of_scope
    allowed = (predicted_out_of_scope & in_scope).sum() / max(in_scope.sum(), 1) + max_false_fallback_rate
    conf_grid = np.unique(np.round(np.quantile(confidence[in_scope], np.linspace(0, 0.2, 41)), 4))
    sim_grid = np.unique(np.round(np.quantile(similarity[in_scope], np.linspace(0, 0.2, 41)), 4))
    best, best_key, best_stats = None, None, {}
    n_in, n_oos = max(in_scope.sum(), 1), is_out_of_scope.sum()
    for c in np.concatenate([[0.0], conf_grid]):
        for s in np.concatenate([[-1.0], sim_grid]):
            fallback = predicted_out_of_scope | (confidence < c) | (similarity < s)
            false_fallback = (fallback & in_scope).sum() / n_in
            if false_fallback > allowed + 1e-9:
                continue
            recall = (fallback & is_out_of_scope).sum() / n_oos if n_oos else 0.0
            accuracy = (~fallback & in_scope & correct).sum() / n_in
            key = (round(recall, 6), round(accuracy, 6), c + s)
            if best_key is None or key > best_key:
                best_key, best = key, Thresholds(float(c), float(s))
                best_stats = {"out_of_scope_recall": float(recall), "accuracy": float(accuracy),
                              "false_fallback_rate": float(false_fallback)}
    if best is None:
        best = Thresholds(0.0, -1.0)
    return best, best_stats


def read_nlu(paths):
    texts, labels = [], []
    for path in paths:
        for block in (yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}).get("nlu", []):
            if "intent" not in block:
                continue
            for line in block["examples"].splitlines():
                if line.strip().startswith("- "):
                    texts.append(line.strip()[2:].strip())
                    labels.append(block["intent"])
    return texts, labels


def normalise(text):
    return unicodedata.normalize("NFKC", text).lower()


def embeddings(encoder, texts):
    """e5 vectors of texts, cached in /tmp by the encoder and the texts."""
    key = hashlib.sha256((os.path.realpath(encoder) + "\n" + "\n".join(texts)).encode()).hexdigest()[:16]
    cache = Path(f"/tmp/tsunagi-design-{key}.npy")
    if cache.exists():
        return np.load(cache)
    vectors = embed_texts(encoder, texts, "query: ")
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    np.save(cache, vectors)
    return vectors


class Classifier:
    """bot.classifier.FAQClassifier's features and blended probabilities, on arrays."""

    def __init__(self, use_chars=True, C=10.0, knn_weight=0.5, temperature=20.0):
        self.use_chars, self.C, self.knn_weight, self.temperature = use_chars, C, knn_weight, temperature

    def fit(self, texts, e5, y, n_classes):
        self.n_classes = n_classes
        self.mean, self.std = e5.mean(0), e5.std(0) + 1e-6
        if self.use_chars:
            self.vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True)
            self.vectorizer.fit([normalise(t) for t in texts])
        self.model = LogisticRegression(C=self.C, max_iter=3000).fit(self._features(texts, e5), y)
        self.e5, self.y = e5, y
        return self

    def _features(self, texts, e5):
        blocks = [scipy.sparse.csr_matrix((e5 - self.mean) / self.std / np.sqrt(e5.shape[1]))]
        if self.use_chars:
            blocks.insert(0, self.vectorizer.transform([normalise(t) for t in texts]))
        return scipy.sparse.hstack(blocks, format="csr")

    def probabilities(self, texts, e5):
        probs = np.zeros((len(texts), self.n_classes))
        probs[:, self.model.classes_] = self.model.predict_proba(self._features(texts, e5))
        if self.knn_weight:
            cosines = e5 @ self.e5.T
            best = np.full(probs.shape, -1.0)
            for c in np.unique(self.y):
                best[:, c] = cosines[:, self.y == c].max(1)
            probs = (1 - self.knn_weight) * probs + self.knn_weight * softmax(self.temperature * best)
        return probs


def signals_of(classifier, texts, e5, train_e5, train_y, in_scope_classes, mahalanobis):
    """(top in-scope intent, raw signals) of texts against one trained classifier."""
    probs = classifier.probabilities(texts, e5)
    in_scope_probs = np.where(np.isin(np.arange(probs.shape[1]), in_scope_classes), probs, -1)
    keep = np.isin(train_y, in_scope_classes)
    raw = {
        "confidence": in_scope_probs.max(1),
        "similarity": (e5 @ train_e5[keep].T).max(1),
        "mahalanobis": mahalanobis.distance(e5),
    }
    return probs.argmax(1), in_scope_probs.argmax(1), raw


def rates(expected, predicted, languages):
    out = {}
    for lang in ("ja", "en"):
        idx = [i for i, l in enumerate(languages) if l == lang]
        ins = [i for i in idx if expected[i] != FALLBACK]
        oos = [i for i in idx if expected[i] == FALLBACK]
        out[lang] = {
            "in_scope_accuracy": round(sum(predicted[i] == expected[i] for i in ins) / max(len(ins), 1), 4),
            "out_of_scope_recall": round(sum(predicted[i] == FALLBACK for i in oos) / max(len(oos), 1), 4),
            "false_fallback_rate": round(sum(predicted[i] == FALLBACK for i in ins) / max(len(ins), 1), 4),
        }
    return out


def out_of_fold(tr_texts, e5, y, is_oos, n_classes, in_scope_classes, splits):
    """Every training example's signals, top intent and correctness, scored out of fold."""
    n = len(y)
    raw = {k: np.zeros(n) for k in ("confidence", "similarity", "mahalanobis")}
    top = np.zeros(n, int)
    for a, b in splits:
        clf = Classifier().fit([tr_texts[i] for i in a], e5[a], y[a], n_classes)
        maha = Mahalanobis.fit(e5[a][~is_oos[a]], y[a][~is_oos[a]])
        t, _, r = signals_of(clf, [tr_texts[i] for i in b], e5[b], e5[a], y[a], in_scope_classes, maha)
        top[b] = t
        for k in raw:
            raw[k][b] = r[k]
    return raw, top, top == y


def shop(encoder):
    tr_texts, tr_labels = read_nlu(sorted((ROOT / "data" / "nlu").glob("*.yml")))
    classes = sorted(set(tr_labels))
    oos_index = classes.index(OOS)
    y = np.array([classes.index(l) for l in tr_labels])
    in_scope_classes = np.array([i for i in range(len(classes)) if i != oos_index])
    is_oos = y == oos_index
    e5 = embeddings(encoder, tr_texts)
    t0 = time.perf_counter()
    n = len(y)
    schemes = {
        "stratified": list(StratifiedKFold(5, shuffle=True, random_state=42).split(np.zeros(n), y)),
        "grouped": folds(y, is_oos, e5, 5),
    }
    oof = {name: out_of_fold(tr_texts, e5, y, is_oos, len(classes), in_scope_classes, splits)
           for name, splits in schemes.items()}

    clf = Classifier().fit(tr_texts, e5, y, len(classes))
    maha = Mahalanobis.fit(e5[~is_oos], y[~is_oos])
    cal_texts, cal_labels = read_nlu([CALIBRATION])
    top, top_in, raw = signals_of(clf, cal_texts, embeddings(encoder, cal_texts), e5, y, in_scope_classes, maha)
    cal_oos = np.array([l not in classes or l == OOS for l in cal_labels])
    cal_correct = np.array([classes[t] == l for t, l in zip(top_in, cal_labels)])
    oof["calibration"] = (raw, top, cal_correct, cal_oos)
    designs = {}
    for name, names in COMBINATIONS.items():
        combiner, threshold, _ = fit_with_threshold(signal_arrays(**raw), names, cal_oos, top == oos_index,
                                                    cal_correct, MAX_FALSE_FALLBACK, rule=SHIPPED_RULE)
        designs[name] = ("combiner", combiner, threshold)
    for scheme, (raw, top, correct, *truth) in oof.items():
        truth = truth[0] if truth else is_oos
        for rule in ("budget", "best_sum"):
            if (scheme, rule) == (SHIPPED_SCHEME, SHIPPED_RULE):
                continue
            limit = BUDGET if rule == "budget" else MAX_FALSE_FALLBACK
            combiner, threshold, _ = fit_with_threshold(signal_arrays(**raw), SHIPPED_SIGNALS, truth, top == oos_index,
                                                        correct, limit, rule=rule)
            designs[f"{' + '.join(SHIPPED_SIGNALS)}, {scheme} CV, {rule}"] = ("combiner", combiner, threshold)
    raw, top, correct = oof["stratified"]
    previous, _ = choose_thresholds(raw["confidence"], raw["similarity"], correct, is_oos, top == oos_index, BUDGET)
    designs[PREVIOUS] = ("pair", previous, None)
    cv_seconds = time.perf_counter() - t0
    results = {}
    for set_name, path in HELD_OUT.items():
        texts, expected = read_nlu([path])
        languages = [detect_language(t) or "ja" for t in texts]
        te5 = embeddings(encoder, texts)
        top, top_in, r = signals_of(clf, texts, te5, e5, y, in_scope_classes, maha)
        sig = signal_arrays(**r)
        truth = np.array([e == FALLBACK for e in expected])
        for name, (kind, model, threshold) in designs.items():
            if kind == "pair":
                fallback = (top == oos_index) | (r["confidence"] < model.confidence) | (r["similarity"] < model.similarity)
                score = None
            else:
                score = model.probability(sig)
                fallback = (top == oos_index) | (score >= threshold)
            predicted = [FALLBACK if fallback[i] else classes[top_in[i]] for i in range(len(texts))]
            entry = results.setdefault(name, {})
            entry[set_name] = rates(expected, predicted, languages)
            if score is not None:
                for lang in ("ja", "en"):
                    idx = np.array([l == lang for l in languages])
                    entry[set_name][lang]["auroc"] = round(auroc(score[idx], truth[idx]), 4)
    for name, (kind, model, threshold) in designs.items():
        results[name]["threshold"] = ([model.confidence, model.similarity] if kind == "pair" else round(threshold, 4))
        if kind == "combiner":
            results[name]["coef"] = [round(c, 3) for c in model.coef]
    return {"train_examples": n, "cv_and_fit_seconds": round(cv_seconds, 1), "designs": results}


def clinc(encoder):
    data = json.loads((DATASETS / "clinc150" / "data_full.json").read_text())
    split = lambda key: ([t for t, _ in data[key]], [i for _, i in data[key]])
    tr_texts, tr_labels = split("train")
    classes = sorted(set(tr_labels))
    y = np.array([classes.index(l) for l in tr_labels])
    e5 = embeddings(encoder, tr_texts)
    clf = Classifier().fit(tr_texts, e5, y, len(classes))
    maha = Mahalanobis.fit(e5, y)
    all_classes = np.arange(len(classes))

    def evaluate(keys):
        texts, labels = [], []
        for key in keys:
            t, l = split(key)
            texts += t
            labels += l
        te5 = embeddings(encoder, texts)
        _, top, r = signals_of(clf, texts, te5, e5, y, all_classes, maha)
        names = np.array([classes[i] for i in top])
        return names, np.array(labels), signal_arrays(r["confidence"], r["similarity"], r["mahalanobis"])

    val_top, val_labels, val_sig = evaluate(["val", "oos_val"])
    test_top, test_labels, test_sig = evaluate(["test", "oos_test"])
    val_oos, test_oos = val_labels == "oos", test_labels == "oos"
    no_threshold = float((test_top[~test_oos] == test_labels[~test_oos]).mean())
    results = {"in_scope_accuracy_no_threshold": round(no_threshold, 4), "designs": {}}
    for name, names in COMBINATIONS.items():
        # Cross-fitted on val: each half scored by a combiner fitted on the other.
        scores = np.zeros(len(val_labels))
        halves = StratifiedKFold(2, shuffle=True, random_state=42).split(np.zeros(len(val_oos)), val_oos)
        for a, b in halves:
            part = Combiner.fit({k: v[a] for k, v in val_sig.items()}, names, val_oos[a])
            scores[b] = part.probability({k: v[b] for k, v in val_sig.items()})
        threshold = best_sum_threshold(scores, val_top == val_labels, val_oos)
        combiner = Combiner.fit(val_sig, names, val_oos)
        test_score = combiner.probability(test_sig)
        fallback = test_score >= threshold
        results["designs"][name] = {
            "in_scope_accuracy": round(float((~fallback & (test_top == test_labels))[~test_oos].mean()), 4),
            "out_of_scope_recall": round(float(fallback[test_oos].mean()), 4),
            "auroc": round(auroc(test_score, test_oos), 4),
            "threshold": round(threshold, 4),
        }
    return results


def best_sum_threshold(scores, correct, is_oos):
    """The threshold maximising in-scope accuracy + out-of-scope recall (bench/nlu_bench.py's rule)."""
    best = (-1, 1.0)
    for t in np.unique(np.quantile(scores, np.linspace(0, 1, 401))):
        fallback = scores >= t
        value = (~fallback & correct)[~is_oos].mean() + fallback[is_oos].mean()
        if value > best[0]:
            best = (value, float(t))
    return best[1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", default=MODEL, help="a sentence-transformers model folder")
    parser.add_argument("--skip-clinc", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "nlu_design.json"))
    args = parser.parse_args(argv)
    results = {"encoder": os.path.basename(os.path.realpath(args.encoder)),
               "method": {"cv": SHIPPED_SCHEME, "rule": SHIPPED_RULE, "max_false_fallback_rate": MAX_FALSE_FALLBACK},
               "shop": shop(args.encoder)}
    if not args.skip_clinc:
        results["clinc150"] = clinc(args.encoder)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print_table(results)


def print_table(results):
    cols = [("ours", "ja"), ("ours", "en"), ("blind", "ja"), ("blind", "en")]
    print(f"shop: combiner and threshold chosen out of fold on data/nlu ({SHIPPED_SCHEME} CV, {SHIPPED_RULE}, "
          f"at most {MAX_FALSE_FALLBACK:.0%} in-scope fallback) unless the name says otherwise")
    print(f"{'design':44} " + " ".join(f"{s + ' ' + l:>27}" for s, l in cols))
    print(f"{'':44} " + " ".join(f"{'acc':>6} {'oos':>6} {'ffr':>6} {'auroc':>6}" for _ in cols))
    for name, r in results["shop"]["designs"].items():
        cells = []
        for s, l in cols:
            m = r[s][l]
            cells.append(f"{m['in_scope_accuracy']*100:5.1f}% {m['out_of_scope_recall']*100:5.1f}% "
                         f"{m['false_fallback_rate']*100:5.1f}% " + (f"{m['auroc']:6.3f}" if "auroc" in m else "     -"))
        print(f"{name:44} " + " ".join(cells))
    if "clinc150" in results:
        c = results["clinc150"]
        print(f"\nCLINC150 test (combiner and threshold on val): no threshold {c['in_scope_accuracy_no_threshold']*100:.1f}%")
        print(f"{'design':26} {'in-scope':>9} {'oos rec':>8} {'auroc':>6}")
        for name, r in c["designs"].items():
            print(f"{name:26} {r['in_scope_accuracy']*100:8.1f}% {r['out_of_scope_recall']*100:7.1f}% {r['auroc']:6.3f}")


if __name__ == "__main__":
    main()
