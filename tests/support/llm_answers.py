"""Answers a fake model gives: valid signals computed from the prompt's own numbers."""

from __future__ import annotations

import json
import re
from typing import Any

_PRICE = re.compile(r'"current_price":([0-9.eE+-]+)')


def current_price(request: dict[str, Any]) -> float:
    user = next(m["content"] for m in request["messages"] if m["role"] == "user")
    return float(_PRICE.search(user).group(1))  # type: ignore[union-attr]


def signal_answer(request: dict[str, Any], *, signal: str = "Long") -> str:
    """A schema-valid answer whose levels sit on the right side of the prompt's price."""
    if request.get("response_format", {}).get("type") not in ("json_schema", "json_object") and not any(
        "Market data" in m["content"] for m in request["messages"]
    ):
        return "SUCCESS"
    price = current_price(request)
    stop, take = (price * 0.99, price * 1.02) if signal == "Long" else (price * 1.01, price * 0.98)
    neutral = signal == "Neutral"
    return json.dumps({
        "signal": signal, "confidence": 0.58, "reasoning": f"fake model: price {price}",
        "strategy_scores": {"RSI Strategy": 0.6},
        "market_analysis": {"trend_direction": "Sideways", "trend_strength": 0.3, "support_levels": [price * 0.98],
                            "resistance_levels": [price * 1.03], "volatility_level": "Medium", "volume_analysis": "n/a"},
        "risk_assessment": {"overall_risk": "Medium", "technical_risk": 0.5, "market_risk": 0.5,
                            "recommended_position_size": 0.0 if neutral else 0.05,
                            "stop_loss_suggestion": None if neutral else stop,
                            "take_profit_suggestion": None if neutral else take},
    })
