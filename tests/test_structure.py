"""Smart-money structure: each detector on hand-made candles, against a brute-force reference,
with no look-ahead (a prefix of the bars gives a prefix of the arrays), and against the
smartmoneyconcepts package on real candles where the two definitions agree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradewind.analysis.sessions import killzones
from tradewind.analysis.structure import StructureArrays, compute_structure, premium_discount, summarize_structure
from tradewind.domain.bars import Bars
from tradewind.domain.errors import ValidationError

DATA = Path(__file__).parent / "data"
T0 = 1_700_000_000 - 1_700_000_000 % 86_400  # a UTC midnight


def make_bars(rows: list[tuple[float, float, float, float]], *, start: int = T0, step: int = 60) -> Bars:
    """Bars from (open, high, low, close) rows."""
    o, h, l, c = (np.array(col, dtype=np.float64) for col in zip(*rows)) if rows else [np.zeros(0)] * 4
    n = len(rows)
    return Bars(start + step * np.arange(n, dtype=np.int64), o, h, l, c, np.ones(n), np.full(n, np.nan))


def load_freqtrade(name: str) -> Bars:
    rows = np.array(json.loads((DATA / name).read_text()), dtype=np.float64)
    n = len(rows)
    return Bars((rows[:, 0] // 1000).astype(np.int64), *(rows[:, j].copy() for j in range(1, 6)), np.full(n, np.nan))


def table(rows: np.ndarray) -> list[tuple[int, ...]]:
    return [tuple(r) for r in rows.tolist()]


# ---------------------------------------------------------------- brute-force references
# Plain Python straight from the definitions in the module docstrings, O(n^2) where simplest.


def ref_swings(high: list[float], low: list[float], length: int) -> dict[str, list[Any]]:
    n = len(high)
    out: dict[str, list[Any]] = {"sh": [None] * n, "shp": [-1] * n, "sl": [None] * n, "slp": [-1] * n}
    for p in range(length, n - length):
        left, right = range(p - length, p), range(p + 1, p + length + 1)
        if all(high[j] < high[p] for j in left) and all(high[j] <= high[p] for j in right):
            out["sh"][p + length], out["shp"][p + length] = high[p], p
        if all(low[j] > low[p] for j in left) and all(low[j] >= low[p] for j in right):
            out["sl"][p + length], out["slp"][p + length] = low[p], p
    return out


def ref_gaps(high: list[float], low: list[float]) -> tuple[dict[int, tuple[int, float, float]], set[tuple[int, int]]]:
    gaps: dict[int, tuple[int, float, float]] = {}
    for i in range(2, len(high)):
        if low[i] > high[i - 2]:
            gaps[i] = (1, low[i], high[i - 2])
        elif high[i] < low[i - 2]:
            gaps[i] = (-1, low[i - 2], high[i])
    mitigations = set()
    for i, (d, top, bottom) in gaps.items():
        for j in range(i + 1, len(high)):
            if (d == 1 and low[j] < top) or (d == -1 and high[j] > bottom):
                mitigations.add((j, i))
                break
    return gaps, mitigations


def ref_breaks(o: list[float], h: list[float], lo: list[float], c: list[float], sw: dict[str, list[Any]]) -> dict[str, Any]:
    n = len(c)
    events: dict[int, tuple[str, int, float, int]] = {}  # bar -> (kind, direction, level, pivot)
    blocks: dict[int, tuple[int, float, float, int]] = {}  # break bar -> (direction, top, bottom, candle)
    trend, current = [0] * n, 0
    last_high = last_low = None  # [level, pivot, live]
    for i in range(n):
        if sw["shp"][i] >= 0:
            last_high = [sw["sh"][i], sw["shp"][i], True]
        if sw["slp"][i] >= 0:
            last_low = [sw["sl"][i], sw["slp"][i], True]
        direction, swing = 0, None
        if last_high and last_high[2] and c[i] > last_high[0]:
            direction, swing = 1, last_high
        elif last_low and last_low[2] and c[i] < last_low[0]:
            direction, swing = -1, last_low
        if direction:
            swing[2] = False
            events[i] = ("CHoCH" if current == -direction else "BOS", direction, swing[0], swing[1])
            current = direction
            leg = range(swing[1] + 1, i)
            extreme = lo if direction == 1 else [-x for x in h]
            m = max(j for j in leg if extreme[j] == min(extreme[k] for k in leg))
            opposite = [k for k in range(swing[1] + 1, m + 1) if (c[k] < o[k] if direction == 1 else c[k] > o[k])]
            k = opposite[-1] if opposite else m
            blocks[i] = (direction, h[k], lo[k], k)
        trend[i] = current
    invalidations = set()
    for i, (d, top, bottom, _) in blocks.items():
        for j in range(i + 1, n):
            if (d == 1 and c[j] < bottom) or (d == -1 and c[j] > top):
                invalidations.add((j, i))
                break
    return {"events": events, "blocks": blocks, "trend": trend, "invalidations": invalidations}


def ref_liquidity(h: list[float], lo: list[float], c: list[float], sw: dict[str, list[Any]], tol: float) -> dict[str, Any]:
    """Clusters kept in plain lists, scanned in full every bar (no monotone-stack shortcut)."""
    n = len(c)
    reports: dict[tuple[int, int], tuple[int, float, int, int]] = {}  # (side, bar) -> (count, level, id, bar)
    ends: list[tuple[int, int, int, int]] = []
    clusters: dict[int, list[dict[str, Any]]] = {1: [], -1: []}

    def fits(side: int, members: list[float]) -> bool:
        if side == 1:
            return min(members) >= max(members) * (1 - tol)
        return max(members) <= min(members) * (1 + tol)

    for i in range(n):
        for side, price, pivot in ((1, sw["sh"][i], sw["shp"][i]), (-1, sw["sl"][i], sw["slp"][i])):
            if pivot < 0:
                continue
            live = clusters[side]
            if live:
                nearest = min(live, key=lambda cl: side * cl["take"])  # the one the market reaches first
                assert side * nearest["take"] >= side * price  # every untaken cluster sits beyond the new swing
                members = nearest["members"] + [price]
                if fits(side, members):
                    level = max(members) if side == 1 else min(members)
                    nearest.update(members=members, level=level, take=level)
                    reports[(side, i)] = (len(members), level, nearest["id"], i)
                    continue
            take = price / (1 - tol) if side == 1 else price / (1 + tol)
            live.append({"members": [price], "level": price, "take": take, "id": pivot})
        for side, extreme in ((1, h[i]), (-1, lo[i])):
            taken = [cl for cl in clusters[side] if side * extreme > side * cl["take"]]
            for cl in sorted(taken, key=lambda cl: side * cl["take"]):
                clusters[side].remove(cl)
                if len(cl["members"]) >= 2:
                    ends.append((i, side, cl["id"], int(side * c[i] < side * cl["level"])))
    return {"reports": reports, "ends": ends}


# ---------------------------------------------------------------- random candles


@st.composite
def random_bars(draw: st.DrawFn, max_size: int = 120) -> Bars:
    """Valid OHLC on a coarse tick grid (so equal highs, flat tops and edge touches are common)."""
    n = draw(st.integers(0, max_size))
    moves = draw(st.lists(
        st.tuples(st.integers(-2, 2), st.integers(-4, 4), st.integers(0, 3), st.integers(0, 3)),
        min_size=n, max_size=n,
    ))
    rows, close = [], 1000
    for gap, body, up, down in moves:
        o = close + gap
        close = o + body
        rows.append((o / 4, (max(o, close) + up) / 4, (min(o, close) - down) / 4, close / 4))
    start = T0 + draw(st.integers(0, 96)) * 900
    return make_bars(rows, start=start, step=draw(st.sampled_from([60, 300, 3600])))


def assert_same(a: StructureArrays, b: StructureArrays) -> None:
    for name in StructureArrays.per_bar_names() + StructureArrays.EVENT_TABLES:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        assert np.array_equal(x, y, equal_nan=True), name


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bars=random_bars(), cut=st.floats(0, 1), length=st.integers(1, 6), tol=st.sampled_from([0.0, 0.001, 0.01, 0.05]))
def test_no_look_ahead_a_prefix_of_bars_gives_a_prefix_of_every_array(bars: Bars, cut: float, length: int, tol: float) -> None:
    k = round(cut * len(bars))
    full = compute_structure(bars, swing_length=length, equal_tolerance=tol)
    part = compute_structure(bars.slice(0, k), swing_length=length, equal_tolerance=tol)
    assert len(full) == len(bars) and len(part) == k
    assert_same(part, full.head(k))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bars=random_bars(), length=st.integers(1, 5), tol=st.sampled_from([0.0, 0.002, 0.01]))
def test_every_detector_matches_its_brute_force_reference(bars: Bars, length: int, tol: float) -> None:
    o, h, lo, c = (col.tolist() for col in bars[1:5])
    a = compute_structure(bars, swing_length=length, equal_tolerance=tol)
    sw = ref_swings(h, lo, length)
    assert a.swing_high_pivot.tolist() == sw["shp"] and a.swing_low_pivot.tolist() == sw["slp"]
    assert [None if np.isnan(x) else x for x in a.swing_high.tolist()] == sw["sh"]
    assert [None if np.isnan(x) else x for x in a.swing_low.tolist()] == sw["sl"]

    gaps, mitigations = ref_gaps(h, lo)
    at = np.flatnonzero(a.fvg_dir)
    assert {int(i): (int(a.fvg_dir[i]), a.fvg_top[i], a.fvg_bottom[i]) for i in at} == gaps
    assert set(table(a.fvg_mitigations)) == mitigations and len(a.fvg_mitigations) == len(mitigations)

    ref = ref_breaks(o, h, lo, c, sw)
    events = {}
    for i in np.flatnonzero((a.bos != 0) | (a.choch != 0)).tolist():
        kind = "BOS" if a.bos[i] else "CHoCH"
        events[i] = (kind, int(a.bos[i] or a.choch[i]), a.break_level[i], int(a.break_pivot[i]))
    assert events == ref["events"]
    assert a.trend.tolist() == ref["trend"]
    blocks = {int(i): (int(a.ob_dir[i]), a.ob_top[i], a.ob_bottom[i], int(a.ob_candle[i])) for i in np.flatnonzero(a.ob_dir)}
    assert blocks == ref["blocks"]
    assert set(table(a.ob_invalidations)) == ref["invalidations"] and len(a.ob_invalidations) == len(ref["invalidations"])

    liq = ref_liquidity(h, lo, c, sw, tol)
    reports = {}
    for side, level, count, ident in ((1, a.pool_high, a.pool_high_count, a.pool_high_id), (-1, a.pool_low, a.pool_low_count, a.pool_low_id)):
        for i in np.flatnonzero(ident >= 0).tolist():
            reports[(side, i)] = (int(count[i]), level[i], int(ident[i]), i)
    assert reports == liq["reports"]
    assert sorted(table(a.pool_ends)) == sorted(liq["ends"])
    for name in StructureArrays.EVENT_TABLES:  # event rows come in bar order
        rows = getattr(a, name)
        assert np.all(np.diff(rows[:, 0]) >= 0), name


# ---------------------------------------------------------------- hand-made candles


def test_swing_is_reported_at_its_confirmation_bar_only() -> None:
    highs = [1, 2, 3, 5, 3, 2, 1, 1]
    bars = make_bars([(h - 0.5, h, h - 1, h - 0.5) for h in highs])
    a = compute_structure(bars, swing_length=2)
    assert np.flatnonzero(a.swing_high_pivot >= 0).tolist() == [5]
    assert a.swing_high[5] == 5.0 and a.swing_high_pivot[5] == 3
    assert np.isnan(a.swing_high[:5]).all()  # the pivot bar itself knows nothing yet


def test_flat_top_gives_one_swing_at_its_first_bar_and_a_higher_left_bar_none() -> None:
    flat = make_bars([(h - 0.5, h, h - 1, h - 0.5) for h in [1, 2, 5, 5, 3, 2, 1]])
    a = compute_structure(flat, swing_length=2)
    assert np.flatnonzero(a.swing_high_pivot >= 0).tolist() == [4] and a.swing_high_pivot[4] == 2
    equal_left = make_bars([(h - 0.5, h, h - 1, h - 0.5) for h in [1, 5, 2, 5, 3, 2, 1]])
    assert (compute_structure(equal_left, swing_length=2).swing_high_pivot < 0).all()  # 5 is not above 5


# (open, high, low, close); with swing_length=1 a pivot is confirmed by the next bar.
BOS_THEN_CHOCH = [
    (10.0, 11.0, 9.0, 10.0),    # 0
    (10.0, 12.0, 10.0, 11.5),   # 1  swing high 12 (confirmed at 2)
    (11.5, 11.8, 10.5, 11.0),   # 2
    (11.0, 11.2, 10.2, 10.4),   # 3  swing low 10.2 (confirmed at 4); last down candle of the leg
    (10.4, 11.0, 10.3, 10.9),   # 4
    (10.9, 12.5, 10.8, 12.3),   # 5  close 12.3 > 12: bullish BOS (no trend before)
    (12.3, 13.0, 12.1, 12.8),   # 6  swing high 13 (confirmed at 7)
    (12.8, 12.9, 11.9, 12.0),   # 7
    (12.0, 12.2, 11.0, 11.2),   # 8  swing low 11 (confirmed at 9)
    (11.2, 11.9, 11.1, 11.8),   # 9  last up candle before the drop
    (11.8, 11.9, 10.5, 10.6),   # 10 close 10.6 < 11 against the up trend: bearish CHoCH
    (10.6, 10.7, 9.9, 10.0),    # 11 close 10.0 < 10.2: the bullish order block is invalidated
    (10.0, 12.0, 10.0, 11.95),  # 12 close 11.95 > 11.9: the bearish order block is invalidated
]


def test_bos_then_choch_with_their_order_blocks() -> None:
    bars = make_bars(BOS_THEN_CHOCH)
    a = compute_structure(bars, swing_length=1)
    assert np.flatnonzero(a.bos).tolist() == [5] and a.bos[5] == 1
    assert np.flatnonzero(a.choch).tolist() == [10] and a.choch[10] == -1
    assert (a.break_level[5], a.break_pivot[5]) == (12.0, 1)
    assert (a.break_level[10], a.break_pivot[10]) == (11.0, 8)
    assert a.trend.tolist() == [0] * 5 + [1] * 5 + [-1] * 3
    # bullish block: the last down-close candle (3) of the leg from the broken high to the break
    assert (a.ob_dir[5], a.ob_top[5], a.ob_bottom[5], a.ob_candle[5]) == (1, 11.2, 10.2, 3)
    assert (a.ob_dir[10], a.ob_top[10], a.ob_bottom[10], a.ob_candle[10]) == (-1, 11.9, 11.1, 9)
    assert table(a.ob_invalidations) == [(11, 5), (12, 10)]
    s = summarize_structure(bars, a)
    assert s.trend == "bearish" and s.order_blocks == []
    assert s.last_event == {"type": "CHoCH", "direction": "bearish", "level": 11.0, "time": int(bars.time[10]),
                            "bars_ago": 2, "swing_time": int(bars.time[8])}
    # premium/discount at the last bar: range 9.9 (low confirmed at 12) .. 13, equilibrium 11.45
    assert (a.range_high[12], a.range_low[12], a.equilibrium[12], a.zone[12]) == (13.0, 9.9, 11.45, 1)
    assert (s.zone, s.equilibrium, s.range_high, s.range_low) == ("premium", 11.45, 13.0, 9.9)
    assert s.swing_highs == [(int(bars.time[1]), 12.0), (int(bars.time[6]), 13.0)]


def test_a_level_breaks_once_and_a_wick_does_not_break_it() -> None:
    rows = BOS_THEN_CHOCH[:5] + [(10.9, 12.3, 10.8, 11.9), (11.9, 12.4, 11.5, 12.2), (12.2, 12.3, 11.6, 12.25)]
    a = compute_structure(make_bars(rows), swing_length=1)
    assert np.flatnonzero(a.bos).tolist() == [6]  # bar 5 only wicked above 12; bar 7 closes above again: no event


def test_order_block_falls_back_to_the_leg_low_when_the_leg_has_no_down_candle() -> None:
    rows = [(10, 11, 9, 10), (10, 12, 10, 11.5), (11.5, 11.8, 10.5, 11.6), (10.9, 11.0, 10.1, 10.95),
            (10.95, 11.5, 10.6, 11.4), (11.4, 12.4, 11.3, 12.3)]
    a = compute_structure(make_bars([tuple(map(float, r)) for r in rows]), swing_length=1)
    assert a.bos[5] == 1 and (a.ob_candle[5], a.ob_bottom[5], a.ob_top[5]) == (3, 10.1, 11.0)


def test_bullish_and_bearish_gaps_and_their_mitigation() -> None:
    rows = [
        (9.5, 10.0, 9.0, 9.8),     # 0
        (9.8, 12.0, 9.7, 11.9),    # 1
        (11.9, 13.0, 10.5, 12.8),  # 2  bullish gap 10.0 .. 10.5
        (12.8, 13.2, 10.6, 11.0),  # 3  stays above the gap
        (11.0, 11.5, 10.5, 11.2),  # 4  touches its top exactly: not inside
        (11.2, 11.4, 10.4, 11.3),  # 5  trades inside: mitigates it
        (11.3, 11.6, 11.0, 11.1),  # 6
        (11.1, 11.2, 9.0, 9.2),    # 7
        (9.2, 9.5, 8.0, 8.2),      # 8  bearish gap 9.5 .. 11.0 (high[8] < low[6])
        (8.2, 9.5, 8.1, 9.4),      # 9  touches its bottom: not inside
        (9.4, 9.6, 9.3, 9.5),      # 10 inside: mitigates it
    ]
    bars = make_bars(rows)
    a = compute_structure(bars, swing_length=2)
    assert np.flatnonzero(a.fvg_dir).tolist() == [2, 8]
    assert (a.fvg_dir[2], a.fvg_top[2], a.fvg_bottom[2]) == (1, 10.5, 10.0)
    assert (a.fvg_dir[8], a.fvg_top[8], a.fvg_bottom[8]) == (-1, 11.0, 9.5)
    assert table(a.fvg_mitigations) == [(5, 2), (10, 8)]
    assert summarize_structure(bars.slice(0, 5), a.head(5)).open_fvgs == [
        {"direction": "bullish", "top": 10.5, "bottom": 10.0, "time": int(bars.time[2]), "bars_ago": 2}]
    assert summarize_structure(bars, a).open_fvgs == []


EQUAL_HIGHS = [
    (10.0, 10.5, 9.5, 10.0),     # 0
    (10.0, 11.0, 9.8, 10.6),     # 1  swing high 11.00
    (10.6, 10.7, 10.0, 10.2),    # 2
    (10.2, 10.8, 10.1, 10.7),    # 3
    (10.7, 11.005, 10.5, 10.6),  # 4  swing high 11.005: within 0.1 % of 11, pairs with it
    (10.6, 10.8, 10.2, 10.3),    # 5  pool (2 highs, level 11.005) reported here
    (10.3, 10.9, 10.2, 10.8),    # 6
    (10.8, 11.2, 10.7, 10.9),    # 7  trades above 11.005, closes back below: sweep
]


def test_equal_highs_form_a_pool_that_a_wick_sweeps() -> None:
    bars = make_bars(EQUAL_HIGHS)
    a = compute_structure(bars, swing_length=1, equal_tolerance=0.001)
    assert np.flatnonzero(a.pool_high_id >= 0).tolist() == [5]
    assert (a.pool_high[5], a.pool_high_count[5], a.pool_high_id[5]) == (11.005, 2, 1)
    assert summarize_structure(bars.slice(0, 7), a.head(7)).liquidity_pools == [
        {"side": "buy-side", "level": 11.005, "count": 2, "first_time": int(bars.time[1]), "last_time": int(bars.time[4])}]
    assert a.sweep.tolist() == [0] * 7 + [1] and a.sweep_high[7] == 11.005
    assert table(a.pool_ends) == [(7, 1, 1, 1)]
    s = summarize_structure(bars, a)
    assert s.liquidity_pools == []
    assert s.recent_sweeps == [{"side": "buy-side", "level": 11.005, "count": 2, "time": int(bars.time[7]), "bars_ago": 0}]
    # with no tolerance the second high simply takes the first: no pool, no sweep
    strict = compute_structure(bars, swing_length=1, equal_tolerance=0.0)
    assert (strict.pool_high_id < 0).all() and (strict.sweep == 0).all()


def test_a_close_beyond_the_pool_is_a_run_not_a_sweep() -> None:
    rows = EQUAL_HIGHS[:7] + [(10.8, 11.3, 10.7, 11.2)]
    a = compute_structure(make_bars(rows), swing_length=1, equal_tolerance=0.001)
    assert (a.sweep == 0).all() and table(a.pool_ends) == [(7, 1, 1, 0)]


def test_equal_lows_swept_mirror_the_highs() -> None:
    mirrored = [(20 - o, 20 - lo, 20 - h, 20 - c) for o, h, lo, c in EQUAL_HIGHS]
    a = compute_structure(make_bars(mirrored), swing_length=1, equal_tolerance=0.001)
    assert a.pool_low_count[5] == 2 and a.sweep[7] == -1 and a.sweep_low[7] == pytest.approx(20 - 11.005)


def test_killzones_by_utc_open_time() -> None:
    hms = [(6, 59), (7, 0), (9, 59), (10, 0), (11, 59), (12, 0), (14, 59), (15, 0)]
    times = np.array([T0 + 86_400 * 3 + h * 3600 + m * 60 for h, m in hms], dtype=np.int64)
    assert killzones(times).tolist() == [0, 1, 1, 0, 0, 2, 2, 0]
    bars = make_bars([(1.0, 1.0, 1.0, 1.0)], start=int(times[5]))
    assert summarize_structure(bars).killzone == "New York"


def test_zone_is_unknown_until_a_swing_range_exists() -> None:
    bars = make_bars([(1.0, 2.0, 0.5, 1.5)] * 3)
    a = compute_structure(bars)
    assert (a.zone == 0).all() and np.isnan(a.equilibrium).all()
    s = summarize_structure(bars, a)
    assert (s.zone, s.equilibrium, s.trend, s.last_event) == ("unknown", None, "neutral", None)


def test_empty_bars_and_bad_arguments() -> None:
    empty = make_bars([])
    a = compute_structure(empty)
    assert len(a) == 0 and a.fvg_mitigations.shape == (0, 2) and a.pool_ends.shape == (0, 4)
    assert summarize_structure(empty, a).zone == "unknown"
    bars = make_bars([(1.0, 2.0, 0.5, 1.5)] * 4)
    with pytest.raises(ValidationError) as err:
        compute_structure(bars, swing_length=0)
    assert err.value.field == "swing_length"
    with pytest.raises(ValidationError) as err:
        compute_structure(bars, equal_tolerance=-0.1)
    assert err.value.field == "equal_tolerance"
    with pytest.raises(ValidationError) as err:
        compute_structure(bars, equal_tolerance=1.0)
    assert err.value.field == "equal_tolerance"
    with pytest.raises(ValidationError):
        summarize_structure(bars, compute_structure(bars.slice(0, 3)))


# ---------------------------------------------------------------- real candles


@pytest.fixture(scope="module", params=["ETH_BTC-5m.json", "ETH_BTC-1m.json"])
def real(request: pytest.FixtureRequest) -> tuple[Bars, StructureArrays]:
    bars = load_freqtrade(request.param)
    return bars, compute_structure(bars)


def test_summary_on_real_candles_is_consistent(real: tuple[Bars, StructureArrays]) -> None:
    bars, a = real
    s = summarize_structure(bars, a, max_items=3)
    assert s.trend in ("bullish", "bearish") and s.last_event is not None
    assert len(s.swing_highs) == 3 and [t for t, _ in s.swing_highs] == sorted(t for t, _ in s.swing_highs)
    close = float(bars.close[-1])
    distances = [max(g["bottom"] - close, close - g["top"], 0.0) for g in s.open_fvgs]
    assert distances == sorted(distances) and len(s.open_fvgs) == 3
    for pool in s.liquidity_pools:
        assert pool["count"] >= 2
        assert pool["level"] > bars.high[-1] if pool["side"] == "buy-side" else pool["level"] < bars.low[-1]
    assert s.zone in ("premium", "discount") and s.range_low < s.equilibrium < s.range_high
    json.dumps(s.__dict__)  # plain values only
    assert summarize_structure(bars, max_items=3) == s


def test_fair_value_gaps_agree_with_smartmoneyconcepts(real: tuple[Bars, StructureArrays]) -> None:
    pd = pytest.importorskip("pandas")
    smc = pytest.importorskip("smartmoneyconcepts").smc
    bars, a = real
    frame = pd.DataFrame({"open": bars.open, "high": bars.high, "low": bars.low, "close": bars.close, "volume": bars.volume})
    theirs = smc.fvg(frame, join_consecutive=False)
    at = np.flatnonzero(theirs["FVG"].notna().to_numpy())
    # They index a gap by its middle candle and require that candle to close in the gap's direction;
    # we index it by its third candle (the first bar that knows it) and ignore the middle candle's colour.
    middle = np.flatnonzero(a.fvg_dir) - 1
    body = np.sign(bars.close[middle] - bars.open[middle])
    same_colour = middle[body == a.fvg_dir[middle + 1]]
    assert at.tolist() == same_colour.tolist()
    assert len(at) > 100 and len(middle) > len(at)  # real differences exist: doji / opposite middle candles
    np.testing.assert_array_equal(theirs["FVG"].to_numpy()[at], a.fvg_dir[at + 1])
    np.testing.assert_array_equal(theirs["Top"].to_numpy()[at], a.fvg_top[at + 1])
    np.testing.assert_array_equal(theirs["Bottom"].to_numpy()[at], a.fvg_bottom[at + 1])
    # Mitigation: they count a touch of the edge (<=) and write it back into the formation row;
    # we need a trade inside the gap (<) and report it as an event of the mitigating bar.
    their_bar = theirs["MitigatedIndex"].to_numpy()[at].astype(np.int64)  # 0 means never
    our_bar = {gap: bar for bar, gap in a.fvg_mitigations.tolist()}
    ours_at = np.array([our_bar.get(int(i) + 1, 0) for i in at])
    touch = []
    for i in at + 1:
        d, top, bottom = a.fvg_dir[i], a.fvg_top[i], a.fvg_bottom[i]
        hits = np.flatnonzero(bars.low[i + 1:] <= top) if d == 1 else np.flatnonzero(bars.high[i + 1:] >= bottom)
        touch.append(int(i) + 1 + int(hits[0]) if hits.size else 0)
    np.testing.assert_array_equal(their_bar, touch)  # their rule, read exactly
    later = (ours_at == 0) | (ours_at >= their_bar) & (their_bar > 0)
    assert later.all()  # a trade inside never comes before the first touch
    assert np.all(ours_at[their_bar == 0] == 0)


def test_a_summary_lists_the_newest_max_items_or_all_when_there_are_fewer() -> None:
    from tradewind.signals.requests import bars_from_rows

    bars = bars_from_rows(json.loads((DATA / "ETH_BTC-5m.json").read_text())[:120])
    arrays = compute_structure(bars)
    everything = summarize_structure(bars, arrays, max_items=10_000)
    assert len(everything.swing_highs) >= 3 and everything.recent_sweeps is not None
    for k in range(1, len(everything.swing_highs) + 3):  # one more than there are: all of them, not fewer
        some = summarize_structure(bars, arrays, max_items=k)
        assert some.swing_highs == everything.swing_highs[-k:]
        assert some.swing_lows == everything.swing_lows[-k:]
        assert some.recent_sweeps == everything.recent_sweeps[-k:]


def _premium_discount_reference(close, swing_high, swing_low):  # type: ignore[no-untyped-def]
    """The definition in numpy, as premium_discount's docstring states it."""
    def forward_fill(values):  # type: ignore[no-untyped-def]
        index = np.where(np.isnan(values), -1, np.arange(values.shape[0]))
        np.maximum.accumulate(index, out=index)
        return np.where(index >= 0, values[np.maximum(index, 0)], np.nan)

    range_high, range_low = forward_fill(swing_high), forward_fill(swing_low)
    valid = range_high > range_low
    equilibrium = np.where(valid, (range_high + range_low) / 2.0, np.nan)
    zone = np.zeros(close.shape[0], dtype=np.int8)
    zone[valid & (close > equilibrium)] = 1
    zone[valid & (close < equilibrium)] = -1
    return zone, equilibrium, range_high, range_low


@pytest.mark.parametrize("seed", range(5))
def test_premium_discount_matches_its_definition(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 400
    close = 100 + rng.normal(0, 2, n).cumsum()
    swing_high = np.where(rng.random(n) < 0.05, close + rng.random(n) * 3, np.nan)
    swing_low = np.where(rng.random(n) < 0.05, close - rng.random(n) * 3 + (seed == 4) * 6, np.nan)
    swing_low[::97] = close[::97]  # a close exactly on equilibrium now and then
    got = premium_discount(close, swing_high, swing_low)
    for a, b in zip(got, _premium_discount_reference(close, swing_high, swing_low)):
        assert a.dtype == b.dtype
        assert np.array_equal(a, b, equal_nan=True)
