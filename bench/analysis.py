"""Full analysis of one symbol, 3 timeframes x 500 candles: indicators, structure, condition, signal.

Baseline from the same run: TA-Lib computing the same indicator set directly on the same three
series (the part no implementation can skip). Goal: full analysis under 2 ms.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import numpy as np
import talib

from tradewind.analysts.base import AnalysisRequest
from tradewind.analysts.rules import RulesAnalyst
from tradewind.domain import Timeframe
from tradewind.domain.bars import Bars, resample
from tradewind.market.feeds.synthetic import SyntheticFeed
from tradewind.signals.requests import bars_from_rows

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"


def series() -> dict[str, dict[Timeframe, Bars]]:
    """Real ETH/BTC (1m, 5m, 1h from the 1m file) and synthetic BTCUSDT (15m, 1h, 4h)."""
    one = bars_from_rows(json.loads((DATA / "ETH_BTC-1m.json").read_text()))
    five, _ = resample(one, 300, source_seconds=60)
    hour, _ = resample(one, 3600, source_seconds=60)
    feed = SyntheticFeed(7)
    end = 1_790_000_000 // 86400 * 86400
    base = feed.base_history("BTCUSDT", end - 2000 * 3600, end)  # 500 four-hour candles
    return {
        "ETHBTC real 1m/5m/1h": {Timeframe.M1: one.slice(-500), Timeframe.M5: five.slice(-500), Timeframe.H1: hour.slice(-240)},
        "BTCUSDT synthetic 15m/1h/4h": {
            tf: resample(base, tf.seconds, source_seconds=60)[0].slice(-500) for tf in (Timeframe.M15, Timeframe.H1, Timeframe.H4)
        },
    }


def talib_baseline(bars: Bars) -> None:
    h, lo, c, v = bars.high, bars.low, bars.close, bars.volume
    for period in (20, 50):
        talib.SMA(c, period)
    for period in (9, 12, 21, 26, 50):
        talib.EMA(c, period)
    talib.RSI(c, 14)
    talib.STOCH(h, lo, c, 14, 3, 0, 3, 0)
    talib.MACD(c, 12, 26, 9)
    talib.BBANDS(c, 20, 2.0, 2.0, 0)
    talib.ATR(h, lo, c, 14)
    talib.ADX(h, lo, c, 14)
    talib.SMA(v, 20)


def timed(fn, repeat: int = 30, number: int = 50) -> float:  # type: ignore[no-untyped-def]
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - start) / number)
    return statistics.median(runs)


def main() -> None:
    analyst = RulesAnalyst()
    print(f"{'series':<30} {'candles':>9} {'full analysis ms':>17} {'TA-Lib only ms':>15} {'ratio':>7} {'goal <2 ms':>11}")
    for name, candles in series().items():
        request = AnalysisRequest(symbol="X", candles=candles, timestamp_ms=0)
        analyst.analyze(request)  # warm (numba kernels compiled or loaded)
        ours = timed(lambda: analyst.analyze(request))
        base = timed(lambda: [talib_baseline(b) for b in candles.values()])
        sizes = "x".join(str(len(b)) for b in candles.values())
        print(f"{name:<30} {sizes:>9} {ours * 1000:>17.3f} {base * 1000:>15.3f} {ours / base:>6.1f}x {'met' if ours < 0.002 else 'NOT met':>11}")
    assert np.isfinite(ours)


if __name__ == "__main__":
    main()
