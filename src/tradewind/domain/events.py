"""Events carried on the bus: what happened, for whoever listens (the WebSocket hub, the engine).

Each has a ``topic``; publishing never waits for a listener to act.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tradewind.domain.candle import Candle
from tradewind.domain.signal import Signal
from tradewind.domain.timeframe import Timeframe

__all__ = ["CandleClosed", "SignalCreated"]


@dataclass(frozen=True, slots=True)
class CandleClosed:
    """A candle of ``timeframe`` for ``symbol`` has closed and will not change again."""

    symbol: str
    timeframe: Timeframe
    candle: Candle

    topic = "candle.closed"


@dataclass(frozen=True, slots=True)
class SignalCreated:
    """A new signal was stored as ``signal_id``.

    ``record`` is what was stored (the signal and its provenance: symbol, timeframe, analyst, source);
    ``origin`` says who asked for it (``api``, ``periodic``, ``engine``), and ``streamed`` whether it
    was made from the streamer's own candles rather than candles a caller sent.
    """

    signal_id: str
    signal: Signal
    record: Mapping[str, Any]
    origin: str
    streamed: bool

    topic = "signal.created"
