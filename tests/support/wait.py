"""Polling with a deadline, for tests that watch real processes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def until(check: Callable[[], T], timeout: float = 20.0, every: float = 0.05) -> T:
    """Return the first truthy result of ``check``; fail with the last one after ``timeout``."""
    deadline = time.monotonic() + timeout
    result = check()
    while not result:
        if time.monotonic() > deadline:
            raise AssertionError(f"still {result!r} after {timeout} s")
        time.sleep(every)
        result = check()
    return result
