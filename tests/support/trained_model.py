"""The trained model (models/current.tar.gz, made by `make train`) as a session fixture, for the
bot, editors and runtime tests. A conftest imports it: `from tests.support.trained_model import
trained_model  # noqa: F401 (a fixture)`."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def trained_model() -> Path:
    path = ROOT / "models" / "current.tar.gz"
    if not path.is_file():
        pytest.fail("models/current.tar.gz is missing: run `make train` (make test does)")
    return path
