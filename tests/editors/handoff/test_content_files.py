"""The console's changes to the FAQ content files: lines inserted where they belong, nothing else
touched, and the result still a project `make validate` accepts."""
from __future__ import annotations

import difflib
import subprocess

import pytest
import yaml

from conftest import ROOT, copy_project
from handoff.content_files import ContentError, ContentFiles


@pytest.fixture
def full_project(tmp_path):
    return copy_project(tmp_path / "project")


def lines(path):
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def test_adding_examples_inserts_them_after_the_topics_last_example_and_changes_nothing_else(full_project):
    nlu = full_project / "data" / "nlu" / "shipping.yml"
    before = lines(nlu)
    next_intent = before.index("- intent: shipping_time\n")
    others = {p: p.read_bytes() for p in full_project.rglob("*.yml") if p != nlu}

    change = ContentFiles(full_project).add_examples(
        "shipping_fee", ["北海道までの送料を知りたい", "  shipping cost\nto Hokkaido?  "])

    assert lines(nlu) == before[:next_intent] + [
        "    - 北海道までの送料を知りたい\n",
        "    - shipping cost to Hokkaido?\n",   # one line, spaces tidied
    ] + before[next_intent:]
    assert {p: p.read_bytes() for p in others} == others
    assert change.files == ["data/nlu/shipping.yml"]
    assert change.added == ["北海道までの送料を知りたい", "shipping cost to Hokkaido?"]
    added = [l for l in change.diff.splitlines() if l.startswith("+") and not l.startswith("+++")]
    removed = [l for l in change.diff.splitlines() if l.startswith("-") and not l.startswith("---")]
    assert added == ["+    - 北海道までの送料を知りたい", "+    - shipping cost to Hokkaido?"] and removed == []
    assert change.diff.startswith("--- a/data/nlu/shipping.yml\n+++ b/data/nlu/shipping.yml\n")
    examples = yaml.safe_load(nlu.read_text(encoding="utf-8"))["nlu"][0]["examples"].splitlines()
    assert examples[-2:] == ["- 北海道までの送料を知りたい", "- shipping cost to Hokkaido?"]


def test_examples_already_known_are_skipped_with_the_reason(full_project):
    nlu = full_project / "data" / "nlu" / "shipping.yml"
    before = lines(nlu)
    change = ContentFiles(full_project).add_examples(
        "shipping_fee", ["送料はいくらですか？", "How much is  SHIPPING", "返品したい", "北海道の送料", "北海道の送料"])
    assert change.skipped == [
        {"text": "送料はいくらですか？", "reason": "already_an_example", "intent": "shipping_fee"},
        {"text": "How much is SHIPPING", "reason": "already_an_example", "intent": "shipping_fee"},  # case and spaces
        {"text": "返品したい", "reason": "already_an_example", "intent": "returns_how"},  # would sit under two intents
        {"text": "北海道の送料", "reason": "repeated"},
    ]
    assert change.added == ["北海道の送料"]
    next_intent = before.index("- intent: shipping_time\n")
    assert lines(nlu) == before[:next_intent] + ["    - 北海道の送料\n"] + before[next_intent:]


def test_nothing_new_changes_nothing(full_project):
    before = {p: p.read_bytes() for p in full_project.rglob("*.yml")}
    change = ContentFiles(full_project).add_examples("shipping_fee", ["送料はいくらですか？"])
    assert change.files == [] and change.diff == "" and change.added == []
    assert {p: p.read_bytes() for p in full_project.rglob("*.yml")} == before


def test_brackets_that_rasa_would_read_as_an_entity_are_neutralised(full_project):
    change = ContentFiles(full_project).add_examples("shipping_fee", ["[送料](price)は？"])
    assert change.added == ["［送料］(price)は？"]


