"""Answers a fake model gives: valid signals computed from the prompt's own numbers."""

from __future__ import annotations

import json
import re
from typing import Any

_PRICE = re.compile(r'"current_price":([0-9.eE+-]+)|current price ([0-9.eE+-]+)\)')


def current_price(request: dict[str, Any]) -> float:
    """The price the prompt (or a repair round) states."""
    user = next(m["content"] for m in request["messages"] if m["role"] == "user")
    found = _PRICE.search(user)
    assert found is not None, user[:200]
    return float(found.group(1) or found.group(2))


def signal_answer(request: dict[str, Any], *, signal: str = "Long") -> str:
    """A schema-valid answer whose levels sit on the right side of the prompt's price."""
    if request.get("response_format", {}).get("type") not in ("json_schema", "json_object") and not any(
        "Market data" in m["content"] or "unusable" in m["content"] for m in request["messages"]
    ):
        return "SUCCESS"
    price = current_price(request)
    neutral = signal == "Neutral"
    return json.dumps({
        "signal": signal, "confidence": 0.58, "reasoning": f"fake model: price {price}",
        "strategy_scores": {"RSI Strategy": 0.6},
        "market_analysis": {"trend_direction": "Sideways", "trend_strength": 0.3, "support_levels_pct": [2.0],
                            "resistance_levels_pct": [3.0], "volatility_level": "Medium", "volume_analysis": "n/a"},
        "risk_assessment": {"overall_risk": "Medium", "technical_risk": 0.5, "market_risk": 0.5,
                            "recommended_position_size": 0.0 if neutral else 0.05,
                            "stop_loss_pct": None if neutral else 1.0,
                            "take_profit_pct": None if neutral else 2.0},
    })
