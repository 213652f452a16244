"""FAQClassifier on hand-made features: the nearest-neighbour vote, the out-of-scope score and its
threshold, the calibration examples, the narrow intents, fallback."""
import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.classifier import FAQClassifier


def classifier(tmp_path, **config):
    storage = LocalModelStorage(tmp_path)
    return FAQClassifier.create({**FAQClassifier.get_default_config(), **config}, storage,
                                Resource("faq"), ExecutionContext(None))


def test_blend_takes_each_intents_best_neighbour(tmp_path):
    faq = classifier(tmp_path, knn_weight=1.0, knn_temperature=1.0)
    rng = np.random.default_rng(0)
    labels = np.array([2, 0, 2, 3, 0, 2])  # intent 1 has no neighbour at all
    cosines = rng.uniform(-1, 1, size=(3, len(labels))).astype(np.float32)
    expected = np.full((3, 4), -1.0, dtype=np.float32)
    for index in np.unique(labels):
        expected[:, index] = cosines[:, labels == index].max(axis=1)
    vote = faq._blend(np.zeros((3, 4)), cosines, labels)
    exp = np.exp(expected - expected.max(axis=1, keepdims=True))
    assert np.allclose(vote, exp / exp.sum(axis=1, keepdims=True))


def _message(text, intent, sparse, dense, metadata=None):
    import scipy.sparse

    message = Message(data={TEXT: text, **({INTENT: intent} if intent else {}),
                            **({"metadata": metadata} if metadata else {})})
    message.add_features(Features(scipy.sparse.coo_matrix(np.array([sparse], np.float32)), "sentence", TEXT, "chars"))
    message.add_features(Features(np.array([dense], np.float32), "sentence", TEXT, "embedding"))
    return message


def test_trains_predicts_and_falls_back(tmp_path):
    rng = np.random.default_rng(1)
    centres = {"fee": np.eye(8)[0], "cancel": np.eye(8)[1], "out_of_scope": np.eye(8)[2]}
    examples = []
    for intent, centre in centres.items():
        for i in range(12):
            dense = centre + rng.normal(0, 0.05, 8)
            examples.append(_message(f"{intent} {i}", intent, centre[:3] + rng.uniform(0, 0.1, 3), dense))
    faq = classifier(tmp_path)
    faq.train(TrainingData(examples))

    near_fee = _message("how much", None, centres["fee"][:3], centres["fee"] + 0.01)
    near_oos = _message("weather", None, centres["out_of_scope"][:3], centres["out_of_scope"])
    nowhere = _message("???", None, np.zeros(3), np.eye(8)[7])  # far from every example
    faq.process([near_fee, near_oos, nowhere])
    assert near_fee.get(INTENT)["name"] == "fee"
    assert near_fee.get("out_of_scope")["fallback"] is False
    assert near_oos.get(INTENT)["name"] == "nlu_fallback"
    assert near_oos.get("out_of_scope")["reason"] == "out_of_scope intent"
    assert nowhere.get(INTENT)["name"] == "nlu_fallback"
    # The nearest in-scope example never counts an out_of_scope one.
    assert faq._in_scope.sum() == 24

    # Block-wise logits at run time equal the stacked features of training times the weights.
    messages = [near_fee, near_oos, nowhere]
    stacked = np.asarray(faq._features(messages) @ faq.weights.T) + faq.bias
    assert np.allclose(faq._logits(messages), stacked, atol=1e-5)
    tfidf, dense = faq._feature_blocks(messages)
    row_norms = np.sqrt(np.asarray(tfidf.multiply(tfidf).sum(axis=1))).ravel()
    assert np.allclose(row_norms, [1, 1, 0], atol=1e-6)  # the last one has no sparse feature
    assert np.allclose(tfidf[0].data, np.log1p(centres["fee"][:3][[0]]) * faq.scaling["idf"][[0]]
                       / np.linalg.norm(np.log1p(centres["fee"][:3][[0]]) * faq.scaling["idf"][[0]]))

    # What was persisted loads back and decides the same way.
    loaded = FAQClassifier.load({**FAQClassifier.get_default_config()}, faq._model_storage,
                                Resource("faq"), ExecutionContext(None))
    again = _message("how much", None, centres["fee"][:3], centres["fee"] + 0.01)
    loaded.process([again])
    assert again.get(INTENT) == near_fee.get(INTENT)
    assert again.get("intent_ranking") == near_fee.get("intent_ranking")


def _clusters(rng, intents, per_intent=12, spread=0.05, metadata=None):
    return [_message(f"{intent} {i}", intent, np.eye(3)[k % 3] + rng.uniform(0, 0.1, 3),
                     np.eye(8)[k] + rng.normal(0, spread, 8), metadata)
            for k, intent in enumerate(intents) for i in range(per_intent)]


