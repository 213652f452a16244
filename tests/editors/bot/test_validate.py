"""`make validate` (bot/validate.py): each kind of mistake an editor can make is caught and named
with the right file and line; the shipped content passes."""
from __future__ import annotations

import io
import re
import warnings
from pathlib import Path
from typing import List, Tuple

import pytest
import yaml

from tests.support.bot_project import edit, line_of
from bot.validate import Settings, main, print_report, read_content, validate

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
    store = project / "data" / "nlu" / "store.yml"
    lines = store.read_text(encoding="utf-8").splitlines(keepends=True)
    quote = max(i for i, line in enumerate(lines[:lines.index("nlu:\n")]) if line.startswith("    text: \""))
    lines[quote] = lines[quote].rstrip("\n")[:-1] + "\n"  # the last answer's closing quote
    store.write_text("".join(lines), encoding="utf-8")
    report = validate(project, QUICK)
    assert ("data/nlu/payment.yml", broken, "error") in found(report, "yaml_syntax")
    assert ("data/nlu/store.yml", quote + 1, "error") in found(report, "yaml_syntax")
    messages = [p.message("en") for p in report.problems if p.kind == "yaml_syntax"]
    assert any("use spaces only" in m for m in messages) and any("is opened but not closed" in m for m in messages)
    assert any("半角スペースだけ" in p.message("ja") for p in report.problems if p.kind == "yaml_syntax")


def test_a_colon_in_the_wrong_place_points_at_its_line(project):
    topics = project / "data" / "topics" / "store.yml"
    edit(topics, "    offer_human: false\n", "    offer_human: false\n     note: here: there\n")
    report = validate(project, QUICK)
    assert found(report, "yaml_syntax") == [("data/topics/store.yml", line_of(topics, "note: here: there"), "error")]


def test_a_key_written_twice(project):
    nlu = project / "data" / "nlu" / "payment.yml"
    edit(nlu, "\nnlu:\n", "  utter_payment_cod:\n  - text: \"again\"\n\nnlu:\n")
    report = validate(project, QUICK)
    first = line_of(nlu, "utter_payment_cod:")
    assert ("data/nlu/payment.yml", line_of(nlu, "utter_payment_cod:", after=first), "error") in found(report, "duplicate_key")


def test_an_answer_in_domain_yml_and_beside_its_examples(project):
    """Rasa would silently keep the one beside the examples: one place only."""
    domain = project / "domain.yml"
    text = domain.read_text(encoding="utf-8")
    assert text.count("\nresponses:\n") == 1  # domain.yml's own answers (the order answers): added there
    domain.write_text(text.replace("\nresponses:\n", "\nresponses:\n  utter_payment_cod:\n    - text: \"again\"\n"),
                      encoding="utf-8")
    report = validate(project, QUICK)
    assert found(report, "defined_twice") == [
        ("data/nlu/payment.yml", line_of(project / "data" / "nlu" / "payment.yml", "utter_payment_cod:"), "error")]


def test_an_example_line_without_its_dash(project):
    nlu = project / "data" / "nlu" / "payment.yml"
    edit(nlu, "    - 支払い方法は何がありますか？\n", "    - 支払い方法は何がありますか？\n    ダッシュを忘れた例文\n")
    report = validate(project, QUICK)
    assert found(report, "example_line_format") == [("data/nlu/payment.yml", line_of(nlu, "ダッシュを忘れた例文"), "error")]


# An editor's slips with indentation: each is an error at its line, in words an editor can act on,
# and what the checks count as examples is what Rasa reads (checked against Rasa's own reader).

FIRST_OF_PAYMENT_METHODS = "  examples: |\n    - 支払い方法は何がありますか？\n"
COD_EXAMPLE = "    - 代引き手数料はいくらですか\n"  # the fourth example of payment_cod


def rasa_reads(path: Path) -> List[Tuple[str, str]]:
    """(intent, text) of every example Rasa's own reader takes from a data/nlu file."""
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Rasa warns about each line it skips
        data = RasaYAMLReader().read(str(path))
    return [(m.get("intent"), m.get("text")) for m in data.intent_examples]


