"""A trading signal: what an analyst concludes, in the shape of the AI-service seed's response.

Analysts (rule-based or LLM) produce it; storage, the API, the outcome scorer and the
performance report consume it. Field names follow the seed so that the API maps one to one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "Direction",
    "MarketAnalysis",
    "RiskAssessment",
    "STRATEGIES",
    "Signal",
    "signal_record",
]

Direction = Literal["Long", "Short", "Neutral"]

STRATEGIES = ("RSI Strategy", "MACD Strategy", "Volume Strategy", "Bollinger Bands Strategy")
"""The strategies the seed names, in the order ``GET /ai/strategies`` lists them."""


@dataclass(frozen=True, slots=True)
class MarketAnalysis:
    trend_direction: Literal["Bullish", "Bearish", "Sideways"]
    trend_strength: float
    support_levels: tuple[float, ...]
    resistance_levels: tuple[float, ...]
    volatility_level: Literal["Low", "Medium", "High"]
    volume_analysis: str


@dataclass(frozen=True, slots=True)
class RiskAssessment:
    overall_risk: Literal["Low", "Medium", "High"]
    technical_risk: float
    market_risk: float
    recommended_position_size: float
    stop_loss_suggestion: float | None
    take_profit_suggestion: float | None


@dataclass(frozen=True, slots=True)
class Signal:
    """One analyst decision; ``confidence`` is the analyst's probability that it works out."""

    symbol: str
    signal: Direction
    confidence: float
    reasoning: str
    strategy_scores: dict[str, float]
    market_analysis: MarketAnalysis
    risk_assessment: RiskAssessment
    timestamp: int  # epoch milliseconds, as the seed
    analyst: str = "rules"
    timeframe: str | None = None  # the timeframe the levels and horizon refer to
    entry_price: float | None = None
    extras: dict[str, object] = field(default_factory=dict)  # indicators and structure cited


def signal_record(signal: Signal) -> dict[str, Any]:
    """The signal as plain JSON-ready data, every value as the analyst gave it: how it is stored.

    The keys are the seed's response keys, so a stored record reads like the seed's document; how
    it is shown (rounding, the ``[RECENT]`` prefix) is the API's business.
    """
    market, risk = signal.market_analysis, signal.risk_assessment
    return {
        "signal": signal.signal,
        "confidence": signal.confidence,
        "reasoning": signal.reasoning,
        "strategy_scores": dict(signal.strategy_scores),
        "market_analysis": {
            "trend_direction": market.trend_direction,
            "trend_strength": market.trend_strength,
            "support_levels": list(market.support_levels),
            "resistance_levels": list(market.resistance_levels),
            "volatility_level": market.volatility_level,
            "volume_analysis": market.volume_analysis,
        },
        "risk_assessment": {
            "overall_risk": risk.overall_risk,
            "technical_risk": risk.technical_risk,
            "market_risk": risk.market_risk,
            "recommended_position_size": risk.recommended_position_size,
            "stop_loss_suggestion": risk.stop_loss_suggestion,
            "take_profit_suggestion": risk.take_profit_suggestion,
        },
        "timestamp": signal.timestamp,
    }
