"""Grouping unanswered questions by meaning (handoff/unanswered.py), with the real embeddings."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from handoff.content_files import ContentFiles
from languages import detect_language
from handoff.unanswered import Embedder, Question, group_by_meaning, groups

# Questions the shop's FAQ does not cover, each asked several ways in both languages, and
# questions that have nothing to do with each other or with the shop. (Among the sets the
# grouping's two parameters were chosen on; see handoff/unanswered.py.)
PARAPHRASES = {
    "convenience-store pickup": ["コンビニ受け取りはできますか", "コンビニで荷物を受け取りたい",
                                 "Can I pick up my order at a convenience store?"],
    "warranty": ["商品に保証はありますか", "保証期間はどのくらいですか", "Do your products come with a warranty?",
                 "how long is the warranty"],
    "physical store": ["大阪に実店舗はありますか", "実店舗はどこにありますか", "店舗で実物を見たいです",
                       "Do you have a physical store?"],
}
UNRELATED = ["ラーメンのおいしい店を教えて", "Recommend a movie", "猫の名前を考えて"]


@pytest.fixture(scope="module")
def embedder(tmp_path_factory):
    return Embedder()  # the shared cache in $TSUNAGI_CACHE/embeddings: only new texts cost time


def test_paraphrases_of_one_question_are_grouped_and_unrelated_questions_stay_apart(embedder):
    texts = [t for group in PARAPHRASES.values() for t in group] + UNRELATED
    labels = [name for name, group in PARAPHRASES.items() for _ in group] + UNRELATED
    found = group_by_meaning(embedder.embed(texts), 0.88, [detect_language(t) for t in texts])
    as_labels = sorted(sorted(labels[i] for i in group) for group in found)
    expected = sorted([[name] * len(group) for name, group in PARAPHRASES.items()] + [[u] for u in UNRELATED])
    assert as_labels == expected


def test_the_clustering_merges_by_average_similarity_only_above_the_threshold():
    # Two tight pairs (cosine 0.95 inside, about 0.02 on average between them).
    vectors = np.array([[1, 0, 0], [0.95, 0.312, 0], [0, 0, 1], [0, 0.312, 0.95]], dtype=float)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert group_by_meaning(vectors, 0.9) == [[0, 1], [2, 3]]
    assert group_by_meaning(vectors, 0.0) == [[0, 1, 2, 3]]
    assert group_by_meaning(vectors, 0.999) == [[0], [1], [2], [3]]
    # A Japanese and an English phrasing get the cross-language allowance; two Japanese do not.
    pair = np.array([[1, 0], [0.8, 0.6]], dtype=float)
    assert group_by_meaning(pair, 0.85, ["ja", "en"]) == [[0, 1]]
    assert group_by_meaning(pair, 0.85, ["ja", "ja"]) == [[0], [1]]


def test_each_group_has_its_count_languages_examples_and_nearest_topic(embedder, tmp_path):
    from conftest import copy_project

    project = copy_project(tmp_path / "project", examples_per_intent=8)
    now = datetime.now(timezone.utc)
    asked = ["北海道への送料はいくら？", "沖縄だと送料はいくらかかりますか", "What is the delivery charge to Hokkaido?",
             "今日の天気は？"]
    questions = [Question(i + 1, f"c{i}", text, detect_language(text), now - timedelta(minutes=i), {"fallback"})
                 for i, text in enumerate(asked)]
    found = groups(questions, embedder, ContentFiles(project).topics(), 0.88)
    shipping = found[0]
    assert shipping["count"] == 3 and shipping["languages"] == {"ja": 2, "en": 1}
    assert shipping["reasons"] == {"fallback": 3}
    assert sorted(shipping["message_ids"]) == [1, 2, 3]
    assert {e["text"] for e in shipping["examples"]} == set(asked[:3])
    assert shipping["nearest_topic"]["id"] == "shipping_fee"
    assert shipping["nearest_topic"]["title"] == {"ja": "送料について", "en": "Shipping fee"}
    assert 0.8 < shipping["nearest_topic"]["similarity"] <= 1.0
    assert [g["count"] for g in found] == [3, 1]
