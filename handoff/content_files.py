"""The FAQ content files as the console edits them: examples added to a topic, a new topic drafted.

Changes go through ruamel.yaml's round trip, so comments, order, quoting and layout stay as the
editors wrote them and `git diff` shows only the lines a change adds; the result is read back and
compared with what was meant before it replaces the file, and `make publish` takes it from there.
Files, under the project folder (TSUNAGI_PROJECT_DIR): data/nlu/<category>.yml (a topic's examples
and its answer), domain.yml (its id under `intents:`), data/topics/<category>.yml (its titles).
"""
from __future__ import annotations

import contextlib
import copy
import difflib
import fcntl
import hashlib
import io
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import yaml
from flask import current_app
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString
from ruamel.yaml.util import load_yaml_guess_indent

from languages import LANGUAGES

_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
TOPIC_ID = re.compile(r"^[a-z][a-z0-9_]{1,60}$")
MAX_EXAMPLE_CHARS = 300
MAX_TITLE_CHARS = 60
MAX_ANSWER_CHARS = 2000
# Rasa reads "[text](entity)" and "[text]{...}" in an example as an entity annotation.
_ANNOTATION = re.compile(r"\[([^\]]*)\](?=[({])")
_LINE_BREAKS = re.compile(r"[\r\n\t\v\f\u0085\u2028\u2029]+")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


