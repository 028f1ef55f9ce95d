"""``analysis.overlays``: what the chart draws is exactly what the analysis functions computed, on real
ETH/BTC 5m candles (tests/data; source and licence in tests/data/README.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tradewind.analysis.indicators import compute_indicators
from tradewind.analysis.overlays import LINES, chart_overlays
from tradewind.analysis.structure import compute_structure
from tradewind.domain.bars import Bars, bars_from_candles
from tradewind.market.candle_file import read_candle_file

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def bars() -> Bars:
    return bars_from_candles(read_candle_file(DATA / "ETH_BTC-5m.json").candles[-1500:])


def test_lines_are_the_indicators_with_their_warm_up_left_out(bars: Bars) -> None:
    overlays = chart_overlays(bars)
    indicators = compute_indicators(bars)
    for name in LINES:
        finite = np.isfinite(indicators[name])
        line = overlays["lines"][name]
        assert [p["time"] for p in line] == bars.time[finite].tolist()
        assert np.allclose([p["value"] for p in line], indicators[name][finite])


def test_zones_start_at_their_candle_and_end_where_the_structure_says(bars: Bars) -> None:
    overlays = chart_overlays(bars, max_zones=1000)
    structure = compute_structure(bars)
    times = bars.time.tolist()
    gaps = [z for z in overlays["zones"] if z["kind"] == "fvg"]
    blocks = [z for z in overlays["zones"] if z["kind"] == "order_block"]
    assert len(gaps) == int(np.count_nonzero(structure.fvg_dir)) > 0
    assert len(blocks) == int(np.count_nonzero((structure.ob_dir != 0) & (structure.ob_candle >= 0))) > 0
    mitigated = {int(origin): int(bar) for bar, origin in structure.fvg_mitigations[::-1].tolist()}
    for zone, bar in zip(gaps, np.flatnonzero(structure.fvg_dir).tolist()):
        assert zone["start"] == times[bar - 2] and zone["top"] > zone["bottom"]
        assert zone["end"] == (times[mitigated[bar]] if bar in mitigated else None)
    for zone in blocks:
        assert zone["start"] <= zone["confirmed"] and zone["top"] >= zone["bottom"]
        assert zone["end"] is None or zone["end"] > zone["confirmed"]
    assert len(chart_overlays(bars, max_zones=3)["zones"]) <= 6  # the newest few of each kind


def test_markers_sit_on_candles_in_time_order(bars: Bars) -> None:
    markers = chart_overlays(bars)["markers"]
    structure = compute_structure(bars)
    times = set(bars.time.tolist())
    assert all(m["time"] in times for m in markers)
    assert [m["time"] for m in markers] == sorted(m["time"] for m in markers)
    kinds = [m["kind"] for m in markers]
    assert kinds.count("bos") == int(np.count_nonzero(structure.bos))
    assert kinds.count("choch") == int(np.count_nonzero(structure.choch))
    assert kinds.count("swing_high") == int(np.count_nonzero(np.isfinite(structure.swing_high)))
    highs = {m["time"]: m["price"] for m in markers if m["kind"] == "swing_high"}
    high = dict(zip(bars.time.tolist(), bars.high.tolist()))
    assert all(high[t] == price for t, price in highs.items())  # a swing high is its pivot candle's high


def test_no_candles_draw_nothing() -> None:
    empty = Bars(*(np.empty(0, dtype=np.int64 if i == 0 else np.float64) for i in range(7)))
    assert chart_overlays(empty) == {"lines": {name: [] for name in LINES}, "zones": [], "markers": []}
