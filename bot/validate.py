"""Checks the FAQ content before it is trained and published (`make validate`).

Rasa's own data validation, plus the checks an FAQ needs, each problem named by file and line
in words an editor can act on:
  - every topic has examples in Japanese and in English (at least `--min-examples` of each, counting
    only the examples Rasa reads), an answer in both languages (`utter_<topic>` under `responses:`
    beside its examples in data/nlu/), its id under `intents:` in domain.yml and a title in both
    languages (data/topics/);
  - every example line is one Rasa reads: an example it would skip (no '- ', or indented unlike the
    others) is an error, and so is an indentation that changes what a block means (a line read as
    the rest of the line above, a key that slid into a condition or out of its answer or topic);
  - a topic's optional help-center body (`body: {ja, en}` in data/topics/) has both languages, each
    Markdown of at most MAX_BODY_CHARS characters; raw HTML in it is a warning (shown as text);
  - no example sits under two intents;
  - examples of different intents that mean nearly the same (embedding similarity at or above
    `--similarity`) are listed side by side: the bot may mix them up;
  - every answer and action the rules and the actions use exists; every intent the rules use exists;
  - YAML mistakes point at the line.
Errors stop `make publish`; warnings are worth a look but do not. Exit status: 1 on errors.

usage: python -m bot.validate [--project DIR] [--min-examples N] [--similarity X] [--lang ja|en]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import unicodedata
import warnings
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

import yaml

from intents import FALLBACK_INTENTS  # neither topics nor conversation intents
from languages import LANGUAGES

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MIN_EXAMPLES = 10
# multilingual-e5 scores most sentences on one subject above 0.9; on the shop's data, 0.97 lists
# about a dozen pairs, each nearly the same wording ("うん" / "ううん", "update on my order" /
# "update my order"), while 0.95 lists 160 and 0.93 over a thousand.
DEFAULT_SIMILARITY = 0.97


# Messages, in the language the editor reads (--lang, TSUNAGI_EDITOR_LANG, or the locale).

MESSAGES: Dict[str, Dict[str, str]] = {
    "yaml_syntax": {
        "en": "This file cannot be read (YAML): {problem}.{hint}",
        "ja": "このファイルを読み込めません（YAML の書き方の誤り）: {problem}。{hint}",
    },
    "hint_tab": {
        "en": " The line is indented with a tab: use spaces only.",
        "ja": "行頭にタブが使われています。字下げには半角スペースだけを使ってください。",
    },
    "hint_colon": {
        "en": " A ':' is where YAML does not allow one: check the indentation here and on the line above, or put the text in double quotes.",
        "ja": "ここでは「:」が使えません。この行と前の行の字下げを確認するか、文章を \" \" で囲んでください。",
    },
    "hint_indent": {
        "en": " The indentation of this line does not match the lines around it.",
        "ja": "この行の字下げ（行頭のスペースの数）が前後の行と合っていません。",
    },
    "hint_quote": {
        "en": " A quote (\" or ') is opened but not closed.",
        "ja": "引用符（\" または '）が閉じられていません。",
    },
    "duplicate_key": {
        "en": "'{key}' is written twice in this file (also on line {other_line}); the second one silently replaces the first. Keep one.",
        "ja": "「{key}」がこのファイルに 2 回書かれています（{other_line} 行目にも）。後のものが前のものを上書きしてしまうので、1 つにしてください。",
    },
    "defined_twice": {
        "en": "'{key}' is defined twice: here and in {other}. Keep one.",
        "ja": "「{key}」が 2 か所で定義されています（ここと {other}）。1 つにしてください。",
    },
    "bad_structure": {
        "en": "{what}",
        "ja": "{what}",
    },
    "hint_example_indent": {
        "en": " Every example under 'examples: |' (line {key}) must be indented by the same number of spaces: this line has {indent}, the first example {first}.",
        "ja": "「examples: |」（{key} 行目）の下の例文は、すべて同じ数のスペースで字下げしてください。この行は {indent} 文字、最初の例文は {first} 文字です。",
    },
    "hint_example_under_key": {
        "en": " The examples must be indented further than 'examples: |' (line {key}), every one by the same number of spaces ({usual} in the other topics); this line has {indent}.",
        "ja": "例文は「examples: |」（{key} 行目）より深く、すべて同じ数のスペース（ほかのトピックでは {usual} 文字）で字下げしてください。この行は {indent} 文字です。",
    },
    "continued_line": {
        "en": "This line is indented further than the line above, so YAML reads it as the rest of line {start} (\"{value}\"), not as an entry of its own. If it is one, indent it like the entries around it.",
        "ja": "この行は前の行より深く字下げされているため、YAML では独立した項目ではなく {start} 行目の続き（「{value}」）として読まれます。独立した項目なら、前後の項目と同じ字下げにしてください。",
    },
    "examples_not_block": {
        "en": "The examples of '{intent}' must be written as a block: 'examples: |' and then one '- example' per line.",
        "ja": "「{intent}」の例文は「examples: |」のあとに 1 行ずつ「- 例文」の形で書いてください。",
    },
    "examples_shifted": {
        "en": "The first example of '{intent}' is indented by {first} spaces and the examples after it by {usual}. YAML takes a block's indentation from its first line, so the bot would skip the {skipped} example(s) indented by {usual}. Indent this line by {usual} spaces like the others.",
        "ja": "「{intent}」の最初の例文の字下げが {first} 文字、その後の例文が {usual} 文字です。YAML ではブロックの字下げが最初の行で決まるため、{usual} 文字で字下げした {skipped} 件の例文がボットに無視されます。この行も {usual} 文字で字下げしてください。",
    },
    "example_indented": {
        "en": "This example of '{intent}' is indented by {indent} spaces and the others by {usual}, so the bot would skip it: \"{text}\". Indent it by {usual} spaces like the others.",
        "ja": "「{intent}」のこの例文は字下げが {indent} 文字で、ほかの例文（{usual} 文字）と違うため、ボットに無視されます:「{text}」。ほかの例文と同じ {usual} 文字で字下げしてください。",
    },
    "rasa_skipped_example": {
        "en": "Rasa would skip this example of '{intent}': \"{text}\". Check that the line starts with '- ' and is indented like the other examples.",
        "ja": "Rasa が「{intent}」のこの例文を無視します:「{text}」。行が「- 」で始まり、ほかの例文と同じ字下げになっているか確認してください。",
    },
    "example_line_format": {
        "en": "This line of the examples of '{intent}' does not start with '- ', so the bot would skip it: \"{text}\".",
        "ja": "「{intent}」の例文のこの行が「- 」で始まっていないため、ボットに無視されます:「{text}」",
    },
    "empty_example": {
        "en": "An empty example under '{intent}': remove the line or write the example.",
        "ja": "「{intent}」に空の例文があります。行を消すか、例文を書いてください。",
    },
    "too_few_examples": {
        "en": "The topic '{topic}' has {count} {language_name} example(s); it needs at least {minimum} so that the bot recognises the question in {language_name}.",
        "ja": "トピック「{topic}」の{language_name}の例文が {count} 件しかありません。{language_name}の質問を聞き分けられるよう、{minimum} 件以上にしてください。",
    },
    "topic_without_examples": {
        "en": "The topic '{topic}' has no examples in data/nlu/: the bot can never recognise it. Add '- intent: {topic}' with examples to data/nlu/{category}.yml.",
        "ja": "トピック「{topic}」の例文が data/nlu/ にないため、ボットはこの質問を聞き分けられません。data/nlu/{category}.yml に「- intent: {topic}」と例文を追加してください。",
    },
    "missing_answer": {
        "en": "The topic '{topic}' has no answer: add 'utter_{topic}' with a Japanese and an English variation under 'responses:' in data/nlu/{category}.yml.",
        "ja": "トピック「{topic}」の回答がありません。data/nlu/{category}.yml の「responses:」に日本語と英語の「utter_{topic}」を追加してください。",
    },
    "response_entry_shape": {
        "en": "'{key}:' is at the indentation of an answer's name (utter_...), so it reads as an answer of its own. If it belongs to the answer above, indent it like the other '{key}:' lines there.",
        "ja": "「{key}:」が回答名（utter_...）と同じ字下げのため、独立した回答として読まれます。上の回答の項目なら、そこにあるほかの「{key}:」と同じ字下げにしてください。",
    },
    "condition_key": {
        "en": "'{key}:' is indented as part of the condition of '{response}', so the variation has no {key} of its own. Indent '{key}:' like '- condition:' plus two spaces (as 'text:' is in the other variations).",
        "ja": "「{key}:」が回答「{response}」の条件（condition）の一部として字下げされているため、このバリエーションには {key} がありません。ほかのバリエーションの「text:」と同じ字下げにしてください。",
    },
    "answer_missing_language": {
        "en": "The answer '{response}' has no {language_name} variation (a 'text' with the condition 'language: {language}'); customers writing in {language_name} would get no answer.",
        "ja": "回答「{response}」に{language_name}版（条件 language: {language} の text）がありません。{language_name}で質問したお客さまに回答できません。",
    },
    "topic_not_declared": {
        "en": "The topic '{topic}' is not listed under 'intents:' in domain.yml: the bot would recognise it but never answer. Add '- {topic}' to the intents of domain.yml.",
        "ja": "トピック「{topic}」が domain.yml の「intents:」に書かれていないため、ボットが回答しません。domain.yml の intents に「- {topic}」を追加してください。",
    },
    "missing_title": {
        "en": "The topic '{topic}' has no title in data/topics/: add it to data/topics/{category}.yml with a Japanese and an English title (shown on the suggestion buttons).",
        "ja": "トピック「{topic}」のタイトルが data/topics/ にありません。data/topics/{category}.yml に日本語と英語のタイトルを追加してください（候補ボタンに表示されます）。",
    },
    "topic_entry_shape": {
        "en": "'{key}' is at the indentation of a topic id, so it reads as a topic of its own. If it belongs to the topic above, indent it like 'title:'.",
        "ja": "「{key}」がトピック ID と同じ字下げのため、独立したトピックとして読まれます。上のトピックの項目なら「title:」と同じ字下げにしてください。",
    },
    "topic_unknown_key": {
        "en": "A topic has only 'title:', 'offer_human:' and 'body:'; '{key}:' here is not one of them. If it belongs to the title, indent it under 'title:'.",
        "ja": "トピックに書けるのは「title:」「offer_human:」「body:」だけです。「{key}:」が title の一部なら「title:」の下に字下げしてください。",
    },
    "body_shape": {
        "en": "The help-center body of '{topic}' must be a Japanese and an English text in Markdown: 'body:' then 'ja: |' and 'en: |', each followed by the text indented under it.",
        "ja": "トピック「{topic}」のヘルプセンター本文（body）は、日本語と英語の Markdown の文章にしてください。「body:」の下に「ja: |」と「en: |」を書き、それぞれの下に本文を字下げして書きます。",
    },
    "body_missing_language": {
        "en": "The help-center body of '{topic}' has no {language_name} text; the {language_name} article would show none. Write both, or neither.",
        "ja": "トピック「{topic}」のヘルプセンター本文（body）に{language_name}がありません。{language_name}の記事に本文が出ません。両方書くか、両方とも書かないでください。",
    },
    "body_too_long": {
        "en": "The {language_name} help-center body of '{topic}' has {count} characters; at most {limit} fit an article. Shorten it, or split the topic.",
        "ja": "トピック「{topic}」の{language_name}のヘルプセンター本文（body）が {count} 文字あります。記事に載せられるのは {limit} 文字までです。短くするか、トピックを分けてください。",
    },
    "body_raw_html": {
        "en": "The {language_name} help-center body of '{topic}' contains HTML ('{tag}'); the help center shows HTML as plain text, never as markup. Use Markdown instead (e.g. **bold**, [link](https://...)).",
        "ja": "トピック「{topic}」の{language_name}のヘルプセンター本文（body）に HTML（「{tag}」）があります。ヘルプセンターは HTML をタグとして扱わず、そのまま文字で表示します。Markdown で書いてください（例: **太字**、[リンク](https://...)）。",
    },
    "body_unreadable": {
        "en": "The {language_name} help-center body of '{topic}' cannot be read as Markdown: {problem}.",
        "ja": "トピック「{topic}」の{language_name}のヘルプセンター本文（body）を Markdown として読めません: {problem}。",
    },
    "category_title_missing_language": {
        "en": "The help-center category of this file ('category: title:') has no {language_name} title; the file's name is shown instead.",
        "ja": "このファイルのヘルプセンターのカテゴリー（category: の title）に{language_name}のタイトルがありません。代わりにファイル名が表示されます。",
    },
    "title_missing_language": {
        "en": "The topic '{topic}' has no {language_name} title.",
        "ja": "トピック「{topic}」に{language_name}のタイトルがありません。",
    },
    "example_in_two_intents": {
        "en": "The example \"{text}\" is under two intents: '{intent}' (here) and '{other_intent}' ({other}). An example can belong to one only: remove it from one of them.",
        "ja": "例文「{text}」が 2 つのインテントに入っています: 「{intent}」（ここ）と「{other_intent}」（{other}）。どちらか一方から削除してください。",
    },
    "example_repeated": {
        "en": "The example \"{text}\" is written twice under '{intent}' (also at {other}); one is enough.",
        "ja": "例文「{text}」が「{intent}」に 2 回書かれています（{other} にも）。1 つで十分です。",
    },
    "confusable_examples": {
        "en": "Two examples of different intents mean nearly the same (similarity {similarity:.2f}); the bot may mix up '{intent}' and '{other_intent}'. Reword or move one of them.",
        "ja": "別々のインテントの例文がほぼ同じ意味です（類似度 {similarity:.2f}）。「{intent}」と「{other_intent}」をボットが取り違えるおそれがあります。どちらかを書き換えるか移してください。",
    },
    "unknown_response": {
        "en": "{user} uses the answer '{response}', which is under no 'responses:' (data/nlu/, domain.yml). Add it, or correct the name.",
        "ja": "{user}で回答「{response}」が使われていますが、どの「responses:」（data/nlu/、domain.yml）にもありません。追加するか、名前を直してください。",
    },
    "unknown_action": {
        "en": "The rule uses the action '{action}', which is not listed under 'actions:' in domain.yml.",
        "ja": "ルールでアクション「{action}」が使われていますが、domain.yml の「actions:」にありません。",
    },
    "unknown_intent": {
        "en": "The rule uses the intent '{intent}', which is not listed under 'intents:' in domain.yml.",
        "ja": "ルールでインテント「{intent}」が使われていますが、domain.yml の「intents:」にありません。",
    },
    "rasa_warning": {
        "en": "Rasa: {text}",
        "ja": "Rasa: {text}",
    },
    "rasa_error": {
        "en": "Rasa's own validation failed: {text}",
        "ja": "Rasa 自身のチェックでエラーになりました: {text}",
    },
    "rasa_skipped": {
        "en": "Rasa's own validation was skipped because some files cannot be read; fix the YAML errors first.",
        "ja": "読み込めないファイルがあるため、Rasa 自身のチェックは行いませんでした。先に YAML の誤りを直してください。",
    },
    "user_rule": {"en": "The rule '{rule}'", "ja": "ルール「{rule}」"},
    "user_actions": {"en": "The bot's actions", "ja": "ボットのアクション"},
}

TEXTS = {
    "en": {
        "checking": "Checking the FAQ content in {project}",
        "errors": "{n} error(s): fix these before publishing",
        "warnings": "{n} warning(s): worth a look; they do not stop publishing",
        "confusable": "Examples of different intents that mean nearly the same ({n}):",
        "group_rasa_skipped": "Not checked ({n}):",
        "group_rasa_warning": "Rasa's own checks ({n}):",
        "group_example_repeated": "The same example twice in one topic ({n}):",
        "group_other": "Other ({n}):",
        "columns": ("similarity", "example (intent, file:line)", "example (intent, file:line)"),
        "ok": "No errors. {w} warning(s).",
        "failed": "{e} error(s), {w} warning(s). Fix the errors and run `make validate` again.",
        "ja": "Japanese", "en": "English",
    },
    "ja": {
        "checking": "FAQ のコンテンツをチェックしています: {project}",
        "errors": "エラー {n} 件（公開の前に直してください）",
        "warnings": "警告 {n} 件（確認をおすすめします。公開は止めません）",
        "confusable": "意味がほぼ同じ、別々のインテントの例文（{n} 組）:",
        "group_rasa_skipped": "チェックできなかったもの（{n} 件）:",
        "group_rasa_warning": "Rasa 自身のチェック（{n} 件）:",
        "group_example_repeated": "同じトピックに 2 回ある例文（{n} 件）:",
        "group_other": "その他（{n} 件）:",
        "columns": ("類似度", "例文（インテント、ファイル:行）", "例文（インテント、ファイル:行）"),
        "ok": "エラーはありません。警告 {w} 件。",
        "failed": "エラー {e} 件、警告 {w} 件。エラーを直してから、もう一度 `make validate` を実行してください。",
        "ja": "日本語", "en": "英語",
    },
}


@dataclass
class Problem:
    severity: str  # "error" or "warning"
    kind: str
    file: str  # relative to the project; "" when not about one file
    line: int  # 1-based; 0 when not about one line
    params: Dict[str, object] = field(default_factory=dict)
    # For pairs (confusable examples): the other side, shown next to this one.
    pair: Optional[Dict[str, object]] = None

    def where(self) -> str:
        if not self.file:
            return ""
        return f"{self.file}:{self.line}" if self.line else self.file

    def message(self, lang: str) -> str:
        if self.kind == "bad_structure":
            return self.params["what"][lang]  # type: ignore[index]
        params = dict(self.params)
        if params.get("hint"):
            params["hint"] = MESSAGES[str(params["hint"])][lang].format(**params.get("hint_params") or {})
        for key in ("language",):
            if key in params:
                params["language_name"] = TEXTS[lang][str(params[key])]
        for key in ("user",):
            if key in params and isinstance(params[key], dict):
                user = params[key]
                params[key] = MESSAGES[user["kind"]][lang].format(**user)
        return MESSAGES[self.kind][lang].format(**params)


@dataclass
class Settings:
    min_examples: int = DEFAULT_MIN_EXAMPLES
    similarity: float = DEFAULT_SIMILARITY
    check_similarity: bool = True
    run_rasa: bool = True
    embedding_model: Optional[str] = None  # default: the featurizer's model in config.yml


@dataclass
class Report:
    project: str
    problems: List[Problem]

    @property
    def errors(self) -> List[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> List[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def to_json(self, lang: str) -> dict:
        return {"project": self.project, "problems": [
            dict(asdict(p), where=p.where(), message=p.message(lang)) for p in self.problems]}


# Reading the YAML files, keeping line numbers.

@dataclass
class Example:
    text: str
    intent: str
    file: str
    line: int
    language: Optional[str]


@dataclass
class Located:
    file: str
    line: int


@dataclass
class Content:
    project: Path
    problems: List[Problem] = field(default_factory=list)
    unreadable: bool = False
    examples: List[Example] = field(default_factory=list)
    intent_blocks: Dict[str, Located] = field(default_factory=dict)  # first "- intent:" of each
    intent_category: Dict[str, str] = field(default_factory=dict)
    domain_intents: Dict[str, Located] = field(default_factory=dict)
    domain_actions: Dict[str, Located] = field(default_factory=dict)
    responses: Dict[str, Located] = field(default_factory=dict)
    response_languages: Dict[str, Dict[str, int]] = field(default_factory=dict)
    response_category: Dict[str, str] = field(default_factory=dict)
    topics: Dict[str, Located] = field(default_factory=dict)
    topic_titles: Dict[str, Dict[str, str]] = field(default_factory=dict)
    rule_steps: List[Tuple[str, str, str, Located]] = field(default_factory=list)  # kind, name, rule, where

    def rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.project))
        except ValueError:
            return str(path)


def _yaml_problem(rel: str, error: yaml.MarkedYAMLError, text: str) -> Problem:
    mark = error.problem_mark or error.context_mark
    if error.context and "quoted scalar" in error.context and error.context_mark:
        mark = error.context_mark  # where the unclosed quote opens, not the end of the file
    line = mark.line + 1 if mark else 0
    problem = (error.problem or error.context or "unknown problem").strip()
    source_line = text.splitlines()[mark.line] if mark and mark.line < len(text.splitlines()) else ""
    if "\t" in source_line[: len(source_line) - len(source_line.lstrip())] or "'\\t'" in problem:
        hint = "hint_tab"
    elif "mapping values are not allowed" in problem:
        hint = "hint_colon"
    elif "found unexpected end of stream" in problem or "quoted scalar" in str(error.context):
        hint = "hint_quote"
    elif any(s in problem for s in ("expected <block end>", "did not find expected", "could not find expected ':'",
                                    "expected ':'")):
        hint = "hint_indent"
    else:
        hint = ""
    params: Dict[str, object] = {"problem": problem, "hint": hint}
    example = _example_indent_hint(text.splitlines(), mark.line) if mark and hint == "hint_indent" else None
    if example is not None:
        params.update(hint="hint_example_indent" if "first" in example else "hint_example_under_key",
                      hint_params=example)
    return Problem("error", "yaml_syntax", rel, line, params)


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _example_indent_hint(lines: List[str], index: int) -> Optional[Dict[str, int]]:
    """When the line YAML stumbled on is an example line of an `examples: |` block (its indentation
    ended the block early): the block's key line and the indentation of its first example."""
    if index >= len(lines) or not lines[index].lstrip().startswith("-"):
        return None
    for above in range(index - 1, -1, -1):
        stripped = lines[above].strip()
        if re.match(r"^examples:\s*\|[-+0-9]*\s*(#.*)?$", stripped):
            first = next((lines[i] for i in range(above + 1, index) if lines[i].strip()), None)
            if first is None:  # the first example itself is not indented under the key
                return {"key": above + 1, "indent": _indent_of(lines[index]), "usual": _indent_of(lines[above]) + 2}
            return {"key": above + 1, "indent": _indent_of(lines[index]), "first": _indent_of(first)}
        if re.match(r"^-\s+intent:", stripped) or stripped and not stripped.startswith(("-", "#")):
            return None
    return None


