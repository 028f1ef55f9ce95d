"""OHLCV columns as numpy arrays, and their aggregation into longer UTC-aligned timeframes.

A domain type because every layer passes candles this way: analysis and analysts (which sit
below the market layer) read them, feeds and the streamer produce them.

Arrays in, arrays out: the streamer's batch path, the synthetic market's history and backfills
all aggregate through ``resample`` so there is one definition of how candles combine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numba import njit

from tradewind.domain.candle import Candle
from tradewind.domain.epoch import MAX_EPOCH_SECONDS

__all__ = ["Bars", "bars_from_candles", "bars_to_candles", "check_bars", "resample"]


class Bars(NamedTuple):
    """Parallel columns, oldest first; ``time`` is the open time in epoch seconds (int64).

    ``spread`` holds NaN where the source gave no quote.
    """

    time: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    spread: np.ndarray

    def __len__(self) -> int:  # type: ignore[override]
        return int(self.time.shape[0])

    def slice(self, start: int, stop: int | None = None) -> Bars:
        return Bars(*(column[start:stop] for column in self))


def bars_from_candles(candles: Sequence[Candle]) -> Bars:
    n = len(candles)
    time = np.fromiter((c.time for c in candles), dtype=np.int64, count=n)
    cols = [np.fromiter((getattr(c, name) for c in candles), dtype=np.float64, count=n)
            for name in ("open", "high", "low", "close", "volume")]
    spread = np.fromiter((np.nan if c.spread is None else c.spread for c in candles), dtype=np.float64, count=n)
    return Bars(time, *cols, spread)


def bars_to_candles(bars: Bars, *, closed: bool = True) -> list[Candle]:
    spreads = [None if s != s else s for s in bars.spread.tolist()]
    return [
        Candle(t, o, h, l, c, v, s, closed)
        for t, o, h, l, c, v, s in zip(
            bars.time.tolist(), bars.open.tolist(), bars.high.tolist(), bars.low.tolist(),
            bars.close.tolist(), bars.volume.tolist(), spreads,
        )
    ]


def resample(bars: Bars, seconds: int, *, source_seconds: int | None = None) -> tuple[Bars, np.ndarray]:
    """Aggregate time-sorted ``bars`` into ``seconds``-long candles aligned to UTC boundaries.

    Returns the aggregated bars and a boolean mask telling which are complete: with
    ``source_seconds`` given (the inputs are candles of that length), a bucket is complete when
    its last input candle ends at the bucket's end. Without it (ticks), completeness is unknown and
    every mask entry is False. Empty buckets produce no candle: gaps stay gaps.
    """
    n = len(bars)
    if n == 0:
        empty = Bars(*(column[:0] for column in bars))
        return empty, np.zeros(0, dtype=bool)
    bucket = (bars.time // seconds) * seconds
    starts = np.flatnonzero(bucket[1:] != bucket[:-1]) + 1
    starts = np.concatenate((np.zeros(1, dtype=np.intp), starts))
    last = np.concatenate((starts[1:], np.array([n], dtype=np.intp))) - 1
    out = Bars(
        bucket[starts],
        bars.open[starts],
        np.maximum.reduceat(bars.high, starts),
        np.minimum.reduceat(bars.low, starts),
        bars.close[last],
        np.add.reduceat(bars.volume, starts),
        bars.spread[last],
    )
    if source_seconds is None:
        complete = np.zeros(len(starts), dtype=bool)
    else:
        complete = bars.time[last] + source_seconds == out.time + seconds
    return out, complete


def check_bars(bars: Bars, *, field: str) -> None:
    """Reject NaN/inf, non-positive prices, negative volume, high < low, OHLC outside the range,
    and unsorted or duplicate times, naming ``field[i].column`` of the first bad candle."""
    from tradewind.domain.errors import InvalidCandle

    n = len(bars)
    if n == 0:
        raise InvalidCandle(f"{field} must hold at least one candle", field=field)
    if _fine(*bars[:6], MAX_EPOCH_SECONDS) if _typed(bars) else _vector_fine(bars):
        return  # the common case: one compiled pass (every analysis checks its candles)
    # only bad input pays for the search
    checks = (
        ("open", ~np.isfinite(bars.open) | (bars.open <= 0), "must be a positive finite number"),
        ("high", ~np.isfinite(bars.high) | (bars.high <= 0), "must be a positive finite number"),
        ("low", ~np.isfinite(bars.low) | (bars.low <= 0), "must be a positive finite number"),
        ("close", ~np.isfinite(bars.close) | (bars.close <= 0), "must be a positive finite number"),
        ("volume", ~np.isfinite(bars.volume) | (bars.volume < 0), "must be a finite number >= 0"),
        ("high", bars.high < bars.low, "is below low"),
        ("high", bars.high < np.maximum(bars.open, bars.close), "is below open or close"),
        ("low", bars.low > np.minimum(bars.open, bars.close), "is above open or close"),
    )
    first: tuple[int, str, str] | None = None
    for column, bad, reason in checks:
        hits = np.flatnonzero(bad)
        if hits.size and (first is None or hits[0] < first[0]):
            first = (int(hits[0]), column, reason)
    negative = np.flatnonzero(bars.time < 0)
    if negative.size and (first is None or negative[0] < first[0]):
        first = (int(negative[0]), "timestamp", "must not be before 1970")
    late = np.flatnonzero(bars.time > MAX_EPOCH_SECONDS)
    if late.size and (first is None or late[0] < first[0]):
        first = (int(late[0]), "timestamp", "must be before the year 10000")
    if n > 1:
        order = np.flatnonzero(bars.time[1:] <= bars.time[:-1])
        if order.size and (first is None or order[0] + 1 < first[0]):
            i = int(order[0]) + 1
            kind = "duplicate" if bars.time[i] == bars.time[i - 1] else "unsorted"
            first = (i, "timestamp", f"is {kind}: not after the previous candle's")
    assert first is not None
    i, column, reason = first
    value = int(bars.time[i]) if column == "timestamp" else float(getattr(bars, column)[i])
    raise InvalidCandle(f"{field}[{i}].{column} {reason} (got {value!r})", field=f"{field}[{i}].{column}", row=i)


def _vector_fine(bars: Bars) -> bool:
    """``check_bars``'s rules in numpy, for columns of other dtypes than the compiled check reads."""
    with np.errstate(invalid="ignore"):
        prices = (bars.open, bars.high, bars.low, bars.close)
        return bool(
            np.isfinite(bars.open).all() and np.isfinite(bars.high).all() and np.isfinite(bars.low).all()
            and np.isfinite(bars.close).all() and np.isfinite(bars.volume).all()
            and min(float(p.min()) for p in prices) > 0 and float(bars.volume.min()) >= 0
            and (bars.high >= np.maximum(bars.open, bars.close)).all()
            and (bars.low <= np.minimum(bars.open, bars.close)).all()
            and (len(bars) == 1 or (bars.time[1:] > bars.time[:-1]).all())
            and int(bars.time.min()) >= 0 and int(bars.time.max()) <= MAX_EPOCH_SECONDS
        )


def _typed(bars: Bars) -> bool:
    """Whether the compiled check can read the columns as they are (int64 time, float64 prices)."""
    return bars.time.dtype == np.int64 and all(column.dtype == np.float64 for column in bars[1:6])


@njit(cache=True)
def _fine(time: np.ndarray, open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
          volume: np.ndarray, max_epoch: int) -> bool:  # pragma: no cover - compiled (tests call it)
    """``check_bars``'s rules in one pass: NaN fails every comparison, so it is never fine."""
    inf = np.inf
    for i in range(time.shape[0]):
        o, h, lo, c, v = open_[i], high[i], low[i], close[i], volume[i]
        if not (0 < o < inf and 0 < h < inf and 0 < lo < inf and 0 < c < inf and 0 <= v < inf):
            return False
        if h < o or h < c or lo > o or lo > c:
            return False
        t = time[i]
        if t < 0 or t > max_epoch or (i > 0 and t <= time[i - 1]):
            return False
    return True
