"""Fit the rule analyst's confidence table on real candles and check it on held-out candles.

Fit: ETH/BTC 5m (with 1h and 4h built from it). Held out: LTC/BTC 5m, same weeks, other coin.
Prints the fitted table (paste it into ``analysts/calibration.py`` when it changes) and, on the
held-out set, the Brier score of the calibrated confidence against two baselines from the same
run: the analyst's raw, uncalibrated strength map and a constant at the training base rate.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tradewind.analysts.calibration import DEFAULT_CALIBRATION, fit_calibration
from tradewind.analysts.rules import THRESHOLD
from tradewind.domain import Timeframe
from tradewind.signals.requests import bars_from_rows
from tradewind.trading.calibration_samples import score_samples

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"


def samples(name: str, step: int = 2) -> list[tuple[str, float, bool]]:
    bars = bars_from_rows(json.loads((DATA / name).read_text()))
    return score_samples(bars, symbol=name.split("-")[0], timeframe=Timeframe.M5, higher=[Timeframe.H1, Timeframe.H4], step=step)


def raw_confidence(direction: str, strength: float) -> float:
    """The analyst's confidence before calibration: a plain monotone map of its score."""
    if direction == "Neutral":
        return 0.5 + 0.35 * (1 - strength / THRESHOLD)
    return 0.5 + 0.45 * min(1.0, (strength - THRESHOLD) / (1 - THRESHOLD)) ** 0.7


def brier(pairs: list[tuple[float, bool]]) -> float:
    return float(np.mean([(p - float(ok)) ** 2 for p, ok in pairs]))


def main() -> None:
    train = samples("ETH_BTC-5m.json")
    held = samples("LTC_BTC-5m.json")
    fitted = fit_calibration(train, source="ETH/BTC 5m")
    print("fitted table (ETH/BTC 5m, with 1h and 4h, every 2nd bar):")
    for direction, (knots, values) in fitted.tables.items():
        print(f'    "{direction}": ({knots}, {values}),')
    print("matches DEFAULT_CALIBRATION:", fitted.tables == DEFAULT_CALIBRATION.tables)
    base_rate = float(np.mean([ok for _, _, ok in train]))
    print(f"\nheld out: LTC/BTC 5m, {len(held)} resolved signals")
    print(f"{'confidence':<36} {'Brier (lower is better)':>24}")
    print(f"{'calibrated (this table)':<36} {brier([(fitted.probability(d, s), ok) for d, s, ok in held]):>24.4f}")
    print(f"{'baseline: raw score map':<36} {brier([(raw_confidence(d, s), ok) for d, s, ok in held]):>24.4f}")
    print(f"{f'baseline: constant {base_rate:.3f}':<36} {brier([(base_rate, ok) for _, _, ok in held]):>24.4f}")
    for direction in ("Long", "Short", "Neutral"):
        rows = [ok for d, _, ok in held if d == direction]
        if rows:
            mean = float(np.mean([fitted.probability(d, s) for d, s, _ in held if d == direction]))
            print(f"  {direction:<8} n={len(rows):<5} hit rate {np.mean(rows):.3f}   mean calibrated confidence {mean:.3f}")


if __name__ == "__main__":
    main()
