"""``trading.risk_metrics``: each figure against its definition computed by hand, and None where it cannot be."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tradewind.domain.errors import ValidationError
from tradewind.trading.risk_metrics import risk_metrics

RNG = np.random.default_rng(7)
RETURNS = RNG.normal(0.001, 0.02, 250)


def test_figures_match_their_definitions() -> None:
    m = risk_metrics(RETURNS, periods_per_year=252)
    assert m["returns"] == 250
    assert m["volatility"] == pytest.approx(RETURNS.std(ddof=1) * math.sqrt(252))
    assert m["sharpe"] == pytest.approx(RETURNS.mean() / RETURNS.std(ddof=1) * math.sqrt(252))
    downside = math.sqrt(np.mean(np.minimum(RETURNS, 0) ** 2))
    assert m["sortino"] == pytest.approx(RETURNS.mean() / downside * math.sqrt(252))
    equity = np.cumprod(np.concatenate(([1.0], 1 + RETURNS)))
    assert m["max_drawdown"] == pytest.approx(np.max(1 - equity / np.maximum.accumulate(equity)))
    assert m["total_return"] == pytest.approx(equity[-1] - 1)
    worst = np.sort(RETURNS)
    assert worst[11] <= -m["value_at_risk_95"] <= worst[13]  # the 5 % quantile of 250 returns
    assert m["beta"] is None


def test_beta_against_a_benchmark() -> None:
    assert risk_metrics(RETURNS, periods_per_year=252, benchmark=RETURNS)["beta"] == pytest.approx(1.0)
    assert risk_metrics(2 * RETURNS, periods_per_year=252, benchmark=RETURNS)["beta"] == pytest.approx(2.0)
    flat = risk_metrics(RETURNS, periods_per_year=252, benchmark=np.zeros(250))
    assert flat["beta"] is None  # a flat benchmark has no beta to offer


def test_too_few_returns_give_nulls_not_numbers() -> None:
    m = risk_metrics(np.array([0.01]), periods_per_year=365)
    assert (m["volatility"], m["sharpe"], m["value_at_risk_95"]) == (None, None, None)
    empty = risk_metrics(np.array([]), periods_per_year=365)
    assert empty["total_return"] is None and empty["max_drawdown"] is None


@pytest.mark.parametrize(("returns", "kwargs", "field"), [
    ([0.1, float("nan")], {}, "returns"),
    ([0.1, -1.0], {}, "returns"),  # a loss of 100 % or more is not a simple return
    ([0.1, 0.2], {"periods_per_year": 0}, "periods_per_year"),
    ([0.1, 0.2], {"benchmark": np.array([0.1])}, "benchmark"),
])
def test_bad_input_names_the_field(returns: list[float], kwargs: dict, field: str) -> None:
    with pytest.raises(ValidationError) as error:
        risk_metrics(np.array(returns), **{"periods_per_year": 365, **kwargs})
    assert error.value.field == field
