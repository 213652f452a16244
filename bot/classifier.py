"""The intent classifier: logistic regression over sentence features, blended with a
nearest-neighbour vote on the sentence embeddings, and an out-of-scope decision calibrated on
messages it was not fitted on.

Features: sparse sentence features (character n-grams) are weighted as TF-IDF (sublinear tf,
idf from the training data) and L2-normalised; dense ones (embeddings) are standardised,
which conditions the regression far better than raw e5 vectors (bench/nlu_design.py).

A message falls back (top intent `nlu_fallback`) when any of these holds:
- the top intent is the trained `out_of_scope` intent;
- its out-of-scope score is at or above `out_of_scope_threshold`: the probability, from a
  logistic regression over the top in-scope confidence and the cosine to the nearest in-scope
  training example (bot/out_of_scope.py), that the message is out of scope;
- its top intent is a narrow one (greet, thanks, affirm...: intents.NARROW_INTENTS) and its
  cosine to that intent's nearest example is under a floor (chosen on the calibration set, or
  else `narrow_quantile` of the intent's examples' own): a conversation intent answers only what
  it is, not small talk or a question around it.
With "auto", the score and its threshold are fitted on the calibration examples when the
training data has some (metadata `calibration: true`: messages written by other hands, never
trained on), each half scored by a combiner fitted on the other; otherwise on out-of-fold
training examples, with out-of-scope kinds held out whole. The threshold maximises in-scope
accuracy + out-of-scope recall with at most `max_false_fallback_rate` of in-scope messages
falling back. bench/nlu_design.py measured the signals and the methods.
"""
from __future__ import annotations

import json
import logging
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
from bot.out_of_scope import Combiner, describe, fit_with_threshold, folds, signal_arrays, threshold_for_best_sum
from intents import NARROW_INTENTS, NLU_FALLBACK, OUT_OF_SCOPE

logger = logging.getLogger(__name__)

FALLBACK_INTENT = NLU_FALLBACK
AUTO = "auto"


CALIBRATION_KEY = "calibration"


def is_calibration(message: Message) -> bool:
    """An example kept out of training, to calibrate the out-of-scope score on (its intent
    block or the example itself has `metadata: {calibration: true}`)."""
    metadata = message.get("metadata") or {}
    return any(bool((metadata.get(level) or {}).get(CALIBRATION_KEY)) for level in ("intent", "example"))


def softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True
)
class FAQClassifier(GraphComponent, IntentClassifier):
    """Multinomial logistic regression on sentence features, with out-of-scope detection."""

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[Text]:
        # Rasa's training cache ignores code changes (bot/fingerprint.py).
        return source_fingerprint(__name__, "bot.out_of_scope", "intents")

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
            "out_of_scope_intent": OUT_OF_SCOPE,
            # Fall back when the out-of-scope score (a probability) is at or above this: a
            # number, or "auto" to fit it on messages the classifier was not trained on.
            "out_of_scope_threshold": AUTO,
            # The signals the out-of-scope score combines (bot/out_of_scope.py).
            "out_of_scope_signals": ["confidence", "similarity"],
            # The largest share of in-scope messages the "auto" threshold may make fall back.
            "max_false_fallback_rate": 0.03,
            "cv_folds": 5,
            # Intents answered only when the message is that and nothing more; [] = none.
            "narrow_intents": list(NARROW_INTENTS),
            # Without calibration examples, a message whose top intent is narrow falls back when
            # its cosine to that intent's nearest example is below this quantile of the intent's
            # examples' own (each to its nearest other example).
            "narrow_quantile": 0.02,
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
        scaling: Optional[Dict[Text, np.ndarray]] = None,
        neighbour_labels: Optional[np.ndarray] = None,
        combiner: Optional[Combiner] = None,
        threshold: Optional[float] = None,
        narrow_threshold: Optional[float] = None,
    ) -> None:
        self.component_config = config
        self._model_storage = model_storage
        self._resource = resource
        self.weights = weights
        self.bias = bias
        self.classes = classes or []
        self.neighbours = neighbours
        self.neighbour_labels = neighbour_labels
        # The out-of-scope score and its threshold; None: never fall back on the score.
        self.combiner = combiner
        self.threshold = threshold
        self.narrow_threshold = narrow_threshold
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
        # Which classes are in scope (all but the out_of_scope intent), and which neighbours.
        oos_name = self.component_config["out_of_scope_intent"]
        self._in_scope_class = np.array([name != oos_name for name in self.classes], dtype=bool)
        self._in_scope: Optional[np.ndarray] = None
        if self.neighbour_labels is not None:
            self._in_scope = self._in_scope_class[self.neighbour_labels]

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
        labelled = [m for m in training_data.intent_examples if m.get(INTENT)]
        examples = [m for m in labelled if not is_calibration(m)]
        calibration = [m for m in labelled if is_calibration(m)]
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
        is_oos = y == (self.classes.index(oos_name) if oos_name in self.classes else -1)

        self.weights, self.bias = self._fit(X, y, len(self.classes))
        self.neighbours, self.neighbour_labels = (sims, y) if sims is not None else (None, None)
        self._prepare_prediction()
        calibrated = self._fit_out_of_scope(X, y, sims, is_oos, calibration)
        self._fit_narrow(sims, y, calibrated)
        self.persist()
        return self._resource

    # The out-of-scope score: its combiner and threshold.
    def _fit_out_of_scope(self, X, y, sims, is_oos, calibration: List[Message]) -> Optional[Dict]:
        """Fits the combiner and its threshold; returns the calibration set's scores, when it
        was fitted on one (the narrow check's threshold is chosen on them too)."""
        fixed = self.component_config["out_of_scope_threshold"]
        names = tuple(self.component_config["out_of_scope_signals"])
        if sims is None:
            names = tuple(n for n in names if n != "similarity")
        if not names:
            return None
        if calibration and fixed == AUTO:
            scored = self._predict(calibration)
            truth = np.array([m.get(INTENT) not in self.classes or m.get(INTENT) == self.component_config["out_of_scope_intent"]
                              for m in calibration])
            correct = np.array([self.classes[i] == m.get(INTENT) for i, m in zip(scored["top_in_scope"], calibration)])
            source = f"{len(calibration)} calibration examples"
        elif is_oos.any():
            scored, truth, correct = self._out_of_fold(X, y, sims, is_oos)
            source = "out-of-fold training examples"
        else:
            scored, truth, correct = None, is_oos, None
        if scored is None or min(int(truth.sum()), int((~truth).sum())) < 2:
            logger.warning("FAQClassifier: fewer than two out-of-scope or in-scope examples to fit the score on; "
                           "it is off.")
            return None
        signals = signal_arrays(scored["confidence"], scored["similarity"])
        fallen = scored["predicted_out_of_scope"]
        self.combiner, threshold, _ = fit_with_threshold(
            signals, names, truth, fallen, correct, self.component_config["max_false_fallback_rate"],
            folds=min(self.component_config["cv_folds"], int(truth.sum()), int((~truth).sum())))
        self.threshold = threshold if fixed == AUTO else float(fixed)
        fallback = fallen | (self.combiner.probability(signals) >= self.threshold)
        self.cv_report = {
            "fitted_on": source,
            "out_of_scope_recall": float(fallback[truth].mean()),
            "false_fallback_rate": float(fallback[~truth].mean()),
            "accuracy": float((~fallback & correct)[~truth].mean()),
        }
        logger.info("FAQClassifier: out-of-scope score over %s fitted on %s; threshold %.3f (there: out-of-scope "
                    "recall %.3f, false fallback %.3f, accuracy %.3f)", " + ".join(names), source, self.threshold,
                    self.cv_report["out_of_scope_recall"], self.cv_report["false_fallback_rate"],
                    self.cv_report["accuracy"])
        if not calibration or fixed != AUTO:
            return None
        return {"scored": scored, "truth": truth, "correct": correct, "fallback": fallback}

    def _out_of_fold(self, X, y, sims, is_oos):
        """Every training example's signals from a model fitted without its fold; out-of-scope
        examples held out by kind (bot.out_of_scope.folds)."""
        k = min(self.component_config["cv_folds"], int(np.bincount(y).min()))
        if k < 2:
            logger.warning("Too few examples per intent to cross-validate the out-of-scope score.")
            return None, is_oos, np.ones(len(y), bool)
        n = len(y)
        out = {"confidence": np.zeros(n), "similarity": None if sims is None else np.zeros(n),
               "predicted_out_of_scope": np.zeros(n, bool)}
        correct = np.zeros(n, bool)
        in_scope_class = self._in_scope_class
        for train_idx, test_idx in folds(y, is_oos, sims, k):
            weights, bias = self._fit(X[train_idx], y[train_idx], len(self.classes))
            probs = softmax(np.asarray(X[test_idx] @ weights.T) + bias)
            if sims is not None:
                cosines = sims[test_idx] @ sims[train_idx].T
                probs = self._blend(probs, cosines, y[train_idx])
                out["similarity"][test_idx] = cosines[:, ~is_oos[train_idx]].max(axis=1)
            top = probs.argmax(axis=1)
            out["predicted_out_of_scope"][test_idx] = ~in_scope_class[top]
            out["confidence"][test_idx] = np.where(in_scope_class, probs, -1).max(axis=1)
            correct[test_idx] = np.where(in_scope_class, probs, -1).argmax(axis=1) == y[test_idx]
        return out, is_oos, correct

    def _fit_narrow(self, sims, y, calibrated: Optional[Dict]) -> None:
        """The narrow intents' cosine floor. On the calibration set when there is one: among its
        messages whose top intent is narrow (and that do not fall back already), the floor that
        maximises accuracy + out-of-scope recall, at most `max_false_fallback_rate` of the in-scope
        ones falling back. Otherwise `narrow_quantile` of the narrow intents' examples' cosines to
        their nearest other example of the same intent."""
        narrow = [self.classes.index(i) for i in self.component_config["narrow_intents"] if i in self.classes]
        if sims is None or not narrow:
            return
        if calibrated is not None:
            scored = calibrated["scored"]
            rows = np.isin(scored["top_in_scope"], narrow) & ~calibrated["fallback"]
            truth = calibrated["truth"][rows]
            if truth.any() and not truth.all():
                threshold = threshold_for_best_sum(-scored["own_similarity"][rows], truth, np.zeros(len(truth), bool),
                                                   calibrated["correct"][rows],
                                                   self.component_config["max_false_fallback_rate"])
                self.narrow_threshold = float(np.nextafter(-threshold, np.inf))
                logger.info("FAQClassifier: a narrow intent answers at cosine > %.3f to its nearest example (chosen "
                            "on %d calibration messages)", self.narrow_threshold, int(rows.sum()))
                return
        own = []
        for index in narrow:
            members = sims[y == index]
            if len(members) < 2:
                continue
            cosines = members @ members.T
            np.fill_diagonal(cosines, -1.0)
            own.append(cosines.max(axis=1))
        if own:
            self.narrow_threshold = float(np.quantile(np.concatenate(own), self.component_config["narrow_quantile"]))
            logger.info("FAQClassifier: a narrow intent answers at cosine >= %.3f to its nearest example",
                        self.narrow_threshold)

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
    def _predict(self, messages: List[Message]) -> Dict[Text, np.ndarray]:
        """Blended probabilities, the top intents and the out-of-scope signals of messages."""
        probs = softmax(self._logits(messages))
        out: Dict[Text, Any] = {"similarity": None, "own_similarity": None}
        if self.neighbours is not None:
            cosines = self._similarity_vectors(messages) @ self.neighbours.T
            probs = self._blend(probs, cosines, self.neighbour_labels)
            out["similarity"] = cosines[:, self._in_scope].max(axis=1)
        in_scope_class = self._in_scope_class
        in_scope_probs = np.where(in_scope_class, probs, -1)
        out.update(probs=probs, top=probs.argmax(axis=1), top_in_scope=in_scope_probs.argmax(axis=1),
                   confidence=in_scope_probs.max(axis=1))
        out["predicted_out_of_scope"] = ~in_scope_class[out["top"]]
        if self.neighbours is not None:
            # The cosine to the nearest example of the top in-scope intent (the narrow check).
            same = self.neighbour_labels[None, :] == out["top_in_scope"][:, None]
            out["own_similarity"] = np.where(same, cosines, -1.0).max(axis=1)
        return out

    def process(self, messages: List[Message]) -> List[Message]:
        if self.weights is None or not messages:
            return messages
        scored = self._predict(messages)
        probs = scored["probs"]
        score = None
        if self.combiner is not None and self.threshold is not None:
            score = self.combiner.probability(signal_arrays(scored["confidence"], scored["similarity"]))
        for i, message in enumerate(messages):
            order = np.argsort(-probs[i])[: self.component_config["ranking_length"]]
            ranking = [{INTENT_NAME_KEY: self.classes[j], PREDICTED_CONFIDENCE_KEY: float(probs[i, j])}
                       for j in order]
            top = ranking[0]
            similarity = None if scored["similarity"] is None else float(scored["similarity"][i])
            reason = self._fallback_reason(scored, i, score)
            if reason:
                logger.debug("Fallback for %r: %s", message.get(TEXT), reason)
                top = {INTENT_NAME_KEY: FALLBACK_INTENT, PREDICTED_CONFIDENCE_KEY: top[PREDICTED_CONFIDENCE_KEY]}
                ranking = [top, *ranking]
            message.set(INTENT, top, add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
            message.set("out_of_scope", {
                "fallback": bool(reason), "reason": reason, "similarity": similarity,
                "score": None if score is None else float(score[i]),
            }, add_to_output=True)
        return messages

    def _fallback_reason(self, scored: Dict[Text, Any], i: int, score: Optional[np.ndarray]) -> Optional[Text]:
        """Why message i falls back, in words for the log and the console; None: it does not."""
        if scored["predicted_out_of_scope"][i]:
            return "out_of_scope intent"
        if score is not None and score[i] >= self.threshold:
            signals = {"confidence": float(scored["confidence"][i])}
            if scored["similarity"] is not None:
                signals["similarity"] = float(scored["similarity"][i])
            return describe(signals, float(score[i]), self.threshold)
        intent = self.classes[scored["top_in_scope"][i]]
        own = scored["own_similarity"]
        if (self.narrow_threshold is not None and own is not None and intent in self.component_config["narrow_intents"]
                and own[i] < self.narrow_threshold):
            return (f"{intent} answers only a bare {intent}: cosine {own[i]:.3f} to its nearest example "
                    f"< {self.narrow_threshold:.3f}")
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
                "out_of_scope": {
                    "combiner": self.combiner.to_json() if self.combiner else None,
                    "threshold": self.threshold,
                    "narrow_threshold": self.narrow_threshold,
                },
                "fitted": self.cv_report,
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
                oos = meta["out_of_scope"]
                return cls(
                    config, model_storage, resource, weights=arrays["weights"], bias=arrays["bias"],
                    classes=meta["classes"],
                    neighbours=arrays["neighbours"] if "neighbours" in arrays.files else None,
                    neighbour_labels=arrays["neighbour_labels"] if "neighbour_labels" in arrays.files else None,
                    scaling={k[len("scaling_"):]: arrays[k] for k in arrays.files if k.startswith("scaling_")},
                    combiner=Combiner.from_json(oos["combiner"]) if oos["combiner"] else None,
                    threshold=oos["threshold"], narrow_threshold=oos["narrow_threshold"],
                )
        except (ValueError, FileNotFoundError, KeyError):
            logger.debug("FAQClassifier: no trained model in %s.", resource.name)
            return cls(config, model_storage, resource)
