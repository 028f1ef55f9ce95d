"""What the trading engine keeps: asset settings, orders, fills, trades, the portfolio, risk events,
reflections and the equity curve; the ``TradingStore`` port and an in-memory store for backtests.

``record_fill`` stores a fill, the portfolio after it and the trade it closed in one transaction:
a trade is never half-applied, and a restart (``load_portfolio``, ``load_open_orders``,
``load_assets``) resumes exactly where the last fill left the book.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import islice
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

from tradewind.domain.orders import Fill, Order, Trade
from tradewind.domain.timeframe import Timeframe
from tradewind.trading.portfolio import PortfolioSnapshot

__all__ = ["AssetConfig", "MemoryTradingStore", "OrderStatus", "Reflection", "RiskEvent", "TradingStore"]

OrderStatus = Literal["open", "filled", "cancelled", "rejected"]


@dataclass(frozen=True, slots=True)
class AssetConfig:
    """One traded asset: what it trades on, how often it decides, with which strategy, analyst and risk."""

    symbol: str
    timeframe: Timeframe = Timeframe.M15
    interval_minutes: int = 15
    strategy: str = "signal-follower"
    params: Mapping[str, Any] = field(default_factory=dict)
    analyst: str = "rules"
    risk: str = "moderate"
    risk_overrides: Mapping[str, Any] = field(default_factory=dict)
    paused: bool = False


@dataclass(frozen=True, slots=True)
class RiskEvent:
    symbol: str
    reason: str
    detail: str
    time: float


@dataclass(frozen=True, slots=True)
class Reflection:
    symbol: str
    time: float
    analyst: str
    text: str
    stats: Mapping[str, Any]
    trades: int


class TradingStore(Protocol):
    def load_portfolio(self) -> PortfolioSnapshot | None: ...

    def load_open_orders(self) -> list[Order]: ...

    def load_assets(self) -> list[AssetConfig]:
        """Assets whose settings were changed while running (pause, interval, strategy...)."""
        ...

    def record_fill(self, fill: Fill, portfolio: PortfolioSnapshot, trade: Trade | None) -> None:
        """The fill, the portfolio after it and the trade it closed, in one transaction."""
        ...

    def save_portfolio(self, portfolio: PortfolioSnapshot) -> None: ...

    def save_order(self, order: Order, status: OrderStatus, reason: str | None = None) -> None: ...

    def save_asset(self, config: AssetConfig) -> None: ...

    def record_risk_event(self, event: RiskEvent) -> None: ...

    def record_reflection(self, reflection: Reflection) -> None: ...

    def record_equity(self, time: float, equity: float) -> None: ...

    def trades(self, *, symbol: str | None = None, limit: int = 100) -> list[Trade]:
        """Newest first."""
        ...

    def risk_events(self, *, symbol: str | None = None, limit: int = 100) -> list[RiskEvent]: ...

    def reflections(self, *, symbol: str | None = None, limit: int = 100) -> list[Reflection]: ...

    def equity_curve(self, *, limit: int = 10_000) -> list[tuple[float, float]]:
        """The newest ``limit`` points, oldest first."""
        ...


class MemoryTradingStore:
    """The port in memory: what a backtest uses (nothing written, nothing to clean up)."""

    def __init__(self) -> None:
        self.portfolio: PortfolioSnapshot | None = None
        self.orders: dict[str, tuple[Order, OrderStatus, str | None]] = {}
        self.fills: list[Fill] = []
        self._trades: list[Trade] = []
        self.assets: dict[str, AssetConfig] = {}
        self._risk: list[RiskEvent] = []
        self._reflections: list[Reflection] = []
        self.equity: list[tuple[float, float]] = []

    def load_portfolio(self) -> PortfolioSnapshot | None:
        return self.portfolio

    def load_open_orders(self) -> list[Order]:
        return [order for order, status, _ in self.orders.values() if status == "open"]

    def load_assets(self) -> list[AssetConfig]:
        return list(self.assets.values())

    def record_fill(self, fill: Fill, portfolio: PortfolioSnapshot, trade: Trade | None) -> None:
        self.fills.append(fill)
        self.portfolio = portfolio
        if trade is not None:
            self._trades.append(trade)

    def save_portfolio(self, portfolio: PortfolioSnapshot) -> None:
        self.portfolio = portfolio

    def save_order(self, order: Order, status: OrderStatus, reason: str | None = None) -> None:
        self.orders[order.client_order_id] = (order, status, reason)

    def save_asset(self, config: AssetConfig) -> None:
        self.assets[config.symbol] = config

    def record_risk_event(self, event: RiskEvent) -> None:
        self._risk.append(event)

    def record_reflection(self, reflection: Reflection) -> None:
        self._reflections.append(reflection)

    def record_equity(self, time: float, equity: float) -> None:
        self.equity.append((time, equity))

    def trades(self, *, symbol: str | None = None, limit: int = 100) -> list[Trade]:
        return _newest(self._trades, symbol, limit)

    def risk_events(self, *, symbol: str | None = None, limit: int = 100) -> list[RiskEvent]:
        return _newest(self._risk, symbol, limit)

    def reflections(self, *, symbol: str | None = None, limit: int = 100) -> list[Reflection]:
        return _newest(self._reflections, symbol, limit)

    def equity_curve(self, *, limit: int = 10_000) -> list[tuple[float, float]]:
        return self.equity[-limit:] if limit > 0 else []

    @property
    def all_trades(self) -> list[Trade]:
        """Every trade, oldest first (a backtest's report)."""
        return list(self._trades)


R = TypeVar("R", Trade, RiskEvent, Reflection)


def _newest(items: list[R], symbol: str | None, limit: int) -> list[R]:
    """Newest first, stopping at ``limit`` (a long backtest asks after every trade)."""
    return list(islice((i for i in reversed(items) if symbol is None or i.symbol == symbol), max(limit, 0)))
