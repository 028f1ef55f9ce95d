"""A year of backtest with the analyst: ``signal-follower`` and the rule-based analyst on every 15-minute candle.

A year of one-minute candles (525,600) is replayed; the streamer builds 15m, 1h and 4h candles
from them, and the asset trades the 15m timeframe: one analysis (15m, 1h, 4h) per closed 15m
candle, 35,040 in all. Goal: under 30 s. Each run prints candles/s and analyses/s, and the time
spent inside the analyst, against the baseline measured in the same run: the rule-based analyst
alone on the same 35,040 requests (the same candles per timeframe, the newest 500 closed of each,
as the streamer hands them over), so the kernel's own overhead is visible.

"Replay 1m, trade 15m" is ``BacktestSpec(timeframe=1m, trade_timeframe=15m, higher=(1h, 4h))``. At
commit eb77b06 ``BacktestSpec`` had no ``trade_timeframe``: its ``timeframe`` was at once the
replayed candles' (the streamer's base, on whose candles the paper broker fills and stops
trigger) and the asset's (``AssetConfig.timeframe``), ``higher`` had to be multiples of it and the
analysis always included it. Where the field is missing, the exact case runs on the kernel wired
as ``run_backtest`` wires it (``build_kernel``, SimClock, ReplayFeed of the 1m candles, paper
broker, memory stores) with the asset on 15m. Beside it:

- **run_backtest, 15m replayed, higher 1h, 4h**: the same 35,040 analyses on 1/15 of the
  candles (fills at 15m opens, stops on 15m ranges): what the 1m replay itself costs.
- with ``--with-1m-asset``, **run_backtest, 1m replayed, interval 15, higher 15m, 1h, 4h**: the
  asset on 1m with a cycle every 15 minutes, so each analysis also reads the 1m candles and its
  primary timeframe is 1m (the closest the older ``BacktestSpec`` came with the replay of the year).

Candles: the first 525,600 of ``backtest_sma.random_walk`` (a seeded block bootstrap of the
real ETH/BTC 1m file: blocks of 240 real minutes chained by their relative moves, half of them
mirrored). Costs: ``BacktestSpec``'s defaults (fee 0.1%, no slippage, risk ``none``).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from backtest_sma import random_walk

from tradewind.analysts.base import AnalysisRequest
from tradewind.analysts.rules import RulesAnalyst
from tradewind.domain.bars import Bars, bars_to_candles, resample
from tradewind.domain.bus import InProcessBus
from tradewind.domain.candle import Candle
from tradewind.domain.clock import SimClock
from tradewind.domain.signal import Signal
from tradewind.domain.timeframe import Timeframe
from tradewind.market.feeds.replay import ReplayFeed
from tradewind.signals.outcomes import DEFAULT_HORIZONS
from tradewind.signals.records import MemorySignalStore
from tradewind.trading.backtest import BacktestSpec, report, run_backtest
from tradewind.trading.kernel import KernelConfig, Stores, build_kernel
from tradewind.trading.paper import PaperBroker
from tradewind.trading.records import AssetConfig, MemoryTradingStore
from tradewind.trading.risk import risk_profile

SYMBOL = "ETHBTC"
HIGHER = (Timeframe.H1, Timeframe.H4)
WINDOW = 500  # closed candles per timeframe the streamer hands the analyst (StreamerService.closed_bars)


@dataclass
class Timed:
    """The rule-based analyst, counting its calls and the wall time spent inside them."""

    inner: RulesAnalyst = field(default_factory=RulesAnalyst)
    name: str = "rules"
    seconds: float = 0.0
    outputs: list[tuple[int, str, float, Any]] = field(default_factory=list)

    def analyze(self, request: AnalysisRequest) -> Signal:
        start = time.perf_counter()
        signal = self.inner.analyze(request)
        self.seconds += time.perf_counter() - start
        self.outputs.append((request.timestamp_ms, signal.signal, signal.confidence, signal.extras.get("score")))
        return signal


def requests(bars: Bars) -> list[AnalysisRequest]:
    """What the kernel asks at each closed 15m candle: the newest closed 15m, 1h and 4h candles."""
    by_tf = {tf: resample(bars, tf.seconds, source_seconds=60)[0] for tf in (Timeframe.M15, *HIGHER)}
    ends = {tf: b.time + tf.seconds for tf, b in by_tf.items()}
    out = []
    for now in ends[Timeframe.M15].tolist():
        candles = {}
        for tf, b in by_tf.items():
            stop = int(np.searchsorted(ends[tf], now, side="right"))  # candles closed by now
            if stop:
                candles[tf] = b.slice(max(0, stop - WINDOW), stop)
        out.append(AnalysisRequest(SYMBOL, candles, int(now * 1000)))
    return out


async def kernel_year(candles: Sequence[Candle], analyst: Timed, spec: BacktestSpec) -> dict[str, Any]:
    """1m replayed, asset on 15m, analysis 15m/1h/4h: the kernel as ``run_backtest`` builds it, but for the asset."""
    clock = SimClock(candles[0].time)
    feed = ReplayFeed.from_candles(candles, symbol=SYMBOL, timeframe=Timeframe.M1, clock=clock)
    asset = AssetConfig(SYMBOL, Timeframe.M15, 15, spec.strategy, {}, "rules", spec.risk, {})
    analysis = [Timeframe.M15, *HIGHER]
    config = KernelConfig(
        symbols=[SYMBOL], timeframes=[Timeframe.M1, *analysis], assets=[asset], buffer_size=1000,
        analysis_timeframes=analysis, cache_ttl_seconds=0, horizons=DEFAULT_HORIZONS, score_every_seconds=None,
        cash=spec.cash, portfolio_risk=risk_profile(spec.risk), trade=True,
    )
    broker = PaperBroker(cash=spec.cash, fee_rate=spec.fee, slippage=spec.slippage)
    stores = Stores(signals=MemorySignalStore(), trading=MemoryTradingStore())
    kernel = build_kernel(config, clock=clock, feed=feed, broker=broker, stores=stores, bus=InProcessBus(),
                          analysts={"rules": analyst}, default_analyst="rules")
    await kernel.start()
    try:
        await kernel.runtime.wait_finished()
        assert kernel.runtime.state != "failed", kernel.runtime.error
        assert kernel.engine is not None
        kernel.engine.liquidate(fee_rate=spec.fee)
    finally:
        await kernel.stop()
    return report(kernel, spec)


def show(name: str, seconds: float, candles: int, analyst: Timed, result: dict[str, Any], alone: float) -> None:
    calls = len(analyst.outputs)
    outside = seconds - analyst.seconds
    print(f"{name}")
    print(f"    {seconds:6.1f} s: {candles / seconds:>9,.0f} candles/s, {calls / seconds:>6,.0f} analyses/s "
          f"({candles:,} candles, {calls:,} analyses, {result['metrics'].get('trades', 0)} trades); "
          f"under 30 s: {'yes' if seconds < 30 else 'NO'}")
    print(f"    inside the analyst {analyst.seconds:6.1f} s ({analyst.seconds / alone:.2f}x the analyst alone), "
          f"the rest (streamer, engine, signal service, clock) {outside:6.1f} s = "
          f"{outside / max(candles, 1) * 1e6:.0f} us per candle; total / analyst alone {seconds / alone:.2f}x")


def same(a: Timed, b: Timed) -> str:
    pairs = list(zip(a.outputs, b.outputs))
    equal = sum(1 for x, y in pairs if x == y)
    return f"{equal:,} of {len(b.outputs):,} signals identical" + ("" if len(a.outputs) == len(b.outputs) else
                                                                   f" ({len(a.outputs):,} against {len(b.outputs):,})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--with-1m-asset", action="store_true", help="also run_backtest with the asset on 1m")
    args = parser.parse_args()
    n = args.days * 1440
    bars = random_walk(n)
    minute = bars_to_candles(bars)
    quarter = bars_to_candles(resample(bars, 900, source_seconds=60)[0])
    spec = BacktestSpec(SYMBOL, Timeframe.M15, "signal-follower", higher=HIGHER)
    print(f"{n:,} one-minute candles ({args.days} days, seeded block bootstrap of tests/data/ETH_BTC-1m.json), "
          f"{len(quarter):,} 15m candles; signal-follower, rules analyst, fee {spec.fee:g}, risk {spec.risk}")

    asked = requests(bars)
    for request in asked[-3:]:  # the first calls load numba's cache: not counted anywhere
        RulesAnalyst().analyze(request)
    baseline = Timed()
    for request in asked:
        baseline.analyze(request)
    alone = baseline.seconds
    print(f"baseline, the rules analyst alone on the {len(asked):,} requests (15m, 1h, 4h; the newest {WINDOW} "
          f"closed of each): {alone:.1f} s, {len(asked) / alone:,.0f} analyses/s, "
          f"{alone / len(asked) * 1000:.2f} ms each")

    exact = Timed()
    start = time.perf_counter()
    if "trade_timeframe" in {f.name for f in dataclasses.fields(BacktestSpec)}:
        spec_1m = dataclasses.replace(spec, timeframe=Timeframe.M1,
                                      trade_timeframe=Timeframe.M15)  # type: ignore[call-arg]
        result, _ = asyncio.run(run_backtest(spec_1m, minute, bus=InProcessBus(), analysts={"rules": exact}))
        name = "run_backtest, 1m replayed, trade_timeframe 15m, higher 1h, 4h"
    else:
        result = asyncio.run(kernel_year(minute, exact, spec))
        name = "kernel, 1m replayed, asset on 15m, analysis 15m/1h/4h (build_kernel: run_backtest cannot say it)"
    show(name, time.perf_counter() - start, n, exact, result, alone)
    print(f"    its analyses against the baseline's: {same(exact, baseline)}")

    closest = Timed()
    start = time.perf_counter()
    result, _ = asyncio.run(run_backtest(spec, quarter, bus=InProcessBus(), analysts={"rules": closest}))
    show("run_backtest, 15m replayed, higher 1h, 4h (the same analyses, 1/15 of the candles)",
         time.perf_counter() - start, len(quarter), closest, result, alone)
    print(f"    its analyses against the baseline's: {same(closest, baseline)}")

    if args.with_1m_asset:
        wide = Timed()
        spec_1m = BacktestSpec(SYMBOL, Timeframe.M1, "signal-follower", interval_minutes=15,
                               higher=(Timeframe.M15, *HIGHER))
        start = time.perf_counter()
        result, _ = asyncio.run(run_backtest(spec_1m, minute, bus=InProcessBus(), analysts={"rules": wide}))
        show("run_backtest, 1m replayed, interval 15, higher 15m, 1h, 4h (asset on 1m: analyses read 1m too)",
             time.perf_counter() - start, n, wide, result, alone)


if __name__ == "__main__":
    main()
