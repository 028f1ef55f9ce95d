"""Orders, fills, positions and trades: the vocabulary of the trading engine and its brokers.

A strategy asks for an ``OrderIntent`` (enter long or short, or exit); risk turns it into an
``Order`` with a quantity, or denies it; a broker turns an order into ``Fill``s. A position is
what the fills add up to, and a ``Trade`` is one closed round trip. Times are UTC epoch seconds,
quantities are in units of the asset, and every order has a ``client_order_id`` that makes its
submission idempotent (the broker ignores a second submission of the same id).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "EXIT_REASONS",
    "Account",
    "ExitReason",
    "Fill",
    "Order",
    "OrderIntent",
    "OrderType",
    "Position",
    "PositionSide",
    "Side",
    "Trade",
]

Side = Literal["buy", "sell"]
PositionSide = Literal["long", "short"]
OrderType = Literal["market", "stop", "limit"]
ExitReason = Literal["signal", "stop_loss", "take_profit", "trailing_stop", "manual", "end", "kill_switch"]
EXIT_REASONS: tuple[ExitReason, ...] = ("signal", "stop_loss", "take_profit", "trailing_stop", "manual", "end",
                                        "kill_switch")


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """What a strategy wants: ``enter`` a ``side`` (with optional levels) or ``exit`` the position.

    ``size`` is a fraction of equity (0..1) the strategy suggests; risk decides the real size.
    """

    action: Literal["enter", "exit"]
    side: PositionSide | None = None
    size: float | None = None
    stop_loss: float | None = None
    take_profit: float | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Order:
    """An order for a broker. ``stop`` and ``limit`` orders carry their trigger in ``price``."""

    client_order_id: str
    symbol: str
    side: Side
    quantity: float
    type: OrderType
    created_at: float
    price: float | None = None
    reason: str = ""
    parent_id: str | None = None  # a protective order: active once this entry has filled, cancelled with its siblings


@dataclass(frozen=True, slots=True)
class Fill:
    client_order_id: str
    symbol: str
    side: Side
    quantity: float
    price: float
    fee: float
    time: float
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Position:
    """An open position; ``stop_loss``/``take_profit`` are its protective levels (None: none)."""

    symbol: str
    side: PositionSide
    quantity: float
    entry_price: float
    entry_time: float
    stop_loss: float | None = None
    take_profit: float | None = None
    trail_distance: float | None = None  # a trailing stop follows the best price at this distance
    best_price: float | None = None  # the best price since entry, for the trailing stop
    fees: float = 0.0  # fees paid on entry

    def unrealized(self, price: float) -> float:
        move = price - self.entry_price
        return move * self.quantity if self.side == "long" else -move * self.quantity


@dataclass(frozen=True, slots=True)
class Trade:
    """A closed round trip; ``pnl`` is net of both fills' fees."""

    symbol: str
    side: PositionSide
    quantity: float
    entry_time: float
    entry_price: float
    exit_time: float
    exit_price: float
    pnl: float
    fees: float
    exit_reason: str

    @property
    def return_pct(self) -> float:
        """The trade's return on what it put at risk of capital (its entry value), net of fees."""
        return self.pnl / (self.entry_price * self.quantity) if self.entry_price and self.quantity else 0.0


@dataclass(frozen=True, slots=True)
class Account:
    cash: float
    equity: float
    buying_power: float
