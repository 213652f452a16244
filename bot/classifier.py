"""The intent classifier: logistic regression over sentence features, blended with a
nearest-neighbour vote on the sentence embeddings, and an out-of-scope decision whose
thresholds are chosen by cross-validation.

Features: sparse sentence features (character n-grams) are weighted as TF-IDF (sublinear tf,
idf from the training data) and L2-normalised; dense ones (embeddings) are standardised,
which conditions the regression far better than raw e5 vectors (bench/nlu_design.py).

A message falls back (top intent `nlu_fallback`) when any of these holds:
- the top intent is the trained `out_of_scope` intent;
- the top confidence is below `fallback_threshold`;
- its cosine similarity to the nearest in-scope training example is below
  `similarity_threshold` (the embedding's own out-of-scope signal).
With "auto", both thresholds are chosen at training time by k-fold cross-validation on
the training data: the pair that catches the most out-of-scope examples while at most
`max_false_fallback_rate` of in-scope examples fall back.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np
import scipy.sparse

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.fingerprint import source_fingerprint

logger = logging.getLogger(__name__)

FALLBACK_INTENT = "nlu_fallback"
AUTO = "auto"


@dataclass
class Thresholds:
    confidence: float
    similarity: float


def softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def choose_thresholds(
    confidence: np.ndarray,
    similarity: np.ndarray,
    correct: np.ndarray,
    is_out_of_scope: np.ndarray,
    predicted_out_of_scope: np.ndarray,
    max_false_fallback_rate: float,
) -> Tuple[Thresholds, Dict[Text, float]]:
    """Picks (confidence, similarity) thresholds from held-out predictions.

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


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True
)
class FAQClassifier(GraphComponent, IntentClassifier):
    """Multinomial logistic regression on sentence features, with out-of-scope detection."""

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[Text]:
        # Rasa's training cache ignores code changes (bot/fingerprint.py).
        return source_fingerprint(__name__)

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # Featurizer aliases whose sentence features are used; None = all of them.
            "featurizers": None,
            # Featurizer alias whose dense vectors give the nearest-neighbour similarity.
            "similarity_featurizer": "embedding",
            # Inverse L2 regularisation strength of the logistic regression.
            "C": 10.0,
            # Weight of the nearest-neighbour vote in the blended confidence (0 = off).
            "knn_weight": 0.5,
            # Sharpness of the nearest-neighbour vote: softmax(temperature * cosine).
            "knn_temperature": 20.0,
            # Examples of this intent are trained on, and predicting it means fallback.
            "out_of_scope_intent": "out_of_scope",
            # Minimum top confidence / nearest-neighbour cosine to answer: a number, or
            # "auto" to choose it by cross-validation on the training data.
            "fallback_threshold": AUTO,
            "similarity_threshold": AUTO,
            # The largest share of in-scope examples the thresholds may make fall back in
            # cross-validation (on top of those predicted as `out_of_scope`).
            "max_false_fallback_rate": 0.02,
            "cv_folds": 5,
            # How many intents the ranking lists.
            "ranking_length": 10,
            "max_iter": 2000,
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        weights: Optional[np.ndarray] = None,
        bias: Optional[np.ndarray] = None,
        classes: Optional[List[Text]] = None,
        neighbours: Optional[np.ndarray] = None,
        thresholds: Optional[Thresholds] = None,
        scaling: Optional[Dict[Text, np.ndarray]] = None,
        neighbour_labels: Optional[np.ndarray] = None,
    ) -> None:
        self.component_config = config
        self._model_storage = model_storage
        self._resource = resource
        self.weights = weights
        self.bias = bias
        self.classes = classes or []
        self.neighbours = neighbours
        self.neighbour_labels = neighbour_labels
        self.thresholds = thresholds or Thresholds(0.0, -1.0)
        # idf of the sparse block, mean and std of the dense block (set by training).
        self.scaling = scaling or {}
        self.cv_report: Dict[Text, Any] = {}
        self._prepare_prediction()

    def _prepare_prediction(self) -> None:
        """What prediction derives from the trained model, computed once, not per message: each
        feature block's weights transposed (in _feature_blocks' order) and the in-scope mask of
        the neighbours (the nearest in-scope example never counts an out_of_scope one)."""
        self._block_weights: List[np.ndarray] = []
        if self.weights is not None:
            start = 0
            for width in (len(self.scaling[key]) for key in ("idf", "mean") if key in self.scaling):
                self._block_weights.append(np.ascontiguousarray(self.weights[:, start:start + width].T))
                start += width
        self._in_scope: Optional[np.ndarray] = None
        if self.neighbour_labels is not None:
            oos_name = self.component_config["out_of_scope_intent"]
            oos_index = self.classes.index(oos_name) if oos_name in self.classes else -1
            self._in_scope = self.neighbour_labels != oos_index

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "FAQClassifier":
        return cls(config, model_storage, resource)

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sklearn"]

    # ---- features -------------------------------------------------------------------
    def _raw_features(self, messages: List[Message]) -> Tuple[Optional[scipy.sparse.csr_matrix], Optional[np.ndarray]]:
        """Every featurizer's sentence features: (sparse block, dense block)."""
        names = self.component_config["featurizers"]
        sparse_rows, dense_rows = [], []
        for message in messages:
            _, sparse = message.get_sparse_features(TEXT, names)
            _, dense = message.get_dense_features(TEXT, names)
            if sparse is None and dense is None:
                raise ValueError(f"No sentence features for {message.get(TEXT)!r}: add a featurizer before FAQClassifier.")
            sparse_rows.append(None if sparse is None else scipy.sparse.csr_matrix(sparse.features, dtype=np.float32))
            dense_rows.append(None if dense is None else np.asarray(dense.features, dtype=np.float32).reshape(-1))
        sparse_block = scipy.sparse.vstack(sparse_rows, format="csr") if all(r is not None for r in sparse_rows) else None
        dense_block = np.stack(dense_rows) if all(r is not None for r in dense_rows) else None
        return sparse_block, dense_block

    def _fit_scaling(self, messages: List[Message]) -> None:
        sparse, dense = self._raw_features(messages)
        self.scaling = {}
        if sparse is not None:
            document_frequency = np.bincount(sparse.indices, minlength=sparse.shape[1])
            self.scaling["idf"] = (np.log((1 + sparse.shape[0]) / (1 + document_frequency)) + 1).astype(np.float32)
        if dense is not None:
            self.scaling["mean"] = dense.mean(axis=0)
            self.scaling["std"] = dense.std(axis=0) + 1e-6

    def _feature_blocks(self, messages: List[Message]) -> List[Any]:
        """The scaled features, block by block in column order: tf-idf of the sparse features
        (log counts, rows L2-normalised; csr) and the standardised dense features (ndarray)."""
        sparse, dense = self._raw_features(messages)
        blocks: List[Any] = []
        if sparse is not None and "idf" in self.scaling:
            tfidf = sparse.tocsr(copy=True)
            tfidf.data = np.log1p(tfidf.data) * self.scaling["idf"][tfidf.indices]
            rows = np.repeat(np.arange(tfidf.shape[0]), np.diff(tfidf.indptr))
            norms = np.sqrt(np.bincount(rows, weights=tfidf.data ** 2, minlength=tfidf.shape[0]))
            tfidf.data = (tfidf.data / np.maximum(norms, 1e-12)[rows]).astype(np.float32)
            blocks.append(tfidf)
        if dense is not None and "mean" in self.scaling:
            blocks.append((dense - self.scaling["mean"]) / self.scaling["std"] / np.sqrt(dense.shape[1]))
        return blocks

    def _features(self, messages: List[Message]) -> scipy.sparse.csr_matrix:
        """Every block side by side: the regression's input in training."""
        blocks = [scipy.sparse.csr_matrix(block) for block in self._feature_blocks(messages)]
        return scipy.sparse.hstack(blocks, format="csr")

    def _logits(self, messages: List[Message]) -> np.ndarray:
        """weights · features + bias, one block at a time: per message, stacking the blocks
        and multiplying by the transposed weights cost more than the rest of the classifier."""
        logits = np.tile(self.bias, (len(messages), 1))
        for block, weights in zip(self._feature_blocks(messages), self._block_weights):
            logits += block @ weights
        return logits

    def _similarity_vectors(self, messages: List[Message]) -> Optional[np.ndarray]:
        alias = self.component_config["similarity_featurizer"]
        if not alias:
            return None
        vectors = []
        for message in messages:
            _, dense = message.get_dense_features(TEXT, [alias])
            if dense is None:
                return None
            vector = np.asarray(dense.features, dtype=np.float32).reshape(-1)
            vectors.append(vector / max(np.linalg.norm(vector), 1e-12))
        return np.stack(vectors)

    # ---- training -------------------------------------------------------------------
    def _fit(self, X, y: np.ndarray, n_classes: int) -> Tuple[np.ndarray, np.ndarray]:
        from sklearn.linear_model import LogisticRegression

        clf = LogisticRegression(C=self.component_config["C"], max_iter=self.component_config["max_iter"])
        clf.fit(X, y)
        weights = np.zeros((n_classes, X.shape[1]), dtype=np.float32)
        bias = np.full(n_classes, -1e9, dtype=np.float32)  # classes absent from a fold
        weights[clf.classes_] = clf.coef_
        bias[clf.classes_] = clf.intercept_
        return weights, bias

    def train(self, training_data: TrainingData) -> Resource:
        examples = [m for m in training_data.intent_examples if m.get(INTENT)]
        labels = [m.get(INTENT) for m in examples]
        self.classes = sorted(set(labels))
        if len(self.classes) < 2:
            logger.warning("FAQClassifier needs at least two intents; not trained.")
            return self._resource
        y = np.array([self.classes.index(label) for label in labels])
        self._fit_scaling(examples)
        X = self._features(examples)
        sims = self._similarity_vectors(examples)
        oos_name = self.component_config["out_of_scope_intent"]
        oos_index = self.classes.index(oos_name) if oos_name in self.classes else -1
        is_oos = y == oos_index

        self.thresholds = self._cross_validate(X, y, sims, is_oos, oos_index)
        self.weights, self.bias = self._fit(X, y, len(self.classes))
        self.neighbours, self.neighbour_labels = (sims, y) if sims is not None else (None, None)
        self._prepare_prediction()
        self.persist()
        return self._resource

    def _cross_validate(self, X, y, sims, is_oos, oos_index) -> Thresholds:
        fixed_conf = self.component_config["fallback_threshold"]
        fixed_sim = self.component_config["similarity_threshold"]
        if fixed_conf != AUTO and fixed_sim != AUTO:
            return Thresholds(float(fixed_conf), float(fixed_sim))
        from sklearn.model_selection import StratifiedKFold

        folds = min(self.component_config["cv_folds"], int(np.bincount(y).min()))
        if folds < 2:
            logger.warning("Too few examples per intent to cross-validate; thresholds off.")
            return Thresholds(float(fixed_conf) if fixed_conf != AUTO else 0.0,
                              float(fixed_sim) if fixed_sim != AUTO else -1.0)
        n = len(y)
        confidence, similarity = np.zeros(n), np.ones(n)
        correct, predicted_oos = np.zeros(n, bool), np.zeros(n, bool)
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=42)
        for train_idx, test_idx in splitter.split(np.zeros(n), y):
            weights, bias = self._fit(X[train_idx], y[train_idx], len(self.classes))
            probs = softmax(np.asarray(X[test_idx] @ weights.T) + bias)
            if sims is not None:
                cosines = sims[test_idx] @ sims[train_idx].T
                probs = self._blend(probs, cosines, y[train_idx])
                in_scope_train = ~is_oos[train_idx]
                similarity[test_idx] = cosines[:, in_scope_train].max(axis=1)
            top = probs.argmax(axis=1)
            confidence[test_idx] = probs.max(axis=1)
            correct[test_idx] = top == y[test_idx]
            predicted_oos[test_idx] = top == oos_index
        chosen, stats = choose_thresholds(
            confidence, similarity if sims is not None else np.ones(n), correct, is_oos,
            predicted_oos, self.component_config["max_false_fallback_rate"],
        )
        if fixed_conf != AUTO:
            chosen.confidence = float(fixed_conf)
        if fixed_sim != AUTO:
            chosen.similarity = float(fixed_sim)
        self.cv_report = {"folds": folds, **stats}
        logger.info(
            "FAQClassifier: %d-fold cross-validation chose confidence >= %.3f and similarity >= %.3f "
            "(out-of-scope recall %.3f, accuracy %.3f, false fallback %.3f)",
            folds, chosen.confidence, chosen.similarity, stats.get("out_of_scope_recall", 0),
            stats.get("accuracy", 0), stats.get("false_fallback_rate", 0),
        )
        return chosen

    def _blend(self, probs: np.ndarray, cosines: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Mixes the regression's probabilities with a nearest-neighbour vote per intent."""
        weight = self.component_config["knn_weight"]
        if not weight:
            return probs
        # The best cosine per intent: neighbours grouped by label, one maximum per group.
        order = np.argsort(labels, kind="stable")
        grouped = labels[order]
        starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
        best = np.full(probs.shape, -1.0, dtype=np.float32)
        best[:, grouped[starts]] = np.maximum.reduceat(cosines[:, order], starts, axis=1)
        vote = softmax(self.component_config["knn_temperature"] * best)
        return (1 - weight) * probs + weight * vote

    # ---- prediction -----------------------------------------------------------------
    def process(self, messages: List[Message]) -> List[Message]:
        if self.weights is None:
            return messages
        probs = softmax(self._logits(messages))
        nearest = None
        if self.neighbours is not None:
            cosines = self._similarity_vectors(messages) @ self.neighbours.T
            probs = self._blend(probs, cosines, self.neighbour_labels)
            nearest = cosines[:, self._in_scope].max(axis=1)
        for i, message in enumerate(messages):
            order = np.argsort(-probs[i])[: self.component_config["ranking_length"]]
            ranking = [{INTENT_NAME_KEY: self.classes[j], PREDICTED_CONFIDENCE_KEY: float(probs[i, j])}
                       for j in order]
            top = ranking[0]
            similarity = float(nearest[i]) if nearest is not None else None
            reason = self._fallback_reason(top, similarity)
            if reason:
                logger.debug("Fallback for %r: %s", message.get(TEXT), reason)
                top = {INTENT_NAME_KEY: FALLBACK_INTENT, PREDICTED_CONFIDENCE_KEY: top[PREDICTED_CONFIDENCE_KEY]}
                ranking = [top, *ranking]
            message.set(INTENT, top, add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
            message.set("out_of_scope", {"fallback": bool(reason), "reason": reason,
                                         "similarity": similarity}, add_to_output=True)
        return messages

    def _fallback_reason(self, top: Dict[Text, Any], similarity: Optional[float]) -> Optional[Text]:
        name, confidence = top[INTENT_NAME_KEY], top[PREDICTED_CONFIDENCE_KEY]
        if name == self.component_config["out_of_scope_intent"]:
            return "out_of_scope intent"
        if confidence < self.thresholds.confidence:
            return f"confidence {confidence:.3f} < threshold {self.thresholds.confidence:.3f}"
        if similarity is not None and similarity < self.thresholds.similarity:
            return f"similarity {similarity:.3f} < threshold {self.thresholds.similarity:.3f}"
        return None

    # ---- persistence ----------------------------------------------------------------
    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as model_dir:
            arrays = {"weights": self.weights, "bias": self.bias,
                      **{f"scaling_{k}": v for k, v in self.scaling.items()}}
            if self.neighbours is not None:
                arrays.update(neighbours=self.neighbours, neighbour_labels=self.neighbour_labels)
            np.savez_compressed(model_dir / "classifier.npz", **arrays)
            (model_dir / "classifier.json").write_text(json.dumps({
                "classes": self.classes,
                "thresholds": {"confidence": self.thresholds.confidence,
                               "similarity": self.thresholds.similarity},
                "cross_validation": self.cv_report,
            }, ensure_ascii=False, indent=2))

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "FAQClassifier":
        try:
            with model_storage.read_from(resource) as model_dir:
                meta = json.loads((model_dir / "classifier.json").read_text())
                arrays = np.load(model_dir / "classifier.npz", allow_pickle=False)
                return cls(
                    config, model_storage, resource, weights=arrays["weights"], bias=arrays["bias"],
                    classes=meta["classes"],
                    neighbours=arrays["neighbours"] if "neighbours" in arrays.files else None,
                    neighbour_labels=arrays["neighbour_labels"] if "neighbour_labels" in arrays.files else None,
                    thresholds=Thresholds(**meta["thresholds"]),
                    scaling={k[len("scaling_"):]: arrays[k] for k in arrays.files if k.startswith("scaling_")},
                )
        except (ValueError, FileNotFoundError):
            logger.debug("FAQClassifier: no trained model in %s.", resource.name)
            return cls(config, model_storage, resource)
