"""One asset's chart as the dashboard draws it: candles, the analyst's overlays, and what the bot did.

``chart_document`` joins three sources over one time range: the streamer's candles (the forming one
last), the overlays of ``analysis.overlays`` over the closed ones, and the stored record of that
range: the signals (markers with confidence, stop and target), the closed trades (entry and exit
markers) and the open position with its stop and target. Nothing here is computed for looks: every
line and box is what the analyst or the engine had.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tradewind.analysis.overlays import chart_overlays
from tradewind.domain.bars import bars_from_candles
from tradewind.domain.candle import Candle
from tradewind.domain.orders import Trade
from tradewind.signals.records import StoredSignal
from tradewind.trading.analytics import trade_dict

__all__ = ["MAX_CHART_SIGNALS", "chart_document", "signal_marker"]

MAX_CHART_SIGNALS = 500


def signal_marker(signal: StoredSignal) -> dict[str, Any]:
    return {"signal_id": signal.signal_id, "time": signal.timestamp // 1000, "signal": signal.signal,
            "confidence": signal.confidence, "analyst": signal.analyst, "timeframe": signal.timeframe,
            "entry_price": signal.entry_price, "stop_loss": signal.stop_loss, "take_profit": signal.take_profit}


def chart_document(symbol: str, timeframe: str, candles: Sequence[Candle], *, signals: Sequence[StoredSignal],
                   trades: Sequence[Trade], position: dict[str, Any] | None) -> dict[str, Any]:
    """The chart of ``candles`` (oldest first) with the signals and trades that fall in its range."""
    closed = [c for c in candles if c.closed]
    start = candles[0].time if candles else None
    in_range = [t for t in trades if start is not None and (t.exit_time or t.entry_time) >= start]
    return {
        "symbol": symbol,
        "timeframe": timeframe,
        "candles": [c.to_dict() for c in candles],
        **chart_overlays(bars_from_candles(closed)),
        "signals": [signal_marker(s) for s in signals if start is not None and s.timestamp // 1000 >= start],
        "trades": [trade_dict(t) for t in sorted(in_range, key=lambda t: t.entry_time)],
        "position": position,
    }

