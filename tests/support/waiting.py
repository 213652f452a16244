"""Waiting in tests on a condition, not a clock: poll until it holds, or fail saying what did not."""
from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


def wait_until(condition: Callable[[], T], what: str, timeout: float = 10.0, interval: float = 0.02) -> T:
    """condition()'s first true value; AssertionError naming `what` once `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"still not so after {timeout:g} s: {what}")
        time.sleep(interval)
