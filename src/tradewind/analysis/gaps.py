"""Fair value gaps (three-candle imbalances) and the bar that first trades back into each.

A gap is a price range the market skipped: nothing traded there across three candles.

- bullish at bar ``i`` (``i >= 2``) when ``low[i] > high[i-2]``: top ``low[i]``, bottom ``high[i-2]``;
- bearish at bar ``i`` when ``high[i] < low[i-2]``: top ``low[i-2]``, bottom ``high[i]``.

Both cannot hold at once. A gap is known when bar ``i`` closes and is reported at ``i``; the
middle candle's colour is not part of the definition.

**Mitigation** is the first later bar that trades *inside* the gap: ``low[j] < top`` for a
bullish gap, ``high[j] > bottom`` for a bearish one (``j > i``). Touching the edge exactly does
not count, since the edge price did trade; a full fill is not required. Mitigation is an event
of bar ``j`` (a row ``(j, i)`` of the mitigation table), never written back into bar ``i``.

Open gaps of one direction form a monotone stack (after bar ``i`` mitigates, every open bullish
top is at most ``low[i]``, the new gap's top), so the whole pass is O(n).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["fair_value_gaps"]


@njit(cache=True)
def _fair_value_gaps(
    high: np.ndarray, low: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n = high.shape[0]
    direction = np.zeros(n, dtype=np.int8)
    top = np.full(n, np.nan)
    bottom = np.full(n, np.nan)
    mitigations = np.empty((n, 2), dtype=np.int64)
    m = 0
    bull_id = np.empty(n, dtype=np.int64)  # open bullish gaps, tops non-decreasing to the end
    bull_top = np.empty(n)
    nb = 0
    bear_id = np.empty(n, dtype=np.int64)  # open bearish gaps, bottoms non-increasing to the end
    bear_bottom = np.empty(n)
    ns = 0
    for i in range(n):
        while nb > 0 and bull_top[nb - 1] > low[i]:
            nb -= 1
            mitigations[m, 0] = i
            mitigations[m, 1] = bull_id[nb]
            m += 1
        while ns > 0 and bear_bottom[ns - 1] < high[i]:
            ns -= 1
            mitigations[m, 0] = i
            mitigations[m, 1] = bear_id[ns]
            m += 1
        if i < 2:
            continue
        if low[i] > high[i - 2]:
            direction[i] = 1
            top[i] = low[i]
            bottom[i] = high[i - 2]
            bull_id[nb] = i
            bull_top[nb] = low[i]
            nb += 1
        elif high[i] < low[i - 2]:
            direction[i] = -1
            top[i] = low[i - 2]
            bottom[i] = high[i]
            bear_id[ns] = i
            bear_bottom[ns] = high[i]
            ns += 1
    return direction, top, bottom, mitigations[:m].copy()


def fair_value_gaps(
    high: np.ndarray, low: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(direction, top, bottom, mitigations)``.

    ``direction`` is int8 (+1 bullish, -1 bearish, 0 none) at the formation bar, ``top`` and
    ``bottom`` float64 (NaN where none). ``mitigations`` is an int64 ``(m, 2)`` table of
    ``(mitigating bar, formation bar)`` rows ordered by mitigating bar.
    """
    return _fair_value_gaps(
        np.ascontiguousarray(high, dtype=np.float64), np.ascontiguousarray(low, dtype=np.float64)
    )
