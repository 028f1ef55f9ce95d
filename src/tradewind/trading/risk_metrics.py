"""Risk of a return series: volatility, drawdown, Sharpe, Sortino, beta and value at risk.

Pure functions over arrays, on the same definitions as ``analytics`` (simple returns, risk-free
rate 0, annualised by ``periods_per_year``). A figure that cannot be computed (too few returns,
a flat benchmark) is None, never a stand-in number.
"""

from __future__ import annotations

import math

import numpy as np

from tradewind.domain.errors import ValidationError
from tradewind.trading.analytics import max_drawdown, sharpe, sortino

__all__ = ["MAX_RETURNS", "risk_metrics"]

MAX_RETURNS = 100_000
VAR_LEVEL = 0.95


def risk_metrics(returns: np.ndarray, *, periods_per_year: float, benchmark: np.ndarray | None = None,
                 field: str = "returns") -> dict[str, float | int | None]:
    """The figures of ``returns`` (simple, per period); ``benchmark`` (same length) adds beta.

    Value at risk is historical at 95 %: the loss the worst 5 % of periods exceed, as a positive
    fraction (None under 20 returns, where that tail is a single guess).
    """
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1 or r.size > MAX_RETURNS:
        raise ValidationError(f"{field} must be a list of at most {MAX_RETURNS} numbers", field=field)
    if not np.isfinite(r).all() or (r <= -1).any():
        raise ValidationError(f"{field} must be finite simple returns above -1 (-100 %)", field=field)
    if not (math.isfinite(periods_per_year) and 0 < periods_per_year <= 525_960):
        raise ValidationError("periods_per_year must be in (0, 525960]", field="periods_per_year")
    equity = np.concatenate(([1.0], np.cumprod(1.0 + r)))
    times = np.arange(equity.size, dtype=np.float64) * (365.25 * 86_400 / periods_per_year)
    deepest = max_drawdown(times, equity)
    out: dict[str, float | int | None] = {
        "returns": int(r.size),
        "periods_per_year": periods_per_year,
        "total_return": float(equity[-1] - 1.0) if r.size else None,
        "volatility": float(np.std(r, ddof=1) * math.sqrt(periods_per_year)) if r.size >= 2 else None,
        "max_drawdown": deepest.value if deepest is not None and r.size else None,
        "sharpe": sharpe(times, equity, periods_per_year=periods_per_year),
        "sortino": sortino(times, equity, periods_per_year=periods_per_year),
        "value_at_risk_95": float(-np.quantile(r, 1 - VAR_LEVEL)) if r.size >= 20 else None,
        "beta": None,
    }
    if benchmark is not None:
        b = np.asarray(benchmark, dtype=np.float64)
        if b.shape != r.shape or not np.isfinite(b).all():
            raise ValidationError(f"benchmark must hold {r.size} finite returns, like {field}", field="benchmark")
        if r.size >= 2 and np.var(b, ddof=1) > 0:
            out["beta"] = float(np.cov(r, b, ddof=1)[0, 1] / np.var(b, ddof=1))
    return out
