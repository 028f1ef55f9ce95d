"""Performance figures of an equity curve and its closed trades: the backtest report and ``/api/performance``.

Pure functions over arrays (numpy, no pandas). The curve is ``equity_times`` (UTC epoch seconds,
strictly increasing) and ``equity`` (account value at those times, say at each candle close); the
trades are ``Trade`` round trips. A figure that cannot be computed (no trades, a zero denominator,
too short a curve) is None, never a stand-in constant. Fractions are fractions (0.05 is 5%).

Curve figures
- ``total_return``: ``equity[-1] / equity[0] - 1``; None when the curve is empty or starts at or below 0.
- ``cagr``: compound annual growth, ``(equity[-1] / equity[0]) ** (1 / years) - 1`` with ``years`` the
  curve's span (last time minus first) in years of 365.25 days; None when the span is under a day, the
  curve starts at or below 0, or ends below 0.
- ``period_returns``: simple returns ``equity[i] / equity[i - 1] - 1``, one per spacing of the curve.
- ``sharpe``: ``mean(r) / std(r) * sqrt(P)`` over the per-period returns ``r`` (sample std, ddof=1), with a
  risk-free rate of 0; ``P`` is the periods per year (see ``infer_periods_per_year``). None with fewer
  than two returns, a flat curve (std 0) or a curve that touches 0 before its end.
- ``sortino``: ``mean(r) / d * sqrt(P)`` with the downside deviation ``d = sqrt(mean(min(r, 0) ** 2))``
  over all periods (target return 0); None when no period lost (d = 0) or as for ``sharpe``.
- ``infer_periods_per_year``: a year of 365 days (markets that trade 24/7, like crypto) divided by the
  median spacing of the times; pass ``periods_per_year`` explicitly for other calendars (252 for
  daily stock bars, 252 * 6.5 for hourly ones).
- ``drawdown``: at each point, ``1 - equity / peak`` with ``peak`` the highest equity so far: 0 at every
  new high, in [0, 1] while equity is positive (NaN where the peak so far is not positive).
- ``max_drawdown``: the deepest drawdown as a ``MaxDrawdown``: its ``value``, its ``start`` (the time of
  the peak it fell from: the last time the curve stood at that peak), its ``end`` (the time of the
  trough) and its ``recovery`` (the first time after the trough the curve is back at or above the
  peak; None when it never recovers). A curve that never falls has value 0 and no times.
- ``longest_drawdown``: the longest time under water, in seconds: from a peak to the recovery, or to
  the curve's last time for a drawdown still open at the end; 0 when the curve never falls.
- ``calmar``: ``cagr / max drawdown``; None when either is None or the curve never fell.

Trade figures (``trade_stats``, per symbol in ``by_symbol``); a win is a trade with pnl > 0, a loss one
with pnl < 0 (a break-even trade is neither, but it counts as a trade)
- ``win_rate``: wins / trades. ``profit_factor``: gross profit (sum of winning pnl) / gross loss (minus
  the sum of losing pnl); 0 with losses and no win, None with no losing trade.
- ``expectancy``: mean pnl per trade, in money. ``average_win``: mean pnl of the wins (positive);
  ``average_loss``: mean pnl of the losses (negative). ``average_return``: mean of ``Trade.return_pct``.
- ``best_trade`` / ``worst_trade``: the trade with the highest / lowest pnl (the first on a tie), as a
  dict; ``best_return`` / ``worst_return``: the highest / lowest ``return_pct`` of any trade (with
  positions of different sizes these need not be the same trades as the best and worst by pnl).
- ``trades_per_day``: trades / the curve's span in days (0 with no trades); None for a curve without span.
- ``exposure``: the share of the curve's span (first to last time) during which at least one
  position was open, from the trades' entry and exit times (overlapping trades count once, time
  outside the curve is ignored); 0 with no trades, None for a curve without span.

``performance`` assembles all of it, with the equity and drawdown curves, into plain JSON types.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tradewind.domain.errors import ValidationError
from tradewind.domain.orders import Trade

__all__ = [
    "CALENDAR_YEAR_DAYS",
    "DAY_SECONDS",
    "YEAR_DAYS",
    "MaxDrawdown",
    "average_loss",
    "average_win",
    "best_trade",
    "cagr",
    "curve_pairs",
    "calmar",
    "drawdown",
    "expectancy",
    "exposure",
    "infer_periods_per_year",
    "longest_drawdown",
    "max_drawdown",
    "performance",
    "period_returns",
    "profit_factor",
    "sharpe",
    "sortino",
    "total_return",
    "trade_dict",
    "trade_stats",
    "trades_per_day",
    "win_rate",
    "worst_trade",
]

DAY_SECONDS = 86_400.0
YEAR_DAYS = 365.0
"""Days per year for annualising per-period figures: 24/7 markets trade every day."""
CALENDAR_YEAR_DAYS = 365.25
"""Days per calendar year for elapsed time (CAGR), leap days included."""


@dataclass(frozen=True, slots=True)
class MaxDrawdown:
    """The deepest fall from a peak: ``value`` as a fraction of the peak, times in epoch seconds."""

    value: float
    start: float | None  # the peak
    end: float | None  # the trough
    recovery: float | None  # back at the peak; None if never


# --- the curve -------------------------------------------------------------------------------------


def total_return(equity: np.ndarray) -> float | None:
    """``equity[-1] / equity[0] - 1``; None for an empty curve or one starting at or below 0."""
    eq = _array(equity, "equity")
    if eq.size == 0 or eq[0] <= 0:
        return None
    return float(eq[-1] / eq[0] - 1.0)


def cagr(equity_times: np.ndarray, equity: np.ndarray) -> float | None:
    """Compound annual growth rate over the curve's span, in years of 365.25 days.

    None when the span is under a day, the curve starts at or below 0 or ends below 0, or the
    annualised figure overflows a float (a huge gain over a few days).
    """
    times, eq = _curve(equity_times, equity)
    if eq.size < 2 or eq[0] <= 0 or eq[-1] < 0:
        return None
    span = float(times[-1] - times[0])
    if span < DAY_SECONDS:
        return None
    years = span / (CALENDAR_YEAR_DAYS * DAY_SECONDS)
    with np.errstate(over="ignore"):
        growth = float((eq[-1] / eq[0]) ** (1.0 / years) - 1.0)
    return growth if math.isfinite(growth) else None  # too steep to annualise in a float


def period_returns(equity: np.ndarray) -> np.ndarray:
    """Simple returns between consecutive points, ``equity[i] / equity[i - 1] - 1`` (length n - 1).

    NaN where the previous value is not positive (a return from nothing means nothing).
    """
    eq = _array(equity, "equity")
    if eq.size < 2:
        return np.zeros(0)
    prev = eq[:-1]
    out = np.full(prev.shape, np.nan)
    ok = prev > 0
    out[ok] = eq[1:][ok] / prev[ok] - 1.0
    return out


def infer_periods_per_year(equity_times: np.ndarray, *, year_days: float = YEAR_DAYS) -> float | None:
    """``year_days`` (365: a 24/7 market) divided by the median spacing of the times; None under 2 points."""
    times = _array(equity_times, "equity_times")
    if times.size < 2:
        return None
    step = float(np.median(np.diff(times)))
    return year_days * DAY_SECONDS / step if step > 0 else None


def sharpe(equity_times: np.ndarray, equity: np.ndarray, *, periods_per_year: float | None = None) -> float | None:
    """Annualised Sharpe ratio: ``mean(r) / std(r, ddof=1) * sqrt(periods_per_year)``, risk-free rate 0.

    ``r`` are the per-period simple returns; ``periods_per_year`` defaults to
    ``infer_periods_per_year(equity_times)`` (365 days / the median spacing). None with fewer than two
    returns, zero volatility, or a curve that reaches 0 or below before its end.
    """
    r, per_year = _returns_and_periods(equity_times, equity, periods_per_year)
    if r is None or per_year is None:
        return None
    std = float(np.std(r, ddof=1))
    if not std > 0:
        return None
    return float(np.mean(r) / std * math.sqrt(per_year))


def sortino(equity_times: np.ndarray, equity: np.ndarray, *, periods_per_year: float | None = None) -> float | None:
    """Annualised Sortino ratio: ``mean(r) / sqrt(mean(min(r, 0) ** 2)) * sqrt(periods_per_year)``.

    The downside deviation is taken over every period against a target of 0 (a gaining period counts
    as 0); ``periods_per_year`` as in ``sharpe``. None when no period lost, or as for ``sharpe``.
    """
    r, per_year = _returns_and_periods(equity_times, equity, periods_per_year)
    if r is None or per_year is None:
        return None
    downside = float(np.sqrt(np.mean(np.minimum(r, 0.0) ** 2)))
    if not downside > 0:
        return None
    return float(np.mean(r) / downside * math.sqrt(per_year))


def drawdown(equity: np.ndarray) -> np.ndarray:
    """The drawdown curve ``1 - equity / running peak``: 0 at each new high; NaN while the peak is <= 0."""
    eq = _array(equity, "equity")
    if eq.size == 0:
        return np.zeros(0)
    peak = np.maximum.accumulate(eq)
    out = np.full(eq.shape, np.nan)
    ok = peak > 0
    out[ok] = 1.0 - eq[ok] / peak[ok]
    return out


def max_drawdown(equity_times: np.ndarray, equity: np.ndarray) -> MaxDrawdown | None:
    """The deepest drawdown, its peak (``start``), trough (``end``) and ``recovery`` times.

    ``start`` is the last time the curve stood at the peak it then fell from, ``end`` the first time
    it reached the deepest point, ``recovery`` the first later time it was back at or above the peak
    (None: not yet). A curve that never falls gives ``MaxDrawdown(0.0, None, None, None)``; an empty
    curve, or one whose peak is never positive, gives None.
    """
    times, eq = _curve(equity_times, equity)
    dd = drawdown(eq)
    if dd.size == 0 or np.isnan(dd).all():
        return None
    trough = int(np.nanargmax(dd))
    depth = float(dd[trough])
    if depth <= 0:
        return MaxDrawdown(0.0, None, None, None)
    top = eq[: trough + 1].max()
    peak = int(np.flatnonzero(eq[: trough + 1] == top)[-1])
    back = np.flatnonzero(eq[trough + 1:] >= top)
    recovery = float(times[trough + 1 + back[0]]) if back.size else None
    return MaxDrawdown(depth, float(times[peak]), float(times[trough]), recovery)


def longest_drawdown(equity_times: np.ndarray, equity: np.ndarray) -> float | None:
    """The longest time under water, in seconds: peak to recovery, or to the last time if still down.

    0.0 when the curve never falls below a previous high; None for an empty curve.
    """
    times, eq = _curve(equity_times, equity)
    if eq.size == 0:
        return None
    under = drawdown(eq) > 0  # NaN (no positive peak yet) is not a drawdown
    if not under.any():
        return 0.0
    edges = np.diff(np.r_[0, under.astype(np.int8), 0])
    first = np.flatnonzero(edges == 1)  # first point under water of each run
    after = np.flatnonzero(edges == -1)  # first point back at a high (n if never)
    start = times[np.maximum(first - 1, 0)]
    stop = times[np.minimum(after, eq.size - 1)]
    return float(np.max(stop - start))


def calmar(equity_times: np.ndarray, equity: np.ndarray) -> float | None:
    """``cagr / max drawdown``; None when either is missing or the curve never fell."""
    growth = cagr(equity_times, equity)
    dd = max_drawdown(equity_times, equity)
    if growth is None or dd is None or dd.value <= 0:
        return None
    return float(growth / dd.value)


# --- the trades ------------------------------------------------------------------------------------


def win_rate(pnl: np.ndarray) -> float | None:
    """Share of trades with pnl > 0 (break-even trades count as trades, not wins); None with no trade."""
    p = _array(pnl, "pnl")
    return float(np.mean(p > 0)) if p.size else None


def profit_factor(pnl: np.ndarray) -> float | None:
    """Gross profit / gross loss: ``sum(pnl[pnl > 0]) / -sum(pnl[pnl < 0])``; None with no losing trade.

    Works on any per-trade figure: pass returns instead of pnl for the profit factor of returns.
    """
    p = _array(pnl, "pnl")
    loss = -float(p[p < 0].sum())
    return float(p[p > 0].sum()) / loss if loss > 0 else None


def expectancy(pnl: np.ndarray) -> float | None:
    """Mean pnl per trade (what a trade earns on average, losses included); None with no trade."""
    p = _array(pnl, "pnl")
    return float(np.mean(p)) if p.size else None


def average_win(pnl: np.ndarray) -> float | None:
    """Mean pnl of the winning trades (pnl > 0); None with no win."""
    p = _array(pnl, "pnl")
    wins = p[p > 0]
    return float(np.mean(wins)) if wins.size else None


def average_loss(pnl: np.ndarray) -> float | None:
    """Mean pnl of the losing trades (pnl < 0), a negative number; None with no loss."""
    p = _array(pnl, "pnl")
    losses = p[p < 0]
    return float(np.mean(losses)) if losses.size else None


def best_trade(trades: Sequence[Trade]) -> Trade | None:
    """The trade with the highest pnl (the first of equals); None with no trade."""
    return trades[int(np.argmax(_pnl(trades)))] if trades else None


def worst_trade(trades: Sequence[Trade]) -> Trade | None:
    """The trade with the lowest pnl (the first of equals); None with no trade."""
    return trades[int(np.argmin(_pnl(trades)))] if trades else None


def trades_per_day(equity_times: np.ndarray, n_trades: int) -> float | None:
    """``n_trades`` / the curve's span in days; None when the curve has no span."""
    times = _array(equity_times, "equity_times")
    span = float(times[-1] - times[0]) if times.size else 0.0
    return n_trades / (span / DAY_SECONDS) if span > 0 else None


