"""Events carried on the bus: what happened, for whoever listens (the WebSocket hub, the engine).

Each has a ``topic``; publishing never waits for a listener to act.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tradewind.domain.candle import Candle
from tradewind.domain.orders import Fill, Order, Position, Trade
from tradewind.domain.signal import Signal
from tradewind.domain.timeframe import Timeframe

__all__ = ["CandleClosed", "DrawdownAlert", "OrderFilled", "OrderSubmitted", "PositionChanged", "ReflectionCreated", "RiskDenied",
           "SignalCreated", "StatisticsUpdated", "TradeClosed", "TradingEvent"]


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


@dataclass(frozen=True, slots=True)
class OrderSubmitted:
    """The engine sent ``order`` to its broker: ``accepted`` (now open there) or refused (``reason``)."""

    order: Order
    accepted: bool
    reason: str | None = None

    topic = "trading.order_submitted"


@dataclass(frozen=True, slots=True)
class OrderFilled:
    """A fill of one of the engine's orders (an entry, an exit, a stop or a target)."""

    fill: Fill
    equity: float  # the account's equity after it

    topic = "trading.order_filled"


@dataclass(frozen=True, slots=True)
class PositionChanged:
    """``symbol``'s position after a fill (None: flat), with its mark-to-market P&L."""

    symbol: str
    position: Position | None
    unrealized_pnl: float
    realized_pnl: float

    topic = "trading.position"


@dataclass(frozen=True, slots=True)
class TradeClosed:
    trade: Trade

    topic = "trading.trade_closed"


@dataclass(frozen=True, slots=True)
class RiskDenied:
    """An order risk refused; ``reason`` is one of the risk rules' names, ``detail`` the numbers."""

    symbol: str
    reason: str
    detail: str
    time: float

    topic = "trading.risk_denied"


@dataclass(frozen=True, slots=True)
class DrawdownAlert:
    """The portfolio's drawdown from its equity peak passed ``level`` (a fraction); ``halted``: the
    kill switch closed every position and paused trading."""

    drawdown: float
    level: float
    equity: float
    halted: bool
    time: float

    topic = "trading.drawdown"


@dataclass(frozen=True, slots=True)
class ReflectionCreated:
    """An asset's analyst reviewed its last trades."""

    symbol: str
    reflection: Mapping[str, Any]

    topic = "trading.reflection"


@dataclass(frozen=True, slots=True)
class StatisticsUpdated:
    """An asset's trade statistics after a trade closed (win rate, P&L, ...)."""

    symbol: str
    statistics: Mapping[str, Any]

    topic = "trading.statistics"


TradingEvent = (OrderSubmitted | OrderFilled | PositionChanged | TradeClosed | RiskDenied | DrawdownAlert
                | ReflectionCreated | StatisticsUpdated)
