"""The one polling helper of the test suite (no test defines its own)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout_s: float = 10.0, interval_s: float = 0.02) -> T:
    """Call `predicate` until it returns something truthy, and return that; after `timeout_s`, return its last
    (falsy) answer, so the caller says what it waited for: `assert wait_until(ready, 5), "the chart never came"`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval_s)
