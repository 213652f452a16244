"""`make validate` (bot/validate.py): each kind of mistake an editor can make is caught and named
with the right file and line; the shipped content passes."""
from __future__ import annotations

import io

import pytest

from conftest import edit, line_of
from bot.validate import Settings, main, print_report, validate

QUICK = Settings(check_similarity=False, run_rasa=False)


def found(report, kind):
    return [(p.file, p.line, p.severity) for p in report.problems if p.kind == kind]


def test_the_shipped_content_has_no_errors(project):
    report = validate(project, Settings())  # every check: ours, the embeddings and Rasa's own
    assert report.errors == [], [p.message("en") for p in report.errors]
    assert not [p for p in report.warnings if p.kind == "rasa_warning"], "Rasa's expected chatter leaks through"


def test_a_yaml_mistake_points_at_its_line(project):
    nlu = project / "data" / "nlu" / "payment.yml"
    edit(nlu, "    - 支払い方法は何がありますか？\n", "    - 支払い方法は何がありますか？\n\t- タブで字下げした行\n")
    broken = line_of(nlu, "- タブで字下げした行")
    domain = project / "domain" / "store.yml"
    text = domain.read_text(encoding="utf-8")
    domain.write_text(text.rstrip("\n")[:-1] + "\n", encoding="utf-8")  # the last answer's closing quote
    quote = len(text.splitlines())
    report = validate(project, QUICK)
    assert ("data/nlu/payment.yml", broken, "error") in found(report, "yaml_syntax")
    assert ("domain/store.yml", quote, "error") in found(report, "yaml_syntax")
    messages = [p.message("en") for p in report.problems if p.kind == "yaml_syntax"]
    assert any("tab" in m for m in messages) and any("quote" in m for m in messages)


def test_a_colon_in_the_wrong_place_points_at_its_line(project):
    topics = project / "data" / "topics" / "store.yml"
    edit(topics, "    offer_human: false\n", "    offer_human: false\n     note: here: there\n")
    report = validate(project, QUICK)
    assert found(report, "yaml_syntax") == [("data/topics/store.yml", line_of(topics, "note: here: there"), "error")]


def test_a_key_written_twice(project):
    domain = project / "domain" / "payment.yml"
    text = domain.read_text(encoding="utf-8")
    domain.write_text(text + "  utter_payment_cod:\n  - text: \"again\"\n", encoding="utf-8")
    report = validate(project, QUICK)
    assert ("domain/payment.yml", len(text.splitlines()) + 1, "error") in found(report, "duplicate_key")


def test_an_example_line_without_its_dash(project):
    nlu = project / "data" / "nlu" / "payment.yml"
    edit(nlu, "    - 支払い方法は何がありますか？\n", "    - 支払い方法は何がありますか？\n    ダッシュを忘れた例文\n")
    report = validate(project, QUICK)
    assert found(report, "example_line_format") == [("data/nlu/payment.yml", line_of(nlu, "ダッシュを忘れた例文"), "error")]


def test_a_topic_with_too_few_examples_in_one_language(project):
    nlu = project / "data" / "nlu" / "payment.yml"
    text = nlu.read_text(encoding="utf-8")
    start = text.index("- intent: payment_receipt\n")
    end = text.index("- intent:", start + 1)
    block = "".join(line for line in text[start:end].splitlines(keepends=True)
                    if not (line.startswith("    - ") and line.strip()[2:].isascii()))  # English examples out
    nlu.write_text(text[:start] + block + text[end:], encoding="utf-8")
    report = validate(project, QUICK)
    assert found(report, "too_few_examples") == [("data/nlu/payment.yml", line_of(nlu, "- intent: payment_receipt"), "error")]
    problem = next(p for p in report.problems if p.kind == "too_few_examples")
    assert problem.params["language"] == "en" and problem.params["count"] == 0
    assert "0 English example(s)" in problem.message("en") and "10" in problem.message("en")


def test_a_topic_without_an_answer_and_an_answer_missing_a_language(project):
    domain = project / "domain" / "payment.yml"
    text = domain.read_text(encoding="utf-8")
    start = text.index("  utter_payment_cod:\n")
    end = text.index("  utter_payment_konbini:\n")
    domain.write_text(text[:start] + text[end:], encoding="utf-8")    # no answer at all
    store = project / "domain" / "store.yml"
    text = store.read_text(encoding="utf-8")
    start = text.index("  utter_privacy_policy:\n")
    english = text.index("  - condition:", text.index("value: ja", start))
    store.write_text(text[:english], encoding="utf-8")                # the last answer loses its English
    report = validate(project, QUICK)
    nlu = project / "data" / "nlu" / "payment.yml"
    assert found(report, "missing_answer") == [("data/nlu/payment.yml", line_of(nlu, "- intent: payment_cod"), "error")]
    assert found(report, "answer_missing_language") == [("domain/store.yml", line_of(store, "utter_privacy_policy:"), "error")]


