"""Liquidity pools (equal highs / equal lows) and their sweeps.

Resting orders cluster just beyond equal highs (buy-side liquidity: buy stops of shorts and
breakout buyers) and equal lows (sell-side). Definitions, with ``tol`` the relative tolerance:

- **pool**: two or more confirmed swing highs (see ``swings``), none of them taken yet, whose
  prices all lie within ``tol`` below the highest one, the pool's **level**: every member is at
  least ``level * (1 - tol)``. Mirror image for swing lows: the level is the lowest price and
  every member is at most ``level * (1 + tol)``.
- **cluster**: a newly confirmed swing high joins the nearest untaken cluster at or above it
  when all members then fit the tolerance, else it starts a cluster of its own. A pool is a
  cluster of two or more; it is reported at the confirmation bar of the swing that makes or
  grows it (level, count, and its id: the pivot of its first swing).
- **taken**: a pool is taken by the first bar whose high is above its level (low below, for
  sell-side). A lone swing high ``h`` is taken only by a bar above ``h / (1 - tol)``, the
  highest price a later swing could have and still pair with it (``l / (1 + tol)`` for a lone
  swing low), so a second high a hair above the first still makes relatively equal highs.
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
            e = nb - 1
            if nb > 0 and min(b_far[e], h) >= max(b_level[e], h) * (1.0 - tol):
                b_level[e] = max(b_level[e], h)
                b_far[e] = min(b_far[e], h)
                b_take[e] = b_level[e]
                b_count[e] += 1
                pool_high[i] = b_level[e]
                pool_high_count[i] = b_count[e]
                pool_high_id[i] = b_id[e]
            else:
                b_level[nb] = h
                b_far[nb] = h
                # the highest price a second swing could have and still pair with this one;
                # never above the previous cluster's (it is, up to float rounding)
                b_take[nb] = min(h / (1.0 - tol), b_take[e]) if nb > 0 else h / (1.0 - tol)
                b_count[nb] = 1
                b_id[nb] = swing_high_pivot[i]
                nb += 1
        if swing_low_pivot[i] >= 0:
            lo = swing_low[i]
            e = ns - 1
            if ns > 0 and max(s_far[e], lo) <= min(s_level[e], lo) * (1.0 + tol):
                s_level[e] = min(s_level[e], lo)
                s_far[e] = max(s_far[e], lo)
                s_take[e] = s_level[e]
                s_count[e] += 1
                pool_low[i] = s_level[e]
                pool_low_count[i] = s_count[e]
                pool_low_id[i] = s_id[e]
            else:
                s_level[ns] = lo
                s_far[ns] = lo
                s_take[ns] = max(lo / (1.0 + tol), s_take[e]) if ns > 0 else lo / (1.0 + tol)
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
    if not 0 <= tolerance < 1:
        raise ValueError(f"tolerance must be in [0, 1), got {tolerance}")
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
