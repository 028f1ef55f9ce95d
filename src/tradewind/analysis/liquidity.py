"""Liquidity pools (equal highs / equal lows) and their sweeps.

Resting orders cluster just beyond equal highs (buy-side liquidity: buy stops of shorts and
breakout buyers) and equal lows (sell-side). Definitions, with ``tol`` the relative tolerance:

- **pool**: two or more confirmed swing highs (see ``swings``) whose prices all lie within
  ``tol`` of the highest one (``level - lowest <= tol * level``), none of them taken yet. Its
  **level** is its highest price. Mirror image for swing lows (level: the lowest price).
- **cluster**: a newly confirmed swing high joins the nearest untaken cluster at or above it
  when the cluster stays within tolerance, else it starts a cluster of its own. A pool is a
  cluster of two or more; it is reported at the confirmation bar of the swing that makes or
  grows it (level, count, and its id: the pivot of its first swing).
- **taken**: a pool is taken by the first bar whose high is above its level (low below, for
  sell-side). A lone swing is taken only by a bar beyond it by more than the tolerance, so a
  second high a hair above the first (within ``tol``) still pairs with it as relatively equal
  highs.
- **sweep**: the bar that takes a pool and closes back on the near side of its level
  (``close < level`` for buy-side, ``close > level`` for sell-side); a run when it closes
  beyond. Either way the pool ends: a row ``(bar, side, id, swept)`` of the ends table, side +1
  buy-side, -1 sell-side. Lone swings are taken silently.

Untaken clusters form a monotone stack ordered by the price that takes them (a new swing high
has every untaken cluster's take price at or above it, else its pivot bar would have taken that
cluster), so joining and taking only touch the stack's end: O(n).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["LiquidityArrays", "liquidity"]

LiquidityArrays = tuple[
    np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
    np.ndarray, np.ndarray, np.ndarray, np.ndarray,
]
"""(pool_high, pool_high_count, pool_high_id, pool_low, pool_low_count, pool_low_id,
sweep_high, sweep_low, pool_ends)"""


@njit(cache=True)
def _liquidity(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    swing_high: np.ndarray,
    swing_high_pivot: np.ndarray,
    swing_low: np.ndarray,
    swing_low_pivot: np.ndarray,
    tol: float,
) -> LiquidityArrays:
    n = close.shape[0]
    pool_high = np.full(n, np.nan)
    pool_high_count = np.zeros(n, dtype=np.int32)
    pool_high_id = np.full(n, -1, dtype=np.int64)
    pool_low = np.full(n, np.nan)
    pool_low_count = np.zeros(n, dtype=np.int32)
    pool_low_id = np.full(n, -1, dtype=np.int64)
    sweep_high = np.full(n, np.nan)
    sweep_low = np.full(n, np.nan)
    ends = np.empty((n, 4), dtype=np.int64)
    m = 0
    # Buy-side clusters, take prices non-increasing towards the end of the stack.
    b_level = np.empty(n)
    b_take = np.empty(n)  # a bar above this price takes the cluster
    b_far = np.empty(n)  # the member farthest from the level (the lowest)
    b_count = np.zeros(n, dtype=np.int32)
    b_id = np.empty(n, dtype=np.int64)
    nb = 0
    # Sell-side clusters, take prices non-decreasing towards the end.
    s_level = np.empty(n)
    s_take = np.empty(n)
    s_far = np.empty(n)
    s_count = np.zeros(n, dtype=np.int32)
    s_id = np.empty(n, dtype=np.int64)
    ns = 0
    for i in range(n):
        if swing_high_pivot[i] >= 0:
            h = swing_high[i]
            level = max(b_level[nb - 1], h) if nb > 0 else h
            if nb > 0 and level - min(b_far[nb - 1], h) <= tol * abs(level):
                top = nb - 1
                b_level[top] = level
                b_take[top] = level
                b_far[top] = min(b_far[top], h)
                b_count[top] += 1
                pool_high[i] = b_level[top]
                pool_high_count[i] = b_count[top]
                pool_high_id[i] = b_id[top]
            else:
                b_level[nb] = h
                b_take[nb] = h + tol * abs(h)
                b_far[nb] = h
                b_count[nb] = 1
                b_id[nb] = swing_high_pivot[i]
                nb += 1
        if swing_low_pivot[i] >= 0:
            lo = swing_low[i]
            level = min(s_level[ns - 1], lo) if ns > 0 else lo
            if ns > 0 and max(s_far[ns - 1], lo) - level <= tol * abs(level):
                top = ns - 1
                s_level[top] = level
                s_take[top] = level
                s_far[top] = max(s_far[top], lo)
                s_count[top] += 1
                pool_low[i] = s_level[top]
                pool_low_count[i] = s_count[top]
                pool_low_id[i] = s_id[top]
            else:
                s_level[ns] = lo
                s_take[ns] = lo - tol * abs(lo)
                s_far[ns] = lo
                s_count[ns] = 1
                s_id[ns] = swing_low_pivot[i]
                ns += 1
        while nb > 0 and b_take[nb - 1] < high[i]:
            nb -= 1
            if b_count[nb] >= 2:
                swept = close[i] < b_level[nb]
                ends[m, 0] = i
                ends[m, 1] = 1
                ends[m, 2] = b_id[nb]
                ends[m, 3] = 1 if swept else 0
                m += 1
                if swept and not sweep_high[i] >= b_level[nb]:
                    sweep_high[i] = b_level[nb]
        while ns > 0 and s_take[ns - 1] > low[i]:
            ns -= 1
            if s_count[ns] >= 2:
                swept = close[i] > s_level[ns]
                ends[m, 0] = i
                ends[m, 1] = -1
                ends[m, 2] = s_id[ns]
                ends[m, 3] = 1 if swept else 0
                m += 1
                if swept and not sweep_low[i] <= s_level[ns]:
                    sweep_low[i] = s_level[ns]
    return (
        pool_high, pool_high_count, pool_high_id, pool_low, pool_low_count, pool_low_id,
        sweep_high, sweep_low, ends[:m].copy(),
    )


def liquidity(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    swings: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    *,
    tolerance: float = 0.001,
) -> LiquidityArrays:
    """Pools and sweeps from HLC and ``swing_points`` output.

    Per bar: ``pool_high``/``pool_low`` (float64 level, NaN), their ``*_count`` (int32) and
    ``*_id`` (int64 pivot of the pool's first swing, -1) at the bar a pool forms or grows;
    ``sweep_high`` (the highest buy-side level swept at this bar) and ``sweep_low`` (the lowest
    sell-side level), NaN where none. Plus the int64 ``(m, 4)`` ends table described above.
    """
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    swing_high, high_pivot, swing_low, low_pivot = swings
    return _liquidity(
        np.ascontiguousarray(high, dtype=np.float64),
        np.ascontiguousarray(low, dtype=np.float64),
        np.ascontiguousarray(close, dtype=np.float64),
        np.ascontiguousarray(swing_high, dtype=np.float64),
        np.ascontiguousarray(high_pivot, dtype=np.int64),
        np.ascontiguousarray(swing_low, dtype=np.float64),
        np.ascontiguousarray(low_pivot, dtype=np.int64),
        float(tolerance),
    )
