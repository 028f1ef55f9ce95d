"""The portfolio: cash, positions and P&L, the book the engine keeps of its fills.

A long position costs its value plus the fee from cash; a short adds its proceeds less the fee and
owes the asset back. Equity is cash plus the longs' value minus the shorts' (at the last price
seen). A fill against a position closes it, wholly or in part, and records a ``Trade`` for the
closed part, net of the entry fees that part carried and the exit fee. ``snapshot`` and
``restore`` are exact, so a restart resumes the same cash, positions and stops.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from tradewind.domain.orders import Fill, Position, PositionSide, Trade

__all__ = ["Portfolio", "PortfolioSnapshot"]

_DUST = 1e-12  # a quantity this close to zero is zero (float sums of partial closes)


@dataclass(frozen=True, slots=True)
class PortfolioSnapshot:
    """Everything a restart needs, as plain values."""

    initial_cash: float
    cash: float
    realized_pnl: float
    fees: float
    peak_equity: float
    day: str | None
    day_start_equity: float
    consecutive_losses: int
    last_loss_time: float | None
    halted: bool
    alerted: float  # the highest drawdown alert level already sent since the last peak
    positions: tuple[Position, ...]
    prices: Mapping[str, float] = field(default_factory=dict)


class Portfolio:
    def __init__(self, cash: float = 10_000.0) -> None:
        if not (isinstance(cash, (int, float)) and cash > 0 and math.isfinite(cash)):
            raise ValueError("cash must be a positive number")
        self.initial_cash = float(cash)
        self.cash = float(cash)
        self.realized_pnl = 0.0
        self.fees = 0.0
        self.positions: dict[str, Position] = {}
        self.prices: dict[str, float] = {}
        self.peak_equity = float(cash)
        self.day: str | None = None
        self.day_start_equity = float(cash)
        self.consecutive_losses = 0
        self.last_loss_time: float | None = None
        self.halted = False
        self.alerted = 0.0
        self._day_start = math.inf  # the UTC midnight starting ``day`` (inf: no mark yet this process)

    # --- reading it --------------------------------------------------------------------------------
    def equity(self) -> float:
        value = 0.0
        for symbol, position in self.positions.items():
            price = self.prices.get(symbol, position.entry_price)
            value += position.quantity * price if position.side == "long" else -position.quantity * price
        return self.cash + value

    def exposure(self, symbol: str) -> float:
        position = self.positions.get(symbol)
        if position is None:
            return 0.0
        return position.quantity * self.prices.get(symbol, position.entry_price)

    def unrealized(self, symbol: str) -> float:
        position = self.positions.get(symbol)
        return 0.0 if position is None else position.unrealized(self.prices.get(symbol, position.entry_price))

    def drawdown(self) -> float:
        return max(0.0, 1 - self.equity() / self.peak_equity) if self.peak_equity > 0 else 0.0

    # --- changing it -------------------------------------------------------------------------------
    def mark(self, symbol: str, price: float, time: float) -> None:
        """A new last price; moves the equity peak, the UTC day's starting equity and trailing stops."""
        self.prices[symbol] = price
        equity = self.equity()
        if not self._day_start <= time < self._day_start + 86_400:  # another UTC day than the last mark's
            self._day_start = time - time % 86_400
            day = datetime.fromtimestamp(time, timezone.utc).date().isoformat()
            if day != self.day:
                self.day, self.day_start_equity = day, equity
        if equity > self.peak_equity:
            self.peak_equity, self.alerted = equity, 0.0
        position = self.positions.get(symbol)
        if position is not None and position.trail_distance is not None:
            best = max(position.best_price or price, price) if position.side == "long" else min(position.best_price or price, price)
            stop = best - position.trail_distance if position.side == "long" else best + position.trail_distance
            tighter = position.stop_loss is None or (stop > position.stop_loss if position.side == "long" else stop < position.stop_loss)
            self.positions[symbol] = replace(position, best_price=best, stop_loss=stop if tighter else position.stop_loss)

    def apply(self, fill: Fill, *, stop_loss: float | None = None, take_profit: float | None = None,
              trail_distance: float | None = None) -> Trade | None:
        """Book a fill; returns the trade it closed, if it closed (part of) a position."""
        self.prices[fill.symbol] = fill.price
        self.fees += fill.fee
        signed = fill.quantity if fill.side == "buy" else -fill.quantity
        self.cash -= signed * fill.price + fill.fee
        position = self.positions.get(fill.symbol)
        side: PositionSide = "long" if fill.side == "buy" else "short"
        if position is None:
            self.positions[fill.symbol] = Position(
                fill.symbol, side, fill.quantity, fill.price, fill.time, stop_loss, take_profit, trail_distance,
                fill.price if trail_distance is not None else None, fill.fee,
            )
            return None
        if position.side == side:  # adding to it: the average price
            quantity = position.quantity + fill.quantity
            price = (position.entry_price * position.quantity + fill.price * fill.quantity) / quantity
            self.positions[fill.symbol] = replace(position, quantity=quantity, entry_price=price,
                                                  fees=position.fees + fill.fee)
            return None
        return self._close(position, fill)

    def _close(self, position: Position, fill: Fill) -> Trade:
        closed = min(fill.quantity, position.quantity)
        share = closed / position.quantity
        entry_fees = position.fees * share
        exit_fee = fill.fee * closed / fill.quantity
        gross = (fill.price - position.entry_price) * closed
        pnl = (gross if position.side == "long" else -gross) - entry_fees - exit_fee
        self.realized_pnl += pnl
        left = position.quantity - closed
        if left <= _DUST * max(1.0, position.quantity):
            del self.positions[position.symbol]
        else:
            self.positions[position.symbol] = replace(position, quantity=left, fees=position.fees - entry_fees)
        if pnl < 0:
            self.consecutive_losses += 1
            self.last_loss_time = fill.time
        elif pnl > 0:
            self.consecutive_losses = 0
        trade = Trade(position.symbol, position.side, closed, position.entry_time, position.entry_price, fill.time,
                      fill.price, pnl, entry_fees + exit_fee, fill.reason or "signal")
        remainder = fill.quantity - closed
        if remainder > _DUST * max(1.0, fill.quantity):  # more than the position: the rest opens the other way
            self.positions[position.symbol] = Position(position.symbol, "long" if fill.side == "buy" else "short",
                                                       remainder, fill.price, fill.time, fees=fill.fee - exit_fee)
        return trade

    def set_levels(self, symbol: str, *, stop_loss: float | None, take_profit: float | None) -> None:
        position = self.positions.get(symbol)
        if position is not None:
            self.positions[symbol] = replace(position, stop_loss=stop_loss, take_profit=take_profit)

    # --- persistence -------------------------------------------------------------------------------
    def snapshot(self) -> PortfolioSnapshot:
        return PortfolioSnapshot(
            self.initial_cash, self.cash, self.realized_pnl, self.fees, self.peak_equity, self.day,
            self.day_start_equity, self.consecutive_losses, self.last_loss_time, self.halted, self.alerted,
            tuple(self.positions.values()), dict(self.prices),
        )

    def restore(self, snapshot: PortfolioSnapshot) -> None:
        self.initial_cash, self.cash = snapshot.initial_cash, snapshot.cash
        self.realized_pnl, self.fees, self.peak_equity = snapshot.realized_pnl, snapshot.fees, snapshot.peak_equity
        self.day, self.day_start_equity = snapshot.day, snapshot.day_start_equity
        self._day_start = math.inf  # the next mark compares its day with the restored one
        self.consecutive_losses, self.last_loss_time = snapshot.consecutive_losses, snapshot.last_loss_time
        self.halted, self.alerted = snapshot.halted, snapshot.alerted
        self.positions = {p.symbol: p for p in snapshot.positions}
        self.prices = dict(snapshot.prices)

    def summary(self) -> dict[str, Any]:
        """The figures the API and the dashboard show."""
        equity = self.equity()
        return {
            "cash": self.cash, "equity": equity, "initial_cash": self.initial_cash,
            "realized_pnl": self.realized_pnl, "unrealized_pnl": sum(self.unrealized(s) for s in self.positions),
            "total_return": equity / self.initial_cash - 1, "fees": self.fees, "peak_equity": self.peak_equity,
            "drawdown": self.drawdown(), "open_positions": len(self.positions), "halted": self.halted,
        }

    def symbols(self) -> Iterable[str]:
        return tuple(self.positions)
