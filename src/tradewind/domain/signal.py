"""A trading signal: what an analyst concludes, in the shape of the AI-service seed's response.

Analysts (rule-based or LLM) produce it; storage, the API, the outcome scorer and the
performance report consume it. Field names follow the seed so that the API maps one to one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "Direction",
    "MarketAnalysis",
    "RiskAssessment",
    "STRATEGIES",
    "Signal",
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
