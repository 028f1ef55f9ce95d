"""``evaluate``: a backtest that places no orders, its signals scored against what followed.

The replay is the backtester's: the kernel on a simulated clock that a replay feed advances, the
engine asking the analyst once per closed candle (every ``step``-th, from the ``warmup``-th on)
exactly as it would before trading. So an analyst is judged on the candles it would see live
(the streamer's closed candles, never a forming one) and there is one replay path, not two.
Each stored signal is then scored by ``resolve_bars`` against the candles that followed it;
signals too close to the end stay ``open``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from tradewind.domain.bus import InProcessBus
from tradewind.analysts.base import AnalysisRequest, Analyst
from tradewind.domain.bars import Bars, bars_to_candles
from tradewind.domain.events import SignalCreated
from tradewind.domain.timeframe import Timeframe
from tradewind.signals.evaluation import Record, check_replay, score_stored
from tradewind.signals.outcomes import DEFAULT_HORIZONS
from tradewind.signals.performance import performance_report
from tradewind.signals.records import MemorySignalStore
from tradewind.trading.backtest import BacktestSpec, backtest_kernel, play, played_bars

__all__ = ["evaluate", "planned_requests"]


def evaluate(
    analyst: Analyst,
    bars: Bars,
    *,
    symbol: str,
    timeframe: Timeframe,
    higher: Sequence[Timeframe] = (),
    warmup: int = 100,
    step: int = 1,
    horizon_seconds: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Record], dict[str, Any]]:
    """Ask ``analyst`` at every ``step``-th closed candle from the ``warmup``-th on; the scored
    records (oldest first) and their ``performance_report``. ``progress(done, total)`` follows
    each signal."""
    check_replay(bars, timeframe=timeframe, higher=higher, warmup=warmup, step=step, horizon_seconds=horizon_seconds)
    spec = _spec(analyst, symbol, timeframe, higher, warmup, step, horizon_seconds)
    total = len(range(warmup - 1, len(bars), step))
    kernel_signals = asyncio.run(_observe(spec, bars, analyst, total, progress))
    records = score_stored(kernel_signals, bars, analyst=_name(analyst))
    return records, performance_report(records)


def planned_requests(spec: BacktestSpec, bars: Bars, visit: Callable[[AnalysisRequest], None], *,
                     analyst: str = "rules") -> int:
    """Show ``visit`` each analysis request a run of ``spec`` will make, in order; how many. The
    same replay makes them, with a rule analyst answering in the model's place (what a run's
    cost is estimated from, before any call). A request depends on the candles alone, never on
    the trades, so the requests are exactly the run's."""
    from tradewind.analysts.rules import RulesAnalyst

    class Visiting(RulesAnalyst):
        count = 0

        def analyze(self, request: AnalysisRequest):  # type: ignore[no-untyped-def]
            visit(request)
            self.count += 1
            return super().analyze(request)

    visiting = Visiting()
    observe = BacktestSpec(spec.symbol, spec.timeframe, analyst=analyst, higher=spec.higher,
                           trade_timeframe=spec.trade_timeframe, interval_minutes=spec.interval_minutes,
                           start=spec.start, end=spec.end, trade=False, warmup=spec.warmup, every=spec.every)
    asyncio.run(_observe(observe, bars, visiting, None, None, name=analyst))
    return visiting.count


def _spec(analyst: Analyst, symbol: str, timeframe: Timeframe, higher: Sequence[Timeframe], warmup: int, step: int,
          horizon_seconds: int | None) -> BacktestSpec:
    return BacktestSpec(symbol, timeframe, analyst=_name(analyst), higher=tuple(higher), trade=False, warmup=warmup,
                        every=step, horizon_seconds=DEFAULT_HORIZONS[timeframe] if horizon_seconds is None
                        else horizon_seconds)


def _name(analyst: Analyst) -> str:
    return str(getattr(analyst, "name", "") or "analyst")


async def _observe(spec: BacktestSpec, bars: Bars, analyst: Analyst, total: int | None,
                   progress: Callable[[int, int], None] | None, *, name: str | None = None) -> list[Any]:
    bus = InProcessBus(strict=True)
    played = bars_to_candles(played_bars(spec, bars))  # the range and its checks, as a backtest's
    kernel = backtest_kernel(spec, played, bus=bus, analysts={name or spec.analyst: analyst})
    done = [0]

    def seen(event: object) -> None:
        if isinstance(event, SignalCreated) and progress is not None:
            done[0] += 1
            progress(done[0], total or done[0])

    undo = bus.subscribe(SignalCreated.topic, seen)
    await kernel.start()
    try:
        await play(kernel)
    finally:
        undo()
        await kernel.stop()
    store = kernel.stores.signals
    assert isinstance(store, MemorySignalStore)
    return store.in_order()