def we_read(project: Path, rel: str) -> List[Tuple[str, str]]:
    return [(e.intent, e.text) for e in read_content(project).examples if e.file == rel]


def test_an_example_indented_by_three_spaces_hides_every_example_after_it(project):
    """YAML takes an `examples: |` block's indentation from its first line: with three spaces
    there, every later line keeps a space before its '-' and Rasa skips it."""
    nlu = project / "data" / "nlu" / "payment.yml"
    methods = yaml.safe_load(nlu.read_text(encoding="utf-8"))["nlu"][0]
    assert methods["intent"] == "payment_methods"
    edit(nlu, FIRST_OF_PAYMENT_METHODS, FIRST_OF_PAYMENT_METHODS.replace("    -", "   -"))
    report = validate(project, Settings(check_similarity=False))  # with Rasa's own validation
    later = len(methods["examples"].splitlines()) - 1
    assert found(report, "examples_shifted") == [("data/nlu/payment.yml", line_of(nlu, "- 支払い方法は何がありますか？"), "error")]
    message = next(p for p in report.problems if p.kind == "examples_shifted").message("en")
    assert f"skip the {later} example(s) indented by 4" in message and "Indent this line by 4 spaces" in message
    # The topic is left with one Japanese example and no English one: too few, at the topic.
    assert sorted((p.line, p.params["language"], p.params["count"]) for p in report.problems
                  if p.kind == "too_few_examples") == [(line_of(nlu, "- intent: payment_methods"), "en", 0),
                                                       (line_of(nlu, "- intent: payment_methods"), "ja", 1)]
    # Rasa's own "doesn't start with a '-'" warnings are this error, not 91 lines of noise beside it.
    assert [p.kind for p in report.problems if p.kind.startswith("rasa")] == []
    assert we_read(project, "data/nlu/payment.yml") == rasa_reads(nlu)


def test_an_example_indented_by_six_spaces_is_skipped_and_named(project):
    nlu = project / "data" / "nlu" / "payment.yml"
    edit(nlu, COD_EXAMPLE, "  " + COD_EXAMPLE)
    report = validate(project, QUICK)
    assert found(report, "example_indented") == [("data/nlu/payment.yml", line_of(nlu, "- 代引き手数料はいくらですか"), "error")]
    message = next(p for p in report.problems if p.kind == "example_indented").message("en")
    assert "'payment_cod' is indented by 6 spaces and the others by 4, so the bot would skip it" in message
    assert "代引き手数料はいくらですか" in message
    assert ("payment_cod", "代引き手数料はいくらですか") not in we_read(project, "data/nlu/payment.yml")
    assert we_read(project, "data/nlu/payment.yml") == rasa_reads(nlu)


def test_an_example_line_without_its_dash_reads_as_rasa_reads_it(project):
    nlu = project / "data" / "nlu" / "payment.yml"
    edit(nlu, COD_EXAMPLE, "    代引き手数料はいくらですか\n")
    report = validate(project, QUICK)
    assert found(report, "example_line_format") == [("data/nlu/payment.yml", line_of(nlu, "代引き手数料はいくらですか"), "error")]
    assert we_read(project, "data/nlu/payment.yml") == rasa_reads(nlu)


@pytest.mark.parametrize("slip, hint", [
    (COD_EXAMPLE[1:], "this line has 3, the first example 4"),   # less indented: ends the block
    (COD_EXAMPLE[2:], "this line has 2, the first example 4"),
])
def test_an_example_indented_less_than_the_others_is_an_error_at_its_line(project, slip, hint):
    nlu = project / "data" / "nlu" / "payment.yml"
    edit(nlu, COD_EXAMPLE, slip)
    report = validate(project, QUICK)
    assert found(report, "yaml_syntax") == [("data/nlu/payment.yml", line_of(nlu, "- 代引き手数料はいくらですか"), "error")]
    message = next(p for p in report.problems if p.kind == "yaml_syntax").message("en")
    key = line_of(nlu, "- intent: payment_cod") + 1
    assert f"Every example under 'examples: |' (line {key}) must be indented by the same number of spaces: {hint}" in message


