"""Request bodies of the AI-service seed's endpoints, as pydantic models.

They check JSON types, and the bounds that keep hostile input out of memory, storage and
serialisation (string lengths, list and map sizes, timestamps within 1970..9999); the rules
about the values (finite prices, high >= low, sorted timestamps, known timeframes and
strategies, a sane ``current_price``) live in ``trading.analysis_input`` so every door applies
the same ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field
from typing_extensions import TypedDict

from tradewind.domain.epoch import MAX_EPOCH_MS
from tradewind.domain.errors import ValidationError
from tradewind.domain.signal import STRATEGIES
from tradewind.domain.symbol import MAX_SYMBOL_INPUT, SYMBOL_PATTERN
from tradewind.domain.timeframe import MAX_TIMEFRAME_INPUT, TIMEFRAME_PATTERN

__all__ = [
    "ANALYZE_FIELDS",
    "CONDITION_FIELDS",
    "RECOMMENDATION_FIELDS",
    "AnalyzeBody",
    "CandleBody",
    "FeedbackBody",
    "MarketConditionBody",
    "StrategyContextBody",
    "StrategyRecommendationsBody",
    "seed_fields",
]


def _json_number(value: Any) -> Any:
    """A JSON number only: pydantic's lax mode would also take ``true`` or ``"12"``, which the
    document (``type: number``/``integer``) calls invalid; ``12.0`` is a JSON integer and stays one."""
    if isinstance(value, (bool, str)):
        raise ValueError("must be a number")  # noqa: TRY004 - pydantic turns ValueError into a 422
    return value


Number = BeforeValidator(_json_number)
EpochMs = Annotated[int, Field(ge=0, le=MAX_EPOCH_MS, description="epoch milliseconds"), Number]
Symbol = Annotated[str, Field(min_length=1, max_length=MAX_SYMBOL_INPUT, examples=["BTCUSDT"],
                              json_schema_extra={"pattern": SYMBOL_PATTERN})]
"""The pattern is documentation: ``normalize_symbol`` applies the same rule and names the field."""
Name = Annotated[str, Field(max_length=64)]
Names = Annotated[list[Name], Field(max_length=4 * len(STRATEGIES))]
TimeframeKey = Annotated[str, Field(max_length=MAX_TIMEFRAME_INPUT, pattern=TIMEFRAME_PATTERN)]


class CandleBody(TypedDict):
    """One candle; a TypedDict rather than a model because requests carry hundreds of them and
    validating into plain dicts is markedly cheaper."""

    timestamp: Annotated[int, Field(ge=0, le=MAX_EPOCH_MS, description="candle open time, epoch milliseconds"), Number]
    open: Annotated[float, Number]
    high: Annotated[float, Number]
    low: Annotated[float, Number]
    close: Annotated[float, Number]
    volume: Annotated[float, Number]


TimeframeData = Annotated[
    dict[TimeframeKey, list[CandleBody]],
    Field(min_length=1, max_length=16, json_schema_extra={"additionalProperties": False},
          description="candles per timeframe (1m 5m 15m 30m 1h 4h 1d or M1..D1), oldest first; "
          "omit to analyse the streamer's own candles for a streamed symbol"),
]
Extra = Annotated[dict[Name, Any], Field(max_length=64)]
Price = Annotated[float, Number, Field(allow_inf_nan=False)]
Volume = Annotated[float, Number, Field(ge=0, allow_inf_nan=False)]


class StrategyContextBody(BaseModel):
    selected_strategies: Names | None = None
    market_condition: Name | None = None
    risk_level: Name | None = Field(None, description="Conservative, Moderate or Aggressive")
    user_preferences: Extra = Field(default_factory=dict)
    technical_indicators: Extra = Field(default_factory=dict)


class AnalyzeBody(BaseModel):
    symbol: Symbol
    timeframe_data: TimeframeData | None = None
    current_price: Price | None = None
    volume_24h: Volume | None = None
    timestamp: EpochMs | None = None
    strategy_context: StrategyContextBody | None = None


class StrategyRecommendationsBody(BaseModel):
    symbol: Symbol
    timeframe_data: TimeframeData | None = None
    current_price: Price | None = None
    timestamp: EpochMs | None = None
    available_strategies: Names | None = None


class MarketConditionBody(BaseModel):
    symbol: Symbol
    timeframe_data: TimeframeData | None = None
    current_price: Price | None = None
    volume_24h: Volume | None = None
    timestamp: EpochMs | None = None


class FeedbackBody(BaseModel):
    signal_id: str = Field(min_length=1, max_length=40)
    symbol: Symbol
    predicted_signal: Literal["Long", "Short", "Neutral"]
    actual_outcome: Literal["PROFIT", "LOSS", "NEUTRAL"]
    profit_loss: Annotated[float, Number] | None = Field(None, allow_inf_nan=False)
    confidence_was_accurate: bool | None = None
    feedback_notes: str | None = Field(None, max_length=4000)
    timestamp: EpochMs | None = None


ANALYZE_FIELDS = {"candles": "timeframe_data", "strategies": "strategy_context.selected_strategies",
                  "risk_level": "strategy_context.risk_level"}
RECOMMENDATION_FIELDS = {"candles": "timeframe_data", "strategies": "available_strategies"}
CONDITION_FIELDS = {"candles": "timeframe_data"}
"""The seed's names for the fields the signal service checks, per route."""

_HEAD = re.compile(r"[^.\[]+")


@contextmanager
def seed_fields(names: Mapping[str, str]) -> Iterator[None]:
    """Errors raised inside name their field (and start their message) as the seed's body does."""
    try:
        yield
    except ValidationError as exc:
        field = exc.field
        head = _HEAD.match(field) if field else None
        if field is not None and head is not None and head.group() in names:
            renamed = names[head.group()] + field[head.end():]
            message = str(exc)
            if message.startswith(field):
                exc.args = (renamed + message[len(field):],)
            elif message.startswith(head.group()):
                exc.args = (names[head.group()] + message[head.end():],)
            exc.field = renamed
        raise
