"""A trader's own holdings, valued on the streamed candles: their risk and their health (seed 002).

``risk`` values the holdings at every close the symbols share and reports ``risk_metrics`` of the
value's returns (beta against a benchmark symbol). ``health`` adds what the analyst thinks of each
holding now, and scores the whole on stated definitions, each part in [0, 1]:

- diversification: the effective number of holdings (``1 / sum(w**2)`` over value weights) over 5,
  capped at 1, so five equal holdings or more score 1 and a single one 0.2;
- risk: ``1 - annualised volatility``, clamped to [0, 1] (100 % volatility a year scores 0);
- alignment: the value share of holdings the analyst does not call against (a Short on a long
  holding, a Long on a short one).

``health_score`` is ``10 * (0.4 diversification + 0.3 risk + 0.3 alignment)``; a part that cannot be
computed (volatility from too few closes) leaves the score null. ``risk_level`` is by volatility:
low under 30 %, moderate under 70 %, high above. Recommendations cite their reason: ``reduce`` a
holding the analyst calls against, ``hold`` one it agrees with, ``rebalance`` one worth more than
1.5x an equal weight and over 25 % of the value; their confidence is the signal's, or null for a
rebalance (a rule about weights, not a probability).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from tradewind.domain.bars import Bars
from tradewind.domain.errors import ValidationError
from tradewind.domain.timeframe import Timeframe
from tradewind.trading.risk_metrics import risk_metrics

__all__ = ["HoldingsAnalysis", "MAX_HOLDINGS"]

MAX_HOLDINGS = 50
WINDOW = 500  # closes per symbol
Signal = Callable[[str], Mapping[str, Any]]  # a fresh analyst signal record for a symbol


class HoldingsAnalysis:
    def __init__(self, *, closes: Callable[[str, Timeframe, int], Bars], signal: Signal,
                 default_timeframe: Timeframe) -> None:
        self.closes = closes  # the streamer's closed candles
        self.signal = signal
        self.default_timeframe = default_timeframe

    def risk(self, holdings: Mapping[str, float], *, timeframe: Timeframe | None = None,
             benchmark: str | None = None) -> dict[str, Any]:
        timeframe = timeframe or self.default_timeframe
        times, prices = self._aligned(holdings, timeframe, benchmark)
        value = sum(quantity * prices[symbol] for symbol, quantity in holdings.items())
        if not (np.asarray(value) > 0).all():
            raise ValidationError("the holdings' value must stay above 0 (net short books are not valued here)",
                                  field="holdings")
        bench = None
        if benchmark is not None:
            series = prices[benchmark]
            bench = series[1:] / series[:-1] - 1
        figures = risk_metrics(value[1:] / value[:-1] - 1, periods_per_year=365.25 * 86_400 / timeframe.seconds,
                               benchmark=bench)
        weights = {s: float(q * prices[s][-1] / value[-1]) for s, q in holdings.items()}
        return {"source": "holdings", "timeframe": timeframe.value, "holdings": dict(holdings),
                "benchmark": benchmark, "value": float(value[-1]), "weights": weights,
                "from_time": int(times[0]), "to_time": int(times[-1]), **figures}

    def health(self, holdings: Mapping[str, float], *, timeframe: Timeframe | None = None) -> dict[str, Any]:
        risk = self.risk(holdings, timeframe=timeframe)
        weights: dict[str, float] = risk["weights"]
        signals = {symbol: self.signal(symbol) for symbol in holdings}
        n = len(weights)
        effective = 1 / sum(w * w for w in weights.values())
        diversification = min(1.0, effective / 5)
        volatility = risk["volatility"]
        risk_part = None if volatility is None else min(1.0, max(0.0, 1 - volatility))
        against = {s for s, sig in signals.items()
                   if (sig["signal"] == "Short" and holdings[s] > 0) or (sig["signal"] == "Long" and holdings[s] < 0)}
        alignment = 1 - sum(abs(weights[s]) for s in against)
        score = None if risk_part is None else round(10 * (0.4 * diversification + 0.3 * risk_part + 0.3 * alignment), 1)
        level = None if volatility is None else "low" if volatility < 0.3 else "moderate" if volatility < 0.7 else "high"
        recommendations = []
        for symbol, sig in signals.items():
            if symbol in against:
                action, why = "reduce", f"the {sig['analyst']} analyst calls {sig['signal']} on a position held the other way"
            elif sig["signal"] != "Neutral":
                action, why = "hold", f"the {sig['analyst']} analyst agrees: {sig['signal']}"
            else:
                continue
            recommendations.append({"action": action, "symbol": symbol, "reason": why,
                                    "confidence": sig["confidence"], "timeframe": sig.get("timeframe"),
                                    "signal_id": sig.get("signal_id")})
        equal = 1 / n
        for symbol, weight in weights.items():
            if weight > max(1.5 * equal, 0.25) and n > 1:
                recommendations.append({"action": "rebalance", "symbol": symbol, "confidence": None,
                                        "reason": f"overweight: {weight:.0%} of the value against {equal:.0%} equal weight",
                                        "timeframe": None, "signal_id": None})
        insights = [f"{effective:.1f} effective holdings of {n} (diversification {diversification:.2f})"]
        if volatility is not None:
            insights.append(f"annualised volatility {volatility:.0%} on {risk['timeframe']} closes: {level} risk")
        if against:
            insights.append(f"{sum(abs(weights[s]) for s in against):.0%} of the value is held against the analyst")
        return {"analysis_type": "portfolio_health", "health_score": score, "overall_score": score,
                "risk_level": level, "components": {"diversification": diversification, "risk": risk_part,
                                                    "alignment": alignment},
                "recommendations": recommendations, "insights": insights,
                "risk_metrics": {k: risk[k] for k in ("volatility", "max_drawdown", "sharpe", "sortino",
                                                      "value_at_risk_95", "beta")},
                "value": risk["value"], "weights": weights, "timeframe": risk["timeframe"]}

    def _aligned(self, holdings: Mapping[str, float], timeframe: Timeframe,
                 benchmark: str | None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        if not 1 <= len(holdings) <= MAX_HOLDINGS:
            raise ValidationError(f"holdings must name 1 to {MAX_HOLDINGS} symbols", field="holdings")
        for symbol, quantity in holdings.items():
            if not math.isfinite(quantity) or quantity == 0:
                raise ValidationError(f"the quantity of {symbol} must be a finite number other than 0",
                                      field="holdings")
        symbols = [*holdings, *([benchmark] if benchmark is not None and benchmark not in holdings else [])]
        bars = {symbol: self.closes(symbol, timeframe, WINDOW) for symbol in symbols}
        times = bars[symbols[0]].time
        for other in symbols[1:]:
            times = np.intersect1d(times, bars[other].time, assume_unique=True)
        if times.size < 3:
            raise ValidationError(f"the {timeframe.value} candles of these symbols share {times.size} closes; at least "
                                  "3 are needed", field="holdings")
        return times, {s: b.close[np.searchsorted(b.time, times)] for s, b in bars.items()}
