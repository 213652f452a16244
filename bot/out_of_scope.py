"""Out-of-scope detection: how unlike the bot's training a message is, as one calibrated score.

Three signals, each computed against the in-scope training examples only:
- `confidence`: the classifier's top probability among the in-scope intents;
- `similarity`: the cosine of the sentence embedding to its nearest in-scope training example;
- `mahalanobis`: the squared Mahalanobis distance of the normalised embedding to the nearest
  in-scope intent's mean, with one covariance shared by all intents (Lee et al., 2018), shrunk
  by Ledoit-Wolf (384 dimensions against a few thousand examples).
A logistic regression (`Combiner`) turns the chosen signals into the probability that the
message is out of scope. It is fitted on out-of-fold signals of the training data, and its
threshold is chosen on out-of-fold scores of the combiner itself (`fit_with_threshold`), so the
threshold never sees data its score was fitted on. bench/nlu_design.py measures every signal
and combination on both held-out sets and CLINC150.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Text, Tuple

import numpy as np

SIGNALS = ("confidence", "similarity", "mahalanobis")


@dataclass
class Mahalanobis:
    """Class means and one shared precision matrix of the in-scope intents."""

    means: np.ndarray  # (intents, dims)
    precision: np.ndarray  # (dims, dims)
    # Each mean's quadratic term μᵀPμ and Pμ, derived once (the distance is then two products).
    _mean_terms: np.ndarray = field(init=False, repr=False)
    _projected: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.means = np.asarray(self.means, dtype=np.float32)
        self.precision = np.asarray(self.precision, dtype=np.float32)
        self._projected = self.means @ self.precision  # (intents, dims)
        self._mean_terms = np.einsum("ij,ij->i", self._projected, self.means)

    @classmethod
    def fit(cls, vectors: np.ndarray, labels: np.ndarray) -> "Mahalanobis":
        from sklearn.covariance import LedoitWolf

        classes = np.unique(labels)
        means = np.stack([vectors[labels == c].mean(axis=0) for c in classes])
        centred = vectors - means[np.searchsorted(classes, labels)]
        precision = LedoitWolf(assume_centered=True).fit(centred).precision_
        return cls(means, precision)

    def distance(self, vectors: np.ndarray) -> np.ndarray:
        """Squared distance of each vector to its nearest mean."""
        vectors = np.asarray(vectors, dtype=np.float32)
        own = np.einsum("ij,jk,ik->i", vectors, self.precision, vectors)
        cross = vectors @ self._projected.T
        return np.maximum(own[:, None] - 2 * cross + self._mean_terms[None, :], 0).min(axis=1)


@dataclass
class Combiner:
    """P(out of scope | signals): a standardised logistic regression over the named signals."""

    signals: Tuple[Text, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    @classmethod
    def fit(cls, signals: Dict[Text, np.ndarray], names: Sequence[Text], is_oos: np.ndarray) -> "Combiner":
        from sklearn.linear_model import LogisticRegression

        X = np.column_stack([signals[n] for n in names]).astype(np.float64)
        mean, scale = X.mean(axis=0), X.std(axis=0) + 1e-9
        model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)
        model.fit((X - mean) / scale, is_oos.astype(int))
        return cls(tuple(names), mean, scale, model.coef_[0], float(model.intercept_[0]))

    def probability(self, signals: Dict[Text, np.ndarray]) -> np.ndarray:
        X = np.column_stack([np.asarray(signals[n], dtype=np.float64) for n in self.signals])
        logits = ((X - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-logits))

    def to_json(self) -> Dict:
        return {"signals": list(self.signals), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "coef": self.coef.tolist(), "intercept": self.intercept}

    @classmethod
    def from_json(cls, data: Dict) -> "Combiner":
        return cls(tuple(data["signals"]), np.array(data["mean"]), np.array(data["scale"]),
                   np.array(data["coef"]), float(data["intercept"]))


def folds(labels: np.ndarray, is_oos: np.ndarray, vectors: Optional[np.ndarray], k: int = 5,
          seed: int = 42) -> List[Tuple[np.ndarray, np.ndarray]]:
    """Cross-validation folds in which out-of-scope examples are held out by kind: they are
    grouped by meaning (average-linkage clusters of their embeddings, 3 per fold) and each group
    is held out whole, so an out-of-fold example is scored by a model that saw none of its kind,
    as a customer's new kind of question will be (without vectors, they are spread at random).
    In-scope examples are stratified by intent."""
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.model_selection import GroupKFold, StratifiedKFold

    n = len(labels)
    inside, outside = np.flatnonzero(~is_oos), np.flatnonzero(is_oos)
    parts: List[List[np.ndarray]] = [[] for _ in range(k)]
    for fold, (_, test) in enumerate(StratifiedKFold(k, shuffle=True, random_state=seed).split(inside, labels[inside])):
        parts[fold].append(inside[test])
    if vectors is not None and len(outside) >= 3 * k:
        # scikit-learn 1.1 (Rasa 3.6's pin) names the metric `affinity`.
        groups = AgglomerativeClustering(n_clusters=3 * k, affinity="cosine", linkage="average").fit_predict(vectors[outside])
        for fold, (_, test) in enumerate(GroupKFold(k).split(outside, groups=groups)):
            parts[fold].append(outside[test])
    elif len(outside):
        for fold, chunk in enumerate(np.array_split(np.random.default_rng(seed).permutation(outside), k)):
            parts[fold].append(chunk)
    result = []
    for part in parts:
        test = np.sort(np.concatenate(part))
        result.append((np.setdiff1d(np.arange(n), test), test))
    return result


def threshold_for_budget(scores: np.ndarray, is_oos: np.ndarray, already_fallen: np.ndarray,
                         budget: float) -> float:
    """The lowest threshold (fall back when score >= threshold) that makes at most `budget` of
    the in-scope examples fall back beyond those already falling back for another reason:
    the most out-of-scope recall that budget allows."""
    in_scope = ~is_oos
    candidates = np.sort(scores[in_scope & ~already_fallen])[::-1]
    allowed = int(np.floor(budget * in_scope.sum() + 1e-9))
    if allowed >= len(candidates):
        return float(candidates[-1]) if len(candidates) else 0.5
    # Scores above the (allowed+1)-th highest in-scope score: exactly `allowed` fall back.
    return float(np.nextafter(candidates[allowed], np.inf))


def threshold_for_best_sum(scores: np.ndarray, is_oos: np.ndarray, already_fallen: np.ndarray,
                           correct: np.ndarray, max_false_fallback_rate: float) -> float:
    """The threshold that maximises in-scope accuracy + out-of-scope recall (each as a rate),
    among those that make at most `max_false_fallback_rate` of in-scope examples fall back in
    all (ties: the higher threshold, fewer false fallbacks)."""
    in_scope = ~is_oos
    n_in, n_oos = max(in_scope.sum(), 1), max(is_oos.sum(), 1)
    floor = threshold_for_budget(scores, is_oos, already_fallen,
                                 max(max_false_fallback_rate - (already_fallen & in_scope).sum() / n_in, 0.0))
    best, best_value = 1.0 + 1e-9, -1.0
    for t in np.unique(np.concatenate([scores, [floor, 1.0 + 1e-9]])):
        if t < floor:
            continue
        fallback = already_fallen | (scores >= t)
        value = (~fallback & correct & in_scope).sum() / n_in + (fallback & is_oos).sum() / n_oos
        if value > best_value + 1e-12:
            best, best_value = float(t), value
    return best


def fit_with_threshold(signals: Dict[Text, np.ndarray], names: Sequence[Text], is_oos: np.ndarray,
                       already_fallen: np.ndarray, correct: np.ndarray, max_false_fallback_rate: float,
                       rule: Text = "best_sum", folds: int = 5,
                       seed: int = 42) -> Tuple[Combiner, float, np.ndarray]:
    """Fits the combiner on every row, and chooses its threshold on out-of-fold scores: each
    fold scored by a combiner fitted on the others. `rule`: "best_sum"
    (threshold_for_best_sum) or "budget" (threshold_for_budget). Returns (combiner,
    threshold, those out-of-fold scores)."""
    from sklearn.model_selection import StratifiedKFold

    n = len(is_oos)
    out_of_fold = np.zeros(n)
    splits = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(np.zeros(n), is_oos)
    for train, test in splits:
        part = Combiner.fit({k: v[train] for k, v in signals.items()}, names, is_oos[train])
        out_of_fold[test] = part.probability({k: v[test] for k, v in signals.items()})
    if rule == "budget":
        threshold = threshold_for_budget(out_of_fold, is_oos, already_fallen, max_false_fallback_rate)
    else:
        threshold = threshold_for_best_sum(out_of_fold, is_oos, already_fallen, correct, max_false_fallback_rate)
    return Combiner.fit(signals, names, is_oos), threshold, out_of_fold


def auroc(scores: np.ndarray, is_oos: np.ndarray) -> Optional[float]:
    """Area under the ROC curve of `scores` (higher = more out of scope)."""
    if is_oos.all() or not is_oos.any():
        return None
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(is_oos.astype(int), scores))


def describe(signals: Dict[Text, float], probability: float, threshold: float) -> Text:
    """The fallback reason logged for a message: the score, its threshold and every signal."""
    parts = ", ".join(f"{name} {signals[name]:.3f}" for name in SIGNALS if name in signals)
    return f"out-of-scope score {probability:.3f} >= threshold {threshold:.3f} ({parts})"


def signal_arrays(confidence: np.ndarray, similarity: Optional[np.ndarray] = None,
                  mahalanobis: Optional[np.ndarray] = None) -> Dict[Text, np.ndarray]:
    """The signals keyed by name, oriented so that higher = more out of scope (None: absent, as
    the similarity is without an embedding featurizer)."""
    signals = {"confidence": -np.asarray(confidence)}
    if similarity is not None:
        signals["similarity"] = -np.asarray(similarity)
    if mahalanobis is not None:
        signals["mahalanobis"] = np.asarray(mahalanobis)
    return signals


