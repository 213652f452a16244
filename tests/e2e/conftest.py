"""End-to-end tests: the real bot (started by tools/with-bot.sh) behind the real handoff service."""
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
from service_harness import HandoffService, seed_database  # noqa: E402
from tests.support.service_skips import MissingServices  # noqa: E402


missing_services = MissingServices()  # this folder's tally, said at the end of the session
service_missing = missing_services.skip
pytest_runtest_logreport = missing_services.count
pytest_terminal_summary = missing_services.summarize


@pytest.fixture(name="service_missing")
def service_missing_fixture():
    """service_missing for the tests of this folder (a conftest is not importable by name here:
    tests/browser has one too)."""
    return service_missing


@pytest.fixture(scope="session")
def rasa_url():
    url = os.environ.get("TSUNAGI_E2E_RASA_URL")
    if not url:
        pytest.fail("TSUNAGI_E2E_RASA_URL is not set: run through tools/with-bot.sh (make test-e2e does)")
    return url


@pytest.fixture
def service(rasa_url, tmp_path):
    template = seed_database(tmp_path / "template.sqlite3", rasa_url)
    running = HandoffService(template, tmp_path / "service", rasa_url).start()
    yield running
    running.stop()
