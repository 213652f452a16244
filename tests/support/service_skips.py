"""A test whose outside service (PostgreSQL, Redis, ...) is missing: skipped, and the session ends
with one line saying which service was missing and how many tests it skipped, never silent;
TSUNAGI_REQUIRE_SERVICES=1 (CI) makes it a failure instead.

A conftest keeps a tally of its own and hands it pytest's two hooks:
`missing = MissingServices()`, `pytest_runtest_logreport = missing.count`,
`pytest_terminal_summary = missing.summarize`, and skips with `missing.skip(what)`.
"""
from __future__ import annotations

import os

import pytest

REQUIRE_SERVICES = os.environ.get("TSUNAGI_REQUIRE_SERVICES") == "1"


class MissingServices:
    def __init__(self):
        self.skipped_for: dict[str, int] = {}  # a missing service, in words -> how many tests it skipped

    def skip(self, what: str):
        if REQUIRE_SERVICES:
            pytest.fail(f"{what} (TSUNAGI_REQUIRE_SERVICES=1)")
        self.skipped_for.setdefault(what, 0)
        pytest.skip(what)

    def count(self, report) -> None:
        if report.skipped and isinstance(report.longrepr, tuple):
            what = report.longrepr[2].removeprefix("Skipped: ")
            if what in self.skipped_for:
                self.skipped_for[what] += 1

    def summarize(self, terminalreporter) -> None:
        if self.skipped_for:
            terminalreporter.write_line("; ".join(f"{what}: {n} test{'' if n == 1 else 's'} skipped"
                                                  for what, n in sorted(self.skipped_for.items())),
                                        yellow=True, bold=True)