def test_examples_not_indented_under_their_key(project):
    nlu = project / "data" / "nlu" / "payment.yml"
    edit(nlu, FIRST_OF_PAYMENT_METHODS, FIRST_OF_PAYMENT_METHODS.replace("    -", "  -"))
    report = validate(project, QUICK)
    assert found(report, "yaml_syntax") == [("data/nlu/payment.yml", line_of(nlu, "- 支払い方法は何がありますか？"), "error")]
    message = next(p for p in report.problems if p.kind == "yaml_syntax").message("en")
    assert "must be indented further than 'examples: |'" in message and "(4 in the other topics); this line has 2" in message


def test_examples_folded_into_one_line_are_not_a_block(project):
    nlu = project / "data" / "nlu" / "payment.yml"
    edit(nlu, FIRST_OF_PAYMENT_METHODS, FIRST_OF_PAYMENT_METHODS.replace("|", ">"))  # one long example
    report = validate(project, QUICK)
    assert found(report, "examples_not_block") == [("data/nlu/payment.yml", line_of(nlu, "examples: >"), "error")]


def test_a_line_indented_into_the_one_above_reads_as_its_rest(project):
    """'  - payment_cod' then '    - payment_konbini' is the one intent 'payment_cod - payment_konbini'."""
    domain = project / "domain.yml"
    edit(domain, "  - payment_konbini\n", "    - payment_konbini\n")
    report = validate(project, QUICK)
    assert found(report, "continued_line") == [("domain.yml", line_of(domain, "- payment_konbini"), "error")]
    message = next(p for p in report.problems if p.kind == "continued_line").message("en")
    assert f"the rest of line {line_of(domain, '- payment_cod')} (\"payment_cod - payment_konbini\")" in message
    assert {p.params["topic"] for p in report.problems if p.kind == "topic_not_declared"} == {"payment_cod", "payment_konbini"}


def shift_answer_text(project: Path, last: bool, spaces: int) -> int:
    """Moves the first (or the last) answer's 'text:' line of data/nlu/store.yml by `spaces`
    (negative: left); returns its line number."""
    store = project / "data" / "nlu" / "store.yml"
    text = store.read_text(encoding="utf-8")
    at = text.rindex("    text: ", 0, text.index("\nnlu:\n")) if last else text.index("    text: ")
    text = text[:at] + " " * spaces + text[at:] if spaces > 0 else text[:at] + text[at - spaces:]
    store.write_text(text, encoding="utf-8")
    return text.count("\n", 0, at) + 1


def test_an_answer_text_indented_into_its_condition(project):
    line = shift_answer_text(project, last=False, spaces=2)
    report = validate(project, QUICK)
    assert found(report, "condition_key") == [("data/nlu/store.yml", line, "error")]
    assert "'text:' is indented as part of the condition of 'utter_coupon_use'" in \
        next(p for p in report.problems if p.kind == "condition_key").message("en")
    assert [p.params["language"] for p in report.problems if p.kind == "answer_missing_language"] == ["ja"]


def test_an_answer_text_slid_out_of_its_variation(project):
    line = shift_answer_text(project, last=True, spaces=-2)  # the last answer's English: an answer "text"
    report = validate(project, QUICK)
    assert found(report, "response_entry_shape") == [("data/nlu/store.yml", line, "error")]
    assert "'text:' is at the indentation of an answer's name" in \
        next(p for p in report.problems if p.kind == "response_entry_shape").message("en")
    assert [(p.params["response"], p.params["language"]) for p in report.problems
            if p.kind == "answer_missing_language"] == [("utter_privacy_policy", "en")]


