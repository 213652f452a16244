"""FAQClassifier on hand-made features: the nearest-neighbour vote, thresholds, fallback."""
import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.classifier import FAQClassifier, choose_thresholds


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


def test_thresholds_catch_out_of_scope_within_the_false_fallback_budget():
    # 100 in-scope examples with high confidence and similarity, 10 out-of-scope with low.
    confidence = np.r_[np.linspace(0.6, 1.0, 100), np.linspace(0.1, 0.4, 10)]
    similarity = np.r_[np.linspace(0.85, 0.99, 100), np.linspace(0.7, 0.8, 10)]
    is_oos = np.r_[np.zeros(100, bool), np.ones(10, bool)]
    chosen, stats = choose_thresholds(confidence, similarity, ~is_oos, is_oos, np.zeros(110, bool), 0.02)
    assert stats["out_of_scope_recall"] == 1.0
    assert stats["false_fallback_rate"] <= 0.02
    assert 0.4 < chosen.confidence <= 0.6 or 0.8 < chosen.similarity <= 0.85


def _message(text, intent, sparse, dense):
    import scipy.sparse

    message = Message(data={TEXT: text, **({INTENT: intent} if intent else {})})
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


def test_fixed_similarity_threshold_sends_an_unlike_message_to_fallback(tmp_path):
    rng = np.random.default_rng(2)
    examples = [_message(f"{intent} {i}", intent, np.eye(3)[k] + rng.uniform(0, 0.1, 3),
                         np.eye(8)[k] + rng.normal(0, 0.05, 8))
                for k, intent in enumerate(["fee", "cancel"]) for i in range(12)]
    faq = classifier(tmp_path, fallback_threshold=0.0, similarity_threshold=0.5)
    faq.train(TrainingData(examples))
    like, unlike = (_message("a", None, np.eye(3)[0], np.eye(8)[0]),
                    _message("b", None, np.eye(3)[0], np.eye(8)[6]))
    faq.process([like, unlike])
    assert like.get(INTENT)["name"] == "fee"
    assert unlike.get(INTENT)["name"] == "nlu_fallback"
    assert unlike.get("out_of_scope")["reason"].startswith("similarity")
    # The ranking still lists the intents behind the fallback (for suggestion buttons).
    assert unlike.get("intent_ranking")[1]["name"] == "fee"


def test_refuses_a_message_without_features(tmp_path):
    faq = classifier(tmp_path)
    with pytest.raises(ValueError, match="No sentence features"):
        faq._raw_features([Message(data={TEXT: "hi"})])
