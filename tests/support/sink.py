"""Test doubles shared by the feed tests: a sink that records what a feed pushes, and a waiter."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import numpy as np

from tradewind.domain import Candle, Timeframe


class RecordingSink:
    """The CandleSink port, remembering every candle pushed and when it arrived."""

    def __init__(self) -> None:
        self.candles: list[tuple[str, Timeframe, Candle]] = []
        self.arrivals: list[float] = []

    def ingest_candle(self, symbol: str, timeframe: Timeframe, candle: Candle) -> None:
        self.candles.append((symbol, timeframe, candle))
        self.arrivals.append(time.monotonic())

    def ingest_ticks(
        self, symbol: str, times: np.ndarray, prices: np.ndarray, sizes: np.ndarray, spreads: np.ndarray | None = None
    ) -> None:
        raise AssertionError("a candle feed pushes no ticks")

    def closed(self) -> dict[int, Candle]:
        return {c.time: c for _, _, c in self.candles if c.closed}

    def forming(self) -> list[Candle]:
        return [c for _, _, c in self.candles if not c.closed]


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)
