"""`make validate` on a topic's help-center body (data/topics/<category>.yml, `body: {ja, en}` in
Markdown, handoff/help_articles.py) and a file's help-center category title."""
from __future__ import annotations

from tests.support.bot_project import edit, line_of
from bot.validate import MAX_BODY_CHARS, Settings, validate

QUICK = Settings(check_similarity=False, run_rasa=False)
TITLE = '    title: {ja: "ギフトラッピング", en: "Gift wrapping"}\n'


def found(report, kind):
    return [(p.file, p.line, p.severity) for p in report.problems if p.kind == kind]


def add_body(project, body: str) -> None:
    edit(project / "data" / "topics" / "store.yml", TITLE, TITLE + body)


def test_a_body_in_both_languages_passes(project):
    add_body(project, "    body:\n      ja: |\n        ## 包装\n        **無料**です。\n"
                      "      en: |\n        ## Wrapping\n        It is **free**.\n")
    report = validate(project, QUICK)
    assert report.errors == [], [p.message("en") for p in report.errors]
    assert not [p for p in report.warnings if p.kind.startswith("body_")]


def test_a_body_in_one_language_only_is_an_error_at_the_body(project):
    add_body(project, "    body:\n      ja: |\n        包装は無料です。\n")
    report = validate(project, QUICK)
    topics = project / "data" / "topics" / "store.yml"
    assert found(report, "body_missing_language") == [("data/topics/store.yml", line_of(topics, "body:"), "error")]
    problem = next(p for p in report.problems if p.kind == "body_missing_language")
    assert problem.params == {"topic": "gift_wrapping", "language": "en"}
    assert "English" in problem.message("en") and "英語" in problem.message("ja")


def test_a_body_that_is_not_a_mapping_of_languages(project):
    add_body(project, "    body: ギフト包装は無料です\n")
    assert [p.params["topic"] for p in validate(project, QUICK).problems if p.kind == "body_shape"] == ["gift_wrapping"]
    # and a language the help center does not have
    edit(project / "data" / "topics" / "store.yml", "    body: ギフト包装は無料です\n",
         "    body:\n      ja: 無料\n      fr: gratuit\n")
    assert found(validate(project, QUICK), "body_shape")


def test_a_body_over_the_limit_is_an_error_naming_its_length(project):
    long = "あ" * (MAX_BODY_CHARS + 1)
    add_body(project, f"    body:\n      ja: {long}\n      en: short\n")
    report = validate(project, QUICK)
    problem = next(p for p in report.problems if p.kind == "body_too_long")
    assert problem.severity == "error" and problem.params["count"] == MAX_BODY_CHARS + 1
    assert problem.params["language"] == "ja" and str(MAX_BODY_CHARS) in problem.message("en")


def test_raw_html_in_a_body_is_a_warning(project):
    add_body(project, '    body:\n      ja: |\n        <script>alert(1)</script>\n'
                      '      en: |\n        Free, <b>always</b>.\n')
    report = validate(project, QUICK)
    kinds = [(p.severity, p.params["language"]) for p in report.problems if p.kind == "body_raw_html"]
    assert sorted(kinds) == [("warning", "en"), ("warning", "ja")]
    assert report.errors == []


def test_a_category_title_missing_a_language_is_a_warning(project):
    edit(project / "data" / "topics" / "store.yml", 'en: "Using the shop"', 'fr: "La boutique"')
    report = validate(project, QUICK)
    assert [p.params["language"] for p in report.problems if p.kind == "category_title_missing_language"] == ["en"]
