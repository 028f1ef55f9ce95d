"""Events carried on the bus."""

from __future__ import annotations

from dataclasses import dataclass

from tradewind.domain.candle import Candle
from tradewind.domain.timeframe import Timeframe

__all__ = ["CandleClosed"]


@dataclass(frozen=True, slots=True)
class CandleClosed:
    """A candle of ``timeframe`` for ``symbol`` has closed and will not change again."""

    symbol: str
    timeframe: Timeframe
    candle: Candle

    topic = "candle.closed"
