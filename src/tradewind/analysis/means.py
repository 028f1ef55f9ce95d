"""Means of a handful of numbers, equal to numpy's to the last bit, without its call overhead.

The analysts average three or four votes per timeframe, thousands of times a second in a
backtest, and ``np.mean`` on a short list spends ~10 us in dispatch for a few additions. numpy adds
fewer than eight float64 values left to right, as Python's ``sum`` does, so below eight the two
agree exactly (``tests/test_means.py`` checks it); from eight on numpy's pairwise sum is used.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["mean", "weighted_mean"]

PAIRWISE_FROM = 8
"""From this many values numpy sums pairwise (in blocks of eight), which Python's ``sum`` does not."""


def mean(values: Sequence[float]) -> float:
    """``float(np.mean(values))``."""
    n = len(values)
    if 0 < n < PAIRWISE_FROM:
        return float(sum(values)) / n
    return float(np.mean(values))


def weighted_mean(values: Sequence[float], weights: Sequence[float]) -> float:
    """``float(np.average(values, weights=weights))``."""
    n = len(values)
    if 0 < n < PAIRWISE_FROM and len(weights) == n:
        return float(sum(v * w for v, w in zip(values, weights))) / float(sum(weights))
    return float(np.average(values, weights=weights))
