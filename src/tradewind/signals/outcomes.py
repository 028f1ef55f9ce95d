"""Score one signal against the candles that followed it: take-profit, stop-loss, horizon or still open.

The rules, applied in this order:

1. **Window.** Only closed candles count (a forming one is dropped). The walk covers the candles
   whose open time is at or after ``entry_time`` (the close time of the last candle the analyst saw)
   and before ``entry_time + horizon_seconds`` (the *horizon end*), oldest first. Earlier candles
   are only used to infer the candle length (see 6).
2. **Levels (Long/Short only).** A level counts only when it is finite, positive and on the
   profitable/losing side it claims: Long wants TP > entry > SL, Short wants TP < entry < SL.
   A level on the wrong side (or at the entry) is nonsense and ignored; the other may still count.
   A Long reaches TP when ``high >= TP`` and SL when ``low <= SL``; a Short the mirror image.
3. **First touch decides.** The first candle in the window that reaches a level closes the signal,
   even before the horizon ends. When one candle reaches both, the order inside it is unknown
   and we are pessimistic: stop-loss, unless the candle *opened* at or beyond the take-profit
   (then TP was certainly first). A TP exit is filled at the TP level (no gap bonus); an SL exit
   at the SL level, or at the open when the candle gapped through the stop (the worse price).
4. **Horizon.** With no level reached, the signal resolves when the horizon has passed: a candle
   opening at or after the horizon end exists, or (with ``candle_seconds`` known) the last candle
   inside the window closes at or after it. It exits at the close of the last candle inside the
   window; gaps are fine, whatever candles exist are used. If the window holds no candle at all,
   it waits for the first candle beyond the horizon and exits at that candle's *open*, the first
   price seen after entry (e.g. a stock signal made at Friday's close and scored at Monday's open).
5. **Open.** Otherwise the outcome is ``open`` and every field but ``signal_id`` is None.
   Neutral signals ignore levels and resolve only at the horizon.
6. **Exit time.** A candle exit is dated at the candle's close (its open time plus the candle
   length), a beyond-the-horizon exit at that candle's open. The length is ``candle_seconds``,
   else the smallest spacing between the given candles up to the deciding one; if nothing tells
   it (a lone candle), ``exit_time`` is None rather than a guess.
7. **Scores.** ``realized_return`` is in the signal's direction (``exit/entry - 1`` for Long,
   ``1 - exit/entry`` for Short) and the raw ``exit/entry - 1`` for Neutral. ``actual`` is what
   the market did from entry to exit: Long above ``+neutral_band``, Short below ``-neutral_band``,
   Neutral inside. ``success``: TP True, SL False, horizon ``realized_return > 0`` for Long/Short,
   and ``|return| < neutral_band`` for Neutral.

Because a decision only ever looks at candles up to the one that decides it, appending later
candles never changes a resolved outcome (a property the tests check).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from tradewind.domain.bars import Bars, bars_from_candles
from tradewind.domain.candle import Candle
from tradewind.domain.errors import ValidationError
from tradewind.domain.signal import Direction
from tradewind.domain.timeframe import Timeframe

__all__ = [
    "DEFAULT_HORIZONS",
    "NEUTRAL_BAND",
    "Outcome",
    "OutcomeStatus",
    "ScoredInput",
    "resolve_bars",
    "resolve_outcome",
]

OutcomeStatus = Literal["take_profit", "stop_loss", "horizon", "open", "unscorable"]
"""``unscorable``: a stored signal whose data cannot be scored (written by an older version, or
corrupted); it is marked once so it is neither retried forever nor counted in any figure."""

NEUTRAL_BAND = 0.005
"""A move within +-0.5% counts as "no move": it would barely pay round-trip fees and spread."""

DEFAULT_HORIZONS: dict[Timeframe, int] = {
    Timeframe.M1: 30 * 60,
    Timeframe.M5: 2 * 3600,
    Timeframe.M15: 6 * 3600,
    Timeframe.M30: 12 * 3600,
    Timeframe.H1: 24 * 3600,
    Timeframe.H4: 4 * 86400,
    Timeframe.D1: 20 * 86400,
}
"""How long a signal has to work out: about 24 bars of its own timeframe (30 for 1m, whose bars
are mostly noise; 20 for 1d, about a trading month). Levels an analyst sizes on its timeframe's
volatility (one to two ATRs) are usually reached or clearly missed within that many bars, and a
longer wait would score the next regime rather than the signal."""


@dataclass(frozen=True, slots=True)
class ScoredInput:
    """What scoring one signal needs; ``entry_time`` is the close time (epoch s) of the last candle seen.

    ``candle_seconds`` (the signal's timeframe length) is optional: with it a horizon resolves as
    soon as its last candle closes, without it only once a later candle exists.
    """

    signal_id: str
    symbol: str
    analyst: str
    direction: Direction
    confidence: float
    entry_time: int
    entry_price: float
    stop_loss: float | None
    take_profit: float | None
    horizon_seconds: int
    candle_seconds: int | None = None
    source: str | None = None  # how the analyst answered (llm, llm_repaired, cache, rules_fallback, rules)

    def __post_init__(self) -> None:
        if self.direction not in ("Long", "Short", "Neutral"):
            raise ValidationError(f"direction must be Long, Short or Neutral, got {self.direction!r}", field="direction")
        if not _finite(self.confidence) or not 0.0 <= self.confidence <= 1.0:
            raise ValidationError(f"confidence must be within 0..1, got {self.confidence!r}", field="confidence")
        if not _finite(self.entry_price) or self.entry_price <= 0:
            raise ValidationError(f"entry_price must be a positive number, got {self.entry_price!r}", field="entry_price")
        if isinstance(self.horizon_seconds, bool) or not isinstance(self.horizon_seconds, int) or self.horizon_seconds <= 0:
            raise ValidationError(f"horizon_seconds must be a positive int, got {self.horizon_seconds!r}", field="horizon_seconds")
        if self.candle_seconds is not None and (not isinstance(self.candle_seconds, int) or self.candle_seconds <= 0):
            raise ValidationError(f"candle_seconds must be a positive int, got {self.candle_seconds!r}", field="candle_seconds")


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a signal ended; all but ``signal_id`` are None while it is ``open``."""

    signal_id: str
    status: OutcomeStatus
    exit_time: int | None = None
    exit_price: float | None = None
    realized_return: float | None = None
    actual: Direction | None = None
    success: bool | None = None

    @property
    def resolved(self) -> bool:
        return self.status != "open"


def resolve_outcome(signal: ScoredInput, candles: Sequence[Candle], *, neutral_band: float = NEUTRAL_BAND) -> Outcome:
    """Score ``signal`` against ``candles`` (oldest first; forming candles are ignored)."""
    closed = [c for c in candles if c.closed]
    bars = bars_from_candles(closed)
    if len(bars) > 1 and bool(np.any(np.diff(bars.time) < 0)):
        order = np.argsort(bars.time, kind="stable")
        bars = Bars(*(column[order] for column in bars))
    return resolve_bars(signal, bars, neutral_band=neutral_band)


def resolve_bars(signal: ScoredInput, bars: Bars, *, neutral_band: float = NEUTRAL_BAND) -> Outcome:
    """Score ``signal`` against closed, time-sorted ``bars``; the array form ``evaluate`` uses."""
    if not _finite(neutral_band) or neutral_band < 0:
        raise ValidationError(f"neutral_band must be a non-negative number, got {neutral_band!r}", field="neutral_band")
    time = bars.time
    horizon_end = signal.entry_time + signal.horizon_seconds
    first = int(np.searchsorted(time, signal.entry_time, side="left"))
    stop = int(np.searchsorted(time, horizon_end, side="left"))  # window is [first, stop)

    if signal.direction != "Neutral" and stop > first:
        hit = _first_touch(signal, bars, first, stop, neutral_band)
        if hit is not None:
            return hit

    length = signal.candle_seconds
    passed = stop < len(time) or (
        length is not None and stop > first and int(time[stop - 1]) + length >= horizon_end
    )
    if not passed:
        return Outcome(signal.signal_id, "open")
    if stop > first:
        exit_price = float(bars.close[stop - 1])
        exit_time = _close_time(time, stop - 1, length)
    else:
        exit_price = float(bars.open[stop])
        exit_time = int(time[stop])
    move = exit_price / signal.entry_price - 1.0
    actual = _actual(move, neutral_band)
    if signal.direction == "Neutral":
        return Outcome(signal.signal_id, "horizon", exit_time, exit_price, move, actual, abs(move) < neutral_band)
    realized = move if signal.direction == "Long" else -move
    return Outcome(signal.signal_id, "horizon", exit_time, exit_price, realized, actual, realized > 0)


def _first_touch(signal: ScoredInput, bars: Bars, first: int, stop: int, band: float) -> Outcome | None:
    """The take-profit or stop-loss exit decided by the first candle in the window that reaches a level."""
    entry = signal.entry_price
    long = signal.direction == "Long"
    tp = _level(signal.take_profit, above=long, entry=entry)
    sl = _level(signal.stop_loss, above=not long, entry=entry)
    if tp is None and sl is None:
        return None
    high = bars.high[first:stop]
    low = bars.low[first:stop]
    none = np.zeros(stop - first, dtype=bool)
    reach_tp = none if tp is None else (high >= tp if long else low <= tp)
    reach_sl = none if sl is None else (low <= sl if long else high >= sl)
    touched = np.flatnonzero(reach_tp | reach_sl)
    if touched.size == 0:
        return None
    j = int(touched[0])
    k = first + j
    opened = float(bars.open[k])
    exit_time = _close_time(bars.time, k, signal.candle_seconds)
    status: OutcomeStatus
    if tp is not None and reach_tp[j] and (not reach_sl[j] or (opened >= tp if long else opened <= tp)):
        price, status, success = tp, "take_profit", True
    else:
        assert sl is not None
        price = min(sl, opened) if long else max(sl, opened)  # a gap through the stop fills at the open
        status, success = "stop_loss", False
    move = price / entry - 1.0
    return Outcome(signal.signal_id, status, exit_time, price, move if long else -move, _actual(move, band), success)


def _level(value: float | None, *, above: bool, entry: float) -> float | None:
    """``value`` as a usable level: finite, positive and strictly on its side of the entry, else None."""
    if not _finite(value):
        return None
    level = float(value)  # type: ignore[arg-type]
    if level <= 0 or (level <= entry if above else level >= entry):
        return None
    return level


def _close_time(time: np.ndarray, k: int, length: int | None) -> int | None:
    """Close time of candle ``k``; the length is inferred from the candles up to ``k`` when unknown."""
    if length is None:
        if k == 0:
            return None
        gaps = np.diff(time[: k + 1])
        gaps = gaps[gaps > 0]
        if gaps.size == 0:
            return None
        length = int(gaps.min())
    return int(time[k]) + length


def _actual(move: float, band: float) -> Direction:
    if move > band:
        return "Long"
    if move < -band:
        return "Short"
    return "Neutral"


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
