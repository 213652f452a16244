"""The FAQ content files as the console edits them: examples added to a topic, a new topic drafted.

Every change inserts lines and never rewrites a file (comments, quoting and order stay as the
editors wrote them), so `git diff` shows exactly what was added; the result is parsed again and
compared with what was meant before it replaces the file, and `make publish` takes it from there.
Files: data/nlu/<category>.yml (examples), domain/<category>.yml (intents and answers),
data/topics/<category>.yml (titles), under the project folder (TSUNAGI_PROJECT_DIR).
"""
from __future__ import annotations

import contextlib
import difflib
import fcntl
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

import yaml

LANGUAGES = ("ja", "en")
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


def _one_line(text: str, name: str, limit: int) -> str:
    text = " ".join(_CONTROL.sub("", _LINE_BREAKS.sub(" ", text or "")).split())
    if not text:
        raise ContentError("missing_field", f"'{name}' must not be empty.")
    if len(text) > limit:
        raise ContentError("invalid_field", f"'{name}' is longer than {limit} characters.")
    return text


def _quoted(text: str) -> str:
    """A YAML double-quoted scalar (a JSON string is one)."""
    return json.dumps(text, ensure_ascii=False)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


class ContentFiles:
    def __init__(self, project: Path | str):
        self.project = Path(project).resolve()

    # Reading.

    def _yml(self, folder: str) -> list[Path]:
        path = self.project / folder
        return sorted(p for p in path.glob("*.yml") if p.is_file()) if path.is_dir() else []

    @staticmethod
    def _load(path: Path) -> dict:
        try:
            return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise ContentError("content_unreadable", f"{path.name} cannot be read: {error}. Run `make validate`.")

    def examples_by_intent(self) -> dict[str, list[str]]:
        """Every intent's examples, from data/nlu/*.yml."""
        found: dict[str, list[str]] = {}
        for path in self._yml("data/nlu"):
            for item in self._load(path).get("nlu") or []:
                if isinstance(item, dict) and "intent" in item and isinstance(item.get("examples"), str):
                    found.setdefault(str(item["intent"]), []).extend(
                        line.strip()[1:].strip() for line in item["examples"].splitlines()
                        if line.strip().startswith("-") and line.strip()[1:].strip())
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

    def categories(self) -> list[str]:
        """Categories a new topic can go into: those with all three files."""
        names = {p.stem for p in self._yml("data/nlu")}
        return sorted(n for n in names
                      if (self.project / "domain" / f"{n}.yml").is_file()
                      and (self.project / "data" / "topics" / f"{n}.yml").is_file())

    def _known_names(self) -> set[str]:
        names = set(self.examples_by_intent())
        for path in self._yml("domain"):
            data = self._load(path)
            for item in data.get("intents") or []:
                names.add(str(next(iter(item))) if isinstance(item, dict) else str(item))
            names |= {str(k)[len("utter_"):] for k in (data.get("responses") or {}) if str(k).startswith("utter_")}
        names |= {t.id for t in self.topics()}
        return names

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

    def _rel(self, path: Path) -> str:
        return str(path.relative_to(self.project))

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
            path, lines = self._nlu_file_of(topic)
            at, indent = self._examples_end(lines, topic, path)
            updated = lines[:at] + [f"{' ' * indent}- {text}\n" for text in new] + lines[at:]
            expected = dict(examples)
            expected[topic] = examples[topic] + new
            self._replace({path: updated}, lambda: self.examples_by_intent() == expected, change)
            change.added = new
            return change

    def add_topic(self, topic: str, category: str, title: dict, answer: dict, texts: list[str],
                  offer_human: bool = False) -> Change:
        """A new topic: its examples, its intent and answer in both languages, its titles."""
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
            nlu = self.project / "data" / "nlu" / f"{category}.yml"
            domain = self.project / "domain" / f"{category}.yml"
            topics = self.project / "data" / "topics" / f"{category}.yml"
            before = {p: self._load(p) for p in (domain, topics)}
            updated = {
                nlu: self._append_intent(self._lines(nlu), topic, new),
                domain: self._add_answer(self._lines(domain), topic, answers, domain),
                topics: self._add_title(self._lines(topics), topic, titles, offer_human, topics),
            }

            def as_meant() -> bool:
                expected_examples = dict(examples, **{topic: new})
                d_before, d_after = before[domain], self._load(domain)
                t_before, t_after = before[topics], self._load(topics)
                variations = (d_after.get("responses") or {}).get(f"utter_{topic}") or []
                by_language = {v["condition"][0]["value"]: v["text"] for v in variations}
                return (self.examples_by_intent() == expected_examples
                        and d_after.get("intents") == (d_before.get("intents") or []) + [topic]
                        and by_language == answers
                        and {k: v for k, v in (d_after.get("responses") or {}).items() if k != f"utter_{topic}"}
                        == (d_before.get("responses") or {})
                        and (t_after.get("topics") or {}).get(topic) == {"title": titles, "offer_human": bool(offer_human)}
                        and len(t_after.get("topics") or {}) == len(t_before.get("topics") or {}) + 1)

            self._replace(updated, as_meant, change)
            change.added = new
            return change

    # Where lines go.

    @staticmethod
    def _lines(path: Path) -> list[str]:
        text = path.read_text(encoding="utf-8")
        if text and not text.endswith("\n"):
            text += "\n"
        return text.splitlines(keepends=True)

    def _nlu_file_of(self, intent: str) -> tuple[Path, list[str]]:
        pattern = self._intent_line(intent)
        for path in self._yml("data/nlu"):
            lines = self._lines(path)
            if any(pattern.match(line) for line in lines):
                return path, lines
        raise ContentError("unknown_topic", f"There is no intent '{intent}' in data/nlu/.")

    @staticmethod
    def _intent_line(intent: str) -> re.Pattern:
        return re.compile(rf"^\s*-\s+intent:\s*[\"']?{re.escape(intent)}[\"']?\s*(#.*)?$")

    def _examples_end(self, lines: list[str], intent: str, path: Path) -> tuple[int, int]:
        """(index after the last example of the intent, indentation of its examples)."""
        pattern = self._intent_line(intent)
        start = next(i for i, line in enumerate(lines) if pattern.match(line))
        item_indent = _indent(lines[start])
        key = next((i for i in range(start + 1, len(lines))
                    if re.match(r"^\s*examples:\s*\|[-+]?\s*(#.*)?$", lines[i])), None)
        if key is None or any(re.match(r"^\s*-\s+intent:", lines[i]) for i in range(start + 1, key)):
            raise ContentError("content_unreadable", f"The examples of '{intent}' in {self._rel(path)} are not "
                                                     "an 'examples: |' block; run `make validate`.")
        key_indent = _indent(lines[key])
        last, indent = key, key_indent + 2
        for i in range(key + 1, len(lines)):
            if not lines[i].strip():
                continue
            if _indent(lines[i]) <= max(key_indent, item_indent):
                break
            if last == key:
                indent = _indent(lines[i])
            last = i
        return last + 1, indent

    @staticmethod
    def _append_intent(lines: list[str], topic: str, examples: list[str]) -> list[str]:
        """A new '- intent:' entry at the end, in the file's own indentation and spacing."""
        item = next((l for l in lines if re.match(r"^\s*-\s+intent:", l)), "- intent: x\n")
        item_indent = _indent(item)
        starts = [i for i, l in enumerate(lines) if re.match(r"^\s*-\s+intent:", l)]
        key_line = next((l for l in lines if re.match(r"^\s*examples:", l)), " " * (item_indent + 2) + "examples: |\n")
        key_indent = _indent(key_line)
        first_example = None
        if starts:
            after_key = [l for l in lines[starts[0]:] if l.strip()]
            first_example = next((l for l in after_key[2:] if l.strip().startswith("- ")), None)
        example_indent = _indent(first_example) if first_example else key_indent + 2
        spaced = len(starts) > 1 and not lines[starts[1] - 1].strip()
        block = (["\n"] if spaced and lines and lines[-1].strip() else []) + [
            f"{' ' * item_indent}- intent: {topic}\n", f"{' ' * key_indent}examples: |\n",
            *[f"{' ' * example_indent}- {text}\n" for text in examples]]
        return lines + block

    @staticmethod
    def _section(lines: list[str], name: str) -> Optional[tuple[int, int]]:
        """(index of the top-level 'name:' line, index after its last non-blank line)."""
        start = next((i for i, l in enumerate(lines) if re.match(rf"^{name}:\s*(#.*)?$", l)), None)
        if start is None:
            return None
        end = start + 1
        for i in range(start + 1, len(lines)):
            if lines[i].strip() and _indent(lines[i]) == 0 and not lines[i].startswith("-") \
                    and not lines[i].startswith("#"):
                break
            if lines[i].strip() and not lines[i].lstrip().startswith("#"):
                end = i + 1
        return start, end

    def _add_answer(self, lines: list[str], topic: str, answers: dict, path: Path) -> list[str]:
        intents = self._section(lines, "intents")
        if intents is None:
            lines = lines + ["\n", "intents:\n", f"  - {topic}\n"]
        else:
            start, end = intents
            item = next((l for l in lines[start + 1:end] if l.lstrip().startswith("- ")), "  - x\n")
            lines = lines[:end] + [f"{' ' * _indent(item)}- {topic}\n"] + lines[end:]
        responses = self._section(lines, "responses")
        if responses is None:
            lines = lines + ["\n", "responses:\n"]
            responses = (len(lines) - 1, len(lines))
        start, end = responses
        body = [l for l in lines[start + 1:end] if l.strip() and not l.lstrip().startswith("#")]
        key_indent = _indent(body[0]) if body else 2
        dash = next((l for l in body[1:] if l.lstrip().startswith("- ")), None)
        seq_indent = _indent(dash) if dash else key_indent
        inner = " " * (seq_indent + 2)
        block = [f"{' ' * key_indent}utter_{topic}:\n"]
        for lang in LANGUAGES:
            block += [f"{' ' * seq_indent}- condition:\n", f"{inner}- type: slot\n", f"{inner}  name: language\n",
                      f"{inner}  value: {lang}\n", f"{inner}text: {_quoted(answers[lang])}\n"]
        return lines[:end] + block + lines[end:]

    def _add_title(self, lines: list[str], topic: str, titles: dict, offer_human: bool, path: Path) -> list[str]:
        section = self._section(lines, "topics")
        if section is None:
            lines = lines + ["topics:\n"]
            section = (len(lines) - 1, len(lines))
        start, end = section
        body = [l for l in lines[start + 1:end] if l.strip() and not l.lstrip().startswith("#")]
        key_indent = _indent(body[0]) if body else 2
        field_indent = _indent(body[1]) if len(body) > 1 else key_indent + 2
        pad = " " * field_indent
        block = [f"{' ' * key_indent}{topic}:\n",
                 f"{pad}title: {{ja: {_quoted(titles['ja'])}, en: {_quoted(titles['en'])}}}\n",
                 f"{pad}offer_human: {'true' if offer_human else 'false'}\n"]
        return lines[:end] + block + lines[end:]

    def _replace(self, updated: dict[Path, list[str]], as_meant, change: Change) -> None:
        """Writes the new files, keeps them only if they read back as meant, and records the diff."""
        originals = {path: path.read_text(encoding="utf-8") for path in updated}
        try:
            for path, lines in updated.items():
                tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
                tmp.write_text("".join(lines), encoding="utf-8")
                os.replace(tmp, path)
            ok = as_meant()
        except Exception:
            ok = False
        if not ok:
            for path, text in originals.items():
                path.write_text(text, encoding="utf-8")
            raise ContentError("write_failed", "The change could not be written cleanly into the content files; "
                                               "nothing was changed. Run `make validate` to see what is wrong.")
        for path, lines in updated.items():
            rel = self._rel(path)
            change.files.append(rel)
            change.diff += "".join(difflib.unified_diff(
                originals[path].splitlines(keepends=True), lines, f"a/{rel}", f"b/{rel}", n=2))
