"""Request bodies of the AI-service seed's endpoints, as pydantic models.

They check JSON types only; the rules about the values (finite prices, high >= low, sorted
timestamps, known timeframes and strategies, a sane ``current_price``) live in
``trading.analysis_input`` so every door applies the same ones.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field
from typing_extensions import TypedDict

__all__ = [
    "AnalyzeBody",
    "CandleBody",
    "FeedbackBody",
    "MarketConditionBody",
    "StrategyContextBody",
    "StrategyRecommendationsBody",
]


class CandleBody(TypedDict):
    """One candle; a TypedDict rather than a model because requests carry hundreds of them and
    validating into plain dicts is markedly cheaper."""

    timestamp: Annotated[int, Field(description="candle open time, epoch milliseconds")]
    open: float
    high: float
    low: float
    close: float
    volume: float


class StrategyContextBody(BaseModel):
    selected_strategies: list[str] | None = None
    market_condition: str | None = None
    risk_level: str | None = Field(None, description="Conservative, Moderate or Aggressive")
    user_preferences: dict[str, Any] = Field(default_factory=dict)
    technical_indicators: dict[str, Any] = Field(default_factory=dict)


class AnalyzeBody(BaseModel):
    symbol: str = Field(examples=["BTCUSDT"])
    timeframe_data: dict[str, list[CandleBody]] | None = Field(
        None, description="candles per timeframe (1m 5m 15m 30m 1h 4h 1d or M1..D1), oldest first; "
        "omit to analyse the streamer's own candles for a streamed symbol",
    )
    current_price: float | None = None
    volume_24h: float | None = None
    timestamp: int | None = Field(None, description="epoch milliseconds")
    strategy_context: StrategyContextBody | None = None


class StrategyRecommendationsBody(BaseModel):
    symbol: str
    timeframe_data: dict[str, list[CandleBody]] | None = None
    current_price: float | None = None
    timestamp: int | None = None
    available_strategies: list[str] | None = None


class MarketConditionBody(BaseModel):
    symbol: str
    timeframe_data: dict[str, list[CandleBody]] | None = None
    current_price: float | None = None
    volume_24h: float | None = None
    timestamp: int | None = None


class FeedbackBody(BaseModel):
    signal_id: str = Field(min_length=1, max_length=40)
    symbol: str
    predicted_signal: Literal["Long", "Short", "Neutral"]
    actual_outcome: Literal["PROFIT", "LOSS", "NEUTRAL"]
    profit_loss: float | None = Field(None, allow_inf_nan=False)
    confidence_was_accurate: bool | None = None
    feedback_notes: str | None = Field(None, max_length=4000)
    timestamp: int | None = None
