"""Smart-money (ICT) market structure for one timeframe, with no look-ahead.

``compute_structure`` runs every detector once over the bars and returns per-bar arrays in which
index ``i`` holds only what was knowable when bar ``i`` closed: swings at their confirmation bar,
breaks and order blocks at the breaking bar, gaps at their third candle, mitigations,
invalidations and sweeps at the bar they happen. So ``compute_structure(bars[:k])`` equals
``compute_structure(bars).head(k)``, and a backtest may read the arrays at any bar.
``summarize_structure`` condenses the state at the last bar for the analyst and the LLM prompt.

The detectors live in ``swings``, ``breaks``, ``gaps``, ``liquidity`` and ``sessions``; their
docstrings (and docs/structure.md) give the exact definitions.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal

import numpy as np
from numba import njit

from tradewind.analysis.breaks import structure_breaks
from tradewind.analysis.gaps import fair_value_gaps
from tradewind.analysis.liquidity import liquidity
from tradewind.analysis.sessions import KILLZONE_NAMES, killzones
from tradewind.analysis.swings import swing_points
from tradewind.domain.bars import Bars
from tradewind.domain.errors import ValidationError

__all__ = [
    "StructureArrays",
    "StructureSummary",
    "compute_structure",
    "premium_discount",
    "summarize_structure",
]

Trend = Literal["bullish", "bearish", "neutral"]
Zone = Literal["premium", "discount", "equilibrium", "unknown"]
_DIRECTION = {1: "bullish", -1: "bearish"}
_SIDE = {1: "buy-side", -1: "sell-side"}


@dataclass(frozen=True, eq=False)
class StructureArrays:
    """Per-bar arrays (all ``len(bars)`` long) and event tables (rows ordered by bar).

    Compare two with ``numpy.array_equal`` per field, not ``==``. Direction codes are int8: +1 bullish / buy-side / premium, -1 bearish / sell-side /
    discount, 0 none. Prices are float64 with NaN where none; indices int64 with -1 where none.
    """

    # swings, at the confirmation bar
    swing_high: np.ndarray
    swing_high_pivot: np.ndarray
    swing_low: np.ndarray
    swing_low_pivot: np.ndarray
    # breaks of structure, at the breaking bar; trend after each bar
    trend: np.ndarray
    bos: np.ndarray
    choch: np.ndarray
    break_level: np.ndarray
    break_pivot: np.ndarray
    # fair value gaps, at the third candle
    fvg_dir: np.ndarray
    fvg_top: np.ndarray
    fvg_bottom: np.ndarray
    # order blocks, at the breaking bar; ob_candle is the block's own candle
    ob_dir: np.ndarray
    ob_top: np.ndarray
    ob_bottom: np.ndarray
    ob_candle: np.ndarray
    # liquidity pools, at the bar a swing makes or grows one; sweeps at the sweeping bar
    pool_high: np.ndarray
    pool_high_count: np.ndarray
    pool_high_id: np.ndarray
    pool_low: np.ndarray
    pool_low_count: np.ndarray
    pool_low_id: np.ndarray
    sweep: np.ndarray
    sweep_high: np.ndarray
    sweep_low: np.ndarray
    # premium / discount of the close within the latest swing range
    zone: np.ndarray
    equilibrium: np.ndarray
    range_high: np.ndarray
    range_low: np.ndarray
    # 0 none, 1 London, 2 New York
    killzone: np.ndarray
    # event tables: (bar, gap formation bar), (bar, break bar of the block), (bar, side, pool id, swept)
    fvg_mitigations: np.ndarray
    ob_invalidations: np.ndarray
    pool_ends: np.ndarray

    EVENT_TABLES: ClassVar[tuple[str, ...]] = ("fvg_mitigations", "ob_invalidations", "pool_ends")

    def __len__(self) -> int:
        return int(self.trend.shape[0])

    @classmethod
    def per_bar_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls) if f.name not in cls.EVENT_TABLES)

    def head(self, k: int) -> StructureArrays:
        """The arrays as they stood when bar ``k - 1`` closed (what ``bars[:k]`` yields)."""
        values: dict[str, np.ndarray] = {}
        for f in fields(self):
            column = getattr(self, f.name)
            values[f.name] = column[column[:, 0] < k] if f.name in self.EVENT_TABLES else column[:k]
        return StructureArrays(**values)


def premium_discount(
    close: np.ndarray, swing_high: np.ndarray, swing_low: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(zone, equilibrium, range_high, range_low)`` of each close in the latest confirmed swing range.

    The range is the latest swing high and the latest swing low confirmed at or before the bar
    (``swing_points`` arrays, by confirmation bar). Equilibrium is its midpoint; a close above is
    premium (+1), below discount (-1), on it 0. Before both swings exist, or when the latest low
    is not below the latest high, zone is 0 and equilibrium NaN.
    """
    return _premium_discount(np.ascontiguousarray(close, dtype=np.float64),
                             np.ascontiguousarray(swing_high, dtype=np.float64),
                             np.ascontiguousarray(swing_low, dtype=np.float64))


