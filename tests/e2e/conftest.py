"""End-to-end tests: the real bot (started by tools/with-bot.sh) behind the real handoff service."""
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
from service_harness import HandoffService, seed_database  # noqa: E402


REQUIRE_SERVICES = os.environ.get("TSUNAGI_REQUIRE_SERVICES") == "1"
# A missing service, in words -> how many tests it skipped: said at the end, as tests/handoff does.
_skipped_for: dict[str, int] = {}


def service_missing(what: str):
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} (TSUNAGI_REQUIRE_SERVICES=1)")
    _skipped_for.setdefault(what, 0)
    pytest.skip(what)


def pytest_runtest_logreport(report):
    if report.skipped and isinstance(report.longrepr, tuple):
        what = report.longrepr[2].removeprefix("Skipped: ")
        if what in _skipped_for:
            _skipped_for[what] += 1


def pytest_terminal_summary(terminalreporter):
    if _skipped_for:
        terminalreporter.write_line("; ".join(f"{what}: {n} test{'' if n == 1 else 's'} skipped"
                                              for what, n in sorted(_skipped_for.items())), yellow=True, bold=True)


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
