"""Checks the FAQ content before it is trained and published (`make validate`).

Rasa's own data validation, plus the checks an FAQ needs, each problem named by file and line
in words an editor can act on:
  - every topic has examples in Japanese and in English (at least `--min-examples` of each),
    an answer in both languages (`utter_<topic>` in domain/) and a title in both (data/topics/);
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
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

import yaml

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("ja", "en")
DEFAULT_MIN_EXAMPLES = 10
# multilingual-e5 scores most sentences on one subject above 0.9; on the shop's data, 0.97 lists
# about a dozen pairs, each nearly the same wording ("うん" / "ううん", "update on my order" /
# "update my order"), while 0.95 lists 160 and 0.93 over a thousand.
DEFAULT_SIMILARITY = 0.97
# Intents that are neither topics nor conversation intents.
FALLBACK_INTENTS = ("nlu_fallback", "out_of_scope")


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
    "examples_not_block": {
        "en": "The examples of '{intent}' must be written as a block: 'examples: |' and then one '- example' per line.",
        "ja": "「{intent}」の例文は「examples: |」のあとに 1 行ずつ「- 例文」の形で書いてください。",
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
        "en": "The topic '{topic}' has no answer: add 'utter_{topic}' with a Japanese and an English variation to domain/{category}.yml.",
        "ja": "トピック「{topic}」の回答がありません。domain/{category}.yml に日本語と英語の「utter_{topic}」を追加してください。",
    },
    "answer_missing_language": {
        "en": "The answer '{response}' has no {language_name} variation (a 'text' with the condition 'language: {language}'); customers writing in {language_name} would get no answer.",
        "ja": "回答「{response}」に{language_name}版（条件 language: {language} の text）がありません。{language_name}で質問したお客さまに回答できません。",
    },
    "topic_not_declared": {
        "en": "The topic '{topic}' is not listed under 'intents:' in domain/: the bot would recognise it but never answer. Add '- {topic}' to the intents of domain/{category}.yml.",
        "ja": "トピック「{topic}」が domain/ の「intents:」に書かれていないため、ボットが回答しません。domain/{category}.yml の intents に「- {topic}」を追加してください。",
    },
    "missing_title": {
        "en": "The topic '{topic}' has no title in data/topics/: add it to data/topics/{category}.yml with a Japanese and an English title (shown on the suggestion buttons).",
        "ja": "トピック「{topic}」のタイトルが data/topics/ にありません。data/topics/{category}.yml に日本語と英語のタイトルを追加してください（候補ボタンに表示されます）。",
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
        "en": "{user} uses the answer '{response}', which does not exist in domain/. Add it, or correct the name.",
        "ja": "{user}で回答「{response}」が使われていますが、domain/ にありません。追加するか、名前を直してください。",
    },
    "unknown_action": {
        "en": "The rule uses the action '{action}', which is not listed under 'actions:' in domain/.",
        "ja": "ルールでアクション「{action}」が使われていますが、domain/ の「actions:」にありません。",
    },
    "unknown_intent": {
        "en": "The rule uses the intent '{intent}', which is not listed under 'intents:' in domain/.",
        "ja": "ルールでインテント「{intent}」が使われていますが、domain/ の「intents:」にありません。",
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
    return Problem("error", "yaml_syntax", rel, line, {"problem": problem, "hint": hint})


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
    return node


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
    from languages import detect_language

    rel = content.rel(path)
    root = _compose(path, content)
    if root is None:
        return
    nlu = _get(root, "nlu")
    if nlu is None:
        return
    if not isinstance(nlu[1], yaml.SequenceNode):
        _structure(content, rel, nlu[1], "'nlu:' must be followed by a list of '- intent:' entries.",
                   "「nlu:」のあとには「- intent:」の並びを書いてください。")
        return
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
        if not isinstance(node, yaml.ScalarNode):
            content.problems.append(Problem("error", "examples_not_block", rel, _line(examples[0]), {"intent": intent}))
            continue
        # In a block scalar ("|") the text's n-th line is the file's line after the "|" plus n.
        first = node.start_mark.line + 1 + (1 if node.style in ("|", ">") else 0)
        for offset, raw in enumerate(node.value.split("\n")):
            stripped = raw.strip()
            if not stripped:
                continue
            line = first + offset
            if not stripped.startswith("-"):
                content.problems.append(Problem("error", "example_line_format", rel, line,
                                                {"intent": intent, "text": stripped}))
                continue
            text = _plain_text(stripped[1:].strip())
            if not text:
                content.problems.append(Problem("error", "empty_example", rel, line, {"intent": intent}))
                continue
            content.examples.append(Example(text, intent, rel, line, detect_language(text)))


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
        content.responses[name] = Located(rel, _line(key))
        content.response_category[name] = path.stem
        languages: Dict[str, int] = {}
        if not isinstance(value, yaml.SequenceNode):
            _structure(content, rel, value, f"The answer '{name}' must be a list of variations ('- text: ...').",
                       f"回答「{name}」は「- text: ...」の並びで書いてください。")
            continue
        for variation in value.value:
            text = _get(variation, "text")
            has_text = text is not None and isinstance(text[1], yaml.ScalarNode) and text[1].value.strip()
            if not has_text and _get(variation, "custom") is None and _get(variation, "buttons") is None:
                continue
            language = None
            condition = _get(variation, "condition")
            if condition is not None and isinstance(condition[1], yaml.SequenceNode):
                for cond in condition[1].value:
                    name_entry, value_entry = _get(cond, "name"), _get(cond, "value")
                    if name_entry and value_entry and name_entry[1].value == "language":
                        language = value_entry[1].value
            languages.setdefault(language or "*", _line(variation))
        content.response_languages[name] = languages


def _read_topics_file(path: Path, content: Content) -> None:
    rel = content.rel(path)
    root = _compose(path, content)
    if root is None:
        return
    topics = _get(root, "topics")
    if topics is None:
        return
    for key, value in _items(topics[1]):
        if key.value in content.topics and content.topics[key.value].file != rel:
            other = content.topics[key.value]
            content.problems.append(Problem("error", "defined_twice", rel, _line(key),
                                            {"key": key.value, "other": f"{other.file}:{other.line}"}))
            continue
        content.topics[key.value] = Located(rel, _line(key))
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
    for path in _yml_files(project / "data" / "nlu"):
        _read_nlu_file(path, content)
    domain = project / "domain"
    for path in _yml_files(domain) if domain.is_dir() else [project / "domain.yml"]:
        _read_domain_file(path, content)
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
)


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
    domain = project / "domain" if (project / "domain").is_dir() else project / "domain.yml"
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
    for severity, text in dict.fromkeys((s, " ".join(t.split())) for s, t in messages):
        noise = next((m for m in (p.search(text) for p in RASA_NOISE) if m), None)
        if noise is not None:
            named = noise.groupdict()
            if "name" in named and named["name"] not in used or "intent" in named and named["intent"] not in topics:
                pass  # an answer or intent nothing uses: worth reporting
            else:
                continue
        if severity == "error" or failed and text.startswith("Project validation completed with errors"):
            problems.append(Problem("error", "rasa_error", "", 0, {"text": text}))
        else:
            problems.append(Problem("warning", "rasa_warning", "", 0, {"text": text}))
    if failed and not any(p.severity == "error" for p in problems):
        problems.append(Problem("error", "rasa_error", "", 0, {"text": "Project validation completed with errors."}))
    return problems


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


def print_report(report: Report, lang: str, out=None) -> None:
    out = out or sys.stdout
    t = TEXTS[lang]
    print(t["checking"].format(project=report.project), file=out)
    errors, warnings_ = report.errors, report.warnings
    if errors:
        print("\n" + t["errors"].format(n=len(errors)), file=out)
        for p in errors:
            print(f"  {p.where() or '-'}: {p.message(lang)}", file=out)
    plain = [p for p in warnings_ if p.kind != "confusable_examples"]
    pairs = [p for p in warnings_ if p.kind == "confusable_examples"]
    if warnings_:
        print("\n" + t["warnings"].format(n=len(warnings_)), file=out)
        for p in plain:
            print(f"  {p.where() or '-'}: {p.message(lang)}", file=out)
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
