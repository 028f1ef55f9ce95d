"""Ports: the few interfaces the core needs from the outside world.

Each is a small Protocol; adapters implement them and ``bootstrap.py`` wires one in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from tradewind.domain.candle import Candle
from tradewind.domain.timeframe import Timeframe

__all__ = ["CandleFeed", "CandleSink", "CandleStore", "EventBus"]


class CandleSink(Protocol):
    """Where a feed pushes market data: the streamer."""

    def ingest_ticks(
        self,
        symbol: str,
        times: np.ndarray,
        prices: np.ndarray,
        sizes: np.ndarray,
        spreads: np.ndarray | None = None,
    ) -> None:
        """Trades or quotes, times in epoch seconds, in time order."""
        ...

    def ingest_candle(self, symbol: str, timeframe: Timeframe, candle: Candle) -> None:
        """A base candle; ``candle.closed`` False means a snapshot of a still-forming one."""
        ...


class CandleFeed(Protocol):
    """A source of market data: synthetic, replayed history, an exchange or a broker."""

    name: str

    def history(self, symbol: str, timeframe: Timeframe, limit: int, *, until: float | None = None) -> list[Candle]:
        """Up to ``limit`` closed candles ending before ``until`` (default: now), oldest first."""
        ...

    async def run(self, sink: CandleSink, symbols: Sequence[str]) -> None:
        """Push live data into ``sink`` until cancelled."""
        ...


class CandleStore(Protocol):
    """Persistence of closed candles."""

    def save(self, symbol: str, timeframe: Timeframe, candles: Sequence[Candle]) -> int:
        """Store candles idempotently; return how many were new."""
        ...

    def latest(self, symbol: str, timeframe: Timeframe, limit: int) -> list[Candle]:
        """The newest ``limit`` stored candles, oldest first."""
        ...

    def since(self, symbol: str, timeframe: Timeframe, start_time: int) -> list[Candle]:
        """Stored candles opening at or after ``start_time``, oldest first."""
        ...


class EventBus(Protocol):
    def publish(self, topic: str, event: object) -> None: ...

    def subscribe(self, topic: str, handler: Callable[[object], None]) -> Callable[[], None]:
        """Call ``handler`` for every event on ``topic``; returns an unsubscribe function."""
        ...
