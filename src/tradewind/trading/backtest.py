"""The backtester: the kernel on a simulated clock that a replay of history advances.

``run_backtest`` builds the very kernel ``serve`` runs (streamer, signal service, engine, paper
broker, portfolio) with a ``SimClock``, a ``ReplayFeed`` of the candles and in-memory stores, lets
the replay play flat out, closes what is still open at the last close (as backtesting.py's
``finalize_trades`` does), and reports the figures of ``trading.analytics``, the trades and the
equity curve. With ``trade=False`` it places no order: that is ``evaluate``, the analyst's signals
scored against what followed, through the same replay path.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from tradewind.analysts.base import Analyst, MarketView
from tradewind.domain.bars import Bars, bars_from_candles, bars_to_candles
from tradewind.domain.bus import InProcessBus
from tradewind.domain.candle import Candle
from tradewind.domain.clock import SimClock
from tradewind.domain.errors import ValidationError
from tradewind.domain.events import CandleClosed
from tradewind.domain.orders import Trade
from tradewind.domain.ports import EventBus
from tradewind.domain.timeframe import Timeframe
from tradewind.market.feeds.replay import ReplayFeed
from tradewind.signals.outcomes import DEFAULT_HORIZONS
from tradewind.signals.records import MemorySignalStore
from tradewind.trading.analytics import curve_pairs, drawdown, performance, trade_dict
from tradewind.trading.assets import MAX_INTERVAL_MINUTES
from tradewind.trading.fast import array_backtest, array_ready
from tradewind.trading.kernel import Kernel, KernelConfig, Stores, build_kernel
from tradewind.trading.paper import PaperBroker
from tradewind.trading.records import AssetConfig, MemoryTradingStore
from tradewind.trading.risk import RiskProfile, risk_profile
from tradewind.trading.strategies import BUILTIN
from tradewind.trading.strategy import ArraySignals, Strategy, load_strategy, parse_params

__all__ = ["BacktestSpec", "backtest_kernel", "default_interval", "plain", "play", "played_bars", "played_candles", "run_backtest",
           "run_backtest_sync"]

Progress = Callable[[int, int], None]


def default_interval(timeframe: Timeframe) -> int:
    """A cycle per candle where the timeframe allows it (1-60 minutes), else hourly."""
    return max(1, min(MAX_INTERVAL_MINUTES, timeframe.seconds // 60))


@dataclass(frozen=True)
class BacktestSpec:
    symbol: str
    timeframe: Timeframe
    strategy: str = "sma-cross"
    params: Mapping[str, Any] = field(default_factory=dict)
    analyst: str = "rules"
    risk: str = "none"
    risk_overrides: Mapping[str, Any] = field(default_factory=dict)
    cash: float = 10_000.0
    fee: float = 0.001
    slippage: float = 0.0
    interval_minutes: int | None = None  # default: one cycle per candle (see default_interval)
    higher: Sequence[Timeframe] = ()  # longer timeframes built from the candles, for the analyst
    trade_timeframe: Timeframe | None = None  # decide on these candles (e.g. 15m) while replaying 1m; None: timeframe
    start: float | None = None
    end: float | None = None
    trade: bool = True  # False: signals only, no order (evaluate)
    warmup: int = 0  # candles before the first decision
    every: int = 1  # decide on every ``every``-th candle from the warmup-th on
    horizon_seconds: int | None = None  # how long a signal is scored over (default: per timeframe)
    engine: Literal["auto", "kernel", "array"] = "auto"  # auto: the array path where it makes the same trades

    def check(self) -> None:
        if not (isinstance(self.cash, (int, float)) and self.cash > 0 and math.isfinite(self.cash)):
            raise ValidationError(f"cash must be a positive amount, got {self.cash!r}", field="cash")
        for name, value in (("fee", self.fee), ("slippage", self.slippage)):
            if not (isinstance(value, (int, float)) and 0 <= value < 0.5 and math.isfinite(value)):
                raise ValidationError(f"{name} must be a fraction within 0..0.5 (0.001 = 0.1%), got {value!r}",
                                      field=name)
        for tf in self.higher:
            if tf.seconds <= self.timeframe.seconds or tf.seconds % self.timeframe.seconds:
                raise ValidationError(f"higher timeframe {tf.value} must be a longer multiple of {self.timeframe.value}",
                                      field="higher")
        trade = self.trade_timeframe
        if trade is not None and (trade.seconds < self.timeframe.seconds or trade.seconds % self.timeframe.seconds):
            raise ValidationError(f"trade timeframe {trade.value} must be a multiple of {self.timeframe.value}",
                                  field="trade_timeframe")
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ValidationError("--from must be before --to", field="from")
        interval = self.interval_minutes
        if interval is not None and (isinstance(interval, bool) or not isinstance(interval, int)
                                     or not 1 <= interval <= MAX_INTERVAL_MINUTES):
            raise ValidationError(f"interval_minutes must be a whole number of minutes within 1..{MAX_INTERVAL_MINUTES},"
                                  f" got {interval!r}", field="interval_minutes")
        for name, value, least in (("warmup", self.warmup, 0), ("every", self.every, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= 1_000_000:
                raise ValidationError(f"{name} must be a whole number within {least}..1000000, got {value!r}",
                                      field=name)
        horizon = self.horizon_seconds
        if horizon is not None and (isinstance(horizon, bool) or not isinstance(horizon, int) or horizon <= 0):
            raise ValidationError(f"horizon_seconds must be a positive whole number, got {horizon!r}",
                                  field="horizon_seconds")


async def run_backtest(
    spec: BacktestSpec,
    candles: Sequence[Candle] | Bars,
    *,
    analysts: Mapping[str, Analyst],
    bus: EventBus | None = None,  # default: a strict in-process bus (a failing listener ends the run)
    market_view: MarketView | None = None,
    progress: Progress | None = None,
) -> tuple[dict[str, Any], Kernel | None]:
    """Play ``candles`` (closed, time-sorted, of ``spec.timeframe``; ``Candle`` objects or ``Bars``
    columns) through the kernel; the report and the kernel (None when the array path ran: same
    trades, no kernel needed)."""
    spec.check()
    strategy = load_strategy(spec.strategy, spec.params, builtins=BUILTIN)
    profile = risk_profile(spec.risk, spec.risk_overrides)
    if spec.engine == "array" or (spec.engine == "auto" and _array_fits(spec, strategy, profile)):
        if not _array_fits(spec, strategy, profile):
            raise ValidationError(f"{spec.strategy} cannot run on the array path with these settings "
                                  "(it needs array signals, no analyst, a cycle per candle and the none risk profile)",
                                  field="engine")
        bars = played_bars(spec, candles if isinstance(candles, Bars) else bars_from_candles(candles))
        return _array_report(spec, bars, strategy, profile), None
    played = played_candles(spec, bars_to_candles(candles) if isinstance(candles, Bars) else candles)
    bus = bus if bus is not None else InProcessBus(strict=True)
    kernel = backtest_kernel(spec, played, bus=bus, analysts=analysts, market_view=market_view)
    counter = _Counter(bus, spec.timeframe, len(played), progress)
    await kernel.start()
    try:
        await play(kernel)
        if kernel.engine is not None and spec.trade:
            kernel.engine.liquidate(fee_rate=spec.fee)
    finally:
        counter.close()
        await kernel.stop()
    return report(kernel, spec), kernel


def played_candles(spec: BacktestSpec, candles: Sequence[Candle]) -> list[Candle]:
    """The candles of ``candles`` within ``spec.start``..``spec.end`` (a candle must close by the end);
    a ``ValidationError`` when none is, or when they are not strictly time-sorted."""
    step = spec.timeframe.seconds
    played = [c for c in candles if (spec.start is None or c.time >= spec.start)
              and (spec.end is None or c.time + step <= spec.end)]
    if not played:
        field = "from" if spec.start is not None else "to" if spec.end is not None else "data"
        raise ValidationError("no candle in that range: nothing to backtest", field=field)
    if any(b.time <= a.time for a, b in zip(played, played[1:])):
        raise ValidationError("candles must be sorted by time without duplicates", field="data")
    return played


def played_bars(spec: BacktestSpec, bars: Bars) -> Bars:
    """``played_candles`` for columns: the same range and the same checks, without a Candle each."""
    step = spec.timeframe.seconds
    keep = np.ones(len(bars), dtype=bool)
    if spec.start is not None:
        keep &= bars.time >= spec.start
    if spec.end is not None:
        keep &= bars.time + step <= spec.end
    if not keep.any():
        field = "from" if spec.start is not None else "to" if spec.end is not None else "data"
        raise ValidationError("no candle in that range: nothing to backtest", field=field)
    played = bars if keep.all() else Bars(*(column[keep] for column in bars))
    if len(played) > 1 and not (np.diff(played.time) > 0).all():
        raise ValidationError("candles must be sorted by time without duplicates", field="data")
    return played


def backtest_kernel(spec: BacktestSpec, played: Sequence[Candle], *, bus: EventBus, analysts: Mapping[str, Analyst],
                    market_view: MarketView | None = None) -> Kernel:
    """The kernel ``serve`` runs, on a simulated clock that a replay of ``played`` advances, with a
    paper broker and in-memory stores; with ``spec.trade`` off its engine asks the analyst and
    places no order."""
    clock = SimClock(played[0].time)
    feed = ReplayFeed.from_candles(played, symbol=spec.symbol, timeframe=spec.timeframe, clock=clock)
    decide_on = spec.trade_timeframe or spec.timeframe
    interval = spec.interval_minutes or default_interval(decide_on)
    timeframes = sorted({spec.timeframe, decide_on, *spec.higher}, key=lambda tf: tf.seconds)
    strategy = spec.strategy if spec.trade else "signal-follower"
    asset = AssetConfig(spec.symbol, decide_on, interval, strategy, dict(spec.params) if spec.trade else {},
                        spec.analyst, spec.risk, dict(spec.risk_overrides))
    horizons = dict(DEFAULT_HORIZONS)
    if spec.horizon_seconds is not None:
        horizons[decide_on] = spec.horizon_seconds
    window = max(500, spec.warmup)
    config = KernelConfig(
        symbols=[spec.symbol], timeframes=timeframes, assets=[asset], buffer_size=max(1000, window + 1),
        analysis_timeframes=timeframes, analysis_window=window, cache_ttl_seconds=0, horizons=horizons,
        score_every_seconds=None, cash=spec.cash, portfolio_risk=risk_profile(spec.risk, spec.risk_overrides), warmup=spec.warmup,
        every=spec.every, observe=not spec.trade, fail_fast=True,
    )
    broker = PaperBroker(cash=spec.cash, fee_rate=spec.fee, slippage=spec.slippage)
    stores = Stores(signals=MemorySignalStore(), trading=MemoryTradingStore())
    return build_kernel(config, clock=clock, feed=feed, broker=broker, stores=stores, bus=bus, analysts=analysts,
                        default_analyst=spec.analyst, market_view=market_view)


async def play(kernel: Kernel) -> None:
    """Until the replay has played to its end; a failed cycle (an analyst's error, a spend cap)
    ends the run at once and is raised: a backtest that skipped decisions would mislead."""
    finished = asyncio.ensure_future(kernel.runtime.wait_finished())
    failed = asyncio.ensure_future(kernel.engine.failed.wait()) if kernel.engine is not None else None
    try:
        await asyncio.wait([f for f in (finished, failed) if f is not None], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for future in (finished, failed):
            if future is not None:
                future.cancel()
    if kernel.engine is not None and kernel.engine.failure is not None:
        raise kernel.engine.failure
    failure = getattr(kernel.bus, "failure", None)  # a strict bus's first failing subscriber
    if isinstance(failure, BaseException):
        raise failure
    if kernel.runtime.state == "failed":
        raise ValidationError(kernel.runtime.error or "the replay failed", field="data")


def _array_fits(spec: BacktestSpec, strategy: Strategy, profile: RiskProfile) -> bool:
    interval = spec.interval_minutes or default_interval(spec.timeframe)
    per_candle = interval * 60 >= spec.timeframe.seconds or interval == default_interval(spec.timeframe)
    return (spec.trade and not strategy.uses_signals and callable(getattr(strategy, "signals", None))
            and array_ready(profile) and per_candle and spec.warmup == 0 and not spec.higher
            and spec.trade_timeframe in (None, spec.timeframe) and spec.every == 1)


def _array_report(spec: BacktestSpec, bars: Bars, strategy: Strategy, profile: RiskProfile) -> dict[str, Any]:
    signals: ArraySignals = strategy.signals(bars)  # type: ignore[attr-defined]
    size = float(getattr(strategy, "size", 1.0))
    trades, times, values = array_backtest(spec.symbol, bars, signals, seconds=spec.timeframe.seconds, cash=spec.cash,
                                           fee=spec.fee, slippage=spec.slippage, size=size, profile=profile)
    return _report(spec, trades, times, values, [], engine="array")


def report(kernel: Kernel, spec: BacktestSpec) -> dict[str, Any]:
    """``{"metrics", "trades", "equity"}`` (times in UTC epoch seconds) plus what was run."""
    store = kernel.stores.trading
    assert isinstance(store, MemoryTradingStore)
    times = np.array([t for t, _ in store.equity], dtype=np.float64)
    values = np.array([v for _, v in store.equity], dtype=np.float64)
    events = [{"reason": e.reason, "detail": e.detail, "time": e.time} for e in reversed(store.risk_events(limit=10_000))]
    return _report(spec, store.all_trades, times, values, events, engine="kernel")


def _report(spec: BacktestSpec, trades: list[Trade], times: np.ndarray, values: np.ndarray,
            events: list[dict[str, Any]], *, engine: str) -> dict[str, Any]:
    metrics = performance(times, values, trades, curves=False) if len(times) else {"trades": len(trades)}
    dd = drawdown(values) if len(times) else np.empty(0)
    return {
        "symbol": spec.symbol, "timeframe": spec.timeframe.value, "strategy": spec.strategy, "params": _params(spec),
        "analyst": spec.analyst, "risk": spec.risk, "cash": spec.cash, "fee": spec.fee, "slippage": spec.slippage,
        "metrics": metrics,
        "trades": [{"side": t.side, "entry_time": t.entry_time, "entry_price": t.entry_price, "exit_time": t.exit_time,
                    "exit_price": t.exit_price, "size": t.quantity, "pnl": t.pnl, "exit_reason": t.exit_reason,
                    "fees": t.fees, "return_pct": trade_dict(t)["return_pct"]} for t in trades],
        # the curves stay columns ((time, value) rows) until written out: ``plain`` makes them lists
        "equity": np.column_stack((times.astype(np.float64), values)).reshape(-1, 2),
        "drawdown": np.column_stack((times.astype(np.float64), dd)).reshape(-1, 2),
        "risk_events": events,
        "engine": engine,
    }


def _params(spec: BacktestSpec) -> dict[str, Any]:
    """The parameters the strategy ran with: typed (``--param fast=10`` is 10, not "10"), defaults filled in."""
    try:
        cls = BUILTIN.get(spec.strategy) or type(load_strategy(spec.strategy, spec.params, builtins=BUILTIN))
        declared = getattr(cls, "params", {})
        return parse_params(declared if isinstance(declared, Mapping) else {}, spec.params)
    except ValidationError:
        return dict(spec.params)


def plain(report: Mapping[str, Any]) -> dict[str, Any]:
    """The report in JSON types: its curves as ``[[time, value], ...]`` (None where not finite)."""
    out = dict(report)
    for key in ("equity", "drawdown"):
        curve = out.get(key)
        if isinstance(curve, np.ndarray):
            out[key] = curve_pairs(curve[:, 0], curve[:, 1])
    return out


class _Counter:
    """Counts the base candles played, for a progress bar."""

    def __init__(self, bus: EventBus, timeframe: Timeframe, total: int, progress: Progress | None) -> None:
        self.done, self.total, self.progress = 0, total, progress
        self.timeframe = timeframe
        self._undo = bus.subscribe(CandleClosed.topic, self._seen) if progress is not None else None

    def _seen(self, event: object) -> None:
        if isinstance(event, CandleClosed) and event.timeframe is self.timeframe and self.progress is not None:
            self.done += 1
            if self.done % 500 == 0 or self.done == self.total:
                self.progress(self.done, self.total)

    def close(self) -> None:
        if self._undo is not None:
            self._undo()


def run_backtest_sync(spec: BacktestSpec, candles: Sequence[Candle] | Bars, **kwargs: Any) -> dict[str, Any]:
    """``run_backtest`` from synchronous code (the CLI, a worker thread)."""
    result, _ = asyncio.run(run_backtest(spec, candles, **kwargs))
    return result
