"""The tests' stand-in Rasa speaks only intents the real bot has (issue 14: the stand-in said
`complain` where the domain says `complaint`, and the dashboard filtered the wrong name). Every
intent it answers with, top or runner-up, is read back from a running stand-in and checked against
domain.yml and data/nlu, read here on their own."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support import rasa_stand_in
from tests.support.rasa_stand_in import RasaStandIn

ROOT = Path(__file__).resolve().parents[2]


def real_intents() -> set[str]:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    listed = {i if isinstance(i, str) else next(iter(i)) for i in domain["intents"]}
    trained = {item["intent"] for path in (ROOT / "data" / "nlu").glob("*.yml")
               for item in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or [] if "intent" in item}
    return (listed & trained) | {"nlu_fallback"}  # Rasa's fallback intent is in no file


def test_every_intent_the_stand_in_answers_with_is_one_the_domain_has(rasa):
    rasa.reset()
    texts = [words[0] for words in rasa_stand_in.TOPIC_WORDS.values()]
    texts += ["I want to talk to a person", "This is a complaint", "blah", "blah blah", "/affirm", "/deny",
              "/request_human", "送料はいくら？", "クレームです"]
    seen = set()
    for n, text in enumerate(texts):
        nlu = rasa.answer({"sender": f"intents-{n}", "message": text, "metadata": {"language_hint": "en"}})["nlu"]
        seen |= {nlu["intent"]["name"]} | {r["name"] for r in nlu["intent_ranking"]}
    assert {"complaint", "request_human", "nlu_fallback", "shipping_fee"} <= seen
    unknown = seen - real_intents()
    assert not unknown, f"the stand-in answers with intents the bot does not have: {sorted(unknown)}"


def test_the_stand_in_refuses_a_name_the_domain_does_not_have():
    assert rasa_stand_in.DOMAIN_INTENTS == frozenset(real_intents())
    with pytest.raises(ValueError, match="complain"):
        rasa_stand_in._named("complaint", "complain")
