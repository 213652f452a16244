"""The content files: the held-out test sets are never trained on."""
import re
import unicodedata
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HELD_OUT = {"ours": ROOT / "data" / "tests" / "nlu_test.yml",
            "blind": ROOT / "data" / "tests" / "blind" / "nlu_blind.yml"}


def normalised(text):
    return re.sub(r"[\s。、！？!?.,～~]", "", unicodedata.normalize("NFKC", text).lower())


def examples(path):
    for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
        for line in block["examples"].splitlines():
            if line.strip().startswith("- "):
                yield line.strip()[2:], block["intent"]


@pytest.mark.parametrize("name", HELD_OUT)
def test_held_out_set_shares_no_example_with_the_training_data(name):
    training = {normalised(t) for p in (ROOT / "data" / "nlu").glob("*.yml") for t, _ in examples(p)}
    held_out = list(examples(HELD_OUT[name]))
    assert len(held_out) > 400
    leaked = [t for t, _ in held_out if normalised(t) in training]
    assert leaked == []


@pytest.mark.parametrize("name", HELD_OUT)
def test_held_out_set_covers_every_topic_in_both_languages(name):
    topics = {t for p in (ROOT / "data" / "topics").glob("*.yml") for t in yaml.safe_load(p.read_text())["topics"]}
    held_out = list(examples(HELD_OUT[name]))
    for topic in topics:
        texts = [t for t, i in held_out if i == topic]
        assert any(re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", t) for t in texts), topic
        assert any(t.isascii() for t in texts), topic