def test_a_fixed_threshold_on_the_out_of_scope_score(tmp_path):
    rng = np.random.default_rng(2)
    examples = _clusters(rng, ["fee", "cancel", "out_of_scope"])
    unlike = lambda: _message("b", None, np.eye(3)[0], np.eye(8)[6])
    for threshold, falls_back in ((0.0, True), (1.0 + 1e-9, False)):
        (tmp_path / str(threshold)).mkdir()
        faq = classifier(tmp_path / str(threshold), out_of_scope_threshold=threshold, narrow_intents=[])
        faq.train(TrainingData(examples))
        message = unlike()
        faq.process([message])
        assert (message.get(INTENT)["name"] == "nlu_fallback") is falls_back
        if falls_back:
            reason = message.get("out_of_scope")["reason"]
            assert reason.startswith("out-of-scope score") and "similarity" in reason and "confidence" in reason
            # The ranking still lists the intents behind the fallback (for suggestion buttons).
            assert message.get("intent_ranking")[1]["name"] in ("fee", "cancel")
        assert 0.0 <= message.get("out_of_scope")["score"] <= 1.0


def test_calibration_examples_fit_the_threshold_and_are_never_trained_on(tmp_path):
    rng = np.random.default_rng(3)
    training = _clusters(rng, ["fee", "cancel", "out_of_scope"])
    # Written by other hands: the in-scope ones a little off their intent's centre, the
    # out-of-scope ones somewhere no training example is.
    calibration = [_message(f"cal {intent} {i}", intent, np.eye(3)[k] + rng.uniform(0, 0.1, 3),
                            np.eye(8)[k] * 0.9 + np.eye(8)[5] * 0.3 + rng.normal(0, 0.05, 8),
                            {"intent": {"calibration": True}})
                   for k, intent in enumerate(["fee", "cancel"]) for i in range(10)]
    calibration += [_message(f"cal oos {i}", "nlu_fallback", rng.uniform(0, 0.1, 3),
                             np.eye(8)[6 + i % 2] + rng.normal(0, 0.05, 8), {"example": {"calibration": True}})
                    for i in range(10)]
    faq = classifier(tmp_path)
    faq.train(TrainingData(training + calibration))
    assert faq.classes == ["cancel", "fee", "out_of_scope"]
    assert len(faq.neighbour_labels) == len(training)
    assert faq.cv_report["fitted_on"] == "30 calibration examples"
    assert faq.cv_report["out_of_scope_recall"] == 1.0 and faq.cv_report["false_fallback_rate"] <= 0.03
    near, far = (_message("a", None, np.eye(3)[0], np.eye(8)[0] * 0.9 + np.eye(8)[5] * 0.3),
                 _message("b", None, np.zeros(3), np.eye(8)[7]))
    faq.process([near, far])
    assert near.get(INTENT)["name"] == "fee"
    assert far.get(INTENT)["name"] == "nlu_fallback"


def test_a_narrow_intent_answers_only_what_it_is(tmp_path):
    rng = np.random.default_rng(4)
    examples = _clusters(rng, ["greet", "fee", "out_of_scope"], per_intent=20, spread=0.02)
    faq = classifier(tmp_path, out_of_scope_threshold=1.0 + 1e-9)
    faq.train(TrainingData(examples))
    assert faq.narrow_threshold is not None
    bare = _message("hello", None, np.eye(3)[0], np.eye(8)[0])
    # Mostly a greeting, but with more in it than any greeting example has.
    more = _message("hello, nice weather", None, np.eye(3)[0], np.eye(8)[0] + 0.35 * np.eye(8)[6])
    faq.process([bare, more])
    assert bare.get(INTENT)["name"] == "greet"
    assert more.get("intent_ranking")[1]["name"] == "greet"
    assert more.get(INTENT)["name"] == "nlu_fallback"
    assert more.get("out_of_scope")["reason"].startswith("greet answers only a bare greet")
    # Not narrow: the same message is a greeting.
    (tmp_path / "wide").mkdir()
    wide = classifier(tmp_path / "wide", out_of_scope_threshold=1.0 + 1e-9, narrow_intents=[])
    wide.train(TrainingData(examples))
    again = _message("hello, nice weather", None, np.eye(3)[0], np.eye(8)[0] + 0.35 * np.eye(8)[6])
    wide.process([again])
    assert again.get(INTENT)["name"] == "greet"


def test_refuses_a_message_without_features(tmp_path):
    faq = classifier(tmp_path)
    with pytest.raises(ValueError, match="No sentence features"):
        faq._raw_features([Message(data={TEXT: "hi"})])


def test_without_a_similarity_featurizer_the_score_uses_confidence_alone(tmp_path):
    rng = np.random.default_rng(5)
    faq = classifier(tmp_path, similarity_featurizer=None, narrow_intents=[])
    faq.train(TrainingData(_clusters(rng, ["fee", "cancel", "out_of_scope"])))
    assert faq.combiner.signals == ("confidence",)
    message = _message("a", None, np.eye(3)[0], np.eye(8)[0])
    faq.process([message])
    assert message.get(INTENT)["name"] == "fee" and message.get("out_of_scope")["similarity"] is None
