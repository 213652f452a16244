"""A copy of the repository's FAQ content, for tests that change it (the editors' loop) or serve it
(the editor API in the OpenAPI run): the real files are never written by a test."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ("data/nlu", "data/topics", "data/rules.yml", "domain.yml", "config.yml", "actions")


def copy_paths(target: Path, names) -> Path:
    """The repository's files and folders `names` (relative paths) copied into target."""
    for name in names:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target / name)
    return target


def copy_content(target: Path, examples_per_intent: int | None = None) -> Path:
    """The FAQ content (and what `make validate` reads) copied into target. With
    examples_per_intent, each intent keeps only its first examples, line by line, so the files
    keep their exact layout (and embedding them is quick)."""
    copy_paths(target, CONTENT)
    if examples_per_intent is not None:
        for path in (target / "data" / "nlu").glob("*.yml"):
            kept = []
            for line, number in example_lines(path.read_text(encoding="utf-8").splitlines(keepends=True)):
                if number is None or number <= examples_per_intent:
                    kept.append(line)
            path.write_text("".join(kept), encoding="utf-8")
    return target


def example_lines(lines):
    """(line, n) for each line of a data/nlu file: n counts the examples of its `examples: |`
    block (1 for the first), None for any other line (answers, keys, comments)."""
    count, key_indent = None, 0
    for line in lines:
        indent = len(line) - len(line.lstrip(" "))
        if re.match(r"^\s*examples:\s*\|", line):
            count, key_indent = 0, indent
        elif count is not None and line.strip() and indent <= key_indent:
            count = None  # the block ended
        if count is not None and line.lstrip().startswith("- ") and indent > key_indent:
            count += 1
            yield line, count
        else:
            yield line, None