@njit(cache=True)
def _premium_discount(
    close: np.ndarray, swing_high: np.ndarray, swing_low: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    n = close.shape[0]
    zone = np.zeros(n, dtype=np.int8)
    equilibrium = np.full(n, np.nan)
    range_high = np.full(n, np.nan)
    range_low = np.full(n, np.nan)
    high = low = np.nan  # the latest swings confirmed so far (NaN before the first)
    for i in range(n):
        if not np.isnan(swing_high[i]):
            high = swing_high[i]
        if not np.isnan(swing_low[i]):
            low = swing_low[i]
        range_high[i] = high
        range_low[i] = low
        if high > low:  # False while either is NaN
            middle = (high + low) / 2.0
            equilibrium[i] = middle
            if close[i] > middle:
                zone[i] = 1
            elif close[i] < middle:
                zone[i] = -1
    return zone, equilibrium, range_high, range_low


def compute_structure(bars: Bars, *, swing_length: int = 5, equal_tolerance: float = 0.001) -> StructureArrays:
    """Run every detector once over ``bars`` (oldest first): O(n) each.

    ``swing_length`` is the number of bars on each side of a swing pivot (so swings are known
    ``swing_length`` bars late); ``equal_tolerance`` the relative spread allowed within a pool of
    equal highs or lows (0.001 = 0.1 % of price).
    """
    if isinstance(swing_length, bool) or not isinstance(swing_length, (int, np.integer)) or swing_length < 1:
        raise ValidationError(f"swing_length must be an integer >= 1, got {swing_length!r}", field="swing_length")
    if not 0 <= equal_tolerance < 1:
        raise ValidationError(f"equal_tolerance must be in [0, 1), got {equal_tolerance!r}", field="equal_tolerance")
    open_, high, low, close = (np.ascontiguousarray(c, dtype=np.float64) for c in bars[1:5])
    swings = swing_points(high, low, int(swing_length))
    trend, bos, choch, level, pivot, ob_dir, ob_top, ob_bottom, ob_candle, ob_invalidations = structure_breaks(
        open_, high, low, close, swings
    )
    fvg_dir, fvg_top, fvg_bottom, fvg_mitigations = fair_value_gaps(high, low)
    (pool_high, pool_high_count, pool_high_id, pool_low, pool_low_count, pool_low_id,
     sweep_high, sweep_low, pool_ends) = liquidity(high, low, close, swings, tolerance=float(equal_tolerance))
    sweep = (~np.isnan(sweep_high)).astype(np.int8) - (~np.isnan(sweep_low)).astype(np.int8)
    zone, equilibrium, range_high, range_low = premium_discount(close, swings[0], swings[2])
    return StructureArrays(
        swing_high=swings[0], swing_high_pivot=swings[1], swing_low=swings[2], swing_low_pivot=swings[3],
        trend=trend, bos=bos, choch=choch, break_level=level, break_pivot=pivot,
        fvg_dir=fvg_dir, fvg_top=fvg_top, fvg_bottom=fvg_bottom,
        ob_dir=ob_dir, ob_top=ob_top, ob_bottom=ob_bottom, ob_candle=ob_candle,
        pool_high=pool_high, pool_high_count=pool_high_count, pool_high_id=pool_high_id,
        pool_low=pool_low, pool_low_count=pool_low_count, pool_low_id=pool_low_id,
        sweep=sweep, sweep_high=sweep_high, sweep_low=sweep_low,
        zone=zone, equilibrium=equilibrium, range_high=range_high, range_low=range_low,
        killzone=killzones(bars.time),
        fvg_mitigations=fvg_mitigations, ob_invalidations=ob_invalidations, pool_ends=pool_ends,
    )


@dataclass(frozen=True)
class StructureSummary:
    """The structure as it stands at the last bar; plain Python values, ready for JSON or a prompt.

    Times are bar open times in epoch seconds; lists of levels are nearest to the last close
    first, lists of past events newest last.
    """

    trend: Trend
    last_event: dict[str, Any] | None
    swing_highs: list[tuple[int, float]]
    swing_lows: list[tuple[int, float]]
    open_fvgs: list[dict[str, Any]]
    order_blocks: list[dict[str, Any]]
    liquidity_pools: list[dict[str, Any]]
    recent_sweeps: list[dict[str, Any]]
    zone: Zone
    equilibrium: float | None
    range_high: float | None
    range_low: float | None
    killzone: Literal["London", "New York"] | None


def summarize_structure(bars: Bars, arrays: StructureArrays | None = None, *, max_items: int = 5) -> StructureSummary:
    """Condense ``arrays`` (computed with defaults when not given) into the state at the last bar."""
    if arrays is None:
        arrays = compute_structure(bars)
    n = len(bars)
    if len(arrays) != n:
        raise ValidationError(f"arrays cover {len(arrays)} bars, bars has {n}", field="arrays")
    if max_items < 0:
        raise ValidationError(f"max_items must be >= 0, got {max_items}", field="max_items")
    if n == 0:
        return StructureSummary("neutral", None, [], [], [], [], [], [], "unknown", None, None, None, None)
    time = bars.time
    last_close = float(bars.close[-1])

    def nearest(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        def distance(item: dict[str, Any]) -> float:
            top, bottom = item.get("top", item.get("level")), item.get("bottom", item.get("level"))
            return max(bottom - last_close, last_close - top, 0.0)

        return sorted(items, key=distance)[:max_items]

    def tail(items: list[Any]) -> list[Any]:
        return items[-max_items:] if max_items else []  # the newest max_items (all of them when fewer)

    breaks = np.flatnonzero((arrays.bos != 0) | (arrays.choch != 0))
    last_event = None
    if breaks.size:
        i = int(breaks[-1])
        is_bos = arrays.bos[i] != 0
        direction = int(arrays.bos[i] if is_bos else arrays.choch[i])
        last_event = {
            "type": "BOS" if is_bos else "CHoCH",
            "direction": _DIRECTION[direction],
            "level": float(arrays.break_level[i]),
            "time": int(time[i]),
            "bars_ago": n - 1 - i,
            "swing_time": int(time[arrays.break_pivot[i]]),
        }
    trend: Trend = _DIRECTION.get(int(arrays.trend[-1]), "neutral")  # type: ignore[assignment]

    def swings(price: np.ndarray, pivot: np.ndarray) -> list[tuple[int, float]]:
        at = np.flatnonzero(pivot >= 0)
        at = at[-max_items:] if max_items else at[:0]  # as ``tail``, before building any item
        return list(zip(time[pivot[at]].tolist(), price[at].tolist()))

    # The nearest open gaps and blocks are picked in numpy (a stable sort by distance, as ``nearest``
    # sorts), and only they become dicts; Python values from one ``tolist`` per column
    at = _nearest(arrays.fvg_dir, arrays.fvg_top, arrays.fvg_bottom, arrays.fvg_mitigations, last_close, max_items)
    open_fvgs = [
        {"direction": _DIRECTION[d], "top": top, "bottom": bottom, "time": t, "bars_ago": n - 1 - i}
        for i, d, top, bottom, t in zip(at.tolist(), arrays.fvg_dir[at].tolist(), arrays.fvg_top[at].tolist(),
                                        arrays.fvg_bottom[at].tolist(), time[at].tolist())
    ]
    at = _nearest(arrays.ob_dir, arrays.ob_top, arrays.ob_bottom, arrays.ob_invalidations, last_close, max_items)
    order_blocks = [
        {"direction": _DIRECTION[d], "top": top, "bottom": bottom, "time": t, "break_time": b}
        for d, top, bottom, t, b in zip(arrays.ob_dir[at].tolist(), arrays.ob_top[at].tolist(),
                                        arrays.ob_bottom[at].tolist(), time[arrays.ob_candle[at]].tolist(),
                                        time[at].tolist())
    ]
    pools: dict[tuple[int, int], dict[str, Any]] = {}
    for side, level, count, ident, pivot in (
        (1, arrays.pool_high, arrays.pool_high_count, arrays.pool_high_id, arrays.swing_high_pivot),
        (-1, arrays.pool_low, arrays.pool_low_count, arrays.pool_low_id, arrays.swing_low_pivot),
    ):
        at = np.flatnonzero(ident >= 0)
        ids = ident[at]
        for pool_id, lv, k, first, last in zip(ids.tolist(), level[at].tolist(), count[at].tolist(),
                                               time[ids].tolist(), time[pivot[at]].tolist()):
            pools[(side, pool_id)] = {  # later reports of a pool supersede earlier ones
                "side": _SIDE[side], "level": lv, "count": k, "first_time": first, "last_time": last}
    sweeps: list[dict[str, Any]] = []
    for bar, side, ident, swept in arrays.pool_ends.tolist():
        pool = pools.pop((side, ident))
        if swept:
            sweeps.append({"side": pool["side"], "level": pool["level"], "count": pool["count"],
                           "time": int(time[bar]), "bars_ago": n - 1 - bar})
    zone_code = int(arrays.zone[-1])
    equilibrium = float(arrays.equilibrium[-1])
    zone: Zone = "premium" if zone_code > 0 else "discount" if zone_code < 0 else (
        "unknown" if np.isnan(equilibrium) else "equilibrium")
    range_high, range_low = float(arrays.range_high[-1]), float(arrays.range_low[-1])
    return StructureSummary(
        trend=trend,
        last_event=last_event,
        swing_highs=swings(arrays.swing_high, arrays.swing_high_pivot),
        swing_lows=swings(arrays.swing_low, arrays.swing_low_pivot),
        open_fvgs=open_fvgs,
        order_blocks=order_blocks,
        liquidity_pools=nearest(list(pools.values())),
        recent_sweeps=tail(sweeps),
        zone=zone,
        equilibrium=None if np.isnan(equilibrium) else equilibrium,
        range_high=None if np.isnan(range_high) else range_high,
        range_low=None if np.isnan(range_low) else range_low,
        killzone=KILLZONE_NAMES.get(int(arrays.killzone[-1])),  # type: ignore[arg-type]
    )


def _nearest(direction: np.ndarray, top: np.ndarray, bottom: np.ndarray, ended: np.ndarray, close: float,
             limit: int) -> np.ndarray:
    """The bars of the ``limit`` zones still open (not in ``ended[:, 1]``) nearest to ``close``, nearest
    first, ties in bar order: the distance is 0 inside a zone, else to its nearer edge."""
    live = direction != 0
    live[ended[:, 1]] = False
    at = np.flatnonzero(live)
    distance = np.maximum(np.maximum(bottom[at] - close, close - top[at]), 0.0)
    return at[np.argsort(distance, kind="stable")[:limit]]
