"""The trading engine: per asset, closed candles -> (analysis) -> strategy -> risk -> broker -> portfolio.

The same object runs live, on paper and in a backtest; only the clock, the feed and the broker it
is given differ. Two things drive it:

- **Every closed base candle** (a ``CandleClosed`` on the bus) goes to the broker, whose fills are
  booked (one transaction each: fill, portfolio, trade) and announced; prices are marked, trailing
  stops follow, stops and targets are watched here when the broker does not hold them itself,
  and the drawdown alerts and kill switch are checked.
- **Each asset's cycle** waits on the clock for its next interval boundary (plus ``settle``: how
  long after a boundary a live feed's candle needs to close), and decides once per new closed
  candle of the asset's timeframe: it asks the analyst first when the strategy trades signals,
  then turns the strategy's intent into orders through risk. A denial is a recorded event.

Nothing here reads the wall clock, and nothing a strategy sees is later than the clock's now, so
a backtest and a server replaying the same candles make the same trades.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from tradewind.domain.bars import Bars
from tradewind.domain.candle import Candle
from tradewind.domain.errors import NotFound, OrderRejected, ValidationError
from tradewind.domain.events import (
    CandleClosed,
    DrawdownAlert,
    OrderFilled,
    OrderSubmitted,
    PositionChanged,
    RiskDenied,
    SignalCreated,
    StatisticsUpdated,
    TradeClosed,
)
from tradewind.domain.excerpt import excerpt
from tradewind.domain.orders import Fill, Order, OrderIntent, Position, PositionSide, Trade
from tradewind.domain.clock import Clock
from tradewind.domain.ports import Broker, EventBus
from tradewind.domain.signal import Signal
from tradewind.domain.symbol import normalize_symbol
from tradewind.domain.timeframe import Timeframe
from tradewind.trading.analytics import trade_stats
from tradewind.trading.assets import AssetState, check_asset
from tradewind.trading.portfolio import Portfolio
from tradewind.trading.records import AssetConfig, RiskEvent, TradingStore
from tradewind.trading.reflecting import Reflecting
from tradewind.trading.reflections import Reflector
from tradewind.trading.risk import Approved, Denied, RiskProfile, RiskState, check_entry, risk_profile
from tradewind.trading.strategy import StrategyContext

__all__ = ["PORTFOLIO", "SignalSource", "TradingEngine"]

log = logging.getLogger(__name__)

T = TypeVar("T")
PORTFOLIO = "PORTFOLIO"  # the "symbol" of an event about the whole book (the kill switch)
SignalSource = Callable[[str, Sequence[Timeframe]], Signal]
"""Asks an analyst for a fresh signal of a symbol from the streamer's candles of these timeframes."""
Blocking = Callable[[Callable[[], T]], Awaitable[T]]


async def inline(work: Callable[[], T]) -> T:
    """Run blocking work right here (a backtest: nothing else to serve meanwhile)."""
    return work()