def exposure(equity_times: np.ndarray, entry_times: np.ndarray, exit_times: np.ndarray) -> float | None:
    """Share of the curve's span covered by at least one ``[entry, exit]`` interval; None without span.

    Intervals are clipped to the curve's first and last time, and overlapping ones count once.
    """
    times = _array(equity_times, "equity_times")
    entries, exits = _array(entry_times, "entry_times"), _array(exit_times, "exit_times")
    if entries.shape != exits.shape:
        raise ValidationError("entry_times and exit_times differ in length", field="exit_times")
    span = float(times[-1] - times[0]) if times.size else 0.0
    if span <= 0:
        return None
    lo = np.clip(entries, times[0], times[-1])
    hi = np.clip(exits, times[0], times[-1])
    order = np.argsort(lo, kind="stable")
    lo, hi = lo[order], hi[order]
    # In start order, an interval adds what lies beyond both its start and every earlier end.
    reach = np.maximum.accumulate(np.r_[-np.inf, hi[:-1]]) if hi.size else hi
    covered = np.maximum(hi - np.maximum(lo, reach), 0.0).sum()
    return float(covered / span)


def trade_dict(trade: Trade) -> dict[str, Any]:
    """A trade as plain JSON types, with its ``return_pct``."""
    return {
        "symbol": trade.symbol,
        "side": trade.side,
        "quantity": _num(trade.quantity),
        "entry_time": _num(trade.entry_time),
        "entry_price": _num(trade.entry_price),
        "exit_time": _num(trade.exit_time),
        "exit_price": _num(trade.exit_price),
        "pnl": _num(trade.pnl),
        "fees": _num(trade.fees),
        "exit_reason": trade.exit_reason,
        "return_pct": _num(trade.return_pct),
    }


