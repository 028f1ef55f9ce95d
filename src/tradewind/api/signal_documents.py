"""The seed's JSON shapes of a signal: the ``/ai/analyze`` response and the ``AISignalReceived`` message.

The signal service stores and announces a signal's record (``domain.signal.signal_record`` plus its
provenance); how the AI-service seed shows it is decided here: scores rounded to four decimals,
the ``[RECENT]`` prefix and ``cached: true`` on an answer from the 5-minute cache, the lower-case
signal and ``model_type`` of the WebSocket message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tradewind.domain.events import SignalCreated

__all__ = ["RECENT_PREFIX", "signal_document", "signal_message"]

RECENT_PREFIX = "[RECENT] "
_ROUNDED = ("trend_strength", "technical_risk", "market_risk", "recommended_position_size")


def _round(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value


def signal_document(record: Mapping[str, Any], *, cached: bool = False) -> dict[str, Any]:
    """The seed's ``/ai/analyze`` body for a stored record (plus ``signal_id`` and provenance)."""
    document = dict(record)
    document["confidence"] = _round(record.get("confidence"))
    document["strategy_scores"] = {name: _round(score) for name, score in (record.get("strategy_scores") or {}).items()}
    for part in ("market_analysis", "risk_assessment"):
        if isinstance(record.get(part), Mapping):
            document[part] = {k: _round(v) if k in _ROUNDED else v for k, v in record[part].items()}
    if cached:
        document["reasoning"] = RECENT_PREFIX + str(record.get("reasoning", ""))
    document["cached"] = cached
    return document


def signal_message(event: SignalCreated) -> dict[str, Any]:
    """The seed's ``AISignalReceived`` data for a new signal (plus its ``signal_id``)."""
    record = event.record
    return {
        "symbol": record.get("symbol"),
        "signal": str(record.get("signal", "")).lower(),
        "confidence": _round(record.get("confidence")),
        "timestamp": record.get("timestamp"),
        "model_type": record.get("analyst"),
        "timeframe": record.get("timeframe"),
        "reasoning": record.get("reasoning"),
        "strategy_scores": {name: _round(score) for name, score in (record.get("strategy_scores") or {}).items()},
        "signal_id": event.signal_id,
    }
