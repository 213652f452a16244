"""Fixtures for the bot's tests: the trained model and the converted embedding model."""
import os
from pathlib import Path

import pytest

from tests.support.trained_model import trained_model  # noqa: F401 (a fixture)

ROOT = Path(__file__).resolve().parents[2]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ["RASA_TELEMETRY_ENABLED"] = "false"  # nothing may leave the machine


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def e5_model_dir() -> Path:
    path = ROOT / "models" / "multilingual-e5-small"
    if not (path / "modules.json").is_file():
        pytest.fail("models/multilingual-e5-small is missing: run `make setup` (make test does)")
    return path
