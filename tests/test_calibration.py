"""The confidence table: a monotone fit, reproducible from the shipped real candles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tradewind.analysts.calibration import DEFAULT_CALIBRATION, fit_calibration, isotonic
from tradewind.domain import Timeframe
from tradewind.signals.requests import bars_from_rows
from tradewind.trading.calibration_samples import score_samples

DATA = Path(__file__).parent / "data"


def test_pool_adjacent_violators() -> None:
    assert isotonic([0.1, 0.3, 0.2, 0.4], [1, 1, 1, 1]) == pytest.approx([0.1, 0.25, 0.25, 0.4])
    assert isotonic([0.5, 0.2, 0.1], [1, 2, 1]) == pytest.approx([0.25, 0.25, 0.25])
    assert isotonic([0.5, 0.2, 0.1], [1, 1, 1], increasing=False) == [0.5, 0.2, 0.1]
    assert isotonic([], []) == []


def test_fit_recovers_known_hit_rates() -> None:
    rng = np.random.default_rng(3)
    strength = rng.uniform(0.15, 0.6, 20_000)
    success = rng.uniform(size=strength.size) < 0.2 + strength  # stronger scores really work better
    fitted = fit_calibration([("Long", float(s), bool(ok)) for s, ok in zip(strength, success)], bins=8)
    knots, values = fitted.tables["Long"]
    assert list(values) == sorted(values)
    for k, v in zip(knots, values):
        assert v == pytest.approx(0.2 + k, abs=0.03)
    assert fitted.tables["Short"] == ((0.0,), (0.5,))  # no samples: an uninformative 0.5
    assert fitted.probability("Long", 0.0) == values[0] and fitted.probability("Long", 9.0) == values[-1]


def test_the_default_table_is_what_the_real_candles_give() -> None:
    """No magic numbers: refitting on ETH/BTC 5m reproduces the shipped table exactly."""
    bars = bars_from_rows(json.loads((DATA / "ETH_BTC-5m.json").read_text()))
    samples = score_samples(bars, symbol="ETH_BTC", timeframe=Timeframe.M5, higher=[Timeframe.H1, Timeframe.H4])
    assert fit_calibration(samples).tables == DEFAULT_CALIBRATION.tables