def test_a_topic_field_out_of_its_topic(project):
    topics = project / "data" / "topics" / "store.yml"
    edit(topics, "    offer_human: false\n", "  offer_human: false\n")    # reads as a topic "offer_human"
    edit(topics, '    title: {ja: "ギフトラッピング", en: "Gift wrapping"}\n',
         '    title: {ja: "ギフトラッピング"}\n    en: "Gift wrapping"\n')   # the English title left the title
    report = validate(project, QUICK)
    assert found(report, "topic_entry_shape") == [("data/topics/store.yml", line_of(topics, "offer_human: false"), "error")]
    assert found(report, "topic_unknown_key") == [("data/topics/store.yml", line_of(topics, 'en: "Gift wrapping"'), "error")]
    assert "offer_human" not in {p.params.get("topic") for p in report.problems}  # not taken for a topic
    assert [p.params["topic"] for p in report.problems if p.kind == "title_missing_language"] == ["gift_wrapping"]


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
    nlu = project / "data" / "nlu" / "payment.yml"
    text = nlu.read_text(encoding="utf-8")
    start = text.index("  utter_payment_cod:\n")
    end = text.index("  utter_payment_konbini:\n")
    nlu.write_text(text[:start] + text[end:], encoding="utf-8")       # no answer at all
    store = project / "data" / "nlu" / "store.yml"
    text = store.read_text(encoding="utf-8")
    start = text.index("  utter_privacy_policy:\n")
    english = text.index("  - condition:", text.index("value: ja", start))
    store.write_text(text[:english] + text[text.index("\nnlu:\n"):], encoding="utf-8")  # the last answer loses its English
    report = validate(project, QUICK)
    assert found(report, "missing_answer") == [("data/nlu/payment.yml", line_of(nlu, "- intent: payment_cod"), "error")]
    assert "under 'responses:' in data/nlu/payment.yml" in next(p for p in report.problems if p.kind == "missing_answer").message("en")
    assert found(report, "answer_missing_language") == [("data/nlu/store.yml", line_of(store, "utter_privacy_policy:"), "error")]


def test_a_topic_without_a_title_or_not_declared_in_the_domain(project):
    topics = project / "data" / "topics" / "payment.yml"
    edit(topics, '  payment_cod:\n    title: {ja: "代金引換", en: "Cash on delivery"}\n    offer_human: false\n', "")
    edit(project / "data" / "topics" / "store.yml", ', en: "Gift wrapping"}', "}")
    edit(project / "domain.yml", "  - shipping_fee\n", "")
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
    printed = [float(l.split()[0]) for l in out.getvalue().split("nearly the same")[1].splitlines()
               if re.match(r"^    \d\.\d\d ", l)]
    assert len(printed) > 1 and printed == sorted(printed, reverse=True)  # the most alike first


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
    edit(project / "data" / "nlu" / "conversation.yml", "  utter_ask_rephrase:\n", "  utter_ask_to_rephrase:\n")
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


def test_warnings_come_grouped_and_counted_rasas_first(project, capsys):
    edit(project / "domain.yml", "  - out_of_scope\n", "  - out_of_scope\n  - not_used_anywhere\n")  # Rasa warns
    nlu = project / "data" / "nlu" / "conversation.yml"
    edit(nlu, "    - こんにちは\n", "    - こんにちは\n    - こんにちは\n    - こんにちは\n")  # the same example twice, twice
    assert main(["--project", str(project), "--no-similarity", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    groups = re.findall(r"^  (.+) \((\d+)\):$", out, re.M)
    assert [name for name, _ in groups] == ["Rasa's own checks", "The same example twice in one topic"]
    total = int(re.search(r"^(\d+) warning\(s\)", out, re.M).group(1))
    assert sum(int(n) for _, n in groups) == total and dict(groups)["The same example twice in one topic"] == "2"
    rasa = out.split("Rasa's own checks")[1].split("The same example twice")[0]
    assert "not_used_anywhere" in rasa
    assert out.rstrip().endswith(f"No errors. {total} warning(s).")