def trade_stats(trades: Sequence[Trade]) -> dict[str, Any]:
    """The trade figures of the module docstring for these trades, as plain JSON types."""
    pnl = _pnl(trades)
    returns = np.array([t.return_pct for t in trades], dtype=np.float64)
    best, worst = best_trade(trades), worst_trade(trades)
    return {
        "trades": len(trades),
        "wins": int(np.sum(pnl > 0)),
        "losses": int(np.sum(pnl < 0)),
        "win_rate": _num(win_rate(pnl)),
        "gross_profit": _num(pnl[pnl > 0].sum()),
        "gross_loss": _num(-pnl[pnl < 0].sum()),
        "total_pnl": _num(pnl.sum()),
        "total_fees": _num(sum(t.fees for t in trades)),
        "profit_factor": _num(profit_factor(pnl)),
        "expectancy": _num(expectancy(pnl)),
        "average_win": _num(average_win(pnl)),
        "average_loss": _num(average_loss(pnl)),
        "average_return": _num(expectancy(returns)),
        "best_return": _num(returns.max()) if returns.size else None,
        "worst_return": _num(returns.min()) if returns.size else None,
        "best_trade": trade_dict(best) if best is not None else None,
        "worst_trade": trade_dict(worst) if worst is not None else None,
    }


