"""Indicator cost on 500 real candles: ``latest_indicators`` against plain TA-Lib calls.

The baseline calls TA-Lib directly for the same indicator set on the same arrays in the same
process and keeps each last value (what a caller without this layer would write). Also shown:
the full ``compute_indicators`` and one live ``IndicatorStream.update`` / ``peek``. Each figure is
the median over many runs of a block of calls, per call.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import talib

from tradewind.analysis.indicators import (
    IndicatorStream,
    compute_indicators,
    latest_indicators,
)
from tradewind.domain.bars import Bars

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "ETH_BTC-5m.json"


def load(n: int) -> Bars:
    rows = np.array(json.loads(DATA.read_text()), dtype=np.float64)[-n:]
    time = (rows[:, 0] // 1000).astype(np.int64)
    return Bars(time, *(rows[:, i].copy() for i in range(1, 6)), np.full(len(rows), np.nan))


# talib.X as installed here is a Python wrapper looking for pandas/polars Series (pandas is
# importable); ``__wrapped__`` is the bare Cython function underneath: the floor for any layer.
BARE = SimpleNamespace(**{
    name: getattr(getattr(talib, name), "__wrapped__", getattr(talib, name))
    for name in ("SMA", "EMA", "RSI", "STOCH", "MACD", "BBANDS", "ATR", "ADX")
})


def direct_talib_last(bars: Bars, ta: Any = talib) -> dict[str, float]:
    """Baseline: the same TA-Lib calls, last values only, no checks."""
    h, l, c, v = bars.high, bars.low, bars.close, bars.volume
    k, d = ta.STOCH(h, l, c, 14, 3, 0, 3, 0)
    macd, signal, hist = ta.MACD(c, 12, 26, 9)
    upper, middle, lower = ta.BBANDS(c, 20, 2.0, 2.0, 0)
    vsma = ta.SMA(v, 20)[-1]
    return {
        "sma_20": ta.SMA(c, 20)[-1], "sma_50": ta.SMA(c, 50)[-1],
        "ema_9": ta.EMA(c, 9)[-1], "ema_12": ta.EMA(c, 12)[-1], "ema_21": ta.EMA(c, 21)[-1],
        "ema_26": ta.EMA(c, 26)[-1], "ema_50": ta.EMA(c, 50)[-1], "rsi_14": ta.RSI(c, 14)[-1],
        "stoch_k": k[-1], "stoch_d": d[-1], "macd": macd[-1], "macd_signal": signal[-1], "macd_hist": hist[-1],
        "bb_upper": upper[-1], "bb_middle": middle[-1], "bb_lower": lower[-1],
        "atr_14": ta.ATR(h, l, c, 14)[-1], "adx_14": ta.ADX(h, l, c, 14)[-1],
        "volume_sma_20": vsma, "volume_ratio": v[-1] / vsma if vsma > 0 else float("nan"),
    }  # fmt: skip


def per_call_us(fn: Callable[[], object], runs: int, block: int) -> float:
    """Median over ``runs`` blocks of ``block`` calls, in microseconds per call."""
    fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        for _ in range(block):
            fn()
        samples.append((time.perf_counter_ns() - start) / block / 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--candles", type=int, default=500)
    parser.add_argument("--runs", type=int, default=200, help="blocks measured; the median is reported")
    parser.add_argument("--block", type=int, default=50, help="calls per block")
    args = parser.parse_args()

    bars = load(args.candles)
    ours, base = latest_indicators(bars).values, direct_talib_last(bars)
    assert ours == base == direct_talib_last(bars, BARE), "latest_indicators disagrees with plain TA-Lib"

    latest = per_call_us(lambda: latest_indicators(bars), args.runs, args.block)
    baseline = per_call_us(lambda: direct_talib_last(bars), args.runs, args.block)
    bare = per_call_us(lambda: direct_talib_last(bars, BARE), args.runs, args.block)
    batch = per_call_us(lambda: compute_indicators(bars), args.runs, args.block)

    stream = IndicatorStream(bars.slice(0, len(bars) - 1))
    last = tuple(float(col[-1]) for col in bars[1:6])
    peek = per_call_us(lambda: stream.peek(*last), args.runs, args.block)
    updates = per_call_us(lambda: stream.update(*last), args.runs, args.block)  # same candle again: cost only

    print(f"{len(bars)} candles (ETH/BTC 5m), median of {args.runs} runs x {args.block} calls, per call")
    print(f"  latest_indicators        {latest:8.1f} us")
    print(f"  baseline (direct TA-Lib) {baseline:8.1f} us   latest/baseline = {latest / baseline:.2f}x")
    print(f"  floor (bare Cython)      {bare:8.1f} us   latest/floor = {latest / bare:.2f}x")
    print(f"  compute_indicators       {batch:8.1f} us   (whole series)")
    print(f"  IndicatorStream.update   {updates:8.1f} us   (one closed candle)")
    print(f"  IndicatorStream.peek     {peek:8.1f} us   (the forming candle)")


if __name__ == "__main__":
    main()