def test_a_topic_without_a_title_or_not_declared_in_the_domain(project):
    topics = project / "data" / "topics" / "payment.yml"
    edit(topics, '  payment_cod:\n    title: {ja: "代金引換", en: "Cash on delivery"}\n    offer_human: false\n', "")
    edit(project / "data" / "topics" / "store.yml", ', en: "Gift wrapping"}', "}")
    edit(project / "domain" / "shipping.yml", "  - shipping_fee\n", "")
    report = validate(project, QUICK)
    payment, shipping = project / "data" / "nlu" / "payment.yml", project / "data" / "nlu" / "shipping.yml"
    assert found(report, "missing_title") == [("data/nlu/payment.yml", line_of(payment, "- intent: payment_cod"), "error")]
    assert found(report, "title_missing_language") == [
        ("data/topics/store.yml", line_of(project / "data" / "topics" / "store.yml", "gift_wrapping:"), "error")]
    assert found(report, "topic_not_declared") == [("data/nlu/shipping.yml", line_of(shipping, "- intent: shipping_fee"), "error")]


def test_an_example_under_two_intents_names_both_places(project):
    nlu = project / "data" / "nlu" / "payment.yml"
    edit(nlu, "    - 代引き手数料はいくらですか\n", "    - 代引き手数料はいくらですか\n    - 支払い方法は何がありますか？\n")
    report = validate(project, QUICK)
    first = line_of(nlu, "- 支払い方法は何がありますか？")
    second = line_of(nlu, "- 支払い方法は何がありますか？", after=first)
    assert found(report, "example_in_two_intents") == [("data/nlu/payment.yml", second, "error")]
    problem = next(p for p in report.problems if p.kind == "example_in_two_intents")
    assert problem.params["other"] == f"data/nlu/payment.yml:{first}"
    assert {problem.params["intent"], problem.params["other_intent"]} == {"payment_cod", "payment_methods"}


def test_confusable_examples_are_listed_side_by_side(project):
    nlu = project / "data" / "nlu" / "shipping.yml"
    edit(nlu, "- intent: shipping_time\n  examples: |\n", "- intent: shipping_time\n  examples: |\n    - 送料はいくらですか？？\n")
    report = validate(project, Settings(run_rasa=False))
    pairs = [p for p in report.problems if p.kind == "confusable_examples"
             and "送料はいくらですか？？" in (p.params["text"], p.params["other_text"])]
    assert pairs and all(p.severity == "warning" for p in pairs)
    sides = {(pairs[0].file, pairs[0].line), (pairs[0].pair["file"], pairs[0].pair["line"])}
    assert ("data/nlu/shipping.yml", line_of(nlu, "- 送料はいくらですか？？")) in sides
    assert ("data/nlu/shipping.yml", line_of(nlu, "- 送料はいくらですか？")) in sides
    out = io.StringIO()
    print_report(report, "en", out)
    row = next(l for l in out.getvalue().splitlines() if "「送料はいくらですか？？」" in l)
    assert "「送料はいくらですか？」" in row  # the two examples on one line


def test_rules_that_use_answers_actions_or_intents_that_do_not_exist(project):
    rules = project / "data" / "rules.yml"
    edit(rules, "      - action: utter_greet\n", "      - action: utter_greeting\n")
    edit(rules, "      - intent: thanks\n", "      - intent: thank_you\n")
    edit(rules, "      - action: action_handoff\n", "      - action: action_hand_off\n")
    report = validate(project, QUICK)
    assert found(report, "unknown_response") == [("data/rules.yml", line_of(rules, "- action: utter_greeting"), "error")]
    assert found(report, "unknown_intent") == [("data/rules.yml", line_of(rules, "- intent: thank_you"), "error")]
    assert found(report, "unknown_action") == [("data/rules.yml", line_of(rules, "- action: action_hand_off"), "error")]


def test_an_answer_the_actions_ask_for_must_exist(project):
    edit(project / "domain" / "conversation.yml", "  utter_ask_rephrase:\n", "  utter_ask_to_rephrase:\n")
    report = validate(project, QUICK)
    actions = project / "actions" / "actions.py"
    number = next(n for n, line in enumerate(actions.read_text().splitlines(), 1) if '"utter_ask_rephrase"' in line)
    assert ("actions/actions.py", number, "error") in found(report, "unknown_response")


def test_rasas_own_validation_runs_and_its_errors_count(project):
    edit(project / "data" / "rules.yml", "      - action: action_handoff\n", "      - action: action_hand_off\n")
    report = validate(project, Settings(check_similarity=False))
    assert found(report, "rasa_error"), [p.message("en") for p in report.problems]


def test_the_command_exits_non_zero_on_errors_and_lists_warnings_apart(project, capsys):
    edit(project / "data" / "rules.yml", "      - action: utter_greet\n", "      - action: utter_greeting\n")
    nlu = project / "data" / "nlu" / "conversation.yml"
    edit(nlu, "    - こんにちは\n", "    - こんにちは\n    - こんにちは\n")  # a warning: the same example twice
    assert main(["--project", str(project), "--no-similarity", "--no-rasa", "--lang", "en"]) == 1
    out = capsys.readouterr().out
    errors_at, warnings_at = out.index("1 error(s)"), out.index("1 warning(s)")
    assert errors_at < out.index("utter_greeting") < warnings_at < out.index("written twice under 'greet'")
    assert main(["--project", str(project), "--no-similarity", "--no-rasa", "--lang", "ja"]) == 1
    assert "エラー 1 件" in capsys.readouterr().out
