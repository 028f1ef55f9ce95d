"""Breaks of structure (BOS), changes of character (CHoCH) and the order blocks they leave.

One left-to-right pass over confirmed swings (see ``swings``), so a break at bar ``i`` uses only
swings confirmed at or before ``i``:

- **break**: the latest confirmed swing high is broken by the first bar whose *close* is above
  it (a wick does not count); the latest swing low, by a close below it. A swing is broken at
  most once, and a newer confirmed swing of the same side replaces it whether or not it was
  broken. At most one break per bar; the swing high is tested first (both can only happen when
  the latest swing low sits above the latest swing high, a range turned inside out).
- **BOS vs CHoCH**: the trend is the direction of the last break (0 before the first). A break
  in the trend's direction, or the first break of all, is a BOS; a break against it is a CHoCH.
- **order block** of a bullish break at bar ``i`` of the swing high at pivot ``p``: the leg that
  broke the level starts at ``m``, the lowest low of bars ``p+1 .. i-1`` (the latest on ties);
  the block is the last down-close candle (``close < open``) among bars ``p+1 .. m``, or candle
  ``m`` itself when that leg has none. Its zone is that candle's low..high. Mirror image for a
  bearish break (highest high, last up-close candle). Known at ``i`` and reported there.
- **invalidation**: the first bar after ``i`` that closes beyond the block (below its bottom for
  a bullish block, above its top for a bearish one) is an event of that bar, a row of the
  invalidation table. Live blocks sit in a heap keyed by that price, so a bar pops exactly the
  blocks it invalidates: O(log n) per block.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["BreakArrays", "structure_breaks"]

BreakArrays = tuple[
    np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
    np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
]
"""(trend, bos, choch, break_level, break_pivot, ob_dir, ob_top, ob_bottom, ob_candle, ob_invalidations)"""


@njit(cache=True)
def _heap_push(keys: np.ndarray, ids: np.ndarray, size: int, key: float, ident: int) -> int:
    j = size
    keys[j] = key
    ids[j] = ident
    while j > 0:
        parent = (j - 1) >> 1
        if keys[parent] < keys[j] or (keys[parent] == keys[j] and ids[parent] < ids[j]):
            break
        keys[parent], keys[j] = keys[j], keys[parent]
        ids[parent], ids[j] = ids[j], ids[parent]
        j = parent
    return size + 1


@njit(cache=True)
def _heap_pop(keys: np.ndarray, ids: np.ndarray, size: int) -> int:
    size -= 1
    keys[0] = keys[size]
    ids[0] = ids[size]
    j = 0
    while True:
        left = 2 * j + 1
        if left >= size:
            break
        child = left
        right = left + 1
        if right < size and (keys[right] < keys[left] or (keys[right] == keys[left] and ids[right] < ids[left])):
            child = right
        if keys[j] < keys[child] or (keys[j] == keys[child] and ids[j] < ids[child]):
            break
        keys[child], keys[j] = keys[j], keys[child]
        ids[child], ids[j] = ids[j], ids[child]
        j = child
    return size


@njit(cache=True)
def _order_block(open_: np.ndarray, extreme: np.ndarray, close: np.ndarray, p: int, i: int, bullish: bool) -> int:
    """Index of the order-block candle for a break at ``i`` of the swing at pivot ``p``."""
    m = p + 1
    for j in range(p + 2, i):
        if (extreme[j] <= extreme[m]) if bullish else (extreme[j] >= extreme[m]):
            m = j
    for k in range(m, p, -1):
        if (close[k] < open_[k]) if bullish else (close[k] > open_[k]):
            return k
    return m


@njit(cache=True)
def _structure_breaks(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    swing_high: np.ndarray,
    swing_high_pivot: np.ndarray,
    swing_low: np.ndarray,
    swing_low_pivot: np.ndarray,
) -> BreakArrays:
    n = close.shape[0]
    trend = np.zeros(n, dtype=np.int8)
    bos = np.zeros(n, dtype=np.int8)
    choch = np.zeros(n, dtype=np.int8)
    level = np.full(n, np.nan)
    pivot = np.full(n, -1, dtype=np.int64)
    ob_dir = np.zeros(n, dtype=np.int8)
    ob_top = np.full(n, np.nan)
    ob_bottom = np.full(n, np.nan)
    ob_candle = np.full(n, -1, dtype=np.int64)
    invalidations = np.empty((n, 2), dtype=np.int64)
    m = 0
    bull_keys = np.empty(n)  # -bottom: the highest bottom pops first
    bull_ids = np.empty(n, dtype=np.int64)
    nb = 0
    bear_keys = np.empty(n)  # top: the lowest top pops first
    bear_ids = np.empty(n, dtype=np.int64)
    ns = 0
    high_level = np.nan
    high_pivot = -1
    high_live = False
    low_level = np.nan
    low_pivot = -1
    low_live = False
    current = 0
    for i in range(n):
        while nb > 0 and -bull_keys[0] > close[i]:
            invalidations[m, 0] = i
            invalidations[m, 1] = bull_ids[0]
            m += 1
            nb = _heap_pop(bull_keys, bull_ids, nb)
        while ns > 0 and bear_keys[0] < close[i]:
            invalidations[m, 0] = i
            invalidations[m, 1] = bear_ids[0]
            m += 1
            ns = _heap_pop(bear_keys, bear_ids, ns)
        if swing_high_pivot[i] >= 0:
            high_level = swing_high[i]
            high_pivot = swing_high_pivot[i]
            high_live = True
        if swing_low_pivot[i] >= 0:
            low_level = swing_low[i]
            low_pivot = swing_low_pivot[i]
            low_live = True
        direction = 0
        k = -1
        if high_live and close[i] > high_level:
            high_live = False
            direction = 1
            level[i] = high_level
            pivot[i] = high_pivot
            k = _order_block(open_, low, close, high_pivot, i, True)
            ob_top[i] = high[k]
            ob_bottom[i] = low[k]
            nb = _heap_push(bull_keys, bull_ids, nb, -low[k], i)
        elif low_live and close[i] < low_level:
            low_live = False
            direction = -1
            level[i] = low_level
            pivot[i] = low_pivot
            k = _order_block(open_, high, close, low_pivot, i, False)
            ob_top[i] = high[k]
            ob_bottom[i] = low[k]
            ns = _heap_push(bear_keys, bear_ids, ns, high[k], i)
        if direction != 0:
            if current == -direction:
                choch[i] = direction
            else:
                bos[i] = direction
            current = direction
            ob_dir[i] = direction
            ob_candle[i] = k
        trend[i] = current
    return trend, bos, choch, level, pivot, ob_dir, ob_top, ob_bottom, ob_candle, invalidations[:m].copy()


def structure_breaks(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    swings: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> BreakArrays:
    """BOS/CHoCH and order blocks from OHLC and ``swing_points`` output.

    Returns int8 ``trend`` (after each bar), ``bos``, ``choch`` (+1/-1/0), float64
    ``break_level``, int64 ``break_pivot`` (the broken swing's pivot, -1), the order block
    reported at the break bar (``ob_dir``, ``ob_top``, ``ob_bottom``, ``ob_candle``), and the
    int64 ``(m, 2)`` table of ``(invalidating bar, break bar of the block)`` rows.
    """
    as_f8 = [np.ascontiguousarray(a, dtype=np.float64) for a in (open_, high, low, close)]
    swing_high, high_pivot, swing_low, low_pivot = swings
    return _structure_breaks(
        *as_f8,
        np.ascontiguousarray(swing_high, dtype=np.float64),
        np.ascontiguousarray(high_pivot, dtype=np.int64),
        np.ascontiguousarray(swing_low, dtype=np.float64),
        np.ascontiguousarray(low_pivot, dtype=np.int64),
    )
