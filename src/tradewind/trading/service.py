"""The trading desk's one door: what the REST routes, the CLI and the assistant's tools ask of the
engine and its records (assets, dashboards, trades, positions, performance, risk events,
reflections) and the manual overrides (pause, resume, change, close now, enter now).

The book (assets, positions, prices) is read on the event loop, where the engine changes it; what
comes from the database is read in a worker thread. Overrides change the book, so they run
through ``TradingEngine.run``: on the event loop with the paper broker, one at a time in a worker
thread with a remote one. Every figure comes from the
book or the store; what cannot be computed is None.

With several workers one of them holds the book (the trading lease, ``holds_book``): the others
show the book as the holder last stored it (read again at most once a second) and send the
overrides to the holder (``forward``, over Redis), so two processes never change one book and a
client behind a proxy need not find the holder; without a way to forward them they answer 503.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import numpy as np

from tradewind.domain.candle import Candle
from tradewind.domain.errors import Unavailable, ValidationError
from tradewind.domain.excerpt import excerpt
from tradewind.domain.orders import Order, Position, PositionSide
from tradewind.domain.timeframe import Timeframe
from tradewind.trading.analytics import performance, trade_dict, trade_stats
from tradewind.signals.records import SignalStore
from tradewind.trading.assets import AssetState
from tradewind.trading.chart import MAX_CHART_SIGNALS, chart_document
from tradewind.trading.engine import TradingEngine
from tradewind.trading.records import AssetConfig, TradingStore

__all__ = ["EQUITY_POINTS", "MAX_LIMIT", "MAX_VIEW_CANDLES", "TradingService", "position_dict", "thin_curve"]

MAX_LIMIT = 1000  # rows a list answers at most
MAX_CHART_CANDLES = 500
MAX_VIEW_CANDLES = 5000  # the chart view's candles at most (the streamer's buffer holds 1,000 by default)
EQUITY_POINTS = 2000  # the performance report's curves are thinned to about this many points
MIRROR_SECONDS = 1.0  # how stale another worker's view of the book may be
FORWARDABLE = frozenset({"pause", "resume", "update", "close", "enter"})  # the overrides another worker may send
CHANGES = ("interval_minutes", "strategy", "params", "analyst", "risk", "risk_overrides")


def position_dict(position: Position, price: float | None) -> dict[str, Any]:
    return {
        "symbol": position.symbol, "side": position.side, "quantity": position.quantity,
        "entry_price": position.entry_price, "entry_time": position.entry_time, "current_price": price,
        "unrealized_pnl": position.unrealized(price) if price is not None else None,
        "stop_loss": position.stop_loss, "take_profit": position.take_profit,
        "trailing_distance": position.trail_distance, "fees": position.fees,
    }


class TradingService:
    def __init__(self, engine: TradingEngine, store: TradingStore,
                 chart: Callable[[str, Timeframe, int], list[Candle]], signals: SignalStore | None = None,
                 timeframes: Sequence[Timeframe] = (), holds_book: Callable[[], bool] | None = None,
                 forward: Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]] | None = None) -> None:
        self.engine = engine
        self.holds_book = holds_book  # None: one process, whose engine is the book
        self.forward = forward  # (override, arguments) -> the holder's answer, when another worker holds it
        self._mirrored = -math.inf
        self.store = store
        self.candles = chart  # the streamer's newest candles (the forming one last): the dashboard's chart
        self.signals = signals
        self.timeframes = tuple(timeframes)  # what the streamer keeps: the chart's timeframe switch

    # --- reads -------------------------------------------------------------------------------------
    def assets(self) -> list[dict[str, Any]]:
        self._follow()
        return [self._asset(state) for state in self.engine.assets.values()]

    def asset(self, symbol: str) -> dict[str, Any]:
        self._follow()
        return self._asset(self.engine.state(symbol))

    async def dashboard(self, symbol: str, *, candles: int = 100, trades: int = 20) -> dict[str, Any]:
        """Seed 001's dashboard of one asset: price and chart, position, trades, P&L, statistics,
        the latest signal and reflection."""
        self._follow()
        state = self.engine.state(symbol)
        symbol = state.config.symbol
        _limit(candles, "candles", MAX_CHART_CANDLES)
        _limit(trades, "trades", MAX_LIMIT)
        chart = self.candles(symbol, state.config.timeframe, candles)
        book = self.engine.portfolio
        position = book.positions.get(symbol)
        price = book.prices.get(symbol) or (chart[-1].close if chart else None)
        asset, summary = self._asset(state), book.summary()  # the book is read on the loop, the store off it

        def stored() -> tuple[list[Any], list[Any], list[Any]]:
            return (self.store.trades(symbol=symbol, limit=MAX_LIMIT), self.store.reflections(symbol=symbol, limit=1),
                    self.store.risk_events(symbol=symbol, limit=10))

        history, reflections, events = await asyncio.to_thread(stored)
        realized = sum(t.pnl for t in history)
        unrealized = position.unrealized(price) if position is not None and price is not None else 0.0
        return {
            "asset": asset,
            "price": price,
            "candles": [c.to_dict() for c in chart],
            "position": position_dict(position, price) if position is not None else None,
            "trades": [trade_dict(t) for t in history[:trades]],
            "pnl": {"realized": realized, "unrealized": unrealized, "total": realized + unrealized},
            "statistics": trade_stats(history),
            "latest_signal": dict(state.latest_signal) if state.latest_signal is not None else None,
            "latest_reflection": _reflection(reflections[0]) if reflections else None,
            "risk_events": [_risk(e) for e in events],
            "portfolio": summary,
        }

    async def chart(self, symbol: str, *, timeframe: Timeframe | None = None, candles: int = 500) -> dict[str, Any]:
        """One asset's chart: candles, the analyst's overlays, its signals and trades in range, and the
        open position with its stop and target (``trading.chart``)."""
        self._follow()
        state = self.engine.state(symbol)
        symbol = state.config.symbol
        _limit(candles, "candles", MAX_VIEW_CANDLES)
        timeframe = timeframe or state.config.timeframe
        if self.timeframes and timeframe not in self.timeframes:
            raise ValidationError(f"timeframe {timeframe.value} is not streamed: use one of "
                                  f"{', '.join(tf.value for tf in self.timeframes)}", field="timeframe")
        bars = self.candles(symbol, timeframe, candles)
        book = self.engine.portfolio
        position = book.positions.get(symbol)
        held = position_dict(position, book.prices.get(symbol)) if position is not None else None
        since = bars[0].time * 1000 if bars else 0
        signals = self.signals

        def stored() -> tuple[list[Any], list[Any]]:
            found = signals.for_symbol(symbol, since=since, limit=MAX_CHART_SIGNALS) if signals and bars else []
            return found, self.store.trades(symbol=symbol, limit=MAX_LIMIT)

        found, trades = await asyncio.to_thread(stored)
        return await asyncio.to_thread(chart_document, symbol, timeframe.value, bars, signals=found, trades=trades,
                                       position=held)

    async def trades(self, *, symbol: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        _limit(limit, "limit", MAX_LIMIT)
        canonical = self._symbol(symbol)
        return [trade_dict(t) for t in await asyncio.to_thread(self.store.trades, symbol=canonical, limit=limit)]

    def positions(self) -> dict[str, Any]:
        self._follow()
        book = self.engine.portfolio
        return {
            "positions": [position_dict(p, book.prices.get(p.symbol)) for p in book.positions.values()],
            "portfolio": book.summary(),
        }

    async def performance(self) -> dict[str, Any]:
        """The whole book's figures (trading.analytics) over its stored equity curve and trades."""
        self._follow()
        summary = self.engine.portfolio.summary()

        def report() -> dict[str, Any]:
            curve = self.store.equity_curve(limit=200_000)
            trades = self.store.trades(limit=100_000)[::-1]
            times = np.array([t for t, _ in curve], dtype=np.float64)
            values = np.array([v for _, v in curve], dtype=np.float64)
            out = performance(times, values, trades) if len(curve) else {**trade_stats(trades), "equity_curve": [],
                                                                         "drawdown_curve": []}
            for key in ("equity_curve", "drawdown_curve"):
                out[key] = thin_curve(out.get(key) or [], EQUITY_POINTS)
            return out

        return {**await asyncio.to_thread(report), "portfolio": summary}

    async def risk_events(self, *, symbol: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        _limit(limit, "limit", MAX_LIMIT)
        canonical = self._symbol(symbol, portfolio=True)
        return [_risk(e) for e in await asyncio.to_thread(self.store.risk_events, symbol=canonical, limit=limit)]

    async def reflections(self, *, symbol: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        _limit(limit, "limit", MAX_LIMIT)
        canonical = self._symbol(symbol)
        return [_reflection(r) for r in await asyncio.to_thread(self.store.reflections, symbol=canonical, limit=limit)]

    # --- overrides ---------------------------------------------------------------------------------
    async def pause(self, symbol: str) -> dict[str, Any]:
        if self._elsewhere():
            return await self._forwarded("pause", symbol=symbol)
        await self.engine.run(lambda: self.engine.pause(symbol))
        return self.asset(symbol)

    async def resume(self, symbol: str) -> dict[str, Any]:
        if self._elsewhere():
            return await self._forwarded("resume", symbol=symbol)
        await self.engine.run(lambda: self.engine.resume(symbol))
        return self.asset(symbol)

    async def update(self, symbol: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change an asset's interval, strategy (and params), analyst or risk profile while it runs."""
        if self._elsewhere():
            return await self._forwarded("update", symbol=symbol, changes=dict(changes))
        if not changes:
            raise ValidationError(f"nothing to change: send one of {', '.join(CHANGES)}", field="body")
        unknown = [key for key in changes if key not in CHANGES]
        if unknown:
            raise ValidationError(f"{excerpt(unknown[0])} cannot be changed: use {', '.join(CHANGES)}",
                                  field=str(unknown[0])[:40])
        empty = [key for key, value in changes.items() if value is None]
        if empty:
            raise ValidationError(f"{empty[0]} cannot be null: leave it out to keep it", field=str(empty[0]))
        await self.engine.run(lambda: self.engine.update(symbol, **dict(changes)))
        return self.asset(symbol)

    async def close(self, symbol: str, fraction: float = 1.0) -> dict[str, Any]:
        if self._elsewhere():
            return await self._forwarded("close", symbol=symbol, fraction=fraction)
        order = await self.engine.run(lambda: self.engine.close(symbol, fraction))
        return {"order": _order(order), "asset": self.asset(symbol)}

    async def enter(self, symbol: str, side: PositionSide, size: float | None = None) -> dict[str, Any]:
        if self._elsewhere():
            return await self._forwarded("enter", symbol=symbol, side=side, size=size)
        order = await self.engine.run(lambda: self.engine.enter(symbol, side, size=size))
        return {"order": _order(order), "asset": self.asset(symbol)}

    # --- several workers -------------------------------------------------------------------------
    def _follow(self) -> None:
        """Not the holder: the book and the asset settings as the holder last stored them."""
        if self.holds_book is None or self.holds_book():
            return
        now = time.monotonic()
        if now - self._mirrored < MIRROR_SECONDS:
            return
        self._mirrored = now
        snapshot = self.store.load_portfolio()
        if snapshot is not None:
            self.engine.portfolio.restore(snapshot)
        for config in self.store.load_assets():
            state = self.engine.assets.get(config.symbol)
            if state is not None:
                state.config = config

    def _elsewhere(self) -> bool:
        """Another worker holds the book: the override goes there (or, with no way to send it, a 503)."""
        if self.holds_book is None or self.holds_book():
            return False
        if self.forward is None:
            raise Unavailable("another worker runs trading (it holds the trading lease): this one cannot change "
                              "the book; retry the request")
        return True

    async def _forwarded(self, op: str, **args: Any) -> dict[str, Any]:
        answer = await self.forward(op, args)  # type: ignore[misc]
        self._mirrored = -math.inf  # the holder changed the book: read it again for the next read here
        return answer

    async def run_forwarded(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """On the holder: an override another worker forwarded, as if it had been asked here."""
        if op not in FORWARDABLE:
            raise ValidationError(f"{excerpt(op)} is not an override", field="op")
        if self.holds_book is not None and not self.holds_book():  # the lease moved on meanwhile: no relay
            raise Unavailable("the book moved to another worker while the override was on its way: retry the request")
        method: Callable[..., Awaitable[dict[str, Any]]] = getattr(self, op)
        try:  # arguments this override does not take are the request's fault; a TypeError inside it is not
            inspect.signature(method).bind(**args)
        except TypeError as exc:
            raise ValidationError(f"bad arguments for {op}: {excerpt(str(exc))}", field="body") from None
        return await method(**args)

    # --- helpers -----------------------------------------------------------------------------------
    def _symbol(self, symbol: str | None, *, portfolio: bool = False) -> str | None:
        if symbol is None:
            return None
        if portfolio and symbol.upper() == "PORTFOLIO":
            return "PORTFOLIO"
        return self.engine.state(symbol).config.symbol

    def _asset(self, state: AssetState) -> dict[str, Any]:
        config: AssetConfig = state.config
        book = self.engine.portfolio
        position = book.positions.get(config.symbol)
        price = book.prices.get(config.symbol)
        status = "halted" if book.halted else "paused" if config.paused else "running"
        return {
            "symbol": config.symbol, "timeframe": config.timeframe.value, "interval_minutes": config.interval_minutes,
            "strategy": config.strategy, "params": dict(config.params), "analyst": config.analyst,
            "risk": config.risk, "risk_overrides": dict(config.risk_overrides), "paused": config.paused,
            "status": status, "price": price,
            "position": position_dict(position, price) if position is not None else None,
            "cycles": state.cycles, "last_cycle": state.last_cycle, "next_cycle": state.next_cycle,
            "last_error": state.last_error,
        }


def _limit(value: int, field: str, most: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise ValidationError(f"{field} must be a whole number within 1..{most}, got {excerpt(value)}", field=field)


def thin_curve(curve: Sequence[Sequence[Any]], points: int) -> list[Any]:
    """About ``points`` of a curve, evenly spaced, always with its last point."""
    if len(curve) <= points:
        return list(curve)
    step = len(curve) / points
    picked = [curve[int(i * step)] for i in range(points)]
    return picked if picked[-1] is curve[-1] else [*picked, curve[-1]]


def _order(order: Order | None) -> dict[str, Any] | None:
    if order is None:
        return None
    return {"client_order_id": order.client_order_id, "symbol": order.symbol, "side": order.side,
            "quantity": order.quantity, "type": order.type, "created_at": order.created_at, "reason": order.reason}


def _risk(event: Any) -> dict[str, Any]:
    return {"symbol": event.symbol, "reason": event.reason, "detail": event.detail, "time": event.time}


def _reflection(reflection: Any) -> dict[str, Any]:
    return {"symbol": reflection.symbol, "time": reflection.time, "analyst": reflection.analyst,
            "text": reflection.text, "stats": dict(reflection.stats), "trades": reflection.trades}
