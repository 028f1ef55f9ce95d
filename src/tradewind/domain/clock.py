"""Time as a port: the system clock live, a simulated one in backtests and tests."""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["Clock", "SimClock", "SystemClock"]


class Clock(Protocol):
    def now(self) -> float:
        """Current UTC time in epoch seconds."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class SimClock:
    """A clock that moves only when told to; backtests and tests own it."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def set(self, ts: float) -> None:
        self._now = float(ts)

    def advance(self, seconds: float) -> None:
        self._now += seconds
