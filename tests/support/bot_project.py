"""The bot-side editors' tests' copy of the whole Rasa project (content, configuration, components,
training script), with the helpers that break it, cut it down or publish it. A module of its own:
tests/bot and tests/editors/bot both have a conftest.py, and `from conftest import` finds either."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.project_copy import copy_paths, example_lines

ROOT = Path(__file__).resolve().parents[2]
BOT_PYTHON = ROOT / ".venv" / "bot" / "bin" / "python"
# The top-level modules (languages.py, support_hours.py, ...) are shared by the bot and the actions.
COPIED = ("config.yml", "credentials.yml", "endpoints.yml", "data", "domain.yml", "actions", "bot",
          *sorted(p.name for p in ROOT.glob("*.py")), "tools/train.sh", "requirements/bot.lock")


def copy_project(target: Path) -> Path:
    """The Rasa project (content, configuration, components and training script) in target, with
    the environment and the embedding model linked, so tools/train.sh works there as here."""
    copy_paths(target, COPIED)
    (target / ".venv").symlink_to(ROOT / ".venv")
    (target / "models").mkdir()
    (target / "models" / "multilingual-e5-small").symlink_to((ROOT / "models" / "multilingual-e5-small").resolve())
    return target


def line_of(path: Path, text: str, after: int = 0) -> int:
    """1-based number of the first line (after line `after`) that is `text` once stripped."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if number > after and line.strip() == text:
            return number
    raise AssertionError(f"{text!r} not in {path}")


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= count, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def keep_examples(project: Path, per_language: int) -> None:
    """Cuts every intent of data/nlu down to its first `per_language` Japanese and English
    examples, line by line (the layout stays), and the test set to 2 of each per intent."""
    for path in (project / "data" / "nlu").glob("*.yml"):
        _keep(path, per_language)
    _keep(project / "data" / "tests" / "nlu_test.yml", 2)


def _keep(path: Path, per_language: int) -> None:
    from languages import detect_language

    kept, counts = [], {}
    for line, number in example_lines(path.read_text(encoding="utf-8").splitlines(keepends=True)):
        if number is not None:
            counts = {} if number == 1 else counts
            language = detect_language(line.strip()[2:]) or "ja"
            counts[language] = counts.get(language, 0) + 1
            if counts[language] > per_language:
                continue
        kept.append(line)
    path.write_text("".join(kept), encoding="utf-8")


def run_publish(*args: str, cwd: Path = ROOT, timeout: float = 1200) -> subprocess.CompletedProcess:
    """`python -m bot.publish ...` as make publish runs it, output in English."""
    return subprocess.run([str(BOT_PYTHON), "-m", "bot.publish", *args, "--lang", "en"], cwd=cwd,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True,
                          timeout=timeout)
