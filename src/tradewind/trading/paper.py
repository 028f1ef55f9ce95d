"""The paper broker: simulated fills from candles, the same in ``serve`` and in a backtest.

Fills, per closed base candle of a symbol, in this order:

1. market orders submitted before the candle opened fill at its open, moved against the trader by
   ``slippage`` (a fraction: 0.0005 = 5 bp), and pay ``fee_rate`` of their value;
2. protective orders (``stop`` and ``limit`` orders, active once their parent entry has filled,
   which may be this very candle) trigger from the candle's range: a sell stop when the low reaches
   it, a sell limit when the high does (the mirror images for a short). A stop fills at its price,
   or at the open when the candle gapped through it (the worse price); a limit at its price, or at
   the open when it gapped beyond it (the better one). When one candle reaches both, the order
   inside it is unknown and the broker is pessimistic: the stop first, unless the candle opened at
   or beyond the target. The first of a parent's protective orders to fill cancels the others.

Submitting a ``client_order_id`` again is ignored. The broker keeps its own ledger (cash and
positions from its fills), which is what ``account`` and ``positions`` report for reconciliation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from tradewind.domain.candle import Candle
from tradewind.domain.errors import OrderRejected
from tradewind.domain.excerpt import excerpt
from tradewind.domain.orders import Account, Fill, Order
from tradewind.trading.portfolio import Portfolio

__all__ = ["PaperBroker"]


class PaperBroker:
    name = "paper"
    protective_orders = True
    remote = False

    def __init__(self, *, cash: float = 10_000.0, fee_rate: float = 0.001, slippage: float = 0.0) -> None:
        for name, value in (("fee_rate", fee_rate), ("slippage", slippage)):
            if not (isinstance(value, (int, float)) and 0 <= value < 0.5 and math.isfinite(value)):
                raise OrderRejected(f"{name} must be a fraction within 0..0.5, got {excerpt(value)}", reason="config")
        self.cash = float(cash)
        self.fee_rate = float(fee_rate)
        self.slippage = float(slippage)
        self._pending: dict[str, Order] = {}  # market orders waiting for the next open
        self._protective: dict[str, Order] = {}  # stops and limits, by id
        self._filled: set[str] = set()  # parents that filled: their protective orders are live
        self._seen: set[str] = set()
        self._held: dict[str, float] = {}

    # --- the port --------------------------------------------------------------------------------
    def submit(self, order: Order) -> None:
        if order.client_order_id in self._seen:
            return
        if not (isinstance(order.quantity, (int, float)) and order.quantity > 0 and math.isfinite(order.quantity)):
            raise OrderRejected(f"quantity must be a positive number, got {excerpt(order.quantity)}",
                                reason="invalid_quantity")
        if order.type != "market" and not (order.price is not None and order.price > 0 and math.isfinite(order.price)):
            raise OrderRejected(f"a {order.type} order needs a positive price, got {excerpt(order.price)}",
                                reason="invalid_price")
        self._seen.add(order.client_order_id)
        (self._pending if order.type == "market" else self._protective)[order.client_order_id] = order

    def cancel(self, client_order_id: str) -> None:
        self._pending.pop(client_order_id, None)
        self._protective.pop(client_order_id, None)

    def on_candle(self, symbol: str, candle: Candle) -> list[Fill]:
        if not self._pending and not self._protective:  # most candles: nothing to fill
            return []
        fills = [self._fill(order, candle.open, candle) for order in self._take_pending(symbol)]
        for parent in self._live_parents(symbol):
            fill = self._protect(parent, symbol, candle)
            if fill is not None:
                fills.append(fill)
        return fills

    def account(self, prices: Mapping[str, float]) -> Account:
        value = sum(quantity * prices.get(symbol, 0.0) for symbol, quantity in self._held.items())
        equity = self.cash + value
        return Account(cash=self.cash, equity=equity, buying_power=max(self.cash, 0.0))

    def positions(self) -> dict[str, float]:
        return {symbol: quantity for symbol, quantity in self._held.items() if quantity}

    def open_orders(self) -> list[Order]:
        return [*self._pending.values(), *self._protective.values()]

    def sync(self, book: Portfolio) -> None:
        """After a restart the simulated venue holds what the book says (its ledger lived in memory)."""
        self.cash = book.cash
        self._held = {s: p.quantity if p.side == "long" else -p.quantity for s, p in book.positions.items()}

    # --- fills -----------------------------------------------------------------------------------
    def _take_pending(self, symbol: str) -> list[Order]:
        taken = [order for order in self._pending.values() if order.symbol == symbol]
        for order in taken:
            del self._pending[order.client_order_id]
        return taken

    def _live_parents(self, symbol: str) -> list[str | None]:
        parents = {o.parent_id for o in self._protective.values()
                   if o.symbol == symbol and (o.parent_id is None or o.parent_id in self._filled)}
        return sorted(parents, key=lambda p: p or "")

    def _protect(self, parent: str | None, symbol: str, candle: Candle) -> Fill | None:
        group = [o for o in self._protective.values() if o.parent_id == parent and o.symbol == symbol]
        stops = [o for o in group if o.type == "stop" and _reached(o, candle)]
        limits = [o for o in group if o.type == "limit" and _reached(o, candle)]
        if not stops and not limits:
            return None
        chosen = stops[0] if stops else limits[0]
        if stops and limits and _opened_beyond(limits[0], candle):
            chosen = limits[0]
        price = _stop_price(chosen, candle) if chosen.type == "stop" else _limit_price(chosen, candle)
        for order in group:
            self._protective.pop(order.client_order_id, None)
        return self._fill(chosen, price, candle, slip=chosen.type == "stop")

    def _fill(self, order: Order, price: float, candle: Candle, *, slip: bool = True) -> Fill:
        if slip and self.slippage:
            price *= 1 + self.slippage if order.side == "buy" else 1 - self.slippage
        fee = order.quantity * price * self.fee_rate
        signed = order.quantity if order.side == "buy" else -order.quantity
        self._held[order.symbol] = self._held.get(order.symbol, 0.0) + signed
        self.cash -= signed * price + fee
        self._filled.add(order.client_order_id)
        return Fill(order.client_order_id, order.symbol, order.side, order.quantity, price, fee, float(candle.time),
                    order.reason)


def _reached(order: Order, candle: Candle) -> bool:
    assert order.price is not None
    sell = order.side == "sell"
    if order.type == "stop":
        return candle.low <= order.price if sell else candle.high >= order.price
    return candle.high >= order.price if sell else candle.low <= order.price


def _opened_beyond(limit: Order, candle: Candle) -> bool:
    assert limit.price is not None
    return candle.open >= limit.price if limit.side == "sell" else candle.open <= limit.price


def _stop_price(order: Order, candle: Candle) -> float:
    assert order.price is not None
    return min(order.price, candle.open) if order.side == "sell" else max(order.price, candle.open)


def _limit_price(order: Order, candle: Candle) -> float:
    assert order.price is not None
    return max(order.price, candle.open) if order.side == "sell" else min(order.price, candle.open)