def test_a_new_topic_goes_into_the_three_files_of_its_category(full_project):
    files = {name: full_project / name for name in ("data/nlu/store.yml", "domain.yml", "data/topics/store.yml")}
    before = {name: lines(path) for name, path in files.items()}

    change = ContentFiles(full_project).add_topic(
        "gift_card", "store", {"ja": "ギフトカード", "en": "Gift cards"},
        {"ja": "ギフトカードは販売しておりません。", "en": "We do not sell \"gift cards\"."},
        ["ギフトカードは買えますか", "Do you sell gift cards?"])

    # The answer after the category's last answer, the examples after its last examples.
    nlu = before["data/nlu/store.yml"]
    answers_end = nlu.index("nlu:\n") - 1  # the blank line before "nlu:" stays before it
    assert lines(files["data/nlu/store.yml"]) == nlu[:answers_end] + [
        "  utter_gift_card:\n",
        "  - condition:\n", "    - type: slot\n", "      name: language\n", "      value: ja\n",
        '    text: "ギフトカードは販売しておりません。"\n',
        "  - condition:\n", "    - type: slot\n", "      name: language\n", "      value: en\n",
        '    text: "We do not sell \\"gift cards\\"."\n',
    ] + nlu[answers_end:] + [
        "- intent: gift_card\n", "  examples: |\n", "    - ギフトカードは買えますか\n", "    - Do you sell gift cards?\n"]
    # The id after the last intent of its category, before the blank line that ends the list.
    domain = before["domain.yml"]
    intents_end = domain.index("  - privacy_policy\n") + 1
    assert lines(files["domain.yml"]) == domain[:intents_end] + ["  - gift_card\n"] + domain[intents_end:]
    assert lines(files["data/topics/store.yml"]) == before["data/topics/store.yml"] + [
        "  gift_card:\n", '    title: {ja: "ギフトカード", en: "Gift cards"}\n', "    offer_human: false\n"]
    assert sorted(change.files) == sorted(files)
    topic = yaml.safe_load(files["data/topics/store.yml"].read_text(encoding="utf-8"))["topics"]["gift_card"]
    assert topic == {"title": {"ja": "ギフトカード", "en": "Gift cards"}, "offer_human": False}


def test_a_new_topic_keeps_each_files_own_spacing_and_comments(full_project):
    """account.yml separates its answers by blank lines, domain.yml groups intents under comments:
    the new lines follow suit and every comment and blank line stays where it was."""
    nlu, domain = full_project / "data" / "nlu" / "account.yml", full_project / "domain.yml"
    before = {path: lines(path) for path in (nlu, domain)}
    ContentFiles(full_project).add_topic(
        "gift_card", "account", {"ja": "ギフトカード", "en": "Gift cards"}, {"ja": "いいえ", "en": "No"},
        ["ギフトカードは買えますか"])
    after = lines(nlu)
    assert [l for l in difflib.ndiff(before[nlu], after) if l.startswith("- ")] == []   # nothing removed or changed
    assert len(after) == len(before[nlu]) + 12 + 3  # the answer and a blank line; the examples
    answer = after.index("  utter_gift_card:\n")
    assert after[answer - 1] == "\n" and after[answer + 11:answer + 13] == ["\n", "nlu:\n"]  # blank lines around it
    assert [l for l in after if l.startswith("#")] == [l for l in before[nlu] if l.startswith("#")]
    domain_after = lines(domain)
    heading = domain_after.index("  # FAQ topics: payment (data/nlu/payment.yml)\n")
    assert domain_after[heading - 2:heading] == ["  - points_program\n", "  - gift_card\n"]  # in its group
    assert [l for l in difflib.ndiff(before[domain], domain_after) if l[0] in "+-"] == ["+   - gift_card\n"]