class TradingEngine:
    def __init__(
        self,
        *,
        assets: Sequence[AssetConfig],
        candles: Callable[[str, Timeframe, int], Bars],
        newest: Callable[[str, Timeframe], int | None],
        signals: Mapping[str, SignalSource],
        broker: Broker,
        portfolio: Portfolio,
        store: TradingStore,
        bus: EventBus,
        clock: Clock,
        base_timeframe: Timeframe,
        analysis_timeframes: Sequence[Timeframe] = (),
        settle_seconds: float = 0.0,
        blocking: Blocking = inline,  # type: ignore[assignment]
        portfolio_risk: RiskProfile | None = None,
        reflect_every: int = 5,
        reflectors: Mapping[str, Reflector] | None = None,
        lookback: int = 500,
        warmup: int = 0,
        every: int = 1,
        observe: bool = False,
        fail_fast: bool = False,
        strategy_paths: Collection[str] | None = None,  # dotted-path strategies an update may name (None: any)
        new_id: Callable[[], str] = lambda: "tw_" + uuid.uuid4().hex[:20],
    ) -> None:
        self.strategy_paths = strategy_paths
        self.candles = candles
        self.newest = newest  # the open time of the newest closed candle: a cheap "anything new?"
        self.signals = signals
        self.broker = broker
        self.portfolio = portfolio
        self.store = store
        self.bus = bus
        self.clock = clock
        self.base = base_timeframe
        self.analysis_timeframes = tuple(analysis_timeframes)
        self.settle = settle_seconds
        self.blocking = blocking
        self.portfolio_risk = portfolio_risk or risk_profile("moderate")
        self.reflecting = Reflecting(store=store, bus=bus, clock=clock, blocking=blocking, reflectors=reflectors,
                                     every=reflect_every)
        self._serial = asyncio.Lock()  # a remote broker's operations, one at a time
        self._background: set[asyncio.Future[None]] = set()
        self.lookback = lookback
        self.warmup = warmup  # closed candles an asset needs before its first decision
        self.every = every  # decide on every ``every``-th closed candle from the warmup-th on (evaluate's step)
        self.observe = observe  # ask the analysts, place no order: ``evaluate``
        self.fail_fast = fail_fast  # a failed cycle stops the run (a backtest) instead of being logged
        self.failure: BaseException | None = None
        self.failed = asyncio.Event()
        self.new_id = new_id
        self.assets: dict[str, AssetState] = {}
        self._orders: dict[str, Order] = {}
        self._levels: dict[str, tuple[float | None, float | None, float | None]] = {}  # entry id -> stop, target, trail
        self._unsubscribe: list[Callable[[], None]] = []
        self._exiting: dict[str, float] = {}  # symbol -> quantity of market exits sent since its last candle
        self._last_equity_time: float | None = None
        self.running = False
        for config in assets:
            self._add(config)

    def _analysts(self) -> tuple[str, ...]:
        """The analyst names an asset may use (``rules`` when no signal source was given)."""
        return tuple(self.signals) or ("rules",)

    def _add(self, config: AssetConfig) -> AssetState:
        strategy, profile = check_asset(config, analysts=self._analysts())
        config = replace(config, symbol=normalize_symbol(config.symbol))
        state = AssetState(config, strategy, profile)
        self.assets[config.symbol] = state
        return state

    # --- life cycle --------------------------------------------------------------------------------
    def restore(self) -> None:
        """Resume from the store: the book, the changed asset settings, the open orders at the broker."""
        snapshot = self.store.load_portfolio()
        if snapshot is not None:
            self.portfolio.restore(snapshot)
        for config in self.store.load_assets():
            if config.symbol in self.assets:
                self.assets[config.symbol] = AssetState(config, *check_asset(config, analysts=self._analysts()))
        for symbol in self.assets:  # the reflection cadence counts on across a restart
            self.reflecting.resume(symbol)
        orders = self.store.load_open_orders()
        waiting = {o.client_order_id for o in orders if o.type == "market" and o.parent_id is None}
        for order in orders:
            if order.type == "market" and order.parent_id is None:
                self._orders[order.client_order_id] = order
                self.broker.submit(order)  # an entry or exit the broker had not filled yet
                continue
            if order.parent_id in waiting:  # its entry has not filled yet: the position gets the level when it does
                stop, target, trail = self._levels.get(order.parent_id, (None, None, None))
                state = self.assets.get(order.symbol)
                trail = state.profile.trailing_stop_pct or None if state is not None else trail
                self._levels[order.parent_id] = (order.price, target, trail) if order.type == "stop" else (stop, order.price, trail)
            if self.broker.protective_orders:
                # active at once when its entry filled before the restart, else still waiting for it
                live = order if order.parent_id in waiting else replace(order, parent_id=None)
                self._orders[order.client_order_id] = live
                self.broker.submit(live)
                if order.symbol in self.assets:
                    self.assets[order.symbol].protective.append(order.client_order_id)
        sync = getattr(self.broker, "sync", None)
        if callable(sync):
            sync(self.portfolio)  # the paper broker's ledger follows the book
        self._reconcile()

    def _reconcile(self) -> None:
        """Compare the book with the broker's own view; a difference is recorded, not papered over."""
        venue = self.broker.positions()
        for symbol in set(venue) | set(self.portfolio.positions):
            mine = self.portfolio.positions.get(symbol)
            signed = 0.0 if mine is None else (mine.quantity if mine.side == "long" else -mine.quantity)
            theirs = venue.get(symbol, 0.0)
            if abs(signed - theirs) > 1e-9 * max(1.0, abs(signed)):
                self._risk(symbol, "reconcile", f"the book holds {signed:g}, the broker {theirs:g}")

    async def start(self) -> None:
        self._unsubscribe = [
            self.bus.subscribe(CandleClosed.topic, self.on_candle_closed),
            self.bus.subscribe(SignalCreated.topic, self.on_signal_created),
        ]
        self.running = True
        for state in self.assets.values():
            state.task = asyncio.create_task(self._cycles(state), name=f"cycle-{state.config.symbol}")

    async def stop(self) -> None:
        self.running = False
        for undo in self._unsubscribe:
            undo()
        self._unsubscribe = []
        tasks = [s.task for s in self.assets.values() if s.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*self._background, return_exceptions=True)  # let them land
        await self.reflecting.drain()

    # --- candles -------------------------------------------------------------------------------------
    def on_candle_closed(self, event: object) -> None:
        if not isinstance(event, CandleClosed) or event.symbol not in self.assets:
            return
        state = self.assets[event.symbol]
        if event.timeframe is state.config.timeframe:
            state.closed += 1
        if event.timeframe is not self.base:
            return
        symbol, candle = event.symbol, event.candle
        if self.broker.remote:  # its calls block on the network: off the loop, one engine operation at a time
            self._spawn(self.run(lambda: self._candle(symbol, candle)))
            return
        self._candle(symbol, candle)

    def _candle(self, symbol: str, candle: Candle) -> None:
        """A closed base candle: the broker's fills booked, the price marked, the levels watched."""
        for fill in self.broker.on_candle(symbol, candle):
            self._book(fill)
        self._exiting.pop(symbol, None)  # what was sent before this candle has had its chance to fill
        time = float(candle.time + self.base.seconds)
        before = self.portfolio.positions.get(symbol)
        day, peak = self.portfolio.day, self.portfolio.peak_equity
        self.portfolio.mark(symbol, candle.close, time)
        after = self.portfolio.positions.get(symbol)
        if after is not None and before is not None and after.stop_loss != before.stop_loss:
            self._move_stop(symbol, after)  # saves the book too
        elif after != before or (day, peak) != (self.portfolio.day, self.portfolio.peak_equity):
            self.store.save_portfolio(self.portfolio.snapshot())  # a new day, peak or best price: a restart resumes it
        if after is not None and not self.broker.protective_orders:
            self._watch_levels(symbol, after, candle.high, candle.low)
        if after is not None and symbol in self.portfolio.positions:  # its P&L at this close, for the dashboard
            self.bus.publish(PositionChanged.topic, PositionChanged(symbol, self.portfolio.positions[symbol],
                                                                    self.portfolio.unrealized(symbol),
                                                                    self.portfolio.realized_pnl))
        self._record_equity(time)
        self._check_drawdown(time)

    def on_signal_created(self, event: object) -> None:
        """Any streamed signal of a traded asset is shown as its latest; only its own cycles trade."""
        if isinstance(event, SignalCreated) and event.streamed:
            state = self.assets.get(event.signal.symbol)
            if state is not None:
                state.latest_signal = {**event.record, "origin": event.origin}

    def _watch_levels(self, symbol: str, position: Position, high: float, low: float) -> None:
        long = position.side == "long"
        stop, target = position.stop_loss, position.take_profit
        if stop is not None and (low <= stop if long else high >= stop):
            self._exit(symbol, "stop_loss")
        elif target is not None and (high >= target if long else low <= target):
            self._exit(symbol, "take_profit")

    # --- cycles --------------------------------------------------------------------------------------
    async def _cycles(self, state: AssetState) -> None:
        await self.clock.sleep(0)  # start on the clock: a simulated one runs us only while it advances
        while True:
            interval = state.config.interval_minutes * 60
            # the next interval boundary (UTC-aligned, like the candles) plus the settle time
            state.next_cycle = ((self.clock.now() - self.settle) // interval + 1) * interval + self.settle
            await self.clock.sleep_until(state.next_cycle)
            try:
                await self.cycle(state.config.symbol)
            except Exception as exc:  # noqa: BLE001 - one cycle's failure must not stop the asset
                state.last_error = f"{type(exc).__name__}: {exc}"
                if self.fail_fast:
                    self.failure = exc
                    self.failed.set()
                    return
                log.exception("trading cycle of %s failed", state.config.symbol)

    async def cycle(self, symbol: str) -> None:
        """One decision for ``symbol`` if a candle closed since the last one (the seed's runTradingCycle)."""
        state = self.assets[symbol]
        config = state.config
        state.cycles += 1
        state.last_cycle = self.clock.now()
        if config.paused:
            return
        newest = self.newest(symbol, config.timeframe)
        if newest is None or newest == state.last_decided:  # nothing closed since the last decision
            return
        bars = self.candles(symbol, config.timeframe, max(state.strategy.lookback, self.warmup, 1))
        if len(bars) == 0 or len(bars) < self.warmup:
            return
        if self.every > 1 and (state.closed - max(self.warmup, 1)) % self.every:
            return
        state.last_decided = int(bars.time[-1])
        signal = None
        if state.strategy.uses_signals or self.observe:
            timeframes = [config.timeframe, *(tf for tf in self.analysis_timeframes if tf.seconds > config.timeframe.seconds)]
            source = self.signals[config.analyst]
            signal = await self.blocking(lambda: source(symbol, timeframes))
        if self.observe:
            return
        time = float(bars.time[-1] + config.timeframe.seconds)
        ctx = StrategyContext(symbol, time, bars, self.portfolio.positions.get(symbol), signal, {})
        intent = state.strategy.decide(ctx)
        if intent is not None:
            price = float(bars.close[-1])
            await self.run(lambda: self.act(symbol, intent, price=price))

    async def run(self, work: Callable[[], T]) -> T:
        """Engine work that may call the broker (the cycle's orders, the API's overrides): at once
        with an in-process broker; with a remote one in a worker thread, one operation at a time,
        so the event loop never waits on the venue and the book is never changed by two at once."""
        if not self.broker.remote:
            return work()
        async with self._serial:
            return await self.blocking(work)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Future[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("engine work failed: %r", task.exception())

    # --- orders --------------------------------------------------------------------------------------
    def act(self, symbol: str, intent: OrderIntent, *, price: float) -> Order | None:
        """Turn an intent into orders: an exit at once, an entry through risk (a denial is recorded)."""
        position = self.portfolio.positions.get(symbol)
        if intent.action == "exit":
            return self._exit(symbol, "signal") if position is not None else None
        if intent.side is None or (position is not None and position.side == intent.side):
            return None
        state = self.assets[symbol]
        risk = self._risk_state(symbol)
        if position is not None:  # a reversal: the exit goes first, and risk sizes as if it had filled
            self._exit(symbol, "signal")
            signed = position.quantity * price if position.side == "long" else -position.quantity * price
            risk = replace(risk, cash=risk.cash + signed, open_positions=risk.open_positions - 1, exposure=0.0)
        decision = check_entry(intent, price=price, state=risk, profile=state.profile)
        if isinstance(decision, Denied):
            self._risk(symbol, decision.reason, decision.detail)
            return None
        return self._enter(symbol, decision, intent.reason, state.profile)

    def _enter(self, symbol: str, approved: Approved, reason: str, profile: RiskProfile) -> Order | None:
        entry = Order(self.new_id(), symbol, "buy" if approved.side == "long" else "sell", approved.quantity, "market",
                      self.clock.now(), reason=reason[:200])
        trail = profile.trailing_stop_pct or None  # a fraction of the entry price, set when it fills
        if not self._submit(entry):
            return None
        self._levels[entry.client_order_id] = (approved.stop_loss, approved.take_profit, trail)
        if self.broker.protective_orders:
            exit_side = "sell" if approved.side == "long" else "buy"
            for kind, level in (("stop", approved.stop_loss), ("limit", approved.take_profit)):
                if level is not None:
                    order = Order(self.new_id(), symbol, exit_side, approved.quantity, kind, self.clock.now(), level,
                                  "stop_loss" if kind == "stop" else "take_profit", entry.client_order_id)
                    if self._submit(order):
                        self.assets[symbol].protective.append(order.client_order_id)
        return entry

    def _exit(self, symbol: str, reason: str, *, fraction: float = 1.0) -> Order | None:
        position = self.portfolio.positions.get(symbol)
        if position is None:
            return None
        # exits sent since the symbol's last candle fill at its next one: another exit (the kill switch,
        # then the cycle's signal) must not add to them, or the position would reverse past flat
        quantity = min(position.quantity * fraction, position.quantity - self._exiting.get(symbol, 0.0))
        if quantity <= 1e-9 * position.quantity:
            return None
        self._cancel_protective(symbol)
        order = Order(self.new_id(), symbol, "sell" if position.side == "long" else "buy", quantity, "market",
                      self.clock.now(), reason=reason)
        if not self._submit(order):
            return None
        self._exiting[symbol] = self._exiting.get(symbol, 0.0) + quantity
        return order

    def _submit(self, order: Order) -> bool:
        try:
            self.broker.submit(order)
        except OrderRejected as exc:
            self._risk(order.symbol, f"broker_{exc.reason}", str(exc)[:300])
            self.store.save_order(order, "rejected", exc.reason)
            self.bus.publish(OrderSubmitted.topic, OrderSubmitted(order, False, exc.reason))
            return False
        self._orders[order.client_order_id] = order
        self.store.save_order(order, "open")
        self.bus.publish(OrderSubmitted.topic, OrderSubmitted(order, True))
        return True

    def _cancel_protective(self, symbol: str) -> None:
        state = self.assets.get(symbol)
        if state is None:
            return
        kept = []
        for order_id in state.protective:
            order = self._orders.get(order_id)
            if order is not None and order.parent_id in self._levels:  # its entry (a reversal's) has not filled yet
                kept.append(order_id)
                continue
            self.broker.cancel(order_id)
            self._orders.pop(order_id, None)
            if order is not None:
                self.store.save_order(order, "cancelled")
        state.protective[:] = kept

    def _move_stop(self, symbol: str, position: Position) -> None:
        """A trailing stop moved: the broker's stop order follows (or the engine watches the level)."""
        self.store.save_portfolio(self.portfolio.snapshot())
        if not self.broker.protective_orders or position.stop_loss is None:
            return
        state = self.assets[symbol]
        for order_id in list(state.protective):
            order = self._orders.get(order_id)
            if order is not None and order.type == "stop":
                self.broker.cancel(order_id)
                state.protective.remove(order_id)
                self.store.save_order(order, "cancelled")
                moved = replace(order, client_order_id=self.new_id(), price=position.stop_loss,
                                created_at=self.clock.now())  # same parent: still the target's sibling
                if self._submit(moved):
                    state.protective.append(moved.client_order_id)

    # --- fills ---------------------------------------------------------------------------------------
    def _book(self, fill: Fill) -> None:
        stop, target, trail = self._levels.pop(fill.client_order_id, (None, None, None))
        trade = self.portfolio.apply(fill, stop_loss=stop, take_profit=target,
                                     trail_distance=None if trail is None else fill.price * trail)
        self.store.record_fill(fill, self.portfolio.snapshot(), trade)
        order = self._orders.pop(fill.client_order_id, None)
        if order is not None:
            self.store.save_order(order, "filled")
        state = self.assets.get(fill.symbol)
        if state is not None and fill.client_order_id in state.protective:
            state.protective.remove(fill.client_order_id)
        after = self.portfolio.positions.get(fill.symbol)
        if after is None and state is not None:
            self._cancel_protective(fill.symbol)
        self.bus.publish(OrderFilled.topic, OrderFilled(fill, self.portfolio.equity()))
        self.bus.publish(PositionChanged.topic, PositionChanged(fill.symbol, after, self.portfolio.unrealized(fill.symbol),
                                                                self.portfolio.realized_pnl))
        if trade is not None:
            self._closed(trade)

    def _closed(self, trade: Trade) -> None:
        self.bus.publish(TradeClosed.topic, TradeClosed(trade))
        state = self.assets.get(trade.symbol)
        trades = self.store.trades(symbol=trade.symbol, limit=1000)
        self.bus.publish(StatisticsUpdated.topic, StatisticsUpdated(trade.symbol, trade_stats(trades)))
        if state is not None:
            self.reflecting.closed(trade.symbol, state.config.analyst, trades)

    # --- risk ----------------------------------------------------------------------------------------
    def _risk_state(self, symbol: str) -> RiskState:
        p = self.portfolio
        return RiskState(equity=p.equity(), cash=p.cash, day_start_equity=p.day_start_equity,
                         open_positions=len(p.positions), exposure=p.exposure(symbol),
                         consecutive_losses=p.consecutive_losses, last_loss_time=p.last_loss_time, halted=p.halted,
                         time=self.clock.now())

    def _risk(self, symbol: str, reason: str, detail: str) -> None:
        time = self.clock.now()
        self.store.record_risk_event(RiskEvent(symbol, reason, detail, time))
        self.bus.publish(RiskDenied.topic, RiskDenied(symbol, reason, detail, time))

    def _record_equity(self, time: float) -> None:
        if self._last_equity_time is None or time > self._last_equity_time:
            self._last_equity_time = time
            self.store.record_equity(time, self.portfolio.equity())

    def _check_drawdown(self, time: float) -> None:
        p, limits = self.portfolio, self.portfolio_risk
        drawdown = p.drawdown()
        passed = [level for level in limits.drawdown_alerts if drawdown >= level > p.alerted]
        if passed:
            p.alerted = max(passed)
            self.store.save_portfolio(p.snapshot())  # a restart does not send the same alert again
            self.bus.publish(DrawdownAlert.topic, DrawdownAlert(drawdown, p.alerted, p.equity(), False, time))
        if not p.halted and limits.max_drawdown < 1 and drawdown >= limits.max_drawdown:
            p.halted = True
            self._risk(PORTFOLIO, "max_drawdown", f"drawdown {drawdown:.2%} reached the kill switch at {limits.max_drawdown:.0%}:"
                       " every position closed, trading paused")
            for symbol in list(p.positions):
                self._exit(symbol, "kill_switch")
            self.store.save_portfolio(p.snapshot())
            self.bus.publish(DrawdownAlert.topic, DrawdownAlert(drawdown, limits.max_drawdown, p.equity(), True, time))

    def liquidate(self, *, fee_rate: float = 0.0, reason: str = "end") -> None:
        """Close every position at its last price, paying ``fee_rate``: how a backtest ends (its
        last candle has no next open to fill a market order at)."""
        for symbol, position in list(self.portfolio.positions.items()):
            self._cancel_protective(symbol)
            price = self.portfolio.prices.get(symbol, position.entry_price)
            fill = Fill(self.new_id(), symbol, "sell" if position.side == "long" else "buy", position.quantity, price,
                        position.quantity * price * fee_rate, self.clock.now(), reason)
            self._book(fill)
            self._exiting.pop(symbol, None)

    # --- manual override (the API's and the CLI's) -------------------------------------------------
    def state(self, symbol: str) -> AssetState:
        state = self.assets.get(normalize_symbol(symbol))
        if state is None:
            raise NotFound(f"{excerpt(symbol)} is not a traded asset", field="symbol")
        return state

    def update(self, symbol: str, **changes: Any) -> AssetConfig:
        """Change an asset's settings while running (interval, strategy, params, analyst, risk, paused)."""
        state = self.state(symbol)
        allowed = {"interval_minutes", "strategy", "params", "analyst", "risk", "risk_overrides", "paused"}
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise ValidationError(f"cannot change {excerpt(unknown[0])}", field=str(unknown[0])[:40])
        config = replace(state.config, **changes)
        strategy, profile = check_asset(config, analysts=self._analysts(), strategy_paths=self.strategy_paths)
        if "strategy" in changes or "params" in changes:
            state.strategy = strategy
        state.config, state.profile = config, profile
        self.store.save_asset(config)
        if "interval_minutes" in changes and state.task is not None:  # wake it up on the new schedule
            state.task.cancel()
            state.task = asyncio.create_task(self._cycles(state), name=f"cycle-{config.symbol}")
        return config

    def pause(self, symbol: str) -> AssetConfig:
        return self.update(symbol, paused=True)

    def resume(self, symbol: str) -> AssetConfig:
        self.state(symbol)  # an unknown symbol lifts nothing
        if self.portfolio.halted:  # resuming by hand is how the kill switch is lifted
            self.portfolio.halted = False
            self.portfolio.peak_equity = self.portfolio.equity()
            self.portfolio.alerted = 0.0  # a new peak: the drawdown alerts count from it again
            self.store.save_portfolio(self.portfolio.snapshot())
        return self.update(symbol, paused=False)

    def close(self, symbol: str, fraction: float = 1.0) -> Order | None:
        state = self.state(symbol)
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
            raise ValidationError(f"fraction must be within (0, 1], got {excerpt(fraction)}", field="fraction")
        symbol = state.config.symbol
        if symbol not in self.portfolio.positions:
            raise ValidationError(f"{symbol} has no open position", field="symbol")
        order = self._exit(symbol, "manual", fraction=fraction)
        if order is not None and fraction < 1:  # the rest keeps its protection, sized to what is left
            self._reprotect(symbol, self.portfolio.positions[symbol].quantity - self._exiting.get(symbol, 0.0))
        return order

    def _reprotect(self, symbol: str, quantity: float) -> None:
        position = self.portfolio.positions.get(symbol)
        if position is None or not self.broker.protective_orders or quantity <= 0:
            return
        exit_side = "sell" if position.side == "long" else "buy"
        for kind, level in (("stop", position.stop_loss), ("limit", position.take_profit)):
            if level is not None:
                order = Order(self.new_id(), symbol, exit_side, quantity, kind, self.clock.now(), level,
                              "stop_loss" if kind == "stop" else "take_profit")
                if self._submit(order):
                    self.assets[symbol].protective.append(order.client_order_id)

    def enter(self, symbol: str, side: PositionSide, *, size: float | None = None) -> Order | None:
        """Open a position by hand, through risk like any other entry."""
        state = self.state(symbol)
        if side not in ("long", "short"):
            raise ValidationError(f"side must be long or short, got {excerpt(side)}", field="side")
        if size is not None and (isinstance(size, bool) or not isinstance(size, (int, float)) or not 0 < size <= 1):
            raise ValidationError(f"size must be a fraction within (0, 1], got {excerpt(size)}", field="size")
        symbol = state.config.symbol
        if symbol in self.portfolio.positions:
            raise ValidationError(f"{symbol} already has an open position", field="symbol")
        price = self.portfolio.prices.get(symbol)
        if price is None:
            bars = self.candles(symbol, state.config.timeframe, 1)
            if len(bars) == 0:
                raise ValidationError(f"no price for {symbol} yet", field="symbol")
            price = float(bars.close[-1])
        order = self.act(symbol, OrderIntent("enter", side, size=size, reason="manual entry"), price=price)
        if order is None:
            last = self.store.risk_events(symbol=symbol, limit=1)
            detail = f"{last[0].reason}: {last[0].detail}" if last else "denied"
            raise ValidationError(f"risk denied the entry ({detail})", field="risk")
        return order
