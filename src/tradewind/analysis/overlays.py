"""What a chart draws over the candles: indicator lines, smart-money zones and structure markers.

The same TA-Lib indicators and SMC detectors the analyst reads (``indicators``, ``structure``),
turned into plain, JSON-ready lists so the dashboard draws exactly what the analyst saw and never
recomputes anything in the browser. Times are candle open times in epoch seconds; a zone's ``end``
is the bar that mitigated (a fair value gap) or invalidated (an order block) it, None while it holds.
Only the newest ``max_zones`` zones of each kind are kept: an old, long-mitigated gap is noise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tradewind.analysis.indicators import compute_indicators
from tradewind.analysis.structure import compute_structure
from tradewind.domain.bars import Bars

__all__ = ["LINES", "chart_overlays"]

LINES = ("ema_21", "ema_50", "bb_upper", "bb_middle", "bb_lower")
_DIRECTION = {1: "bullish", -1: "bearish"}


def chart_overlays(bars: Bars, *, max_zones: int = 20) -> dict[str, Any]:
    """Lines, zones and markers over ``bars`` (closed candles, oldest first)."""
    if len(bars) == 0:
        return {"lines": {name: [] for name in LINES}, "zones": [], "markers": []}
    times = bars.time.astype(np.int64)
    indicators = compute_indicators(bars)
    structure = compute_structure(bars)
    lines = {name: _line(times, indicators[name]) for name in LINES}
    zones = _gaps(times, structure, max_zones) + _blocks(times, structure, max_zones)
    return {"lines": lines, "zones": zones, "markers": _markers(times, structure)}


def _line(times: np.ndarray, values: np.ndarray) -> list[dict[str, float]]:
    keep = np.isfinite(values)
    return [{"time": int(t), "value": float(v)} for t, v in zip(times[keep], values[keep])]


def _ends(table: np.ndarray) -> dict[int, int]:
    """Event table rows (bar, origin bar) as origin -> the first bar that ended it."""
    ends: dict[int, int] = {}
    for bar, origin in table.tolist():
        ends.setdefault(int(origin), int(bar))
    return ends


def _gaps(times: np.ndarray, s: Any, limit: int) -> list[dict[str, Any]]:
    ends = _ends(s.fvg_mitigations)
    bars = np.flatnonzero(s.fvg_dir)[-limit:]
    return [
        {"kind": "fvg", "direction": _DIRECTION[int(s.fvg_dir[i])], "top": float(s.fvg_top[i]),
         "bottom": float(s.fvg_bottom[i]), "start": int(times[max(i - 2, 0)]),
         "end": int(times[ends[i]]) if i in ends else None}
        for i in bars.tolist()
    ]


def _blocks(times: np.ndarray, s: Any, limit: int) -> list[dict[str, Any]]:
    ends = _ends(s.ob_invalidations)
    bars = np.flatnonzero(s.ob_dir)[-limit:]
    return [
        {"kind": "order_block", "direction": _DIRECTION[int(s.ob_dir[i])], "top": float(s.ob_top[i]),
         "bottom": float(s.ob_bottom[i]), "start": int(times[int(s.ob_candle[i])]), "confirmed": int(times[i]),
         "end": int(times[ends[i]]) if i in ends else None}
        for i in bars.tolist() if s.ob_candle[i] >= 0
    ]


def _markers(times: np.ndarray, s: Any) -> list[dict[str, Any]]:
    """Swing highs and lows at their pivot bar; BOS and CHoCH at the bar whose close broke the level."""
    out: list[dict[str, Any]] = []
    for i in np.flatnonzero(np.isfinite(s.swing_high)).tolist():
        out.append({"time": int(times[int(s.swing_high_pivot[i])]), "kind": "swing_high", "price": float(s.swing_high[i])})
    for i in np.flatnonzero(np.isfinite(s.swing_low)).tolist():
        out.append({"time": int(times[int(s.swing_low_pivot[i])]), "kind": "swing_low", "price": float(s.swing_low[i])})
    for name in ("bos", "choch"):
        column = getattr(s, name)
        for i in np.flatnonzero(column).tolist():
            out.append({"time": int(times[i]), "kind": name, "direction": _DIRECTION[int(column[i])],
                        "price": float(s.break_level[i])})
    out.sort(key=lambda m: (m["time"], m["kind"]))
    return out