class ContentError(Exception):
    """A change that cannot be made as asked; `code` and the message go back to the editor."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Topic:
    id: str
    category: str
    title: dict
    examples: list[str] = field(default_factory=list)


@dataclass
class Change:
    """What a change did: the files it touched, their unified diff, what was added or skipped."""
    files: list[str] = field(default_factory=list)
    diff: str = ""
    added: list[str] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"files": self.files, "diff": self.diff, "added": self.added, "skipped": self.skipped}


def normalise(text: str) -> str:
    """Two examples are the same when only case and spacing differ (as bot/validate.py sees it)."""
    return " ".join(text.casefold().split())


def clean_example(text: str) -> str:
    """One line of plain text, safe inside an `examples: |` block."""
    text = _CONTROL.sub("", _LINE_BREAKS.sub(" ", text))
    text = " ".join(text.split())
    # Keep brackets that would read as an entity annotation from being one.
    return _ANNOTATION.sub(lambda m: f"［{m.group(1)}］", text)


def examples_of(block: str) -> list[str]:
    """The examples of an `examples: |` block as Rasa reads them: the lines that start with '-'
    (rasa_yaml.py, _parse_multiline_example), without it."""
    return [line[1:].strip() for line in block.splitlines() if line.startswith("-") and line[1:].strip()]


def _one_line(text: str, name: str, limit: int) -> str:
    text = " ".join(_CONTROL.sub("", _LINE_BREAKS.sub(" ", text or "")).split())
    if not text:
        raise ContentError("missing_field", f"'{name}' must not be empty.")
    if len(text) > limit:
        raise ContentError("invalid_field", f"'{name}' is longer than {limit} characters.")
    return text


class Document:
    """One YAML file loaded for a round trip: change `data`, then `text()` is the file with only
    those changes. A file whose layout ruamel.yaml cannot reproduce exactly is refused rather than
    rewritten."""

    def __init__(self, path: Path, rel: str):
        self.path, self.rel = path, rel
        self.original = path.read_text(encoding="utf-8")
        self.yaml = YAML()  # round trip
        self.yaml.preserve_quotes = True
        self.yaml.width = 1 << 16  # never fold a long answer onto a second line
        try:
            _, sequence, offset = load_yaml_guess_indent(self.original)
            # The guess measures block sequences ("- " and the indentation before it); mappings are
            # indented by two spaces in every content file, or as guessed where there is no sequence.
            self.yaml.indent(mapping=2 if offset is not None else sequence, sequence=sequence, offset=offset or 0)
            self.data = self.yaml.load(self.original)
        except YAMLError as error:
            raise ContentError("content_unreadable", f"{rel} cannot be read: {error}. Run `make validate`.")
        if self.data is None:
            self.data = CommentedMap()
        if self.text() != self.original:
            raise ContentError("content_unreadable", f"{rel} is laid out in a way the console cannot write back "
                                                     "without changing other lines; add the lines by hand.")

    def text(self) -> str:
        out = io.StringIO()
        self.yaml.dump(self.data, out)
        return out.getvalue()


# Where ruamel.yaml keeps what follows an entry: the blank lines and comments after the last
# scalar of its subtree belong to that scalar. An entry added after another takes them over, so
# a blank line before the next section, or the next group's comment, stays where it was.

def _last_scalar(node: Any) -> tuple[Any, Any]:
    while True:
        key = len(node) - 1 if isinstance(node, CommentedSeq) else list(node)[-1]
        value = node[key]
        if not isinstance(value, (CommentedMap, CommentedSeq)) or not value:
            return node, key
        node = value


def _tail(node: Any) -> Any:
    holder, key = _last_scalar(node)
    entry = holder.ca.items.get(key)
    return entry[0 if isinstance(holder, CommentedSeq) else 2] if entry else None


def _set_tail(node: Any, token: Any) -> None:
    holder, key = _last_scalar(node)
    entry = holder.ca.items.setdefault(key, [None, None, None, None])
    entry[0 if isinstance(holder, CommentedSeq) else 2] = token


def _add(collection: Any, position: int, value: Any, key: Any = None) -> None:
    """Puts value (under key in a mapping) at position: it takes over what followed the entry
    before it, which keeps the blank line that separates entries if the one before that has one."""
    entries = list(collection.values()) if isinstance(collection, CommentedMap) else list(collection)
    previous = entries[position - 1] if position > 0 else None
    if isinstance(collection, CommentedMap):
        collection.insert(position, key, value)
    else:
        collection.insert(position, value)
    if not isinstance(previous, (CommentedMap, CommentedSeq)) or not previous:
        return  # nothing to take over (lists of names: _add_to_list)
    tail = _tail(previous)
    before = entries[position - 2] if position > 1 else None
    separator = _tail(before) if isinstance(before, (CommentedMap, CommentedSeq)) and before else None
    blank = separator is not None and not separator.value.strip() and separator.value.count("\n") > 1
    _set_tail(previous, copy.copy(separator) if blank else None)
    if tail is not None:
        _set_tail(value, tail)


def _add_to_list(items: CommentedSeq, position: int, name: str) -> None:
    """A name in a list of names ("  - a"): it takes over the comment after the name before it
    (the next group's heading, or the blank line before the next section)."""
    items.insert(position, name)
    if position > 0 and position - 1 in items.ca.items:
        items.ca.items[position] = items.ca.items.pop(position - 1)


class ContentFiles:
    def __init__(self, project: Path | str):
        self.project = Path(project).resolve()

    # Reading.

    def _yml(self, folder: str) -> list[Path]:
        path = self.project / folder
        return sorted(p for p in path.glob("*.yml") if p.is_file()) if path.is_dir() else []

    def _rel(self, path: Path) -> str:
        return str(path.relative_to(self.project))

    def _load(self, path: Path) -> dict:
        """A file's content, read with libyaml: with ruamel.yaml's pure-Python reader a new topic took
        3.5 s instead of 0.8 s. Only the round trip that writes goes through ruamel.yaml."""
        try:
            return yaml.load(path.read_text(encoding="utf-8"), Loader=_SafeLoader) or {}
        except yaml.YAMLError as error:
            raise ContentError("content_unreadable", f"{self._rel(path)} cannot be read: {error}. Run `make validate`.")

    @property
    def domain(self) -> Path:
        return self.project / "domain.yml"

    def examples_by_intent(self) -> dict[str, list[str]]:
        """Every intent's examples, from data/nlu/*.yml."""
        found: dict[str, list[str]] = {}
        for path in self._yml("data/nlu"):
            for item in self._load(path).get("nlu") or []:
                if isinstance(item, dict) and "intent" in item and isinstance(item.get("examples"), str):
                    found.setdefault(str(item["intent"]), []).extend(examples_of(item["examples"]))
        return found

    def topics(self) -> list[Topic]:
        """The FAQ topics: those with a title in data/topics/, with their examples."""
        examples = self.examples_by_intent()
        topics = []
        for path in self._yml("data/topics"):
            for topic_id, entry in (self._load(path).get("topics") or {}).items():
                title = (entry or {}).get("title") or {}
                topics.append(Topic(str(topic_id), path.stem, {k: str(v) for k, v in title.items()},
                                    examples.get(str(topic_id), [])))
        return sorted(topics, key=lambda t: (t.category, t.id))

    def answers(self) -> dict[str, dict[str, str]]:
        """Each topic's answer per language, {topic id: {language: text}}: the `utter_<topic>` responses
        of domain.yml and data/nlu/*.yml, one variation per `language` slot condition (a variation
        without a condition answers in any language that has none of its own)."""
        found: dict[str, dict[str, str]] = {}
        paths = ([self.domain] if self.domain.is_file() else []) + self._yml("data/nlu")
        for path in paths:
            for name, variations in (self._load(path).get("responses") or {}).items():
                if not str(name).startswith("utter_") or not isinstance(variations, list):
                    continue
                by_language, anywhere = found.setdefault(str(name)[len("utter_"):], {}), None
                for variation in variations:
                    if not isinstance(variation, dict) or not isinstance(variation.get("text"), str):
                        continue
                    languages = [c.get("value") for c in variation.get("condition") or []
                                 if isinstance(c, dict) and c.get("name") == "language"]
                    if not languages:
                        anywhere = anywhere or variation["text"]
                    for language in languages:
                        by_language.setdefault(str(language), variation["text"])
                for language in LANGUAGES:
                    if anywhere is not None:
                        by_language.setdefault(language, anywhere)
        return {topic: texts for topic, texts in found.items() if texts}

    def categories(self) -> list[str]:
        """Categories a new topic can go into: those with examples and titles (and a domain.yml)."""
        if not self.domain.is_file():
            return []
        names = {p.stem for p in self._yml("data/nlu")}
        return sorted(n for n in names if (self.project / "data" / "topics" / f"{n}.yml").is_file())

    def _known_names(self) -> set[str]:
        names = set(self.examples_by_intent()) | {t.id for t in self.topics()}
        domain = self._load(self.domain) if self.domain.is_file() else {}
        for item in domain.get("intents") or []:
            names.add(str(next(iter(item))) if isinstance(item, dict) else str(item))
        for data in [domain, *(self._load(path) for path in self._yml("data/nlu"))]:
            responses = data.get("responses") or {}
            names |= {str(k)[len("utter_"):] for k in responses if str(k).startswith("utter_")}
        return names

    def _nlu_file_of(self, intent: str) -> Path:
        for path in self._yml("data/nlu"):
            if any(isinstance(item, dict) and item.get("intent") == intent for item in self._load(path).get("nlu") or []):
                return path
        raise ContentError("unknown_topic", f"There is no intent '{intent}' in data/nlu/.")

    # Writing.

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One change at a time, across the service's processes."""
        key = hashlib.sha256(str(self.project).encode()).hexdigest()[:16]
        with open(Path(tempfile.gettempdir()) / f"tsunagi-content-{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _split_new(self, texts: list[str], existing: dict[str, list[str]], change: Change) -> list[str]:
        """The texts worth adding; the others are listed in change.skipped with the reason."""
        owner = {normalise(e): intent for intent, items in existing.items() for e in items}
        keep, seen = [], set()
        for raw in texts:
            text = clean_example(raw)
            key = normalise(text)
            if not text:
                continue
            if len(text) > MAX_EXAMPLE_CHARS:
                change.skipped.append({"text": text, "reason": "too_long"})
            elif key in seen:
                change.skipped.append({"text": text, "reason": "repeated"})
            elif key in owner:
                change.skipped.append({"text": text, "reason": "already_an_example", "intent": owner[key]})
            else:
                seen.add(key)
                keep.append(text)
        return keep

    def add_examples(self, topic: str, texts: list[str]) -> Change:
        """Appends texts to the examples of an existing topic, after its last example."""
        with self._locked():
            change = Change()
            examples = self.examples_by_intent()
            if topic not in examples:
                raise ContentError("unknown_topic", f"There is no intent '{topic}' in data/nlu/.")
            new = self._split_new(texts, examples, change)
            if not new:
                return change
            path = self._nlu_file_of(topic)
            nlu = Document(path, self._rel(path))
            item = next(i for i in nlu.data["nlu"] if isinstance(i, dict) and i.get("intent") == topic)
            block = item.get("examples")
            if not isinstance(block, LiteralScalarString):
                raise ContentError("content_unreadable", f"The examples of '{topic}' in {nlu.rel} are not an "
                                                         "'examples: |' block; run `make validate`.")
            # The block keeps its chomping ("|" or "|-") and any comment after its "|".
            added = LiteralScalarString(block.rstrip("\n") + "".join(f"\n- {t}" for t in new)
                                        + ("\n" if block.endswith("\n") else ""))
            if getattr(block, "comment", None):
                added.comment = block.comment
            item["examples"] = added
            expected = dict(examples, **{topic: examples[topic] + new})
            self._replace([nlu], lambda: self.examples_by_intent() == expected, change)
            change.added = new
            return change

    def add_topic(self, topic: str, category: str, title: dict, answer: dict, texts: list[str],
                  offer_human: bool = False) -> Change:
        """A new topic: its examples and its answer in both languages, its id, its titles."""
        if not isinstance(topic, str) or not TOPIC_ID.match(topic):
            raise ContentError("invalid_topic_id", "A topic id is 2-61 characters of a-z, 0-9 and _, "
                                                   "starting with a letter (e.g. 'gift_card').")
        titles = {lang: _one_line((title or {}).get(lang, ""), f"title.{lang}", MAX_TITLE_CHARS) for lang in LANGUAGES}
        answers = {}
        for lang in LANGUAGES:
            text = _CONTROL.sub("", str((answer or {}).get(lang) or "")).strip()
            if not text:
                raise ContentError("missing_field", f"'answer.{lang}' must not be empty.")
            if len(text) > MAX_ANSWER_CHARS:
                raise ContentError("invalid_field", f"'answer.{lang}' is longer than {MAX_ANSWER_CHARS} characters.")
            answers[lang] = text
        with self._locked():
            if category not in self.categories():
                raise ContentError("unknown_category", f"There is no category '{category}'; one of: "
                                                       f"{', '.join(self.categories())}.")
            if topic in self._known_names():
                raise ContentError("topic_exists", f"'{topic}' already exists; choose another id.")
            change = Change()
            examples = self.examples_by_intent()
            new = self._split_new(texts, examples, change)
            if not new:
                raise ContentError("no_examples", "A new topic needs at least one example that is not "
                                                  "already an example of another intent.")
            nlu_path = self.project / "data" / "nlu" / f"{category}.yml"
            topics_path = self.project / "data" / "topics" / f"{category}.yml"
            nlu, domain, topics = (Document(p, self._rel(p)) for p in (nlu_path, self.domain, topics_path))
            before = {"nlu": self._load(nlu_path), "domain": self._load(self.domain), "topics": self._load(topics_path)}
            in_category = {str(i.get("intent")) for i in nlu.data.get("nlu") or [] if isinstance(i, dict)}
            self._add_examples_block(nlu, topic, new)
            self._add_answer(nlu, topic, answers)
            self._add_intent(domain, topic, in_category)
            self._add_title(topics, topic, titles, offer_human)

            def as_meant() -> bool:
                after = {"nlu": self._load(nlu_path), "domain": self._load(self.domain), "topics": self._load(topics_path)}
                variations = (after["nlu"].get("responses") or {}).get(f"utter_{topic}") or []
                by_language = {v["condition"][0]["value"]: v["text"] for v in variations}
                others = {k: v for k, v in (after["nlu"].get("responses") or {}).items() if k != f"utter_{topic}"}
                intents_after = list(after["domain"].get("intents") or [])
                return (self.examples_by_intent() == dict(examples, **{topic: new})
                        and by_language == answers and others == (before["nlu"].get("responses") or {})
                        and sorted(intents_after, key=str) == sorted((before["domain"].get("intents") or []) + [topic], key=str)
                        and {k: v for k, v in after["domain"].items() if k != "intents"}
                        == {k: v for k, v in before["domain"].items() if k != "intents"}
                        and (after["topics"].get("topics") or {}).get(topic) == {"title": titles, "offer_human": bool(offer_human)}
                        and len(after["topics"].get("topics") or {}) == len(before["topics"].get("topics") or {}) + 1)

            self._replace([nlu, domain, topics], as_meant, change)
            change.added = new
            return change

    # What a new topic adds, in each file's own layout.

    @staticmethod
    def _add_examples_block(nlu: Document, topic: str, examples: list[str]) -> None:
        items = nlu.data.setdefault("nlu", CommentedSeq())
        entry = CommentedMap([("intent", topic), ("examples", LiteralScalarString("".join(f"- {t}\n" for t in examples)))])
        _add(items, len(items), entry)

    @staticmethod
    def _add_answer(nlu: Document, topic: str, answers: dict) -> None:
        if "responses" not in nlu.data:  # before the examples, as in the other categories
            nlu.data.insert(1 if "version" in nlu.data else 0, "responses", CommentedMap())
        responses = nlu.data["responses"]
        variations = CommentedSeq(
            CommentedMap([("condition", CommentedSeq([CommentedMap([("type", "slot"), ("name", "language"),
                                                                    ("value", lang)])])),
                          ("text", DoubleQuotedScalarString(answers[lang]))])
            for lang in LANGUAGES)
        _add(responses, len(responses), variations, key=f"utter_{topic}")

    @staticmethod
    def _add_intent(domain: Document, topic: str, in_category: set[str]) -> None:
        """The id under `intents:`, after the last intent of its category (else at the end)."""
        intents = domain.data.setdefault("intents", CommentedSeq())
        names = [str(next(iter(i))) if isinstance(i, dict) else str(i) for i in intents]
        position = max((n + 1 for n, name in enumerate(names) if name in in_category), default=len(intents))
        _add_to_list(intents, position, topic)

    @staticmethod
    def _add_title(topics: Document, topic: str, titles: dict, offer_human: bool) -> None:
        entries = topics.data.setdefault("topics", CommentedMap())
        title = CommentedMap((lang, DoubleQuotedScalarString(titles[lang])) for lang in LANGUAGES)
        title.fa.set_flow_style()
        _add(entries, len(entries), CommentedMap([("title", title), ("offer_human", bool(offer_human))]), key=topic)

    def _replace(self, documents: list[Document], as_meant, change: Change) -> None:
        """Writes the changed files, keeps them only if they read back as meant, and records the diff."""
        texts = {doc.path: doc.text() for doc in documents}
        try:
            for doc in documents:
                tmp = doc.path.with_name(f".{doc.path.name}.{os.getpid()}.tmp")
                tmp.write_text(texts[doc.path], encoding="utf-8")
                os.replace(tmp, doc.path)
            ok = as_meant()
        except Exception:
            ok = False
        if not ok:
            for doc in documents:
                doc.path.write_text(doc.original, encoding="utf-8")
            raise ContentError("write_failed", "The change could not be written cleanly into the content files; "
                                               "nothing was changed. Run `make validate` to see what is wrong.")
        for doc in documents:
            change.files.append(doc.rel)
            change.diff += "".join(difflib.unified_diff(
                doc.original.splitlines(keepends=True), texts[doc.path].splitlines(keepends=True),
                f"a/{doc.rel}", f"b/{doc.rel}", n=2))


# This service's content, as the editor API changes it and the dashboard names its topics.

PROJECT_ROOT = Path(__file__).resolve().parent.parent  # the checkout; TSUNAGI_PROJECT_DIR overrides it
_titles_cache: dict[Path, tuple[tuple, dict[str, dict[str, str]]]] = {}


def project_content() -> ContentFiles:
    """The FAQ content of the app being served (TSUNAGI_PROJECT_DIR, else the checkout)."""
    return ContentFiles(current_app.config.get("TSUNAGI_PROJECT_DIR") or PROJECT_ROOT)


def topic_titles(content: ContentFiles) -> dict[str, dict[str, str]]:
    """{topic id: its titles}, parsed again only when a file of data/nlu or data/topics changed (the
    dashboard asks on every load; the key is each file's name, modification time and size). Raises
    ContentError for a file that cannot be read, as topics() does."""
    files = content._yml("data/nlu") + content._yml("data/topics")
    try:
        key = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    except OSError:  # a file went away meanwhile: read afresh
        return {topic.id: topic.title for topic in content.topics()}
    cached = _titles_cache.get(content.project)
    if cached is not None and cached[0] == key:
        return cached[1]
    titles = {topic.id: topic.title for topic in content.topics()}
    _titles_cache[content.project] = (key, titles)
    return titles
