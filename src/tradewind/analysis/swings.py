"""Swing highs and lows (fractal pivots), reported at the bar that confirms them.

A pivot needs ``length`` bars on its right before it can be called, so a swing at bar ``p`` is
only known at bar ``p + length``. Every array here is indexed by that confirmation bar, never by
the pivot: reading index ``i`` tells what a trader could know when bar ``i`` closed.

Definition (``L = length``), for a pivot ``p`` with ``L <= p`` and ``p + L < n``:

- swing high: ``high[p]`` is strictly above each of the ``L`` highs before it and at least as
  high as each of the ``L`` highs after it. A flat top (equal highs next to each other) thus
  yields one swing, at its first bar;
- swing low: the mirror image on ``low``.

A bar may be both (an outside bar); both arrays then report it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["swing_points"]


@njit(cache=True)
def _swing_points(
    high: np.ndarray, low: np.ndarray, length: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n = high.shape[0]
    swing_high = np.full(n, np.nan)
    swing_low = np.full(n, np.nan)
    high_pivot = np.full(n, -1, dtype=np.int64)
    low_pivot = np.full(n, -1, dtype=np.int64)
    for c in range(2 * length, n):
        p = c - length
        h = high[p]
        is_high = True
        for j in range(p - length, p):
            if not high[j] < h:
                is_high = False
                break
        if is_high:
            for j in range(p + 1, c + 1):
                if high[j] > h:
                    is_high = False
                    break
        if is_high:
            swing_high[c] = h
            high_pivot[c] = p
        lo = low[p]
        is_low = True
        for j in range(p - length, p):
            if not low[j] > lo:
                is_low = False
                break
        if is_low:
            for j in range(p + 1, c + 1):
                if low[j] < lo:
                    is_low = False
                    break
        if is_low:
            swing_low[c] = lo
            low_pivot[c] = p
    return swing_high, high_pivot, swing_low, low_pivot


def swing_points(
    high: np.ndarray, low: np.ndarray, length: int = 5
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(swing_high, swing_high_pivot, swing_low, swing_low_pivot)`` by confirmation bar.

    Prices are float64 with NaN where no swing is confirmed; pivots are int64 bar indices, -1
    where none. O(n) on market data (each test stops at the first bar that beats the candidate),
    O(n * length) at worst.
    """
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    return _swing_points(
        np.ascontiguousarray(high, dtype=np.float64), np.ascontiguousarray(low, dtype=np.float64), int(length)
    )
