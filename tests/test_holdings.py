"""``trading.holdings``: the health score and recommendations on their stated definitions, with
closes given directly (the streamer's role) and signals chosen per symbol (the analyst's)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tradewind.domain.bars import Bars
from tradewind.domain.errors import ValidationError
from tradewind.domain.timeframe import Timeframe
from tradewind.trading.holdings import HoldingsAnalysis

T = np.arange(0, 100 * 3600, 3600, dtype=np.int64)
RNG = np.random.default_rng(3)
CLOSES = {"AAA": 100 * np.cumprod(1 + RNG.normal(0, 0.01, 100)), "BBB": 50 * np.cumprod(1 + RNG.normal(0, 0.02, 100)),
          "CCC": np.full(100, 10.0)}


def bars(symbol: str, timeframe: Timeframe, limit: int) -> Bars:
    close = CLOSES[symbol]
    return Bars(T, close, close, close, close, np.ones(100), np.full(100, np.nan))


def analysis(signals: dict[str, str]) -> HoldingsAnalysis:
    return HoldingsAnalysis(closes=bars, default_timeframe=Timeframe.H1, signal=lambda s: {
        "signal": signals[s], "confidence": 0.4, "analyst": "rules", "timeframe": "1h", "signal_id": f"sig_{s}"})


def test_health_follows_its_definition() -> None:
    held = {"AAA": 3.0, "BBB": 1.0}
    health = analysis({"AAA": "Short", "BBB": "Long"}).health(held, timeframe=Timeframe.H1)
    value = 3 * CLOSES["AAA"] + CLOSES["BBB"]
    w = {"AAA": 3 * CLOSES["AAA"][-1] / value[-1], "BBB": CLOSES["BBB"][-1] / value[-1]}
    assert health["weights"] == pytest.approx(w)
    returns = value[1:] / value[:-1] - 1
    volatility = returns.std(ddof=1) * math.sqrt(365.25 * 24)
    diversification = min(1, 1 / (w["AAA"] ** 2 + w["BBB"] ** 2) / 5)
    alignment = 1 - w["AAA"]  # the analyst calls Short on a long holding
    expected = round(10 * (0.4 * diversification + 0.3 * max(0, 1 - volatility) + 0.3 * alignment), 1)
    assert health["health_score"] == expected
    assert health["risk_level"] == ("low" if volatility < 0.3 else "moderate" if volatility < 0.7 else "high")
    actions = {(r["action"], r["symbol"]) for r in health["recommendations"]}
    assert actions == {("reduce", "AAA"), ("hold", "BBB"), ("rebalance", "AAA")}
    rebalance = next(r for r in health["recommendations"] if r["action"] == "rebalance")
    assert rebalance["confidence"] is None  # a rule about weights, not a probability


def test_a_flat_holding_has_no_risk_and_neutral_signals_no_advice() -> None:
    health = analysis({"CCC": "Neutral"}).health({"CCC": 5.0})
    assert health["components"] == {"diversification": 0.2, "risk": 1.0, "alignment": 1.0}
    assert health["health_score"] == pytest.approx(10 * (0.08 + 0.3 + 0.3))
    assert health["recommendations"] == [] and health["risk_metrics"]["sharpe"] is None  # no volatility, no ratio


def test_risk_with_a_benchmark() -> None:
    risk = analysis({}).risk({"AAA": 1.0}, benchmark="AAA")
    assert risk["beta"] == pytest.approx(1.0) and risk["returns"] == 99


@pytest.mark.parametrize("held", [{}, {"AAA": 0.0}, {"AAA": math.nan}, {"AAA": -1.0}])
def test_bad_holdings_are_named(held: dict[str, float]) -> None:
    with pytest.raises(ValidationError) as error:
        analysis({}).risk(held)
    assert error.value.field == "holdings"