# --- the report ------------------------------------------------------------------------------------


def performance(
    equity_times: np.ndarray,
    equity: np.ndarray,
    trades: Sequence[Trade],
    *,
    periods_per_year: float | None = None,
    curves: bool = True,
) -> dict[str, Any]:
    """Every figure of the module docstring, with the curves (unless ``curves`` is off: a backtest
    keeps its own as arrays), as JSON-ready plain Python types.

    ``periods_per_year`` annualises Sharpe and Sortino; None infers it as 365 days / the median
    spacing of ``equity_times`` (the value used is reported). Times are epoch seconds, durations
    seconds, ratios fractions; anything that cannot be computed is None.
    """
    times, eq = _curve(equity_times, equity)
    per_year = _check_periods(periods_per_year) if periods_per_year is not None else infer_periods_per_year(times)
    dd_curve = drawdown(eq) if curves else None
    worst_dd = max_drawdown(times, eq)
    entries = np.array([t.entry_time for t in trades], dtype=np.float64)
    exits = np.array([t.exit_time for t in trades], dtype=np.float64)
    report: dict[str, Any] = {
        "start": _num(times[0]) if times.size else None,
        "end": _num(times[-1]) if times.size else None,
        "initial_equity": _num(eq[0]) if eq.size else None,
        "final_equity": _num(eq[-1]) if eq.size else None,
        "peak_equity": _num(eq.max()) if eq.size else None,
        "total_return": _num(total_return(eq)),
        "cagr": _num(cagr(times, eq)),
        "periods_per_year": _num(per_year),
        "sharpe_ratio": _num(sharpe(times, eq, periods_per_year=per_year)),
        "sortino_ratio": _num(sortino(times, eq, periods_per_year=per_year)),
        "calmar_ratio": _num(calmar(times, eq)),
        "max_drawdown": _num(worst_dd.value) if worst_dd is not None else None,
        "max_drawdown_start": _num(worst_dd.start) if worst_dd is not None else None,
        "max_drawdown_end": _num(worst_dd.end) if worst_dd is not None else None,
        "max_drawdown_recovery": _num(worst_dd.recovery) if worst_dd is not None else None,
        "longest_drawdown": _num(longest_drawdown(times, eq)),
        **trade_stats(trades),
        "trades_per_day": _num(trades_per_day(times, len(trades))),
        "exposure": _num(exposure(times, entries, exits)),
        "by_symbol": {},
    }
    if curves:
        assert dd_curve is not None
        report["equity_curve"], report["drawdown_curve"] = curve_pairs(times, eq), curve_pairs(times, dd_curve)
    for symbol in sorted({t.symbol for t in trades}):
        mine = [t for t in trades if t.symbol == symbol]
        stats = trade_stats(mine)
        stats["trades_per_day"] = _num(trades_per_day(times, len(mine)))
        stats["exposure"] = _num(exposure(times, np.array([t.entry_time for t in mine], dtype=np.float64),
                                          np.array([t.exit_time for t in mine], dtype=np.float64)))
        report["by_symbol"][symbol] = stats
    return report


