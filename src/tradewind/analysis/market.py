"""Market condition from one timeframe's candles and indicators: trend, volatility, volume,
support and resistance, and the seed's condition and phase.

Pure functions over numpy arrays and an ``IndicatorSnapshot``; each returns numbers the analyst
can cite, never a canned sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from tradewind.analysis.indicators import IndicatorSnapshot
from tradewind.analysis.means import mean
from tradewind.domain.bars import Bars

__all__ = [
    "ConditionType",
    "LevelSet",
    "Phase",
    "Trend",
    "Volatility",
    "VolumeView",
    "clamp",
    "cluster_levels",
    "market_condition",
    "trend_of",
    "volatility_of",
    "volume_of",
]

ConditionType = Literal["Trending Up", "Trending Down", "Sideways"]
Phase = Literal["Active Trading", "Consolidation", "Breakout"]
TREND_THRESHOLD = 0.05  # the seed: "price change > 5%" is a trend


def clamp(value: float, low: float, high: float) -> float:
    """``np.clip`` for one number, without numpy's per-call overhead on the hot path."""
    return float(min(max(value, low), high))


@dataclass(frozen=True)
class Trend:
    """``score`` in [-1, 1] (bullish positive) from EMA alignment and momentum; ``strength`` in [0, 1]
    from ADX (25 = a trend, 50 = a strong one)."""

    score: float
    strength: float
    ema_fast: float | None
    ema_mid: float | None
    ema_slow: float | None
    adx: float | None
    momentum: float | None  # close change over the last 5 bars, relative


@dataclass(frozen=True)
class Volatility:
    """ATR as a share of price, and against this timeframe's own recent true ranges."""

    atr: float | None
    atr_pct: float | None
    relative: float | None  # ATR 14 / mean true range of the last 100 bars
    level: Literal["Low", "Medium", "High"]
    bb_width_pct: float | None  # (upper - lower) / middle


@dataclass(frozen=True)
class VolumeView:
    ratio: float | None  # last volume / its 20-bar average
    up_share: float | None  # share of the last 20 bars' volume traded on up candles
    description: str


@dataclass(frozen=True)
class LevelSet:
    support: tuple[float, ...]  # below price, nearest first
    resistance: tuple[float, ...]  # above price, nearest first


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def trend_of(bars: Bars, ind: IndicatorSnapshot) -> Trend:
    fast, mid, slow, adx = ind["ema_9"], ind["ema_21"], ind["ema_50"], ind["adx_14"]
    close = float(bars.close[-1])
    votes: list[float] = []
    if fast is not None and mid is not None:
        votes.append(1.0 if fast > mid else -1.0)
    if mid is not None and slow is not None:
        votes.append(1.0 if mid > slow else -1.0)
    if slow is not None:
        votes.append(1.0 if close > slow else -1.0)
    elif mid is not None:
        votes.append(1.0 if close > mid else -1.0)
    momentum = float(close / bars.close[-6] - 1) if len(bars) >= 6 else None
    score = mean(votes) if votes else 0.0
    strength = 0.0 if adx is None else clamp((adx - 10) / 40, 0, 1)
    if momentum is not None and score != 0 and np.sign(momentum) != np.sign(score):
        score *= 0.5  # the averages still point one way but price has turned
    return Trend(score, strength, fast, mid, slow, adx, momentum)


def volatility_of(bars: Bars, ind: IndicatorSnapshot) -> Volatility:
    atr = ind["atr_14"]
    close = float(bars.close[-1])
    atr_pct = _ratio(atr, close)
    relative = None
    if atr is not None and len(bars) >= 30:
        window = slice(-100, None)
        high, low, prev = bars.high[window], bars.low[window], np.roll(bars.close, 1)[window]
        true_range = np.maximum(high, prev) - np.minimum(low, prev)
        mean = float(np.mean(true_range[1:]))
        relative = _ratio(atr, mean)
    width = None
    if ind["bb_upper"] is not None and ind["bb_lower"] is not None and ind["bb_middle"]:
        width = (ind["bb_upper"] - ind["bb_lower"]) / ind["bb_middle"]
    if relative is None:
        level: Literal["Low", "Medium", "High"] = "Medium"
    elif relative < 0.8:
        level = "Low"
    elif relative > 1.25:
        level = "High"
    else:
        level = "Medium"
    return Volatility(atr, atr_pct, relative, level, width)


def volume_of(bars: Bars, ind: IndicatorSnapshot) -> VolumeView:
    ratio = ind["volume_ratio"]
    tail = slice(-20, None)
    volume = bars.volume[tail]
    total = float(volume.sum())
    up_share = float(volume[bars.close[tail] >= bars.open[tail]].sum() / total) if total > 0 else None
    parts = []
    if ratio is not None:
        pace = "high" if ratio >= 1.5 else "above average" if ratio >= 1.1 else "low" if ratio < 0.7 else "average"
        parts.append(f"volume {ratio:.2f}x its 20-bar average ({pace})")
    if up_share is not None:
        side = "accumulation" if up_share >= 0.6 else "distribution" if up_share <= 0.4 else "balanced flow"
        parts.append(f"{up_share:.0%} of the last {len(volume)} bars' volume on up candles ({side})")
    return VolumeView(ratio, up_share, "; ".join(parts) if parts else "no volume data")


def cluster_levels(prices: Sequence[float], close: float, tolerance: float, *, limit: int = 3) -> LevelSet:
    """Merge nearby swing prices (within ``tolerance``) into levels; split below and above."""
    merged: list[list[float]] = []
    for price in sorted(p for p in prices if np.isfinite(p)):
        if merged and price - merged[-1][-1] <= tolerance:
            merged[-1].append(price)
        else:
            merged.append([price])
    levels = [mean(group) for group in merged]
    support = sorted((lv for lv in levels if lv < close), reverse=True)[:limit]
    resistance = sorted(lv for lv in levels if lv > close)[:limit]
    return LevelSet(tuple(support), tuple(resistance))


def market_condition(
    bars: Bars, ind: IndicatorSnapshot, volatility: Volatility, *, broke_structure: bool, lookback: int = 50
) -> tuple[ConditionType, float, Phase]:
    """The seed's condition (a price change beyond 5% over the window is a trend) and phase.

    Returns the condition, the price change it is based on, and the phase: Breakout when price
    closes outside the Bollinger Bands or structure broke in the last bars; Consolidation in a
    low-volatility range; otherwise Active Trading.
    """
    window = bars.close[-lookback:]
    change = float(window[-1] / window[0] - 1) if len(window) > 1 else 0.0
    condition: ConditionType = (
        "Trending Up" if change > TREND_THRESHOLD else "Trending Down" if change < -TREND_THRESHOLD else "Sideways"
    )
    close = float(bars.close[-1])
    outside = (ind["bb_upper"] is not None and close > ind["bb_upper"]) or (
        ind["bb_lower"] is not None and close < ind["bb_lower"]
    )
    if outside or broke_structure:
        phase: Phase = "Breakout"
    elif volatility.level == "Low":
        phase = "Consolidation"
    else:
        phase = "Active Trading"
    return condition, change, phase