def test_comments_quotes_and_layout_survive_an_edit(full_project):
    nlu = full_project / "data" / "nlu" / "shipping.yml"
    text = nlu.read_text(encoding="utf-8")
    text = text.replace("- intent: shipping_time\n  examples: |\n",
                        "# Delivery times: keep in step with the carrier's page\n"
                        "- intent: shipping_time  # asked most in December\n  examples: |-  # no final newline\n", 1)
    text = text.replace('    text: "', "    text: '", 1)  # single quotes somewhere, kept as they are
    first = text.index("    text: '")
    line_end = text.index("\n", first)
    text = text[:line_end - 1] + "'" + text[line_end:]
    nlu.write_text(text, encoding="utf-8")
    before = lines(nlu)
    change = ContentFiles(full_project).add_examples("shipping_time", ["沖縄の離島まで何日で届きますか"])
    after = lines(nlu)
    assert [l for l in difflib.ndiff(before, after) if l[0] in "+-"] == ["+     - 沖縄の離島まで何日で届きますか\n"]
    assert change.diff.count("\n+") == 2 and "\n-" not in change.diff.split("+++", 1)[1]


def test_a_file_the_round_trip_cannot_reproduce_is_not_rewritten(full_project):
    """A layout ruamel.yaml would write back differently (here a list indented two ways) is
    refused with a reason; no line changes."""
    topics = full_project / "data" / "topics" / "store.yml"
    domain = full_project / "domain.yml"
    text = domain.read_text(encoding="utf-8")
    domain.write_text(text.replace("actions:\n  - action_answer_faq\n", "actions:\n- action_answer_faq\n"), encoding="utf-8")
    before = {p: p.read_bytes() for p in full_project.rglob("*.yml")}
    with pytest.raises(ContentError) as error:
        ContentFiles(full_project).add_topic("gift_card", "store", {"ja": "a", "en": "b"}, {"ja": "a", "en": "b"}, ["ギフト券"])
    assert error.value.code == "content_unreadable" and "domain.yml" in error.value.message
    assert {p: p.read_bytes() for p in full_project.rglob("*.yml")} == before
    assert topics.read_bytes() == before[topics]


def test_the_changed_project_passes_make_validate(full_project):
    """Across the two environments: what the console writes is what the bot's checks accept."""
    content = ContentFiles(full_project)
    content.add_examples("gift_wrapping", ["ラッピング袋だけ買えますか", "can I buy just the wrapping bag"])
    content.add_topic("gift_card", "store", {"ja": "ギフトカード", "en": "Gift cards"},
                      {"ja": "ギフトカードは販売しておりません。", "en": "We do not sell gift cards."},
                      ["ギフトカードは買えますか", "ギフト券はありますか", "Do you sell gift cards?", "gift voucher available?"])
    done = subprocess.run([str(ROOT / ".venv/bot/bin/python"), "-m", "bot.validate", "--project", str(full_project),
                           "--min-examples", "2", "--no-similarity", "--no-rasa", "--lang", "en"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No errors" in done.stdout


@pytest.mark.parametrize("call, code", [
    (lambda c: c.add_examples("no_such_topic", ["x"]), "unknown_topic"),
    (lambda c: c.add_topic("Gift Card", "store", {"ja": "a", "en": "b"}, {"ja": "a", "en": "b"}, ["x"]), "invalid_topic_id"),
    (lambda c: c.add_topic("shipping_fee", "shipping", {"ja": "a", "en": "b"}, {"ja": "a", "en": "b"}, ["x"]), "topic_exists"),
    (lambda c: c.add_topic("gift_card", "toys", {"ja": "a", "en": "b"}, {"ja": "a", "en": "b"}, ["x"]), "unknown_category"),
    (lambda c: c.add_topic("gift_card", "store", {"ja": "a"}, {"ja": "a", "en": "b"}, ["x"]), "missing_field"),
    (lambda c: c.add_topic("gift_card", "store", {"ja": "a", "en": "b"}, {"ja": "a", "en": "b"}, ["送料"]), "no_examples"),
])
def test_changes_that_cannot_be_made_say_why_and_leave_the_files_alone(full_project, call, code):
    before = {p: p.read_bytes() for p in full_project.rglob("*.yml")}
    with pytest.raises(ContentError) as error:
        call(ContentFiles(full_project))
    assert error.value.code == code
    assert {p: p.read_bytes() for p in full_project.rglob("*.yml")} == before
