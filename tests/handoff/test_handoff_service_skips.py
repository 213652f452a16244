"""A plain run without PostgreSQL or Redis says so at the end, with how many tests each skipped."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_run_without_the_services_ends_with_one_line_naming_them():
    env = {k: v for k, v in os.environ.items()
           if k not in ("TEST_DATABASE_URL", "TEST_REDIS_URL", "TSUNAGI_REQUIRE_SERVICES")}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/handoff/test_handoff_units.py::test_redis_rate_limits_are_shared_by_processes_and_start_at_the_first_hit",
         "tests/handoff/test_handoff_units.py::test_rate_limiter_counts_per_key_and_window",
         "tests/handoff/test_handoff_processes.py"],  # needs both: skipped for the first it asks for
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = [line for line in run.stdout.splitlines() if "not configured" in line]
    assert lines == ["PostgreSQL not configured (TEST_DATABASE_URL unset): 1 test skipped; "
                     "Redis not configured (TEST_REDIS_URL unset): 1 test skipped"], run.stdout
    assert "1 passed, 2 skipped" in run.stdout