def _compose(path: Path, content: Content) -> Optional[yaml.Node]:
    rel = content.rel(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        content.problems.append(Problem("error", "yaml_syntax", rel, 0,
                                        {"problem": f"not UTF-8 text ({error.reason})", "hint": ""}))
        content.unreadable = True
        return None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        content.problems.append(_yaml_problem(rel, error, text))
        content.unreadable = True
        return None
    if node is not None:
        _check_duplicate_keys(node, rel, content)
        _check_continued_lines(node, rel, content)
    return node


def _check_continued_lines(node: yaml.Node, rel: str, content: Content) -> None:
    """A plain value spread over two lines is, in these files, always a line indented too far:
    "- a" then "    - b" reads as the one value "a - b"."""
    if isinstance(node, yaml.ScalarNode):
        if node.style is None and node.end_mark.line > node.start_mark.line:
            content.problems.append(Problem("error", "continued_line", rel, node.start_mark.line + 2,
                                            {"start": node.start_mark.line + 1, "value": node.value}))
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            _check_continued_lines(key, rel, content)
            _check_continued_lines(value, rel, content)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_continued_lines(item, rel, content)


def _check_duplicate_keys(node: yaml.Node, rel: str, content: Content) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: Dict[str, int] = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    content.problems.append(Problem("error", "duplicate_key", rel, key.start_mark.line + 1,
                                                    {"key": key.value, "other_line": seen[key.value]}))
                else:
                    seen[key.value] = key.start_mark.line + 1
            _check_duplicate_keys(value, rel, content)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_duplicate_keys(item, rel, content)


def _get(node: Optional[yaml.Node], key: str) -> Optional[Tuple[yaml.Node, yaml.Node]]:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return k, v
    return None


def _items(node: Optional[yaml.Node]) -> List[Tuple[yaml.Node, yaml.Node]]:
    return list(node.value) if isinstance(node, yaml.MappingNode) else []


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _structure(content: Content, rel: str, node: yaml.Node, en: str, ja: str) -> None:
    content.problems.append(Problem("error", "bad_structure", rel, _line(node), {"what": {"en": en, "ja": ja}}))


def _plain_text(text: str) -> str:
    """An example without Rasa's entity annotations: "[Visa](brand)で" -> "Visaで"."""
    return re.sub(r"\[([^\]]+)\](\([^)]*\)|\{[^}]*\})", r"\1", text)


def _read_nlu_file(path: Path, content: Content) -> None:
    """The examples (as Rasa reads them) and the answers of one data/nlu file."""
    rel = content.rel(path)
    root = _compose(path, content)
    if root is None:
        return
    _read_responses(root, path, content)
    nlu = _get(root, "nlu")
    if nlu is None:
        return
    if not isinstance(nlu[1], yaml.SequenceNode):
        _structure(content, rel, nlu[1], "'nlu:' must be followed by a list of '- intent:' entries.",
                   "「nlu:」のあとには「- intent:」の並びを書いてください。")
        return
    lines = path.read_text(encoding="utf-8").splitlines()
    for item in nlu[1].value:
        intent_entry = _get(item, "intent")
        if intent_entry is None:
            continue  # synonyms, regexes and lookup tables are Rasa's business
        intent = str(intent_entry[1].value)
        content.intent_blocks.setdefault(intent, Located(rel, _line(intent_entry[1])))
        content.intent_category.setdefault(intent, path.stem)
        examples = _get(item, "examples")
        if examples is None:
            continue
        node = examples[1]
        if not isinstance(node, yaml.ScalarNode) or node.style != "|":
            content.problems.append(Problem("error", "examples_not_block", rel, _line(examples[0]), {"intent": intent}))
            continue
        _read_examples(node, intent, rel, lines, content)


def _read_examples(node: yaml.ScalarNode, intent: str, rel: str, lines: List[str], content: Content) -> None:
    """The examples of one `examples: |` block. Rasa (rasa_yaml.py, _parse_multiline_example) keeps
    a line of the block only if it starts with '-' once YAML has taken the block's indentation off,
    and YAML takes that indentation from the block's first line: every line Rasa would skip is an
    error here, at its line."""
    from languages import detect_language

    # In a literal block the value's n-th line is the file's n-th line after the "|".
    first = node.start_mark.line + 2
    entries = [(first + offset, value) for offset, value in enumerate(node.value.split("\n")) if value.strip()]
    if not entries:
        return
    block_indent = _indent_of(lines[entries[0][0] - 1])
    indents = [block_indent + _indent_of(value) for _, value in entries]
    dashed = Counter(indent for indent, (_, value) in zip(indents, entries) if value.lstrip().startswith("-"))
    usual = dashed.most_common(1)[0][0] if dashed else block_indent
    shifted = indents[0] < usual  # the first line set a smaller indentation than the others have
    if shifted:
        skipped = sum(1 for _, value in entries if value.startswith(" ") and value.lstrip().startswith("-"))
        content.problems.append(Problem("error", "examples_shifted", rel, entries[0][0], {
            "intent": intent, "first": indents[0], "usual": usual, "skipped": skipped}))
    for (line, value), indent in zip(entries, indents):
        stripped = value.strip()
        if value.startswith("-"):
            text = _plain_text(value[1:].strip())
            if not text:
                content.problems.append(Problem("error", "empty_example", rel, line, {"intent": intent}))
                continue
            content.examples.append(Example(text, intent, rel, line, detect_language(text)))
        elif stripped.startswith("-"):
            if not shifted:  # skipped because it is indented further than the block
                content.problems.append(Problem("error", "example_indented", rel, line, {
                    "intent": intent, "indent": indent, "usual": usual, "text": stripped[1:].strip()}))
        else:
            content.problems.append(Problem("error", "example_line_format", rel, line,
                                            {"intent": intent, "text": stripped}))


def _read_domain_file(path: Path, content: Content) -> None:
    rel = content.rel(path)
    root = _compose(path, content)
    if root is None:
        return
    for section, target in (("intents", content.domain_intents), ("actions", content.domain_actions)):
        entry = _get(root, section)
        if entry is None:
            continue
        if not isinstance(entry[1], yaml.SequenceNode):
            _structure(content, rel, entry[1], f"'{section}:' must be followed by a list ('- name' lines).",
                       f"「{section}:」のあとには「- 名前」の並びを書いてください。")
            continue
        for item in entry[1].value:
            name_node = item if isinstance(item, yaml.ScalarNode) else (item.value[0][0] if _items(item) else None)
            if isinstance(name_node, yaml.ScalarNode):
                target.setdefault(name_node.value, Located(rel, _line(name_node)))
    _read_responses(root, path, content)


CONDITION_KEYS = ("type", "name", "value")


def _read_responses(root: yaml.Node, path: Path, content: Content) -> None:
    """The `responses:` of domain.yml or of a data/nlu file (Rasa merges both into the domain)."""
    rel = content.rel(path)
    responses = _get(root, "responses")
    if responses is None:
        return
    for key, value in _items(responses[1]):
        name = key.value
        if name in content.responses and content.responses[name].file != rel:
            other = content.responses[name]
            content.problems.append(Problem("error", "defined_twice", rel, _line(key),
                                            {"key": name, "other": f"{other.file}:{other.line}"}))
            continue
        if isinstance(value, yaml.ScalarNode) and not name.startswith("utter_"):
            # "text: ..." slid to the indentation of an answer's name reads as an answer "text"
            content.problems.append(Problem("error", "response_entry_shape", rel, _line(key), {"key": name}))
            continue
        content.responses[name] = Located(rel, _line(key))
        content.response_category[name] = path.stem
        languages: Dict[str, int] = {}
        if not isinstance(value, yaml.SequenceNode):
            _structure(content, rel, value, f"The answer '{name}' must be a list of variations ('- text: ...').",
                       f"回答「{name}」は「- text: ...」の並びで書いてください。")
            continue
        for variation in value.value:
            language = None
            condition = _get(variation, "condition")
            if condition is not None and isinstance(condition[1], yaml.SequenceNode):
                for cond in condition[1].value:
                    for cond_key, _ in _items(cond):
                        if cond_key.value not in CONDITION_KEYS:
                            content.problems.append(Problem("error", "condition_key", rel, _line(cond_key),
                                                            {"key": cond_key.value, "response": name}))
                    name_entry, value_entry = _get(cond, "name"), _get(cond, "value")
                    if name_entry and value_entry and name_entry[1].value == "language":
                        language = value_entry[1].value
            text = _get(variation, "text")
            has_text = text is not None and isinstance(text[1], yaml.ScalarNode) and text[1].value.strip()
            if not has_text and _get(variation, "custom") is None and _get(variation, "buttons") is None:
                continue
            languages.setdefault(language or "*", _line(variation))
        content.response_languages[name] = languages


TOPIC_KEYS = ("title", "offer_human", "body")
# The longest help-center body (handoff/help_articles.py), per language: a long article on one topic
# (about 10 screens on a phone); anything longer is better split into topics.
MAX_BODY_CHARS = 10_000


def _markdown():
    """The help center's Markdown reader (handoff/help_articles.py: CommonMark, tables), here with
    raw HTML recognised so that it can be named; the help center shows it as text."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True, "breaks": True}).enable("table")


def check_body(topic: str, body: Optional[Tuple[yaml.Node, yaml.Node]], rel: str) -> List[Problem]:
    """A topic's help-center body: a mapping of both languages to Markdown texts within MAX_BODY_CHARS."""
    if body is None:
        return []
    key, value = body
    if not isinstance(value, yaml.MappingNode) or any(
            not isinstance(v, yaml.ScalarNode) or k.value not in LANGUAGES for k, v in _items(value)):
        return [Problem("error", "body_shape", rel, _line(key), {"topic": topic})]
    texts = {k.value: (str(v.value), _line(v)) for k, v in _items(value) if str(v.value).strip()}
    problems = [Problem("error", "body_missing_language", rel, _line(key), {"topic": topic, "language": language})
                for language in LANGUAGES if language not in texts]
    for language, (text, line) in texts.items():
        params = {"topic": topic, "language": language}
        if len(text) > MAX_BODY_CHARS:
            problems.append(Problem("error", "body_too_long", rel, line, dict(params, count=len(text), limit=MAX_BODY_CHARS)))
            continue
        try:
            tokens = _markdown().parse(text)
        except Exception as error:  # markdown-it reads any text; a failure here is worth naming, not a crash
            problems.append(Problem("error", "body_unreadable", rel, line, dict(params, problem=str(error))))
            continue
        html = next((t for t in _walk(tokens) if t.type in ("html_block", "html_inline")), None)
        if html is not None:
            problems.append(Problem("warning", "body_raw_html", rel, line,
                                    dict(params, tag=html.content.strip().splitlines()[0][:40])))
    return problems


def _walk(tokens):
    for token in tokens:
        yield token
        yield from _walk(token.children or [])


def _check_category(root: yaml.Node, rel: str, content: "Content") -> None:
    entry = _get(root, "category")
    if entry is None:
        return
    title = _get(entry[1], "title")
    found = {k.value for k, v in _items(title[1] if title else None) if isinstance(v, yaml.ScalarNode) and str(v.value).strip()}
    for language in LANGUAGES:
        if language not in found:
            content.problems.append(Problem("warning", "category_title_missing_language", rel, _line(entry[0]),
                                            {"language": language}))


def _read_topics_file(path: Path, content: Content) -> None:
    rel = content.rel(path)
    root = _compose(path, content)
    if root is None:
        return
    _check_category(root, rel, content)
    topics = _get(root, "topics")
    if topics is None:
        return
    for key, value in _items(topics[1]):
        if isinstance(value, yaml.ScalarNode) and value.tag != "tag:yaml.org,2002:null":
            # "offer_human: false" slid to a topic id's indentation reads as a topic "offer_human"
            content.problems.append(Problem("error", "topic_entry_shape", rel, _line(key), {"key": key.value}))
            continue
        for field_key, _ in _items(value):
            if field_key.value not in TOPIC_KEYS:
                content.problems.append(Problem("error", "topic_unknown_key", rel, _line(field_key),
                                                {"key": field_key.value}))
        if key.value in content.topics and content.topics[key.value].file != rel:
            other = content.topics[key.value]
            content.problems.append(Problem("error", "defined_twice", rel, _line(key),
                                            {"key": key.value, "other": f"{other.file}:{other.line}"}))
            continue
        content.topics[key.value] = Located(rel, _line(key))
        content.problems += check_body(key.value, _get(value, "body"), rel)
        title = _get(value, "title")
        content.topic_titles[key.value] = {
            k.value: str(v.value).strip() for k, v in _items(title[1] if title else None)
            if isinstance(v, yaml.ScalarNode) and str(v.value).strip()}


def _read_rules_file(path: Path, content: Content) -> None:
    rel = content.rel(path)
    root = _compose(path, content)
    if root is None:
        return
    for section in ("rules", "stories"):
        entry = _get(root, section)
        if entry is None or not isinstance(entry[1], yaml.SequenceNode):
            continue
        for item in entry[1].value:
            label = _get(item, "rule") or _get(item, "story")
            name = str(label[1].value) if label else "?"
            steps = _get(item, "steps")
            if steps is None or not isinstance(steps[1], yaml.SequenceNode):
                continue
            for step in steps[1].value:
                for kind in ("intent", "action"):
                    found = _get(step, kind)
                    if found is not None and isinstance(found[1], yaml.ScalarNode):
                        content.rule_steps.append((kind, found[1].value, name, Located(rel, _line(found[1]))))


def _yml_files(folder: Path) -> List[Path]:
    return sorted(p for p in folder.glob("*.yml") if p.is_file()) if folder.is_dir() else []


def read_content(project: Path) -> Content:
    content = Content(project=project)
    domain = project / "domain.yml"
    if domain.is_file():
        _read_domain_file(domain, content)
    for path in _yml_files(project / "data" / "nlu"):
        _read_nlu_file(path, content)
    for path in _yml_files(project / "data" / "topics"):
        _read_topics_file(path, content)
    for path in [project / "data" / "rules.yml", *sorted((project / "data").glob("stories*.yml"))]:
        if path.is_file():
            _read_rules_file(path, content)
    return content


# The checks.

def conversation_intents(project: Path) -> List[str]:
    """Intents with an answer that are not FAQ topics: bot.policy.FAQPolicy's exclude_intents."""
    from bot.policy import FAQPolicy

    config = yaml.safe_load((project / "config.yml").read_text(encoding="utf-8")) or {}
    for policy in config.get("policies") or []:
        if policy.get("name") == "bot.policy.FAQPolicy" and "exclude_intents" in policy:
            return list(policy["exclude_intents"])
    return list(FAQPolicy.get_default_config()["exclude_intents"])


def topic_ids(content: Content, not_topics: Iterable[str]) -> List[str]:
    """Every intent meant as an FAQ topic: it has examples, an answer or a title."""
    skip = set(not_topics) | set(FALLBACK_INTENTS)
    candidates = set(content.intent_blocks) | set(content.topics) | {
        name[len("utter_"):] for name in content.responses if name.startswith("utter_")
        and name[len("utter_"):] in (set(content.intent_blocks) | set(content.domain_intents))}
    return sorted(c for c in candidates if c not in skip)


def _category(content: Content, topic: str) -> str:
    return (content.intent_category.get(topic) or content.response_category.get(f"utter_{topic}")
            or (Path(content.topics[topic].file).stem if topic in content.topics else "<category>"))


def check_topics(content: Content, not_topics: Iterable[str], min_examples: int) -> List[Problem]:
    problems = []
    counts: Dict[str, Dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for example in content.examples:
        if example.language:
            counts[example.intent][example.language] += 1
    for topic in topic_ids(content, not_topics):
        category = _category(content, topic)
        block = content.intent_blocks.get(topic)
        anchor = block or content.topics.get(topic) or content.responses.get(f"utter_{topic}")
        if block is None:
            problems.append(Problem("error", "topic_without_examples", anchor.file, anchor.line,
                                    {"topic": topic, "category": category}))
        else:
            for language in LANGUAGES:
                count = counts[topic][language]
                if count < min_examples:
                    problems.append(Problem("error", "too_few_examples", block.file, block.line, {
                        "topic": topic, "count": count, "language": language, "minimum": min_examples}))
        response = content.responses.get(f"utter_{topic}")
        if response is None:
            problems.append(Problem("error", "missing_answer", anchor.file, anchor.line,
                                    {"topic": topic, "category": category}))
        else:
            languages = content.response_languages.get(f"utter_{topic}", {})
            for language in LANGUAGES:
                if language not in languages:
                    problems.append(Problem("error", "answer_missing_language", response.file, response.line,
                                            {"response": f"utter_{topic}", "language": language}))
        if topic not in content.domain_intents and (block is not None or response is not None):
            problems.append(Problem("error", "topic_not_declared", anchor.file, anchor.line,
                                    {"topic": topic, "category": category}))
        title = content.topics.get(topic)
        if title is None:
            problems.append(Problem("error", "missing_title", anchor.file, anchor.line,
                                    {"topic": topic, "category": category}))
        else:
            for language in LANGUAGES:
                if not content.topic_titles.get(topic, {}).get(language):
                    problems.append(Problem("error", "title_missing_language", title.file, title.line,
                                            {"topic": topic, "language": language}))
    return problems


def normalise(text: str) -> str:
    """What makes two examples "the same" to the classifier (its features ignore case and
    spacing). Half-width ｶﾅ stays different on purpose: such variants are deliberate examples."""
    return " ".join(text.casefold().split())


def check_duplicates(content: Content) -> List[Problem]:
    problems = []
    first: Dict[str, Example] = {}
    for example in content.examples:
        key = normalise(example.text)
        earlier = first.get(key)
        if earlier is None:
            first[key] = example
        elif earlier.intent != example.intent:
            problems.append(Problem("error", "example_in_two_intents", example.file, example.line, {
                "text": example.text, "intent": example.intent, "other_intent": earlier.intent,
                "other": f"{earlier.file}:{earlier.line}"}))
        else:
            problems.append(Problem("warning", "example_repeated", example.file, example.line, {
                "text": example.text, "intent": example.intent, "other": f"{earlier.file}:{earlier.line}"}))
    return problems


def responses_used_by_actions(project: Path) -> List[Tuple[str, Located]]:
    """Answers the action server asks for by name (actions/*.py), with where it does."""
    found = []
    pattern = re.compile(r"""(?:response\s*=\s*|response_text\(\s*)["'](utter_\w+)["']""")
    folder = project / "actions"
    for path in sorted(folder.glob("*.py")) if folder.is_dir() else []:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in pattern.finditer(line):
                found.append((match.group(1), Located(str(path.relative_to(project)), number)))
    return found


def check_references(content: Content) -> List[Problem]:
    from rasa.shared.core.constants import DEFAULT_ACTION_NAMES, DEFAULT_INTENTS

    problems = []
    for kind, name, rule, where in content.rule_steps:
        user = {"kind": "user_rule", "rule": rule}
        if kind == "action" and name.startswith("utter_"):
            if name not in content.responses:
                problems.append(Problem("error", "unknown_response", where.file, where.line,
                                        {"user": user, "response": name}))
        elif kind == "action":
            if name not in content.domain_actions and name not in DEFAULT_ACTION_NAMES:
                problems.append(Problem("error", "unknown_action", where.file, where.line, {"action": name}))
        elif name not in content.domain_intents and name not in DEFAULT_INTENTS:
            problems.append(Problem("error", "unknown_intent", where.file, where.line, {"intent": name}))
    for name, where in responses_used_by_actions(content.project):
        if name not in content.responses:
            problems.append(Problem("error", "unknown_response", where.file, where.line,
                                    {"user": {"kind": "user_actions"}, "response": name}))
    return problems


# Confusable examples: sentence embeddings of every example, compared across intents.

def _embedding_model(project: Path, settings: Settings) -> Tuple[str, str]:
    """(model, quantize) as the bot's featurizer runs them, so similarities match the bot's."""
    from bot.embedding import DEFAULT_MODEL, DEFAULT_QUANTIZE, MODEL_ENV

    config = yaml.safe_load((project / "config.yml").read_text(encoding="utf-8")) or {}
    featurizer = next((c for c in config.get("pipeline") or []
                       if c.get("name") == "bot.embedding.SentenceEmbeddingFeaturizer"), {})
    quantize = featurizer.get("quantize", DEFAULT_QUANTIZE)
    if settings.embedding_model:
        return settings.embedding_model, quantize
    if os.environ.get(MODEL_ENV):
        return os.environ[MODEL_ENV], quantize
    model = featurizer.get("model") or DEFAULT_MODEL
    for base in (project, ROOT):  # a project copy without models/ uses this repository's
        if (base / model).exists():
            return str((base / model).resolve()), quantize
    return model, quantize


class EmbeddingCache:
    """Vectors by text, on disk in $TSUNAGI_CACHE/embeddings, so only changed examples are embedded."""

    def __init__(self, model: str, quantize: str):
        import numpy as np

        self.model, self.quantize = model, quantize
        cache = Path(os.environ.get("TSUNAGI_CACHE") or Path.home() / ".cache" / "tsunagi")
        name = str(Path(model).resolve() if Path(model).exists() else model)
        key = hashlib.sha256(f"{name}#{quantize}".encode()).hexdigest()[:16]
        self.path = cache / "embeddings" / f"validate-{key}.npz"
        self.vectors: Dict[str, "np.ndarray"] = {}
        if self.path.is_file():
            try:
                stored = np.load(self.path, allow_pickle=False)
                self.vectors = dict(zip(stored["keys"].tolist(), stored["vectors"]))
            except Exception:  # a damaged cache is rebuilt, never trusted
                self.vectors = {}

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def embed(self, texts: List[str]):
        import numpy as np
        from bot.embedding import embed_texts

        missing = sorted({t for t in texts if self._key(t) not in self.vectors})
        if missing:
            for text, vector in zip(missing, embed_texts(self.model, missing, prefix="query: ", quantize=self.quantize)):
                self.vectors[self._key(text)] = vector
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp.npz")
            keys = list(self.vectors)
            np.savez(tmp, keys=np.array(keys), vectors=np.stack([self.vectors[k] for k in keys]))
            os.replace(tmp, self.path)
        return np.stack([self.vectors[self._key(t)] for t in texts]) if texts else np.zeros((0, 1), np.float32)


def check_confusable(content: Content, settings: Settings) -> List[Problem]:
    import numpy as np

    examples = content.examples
    if len(examples) < 2:
        return []
    vectors = EmbeddingCache(*_embedding_model(content.project, settings)).embed([e.text for e in examples])
    intents = np.array([e.intent for e in examples])
    keys = [normalise(e.text) for e in examples]
    similarity = vectors @ vectors.T
    problems = []
    rows, cols = np.where(np.triu(similarity >= settings.similarity, k=1) & (intents[:, None] != intents[None, :]))
    for i, j in sorted(zip(rows.tolist(), cols.tolist()), key=lambda ij: -similarity[ij]):
        if keys[i] == keys[j]:
            continue  # the same example twice: reported as a duplicate
        a, b = examples[i], examples[j]
        problems.append(Problem("warning", "confusable_examples", a.file, a.line, {
            "similarity": round(float(similarity[i, j]), 4), "intent": a.intent, "other_intent": b.intent,
            "text": a.text, "other_text": b.text}, pair={"file": b.file, "line": b.line, "text": b.text,
                                                        "intent": b.intent}))
    return problems


# Rasa's own validation (what `rasa data validate` runs), its findings kept as data.

RASA_NOISE = (
    # Our topics are answered by action_answer_faq (bot.policy.FAQPolicy), and some answers by
    # the actions: "not used in any story or rule" is expected for those and checked above.
    re.compile(r"The utterance '(?P<name>utter_\w+)' is not used in any story or rule"),
    re.compile(r"The intent '(?P<intent>\w+)' is not used in any story or rule"),
    # Reported above with both files and lines.
    re.compile(r"was found labeled with multiple different intents"),
    # Rasa 3.6 says this whenever a domain has slots, whatever they look like.
    re.compile(r"Slot auto-fill has been removed in 3.0"),
    # A blank line inside an examples block: Rasa skips it, and no example is lost.
    re.compile(r"contains an example that doesn't start with a '-' symbol: This training example will be skipped"),
)
# An example Rasa skips: an error here, at its line (see _read_examples), however Rasa words it.
RASA_SKIPPED = re.compile(r"Issue found while processing '(?P<file>[^']+)': The item '(?P<intent>[^']+)' contains an "
                          r"example that doesn't start with a '-' symbol: (?P<text>.*?) This training example will be skipped")
RASA_FILE = re.compile(r"(?:Issue found while processing|Unexpected block found in|Failed to validate) '(?P<file>[^']+)'")
SKIP_KINDS = ("examples_shifted", "example_indented", "example_line_format")


def rasa_validation(project: Path, content: Content, not_topics: Iterable[str]) -> List[Problem]:
    import logging

    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    from rasa.cli.utils import validate_files
    from rasa.shared.importers.importer import TrainingDataImporter

    topics = set(topic_ids(content, not_topics))
    used = {f"utter_{t}" for t in topics} | {
        name for name, _ in responses_used_by_actions(project)}
    messages: List[Tuple[str, str]] = []

    class Collect(logging.Handler):
        def emit(self, record):
            if record.levelno >= logging.WARNING:
                messages.append(("error" if record.levelno >= logging.ERROR else "warning", record.getMessage()))

    handler = Collect()
    rasa_logger = logging.getLogger("rasa")
    rasa_logger.addHandler(handler)
    failed = False
    data = [str(project / "data" / "nlu"), str(project / "data" / "rules.yml")]
    domain = project / "domain.yml"
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            importer = TrainingDataImporter.load_from_config(
                config_path=str(project / "config.yml"), domain_path=str(domain), training_data_paths=data)
            try:
                validate_files(False, None, importer)
            except SystemExit as exit_:
                failed = bool(exit_.code)
        for warning in caught:
            if issubclass(warning.category, UserWarning) and "rasa" in str(warning.filename):
                messages.append(("warning", str(warning.message)))
    except Exception as error:  # Rasa could not even load the project
        messages.append(("error", str(error)))
        failed = True
    finally:
        rasa_logger.removeHandler(handler)
    problems = []
    reported_skips = {(p.file, p.params.get("intent")) for p in content.problems if p.kind in SKIP_KINDS}
    # Rasa names files by absolute path: the editor reads them relative to the project.
    messages = [(s, t.replace(f"{project}/", "")) for s, t in messages]
    for severity, text in dict.fromkeys((s, " ".join(t.split())) for s, t in messages):
        skipped = RASA_SKIPPED.search(text)
        if skipped is not None and skipped["text"].strip():
            rel = content.rel(Path(skipped["file"]))
            if (rel, skipped["intent"]) not in reported_skips:
                problems.append(Problem("error", "rasa_skipped_example", rel, _line_with(project / rel, skipped["text"]),
                                        {"intent": skipped["intent"], "text": skipped["text"].strip().lstrip("-").strip()}))
            continue
        noise = next((m for m in (p.search(text) for p in RASA_NOISE) if m), None)
        if noise is not None:
            named = noise.groupdict()
            if "name" in named and named["name"] not in used or "intent" in named and named["intent"] not in topics:
                pass  # an answer or intent nothing uses: worth reporting
            else:
                continue
        named = RASA_FILE.search(text)
        where = content.rel(Path(named["file"])) if named else ""
        if severity == "error" or failed and text.startswith("Project validation completed with errors"):
            problems.append(Problem("error", "rasa_error", where, 0, {"text": text}))
        else:
            problems.append(Problem("warning", "rasa_warning", where, 0, {"text": text}))
    if failed and not any(p.severity == "error" for p in problems):
        problems.append(Problem("error", "rasa_error", "", 0, {"text": "Project validation completed with errors."}))
    return problems


def _line_with(path: Path, text: str) -> int:
    """The first line of path that is the example text, else that holds it (0 when none does)."""
    text = text.strip()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return 0
    exact = (number for number, line in enumerate(lines, 1) if text and line.strip().lstrip("-").strip() == text)
    return next(exact, None) or next((number for number, line in enumerate(lines, 1) if text and text in line), 0)


def validate(project: Path, settings: Optional[Settings] = None) -> Report:
    settings = settings or Settings()
    project = project.resolve()
    content = read_content(project)
    problems = list(content.problems)
    not_topics = conversation_intents(project)
    if not content.unreadable:
        problems += check_topics(content, not_topics, settings.min_examples)
        problems += check_duplicates(content)
        problems += check_references(content)
        if settings.check_similarity:
            problems += check_confusable(content, settings)
    if settings.run_rasa:
        if content.unreadable:
            problems.append(Problem("warning", "rasa_skipped", "", 0, {}))
        else:
            problems += rasa_validation(project, content, not_topics)
    problems.sort(key=lambda p: (p.severity != "error", p.kind == "confusable_examples", p.file, p.line))
    return Report(str(project), problems)


# Printing.

def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, width: int, right: bool = False) -> str:
    """text cut or padded to `width` terminal columns (a kanji takes two), left-aligned or right."""
    if _width(text) > width:
        while text and _width(text + "…") > width:
            text = text[:-1]
        text += "…"
    space = " " * (width - _width(text))
    return space + text if right else text + space


# The warnings, a group each, the ones that matter first; then the confusable pairs, side by side.
WARNING_GROUPS = ("rasa_skipped", "rasa_warning", "example_repeated")


def print_report(report: Report, lang: str, out=None) -> None:
    out = out or sys.stdout
    t = TEXTS[lang]
    print(t["checking"].format(project=report.project), file=out)
    errors, warnings_ = report.errors, report.warnings
    if errors:
        print("\n" + t["errors"].format(n=len(errors)), file=out)
        for p in errors:
            print(f"  {p.where() or '-'}: {p.message(lang)}", file=out)
    pairs = sorted((p for p in warnings_ if p.kind == "confusable_examples"), key=lambda p: -p.params["similarity"])
    if warnings_:
        print("\n" + t["warnings"].format(n=len(warnings_)), file=out)
    groups: Dict[str, List[Problem]] = defaultdict(list)
    for p in warnings_:
        if p.kind != "confusable_examples":
            groups[p.kind if p.kind in WARNING_GROUPS else "other"].append(p)
    for kind in (*WARNING_GROUPS, "other"):
        if groups[kind]:
            print("\n  " + t[f"group_{kind}"].format(n=len(groups[kind])), file=out)
            for p in groups[kind]:
                print(f"    {p.where() or '-'}: {p.message(lang)}", file=out)
    if pairs:
        print("\n  " + t["confusable"].format(n=len(pairs)), file=out)
        column = 46
        head = t["columns"]
        print(f"    {pad(head[0], 10)}  {pad(head[1], column)}  {head[2]}", file=out)
        for p in pairs:
            other = p.pair or {}
            left_text, right_text = f"「{p.params['text']}」", f"「{other.get('text')}」"
            left_where = f"{p.params['intent']} · {p.where()}"
            right_where = f"{other.get('intent')} · {other.get('file')}:{other.get('line')}"
            print(f"    {pad(format(p.params['similarity'], '.2f'), 10)}  {pad(left_text, column)}  {right_text}", file=out)
            print(f"    {' ' * 10}  {pad(left_where, column)}  {right_where}", file=out)
    print("", file=out)
    if errors:
        print(t["failed"].format(e=len(errors), w=len(warnings_)), file=out)
    else:
        print(t["ok"].format(w=len(warnings_)), file=out)


def editor_language(choice: Optional[str] = None) -> str:
    """--lang, else TSUNAGI_EDITOR_LANG, else the locale (LANG=ja_JP.UTF-8 reads Japanese)."""
    for value in (choice, os.environ.get("TSUNAGI_EDITOR_LANG"), os.environ.get("LC_ALL"), os.environ.get("LANG")):
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    return "en"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", type=Path, default=Path(os.environ.get("TSUNAGI_PROJECT_DIR") or ROOT),
                        help="the Rasa project to check (default: this repository)")
    parser.add_argument("--min-examples", type=int, default=DEFAULT_MIN_EXAMPLES,
                        help=f"examples each topic needs per language (default {DEFAULT_MIN_EXAMPLES})")
    parser.add_argument("--similarity", type=float, default=DEFAULT_SIMILARITY,
                        help=f"list examples of different intents this similar or more (default {DEFAULT_SIMILARITY})")
    parser.add_argument("--no-similarity", action="store_true", help="skip the confusable-examples check")
    parser.add_argument("--no-rasa", action="store_true", help="skip Rasa's own validation")
    parser.add_argument("--lang", choices=LANGUAGES, help="language of the messages (default: TSUNAGI_EDITOR_LANG or the locale)")


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings(min_examples=args.min_examples, similarity=args.similarity,
                    check_similarity=not args.no_similarity, run_rasa=not args.no_rasa)


def quiet_libraries() -> None:
    """TensorFlow's and Rasa's start-up chatter would bury the report."""
    import logging

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    # Library deprecation notices are for developers, and some libraries turn them back on when
    # imported: nothing is shown. Rasa's findings are collected on purpose (rasa_validation
    # records them with warnings.catch_warnings).
    warnings.simplefilter("ignore")
    warnings.showwarning = lambda *args, **kwargs: None
    logging.basicConfig(level=logging.ERROR)
    for name in ("rasa", "tensorflow", "absl", "sentence_transformers", "transformers", "bot"):
        logging.getLogger(name).setLevel(logging.ERROR)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    parser.add_argument("--json", type=Path, help="also write the problems as JSON to this file")
    args = parser.parse_args(argv)
    quiet_libraries()
    lang = editor_language(args.lang)
    report = validate(args.project, settings_from(args))
    print_report(report, lang)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.to_json(lang), ensure_ascii=False, indent=2), encoding="utf-8")
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
