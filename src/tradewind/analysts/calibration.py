"""Confidence that means something: the rule analyst's raw score mapped to a measured hit rate.

A signal's ``confidence`` is read as "the probability this signal succeeds" in the sense of
``trading.outcomes`` (take-profit first, or right at the horizon; for Neutral: price stays within
the band). The map from the analyst's raw score strength to that probability is fitted on real
candles by replaying history bar by bar (``trading.evaluation``): per signal class, the hit rate
in quantile bins of strength, made monotone by pool-adjacent-violators (stronger Long/Short
scores may not be *less* likely to work; for Neutral, weaker scores may not be less likely).
Where the data show no relation, the fit is flat at the class's base rate, which is the honest
answer. ``bench/calibration.py`` refits the table and checks it on held-out candles; the live
reliability table of ``/ai/performance`` keeps measuring it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["DEFAULT_CALIBRATION", "Calibration", "fit_calibration", "isotonic"]

Sample = tuple[str, float, bool]  # (direction, strength = |raw score|, success)


@dataclass(frozen=True)
class Calibration:
    """Per direction, strength knots and the probability at each (linear in between, flat outside)."""

    tables: dict[str, tuple[tuple[float, ...], tuple[float, ...]]]
    source: str

    def probability(self, direction: str, strength: float) -> float:
        knots, values = self.tables[direction]
        return float(np.interp(strength, knots, values))


def isotonic(values: Sequence[float], weights: Sequence[float], *, increasing: bool = True) -> list[float]:
    """Pool-adjacent-violators: the weighted least-squares monotone fit of ``values``."""
    sign = 1.0 if increasing else -1.0
    blocks: list[list[float]] = []  # [weighted mean * sign, weight, count]
    for value, weight in zip(values, weights):
        blocks.append([sign * value, weight, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean2, w2, n2 = blocks.pop()
            mean1, w1, n1 = blocks.pop()
            blocks.append([(mean1 * w1 + mean2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    out: list[float] = []
    for mean, _, count in blocks:
        out += [sign * mean] * int(count)
    return out


def fit_calibration(samples: Sequence[Sample], *, bins: int = 4, source: str = "") -> Calibration:
    """Fit one monotone table per direction from resolved signals."""
    tables: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {}
    for direction in ("Long", "Short", "Neutral"):
        rows = np.array([(s, float(ok)) for d, s, ok in samples if d == direction], dtype=float).reshape(-1, 2)
        if len(rows) == 0:
            tables[direction] = ((0.0,), (0.5,))
            continue
        order = np.argsort(rows[:, 0], kind="stable")
        groups = [g for g in np.array_split(rows[order], min(bins, len(rows))) if len(g)]
        knots = [float(np.median(g[:, 0])) for g in groups]
        rates = [float(g[:, 1].mean()) for g in groups]
        fitted = isotonic(rates, [len(g) for g in groups], increasing=direction != "Neutral")
        tables[direction] = (tuple(round(k, 4) for k in knots), tuple(round(p, 4) for p in fitted))
    return Calibration(tables, source)


DEFAULT_CALIBRATION = Calibration(
    tables={
        "Long": ((0.1576, 0.1749, 0.1996, 0.2261), (0.3594, 0.3594, 0.3594, 0.3594)),
        "Short": ((0.1631, 0.1924, 0.2294, 0.2701), (0.2857, 0.2913, 0.2913, 0.2913)),
        "Neutral": ((0.0251, 0.0633, 0.0979, 0.1325), (0.4565, 0.4565, 0.4565, 0.4565)),
    },
    source="ETH/BTC 5m history (Freqtrade's candles, 2018-01-10..30, with 1h and 4h; bench/calibration.py)",
)