# --- helpers ---------------------------------------------------------------------------------------


def _array(values: np.ndarray, field: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValidationError(f"{field} must be one-dimensional, got shape {arr.shape}", field=field)
    if not np.isfinite(arr).all():
        raise ValidationError(f"{field} holds a NaN or an infinity", field=field)
    return arr


def _curve(equity_times: np.ndarray, equity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    times, eq = _array(equity_times, "equity_times"), _array(equity, "equity")
    if times.shape != eq.shape:
        raise ValidationError(f"equity_times ({times.size}) and equity ({eq.size}) differ in length",
                              field="equity")
    if times.size > 1 and not (np.diff(times) > 0).all():
        raise ValidationError("equity_times must be strictly increasing", field="equity_times")
    return times, eq


def _returns_and_periods(
    equity_times: np.ndarray, equity: np.ndarray, periods_per_year: float | None,
) -> tuple[np.ndarray | None, float | None]:
    times, eq = _curve(equity_times, equity)
    r = period_returns(eq)
    if r.size < 2 or np.isnan(r).any():
        return None, None
    per_year = _check_periods(periods_per_year) if periods_per_year is not None else infer_periods_per_year(times)
    return r, per_year


def _check_periods(periods_per_year: float) -> float:
    value = float(periods_per_year)
    if not (math.isfinite(value) and value > 0):
        raise ValidationError(f"periods_per_year must be a positive number, got {periods_per_year!r}",
                              field="periods_per_year")
    return value


def _pnl(trades: Sequence[Trade]) -> np.ndarray:
    return _array(np.array([t.pnl for t in trades], dtype=np.float64), "pnl")


def curve_pairs(times: np.ndarray, values: np.ndarray) -> list[list[float | None]]:
    """``[[time, value], ...]`` as plain floats, None where a value is not finite; whole arrays at
    once (a year of minutes is half a million points)."""
    pairs: list[list[float | None]] = np.column_stack((times.astype(np.float64), values)).tolist()
    if not np.isfinite(values).all():
        for pair, finite in zip(pairs, np.isfinite(values).tolist()):
            if not finite:
                pair[1] = None
    return pairs


def _num(value: float | np.floating | np.integer | None) -> float | None:
    """A plain finite float, or None (NaN and infinities included)."""
    if value is None:
        return None
    out = float(value)
    return out if math.isfinite(out) else None
