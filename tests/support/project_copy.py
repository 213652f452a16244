"""A copy of the repository's FAQ content, for tests that change it (the editors' loop) or serve it
(the editor API in the OpenAPI run): the real files are never written by a test."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ("data/nlu", "data/topics", "data/rules.yml", "domain", "config.yml", "actions")


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
            kept, count = [], 0
            for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
                if re.match(r"^\s*-\s+intent:", line):
                    count = 0
                elif re.match(r"^\s{4}- ", line):
                    count += 1
                    if count > examples_per_intent:
                        continue
                kept.append(line)
            path.write_text("".join(kept), encoding="utf-8")
    return target
