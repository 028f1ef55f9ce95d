"""Waiting on a server running in another thread: poll a condition until it holds, or fail the test."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 30.0, *, every: float = 0.05) -> T:
    """The first truthy value of ``predicate()``; an AssertionError once ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(every)
    return value
