"""The answer a language model must give, as a Pydantic model (for validation) and its JSON
schema (for structured output); ``LLMSignal.prices`` turns it into the seed's ``/ai/analyze`` levels.

Levels are asked as distances from the current price in percent (``stop_loss_pct``: 1.5 means
1.5% away, on the losing side), not as prices. A price depends on the instrument's scale (0.104 for
ETH/BTC, 65,000 for BTC/USDT) and a level on the wrong side of the price is the commonest invalid
answer; a positive distance is on the right side by construction, whatever the model's size.

The schema sent to the model is *closed* (``signal_schema``): ``strategy_scores`` has exactly
the strategies asked for, no object takes other keys, and strings and lists have caps, because a
server that turns the schema into a grammar (llama.cpp) lets a small model invent keys until the
context is full. Grammars do not enforce number bounds, so the answer is validated again after
parsing (``parse_answer``), bounds included.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = [
    "LLMMarketAnalysis",
    "LLMRiskAssessment",
    "LLMSignal",
    "SIGNAL_SCHEMA",
    "extract_json",
    "parse_answer",
    "signal_schema",
]


MAX_DISTANCE_PCT = 50.0
"""A level further than this from the price is not a level for a signal scored over ~24 bars."""

Distance = Annotated[float, Field(gt=0, le=MAX_DISTANCE_PCT)]


class LLMMarketAnalysis(BaseModel):
    model_config = ConfigDict(extra="ignore")

    trend_direction: Literal["Bullish", "Bearish", "Sideways"]
    trend_strength: float = Field(ge=0, le=1)
    support_levels_pct: list[Distance] = Field(default_factory=list, max_length=10,
                                               description="percent below the current price")
    resistance_levels_pct: list[Distance] = Field(default_factory=list, max_length=10,
                                                  description="percent above the current price")
    volatility_level: Literal["Low", "Medium", "High"]
    volume_analysis: str = Field(max_length=2000)


class LLMRiskAssessment(BaseModel):
    model_config = ConfigDict(extra="ignore")

    overall_risk: Literal["Low", "Medium", "High"]
    technical_risk: float = Field(ge=0, le=1)
    market_risk: float = Field(ge=0, le=1)
    recommended_position_size: float = Field(ge=0, le=1)
    stop_loss_pct: Distance | None = Field(default=None, description="percent from the price, on the losing side")
    take_profit_pct: Distance | None = Field(default=None, description="percent from the price, on the winning side")


class LLMSignal(BaseModel):
    model_config = ConfigDict(extra="ignore")

    signal: Literal["Long", "Short", "Neutral"]
    confidence: float = Field(ge=0, le=1, description="probability that the signal succeeds")
    reasoning: str = Field(min_length=1, max_length=8000)
    strategy_scores: dict[str, float] = Field(default_factory=dict)
    market_analysis: LLMMarketAnalysis
    risk_assessment: LLMRiskAssessment

    @field_validator("strategy_scores")
    @classmethod
    def _scores(cls, value: dict[str, float]) -> dict[str, float]:
        for name, score in value.items():
            if not 0 <= score <= 1:
                raise ValueError(f"strategy score {name!r} must be within 0..1")
        return value

    def prices(self, entry: float) -> tuple[float | None, float | None, tuple[float, ...], tuple[float, ...]]:
        """``(stop_loss, take_profit, supports, resistances)`` as prices around ``entry``; Neutral has no levels."""
        risk, market = self.risk_assessment, self.market_analysis
        below = lambda pct: entry * (1 - pct / 100)  # noqa: E731
        above = lambda pct: entry * (1 + pct / 100)  # noqa: E731
        stop = take = None
        if self.signal == "Long":
            stop = None if risk.stop_loss_pct is None else below(risk.stop_loss_pct)
            take = None if risk.take_profit_pct is None else above(risk.take_profit_pct)
        elif self.signal == "Short":
            stop = None if risk.stop_loss_pct is None else above(risk.stop_loss_pct)
            take = None if risk.take_profit_pct is None else below(risk.take_profit_pct)
        supports = tuple(below(p) for p in sorted(set(market.support_levels_pct)))
        resistances = tuple(above(p) for p in sorted(set(market.resistance_levels_pct)))
        return stop, take, supports, resistances


SIGNAL_SCHEMA: dict[str, Any] = LLMSignal.model_json_schema()

REASONING_CHARS = 1200  # what the schema lets a model write; validation accepts longer from a model that ignores it
LEVELS = 5


def signal_schema(strategies: Sequence[str]) -> dict[str, Any]:
    """The closed answer schema for a request scoring ``strategies`` (cached: a few combinations recur)."""
    return _closed(tuple(strategies))


@functools.lru_cache(maxsize=64)
def _closed(strategies: tuple[str, ...]) -> dict[str, Any]:
    schema = copy.deepcopy(SIGNAL_SCHEMA)
    for node in (schema, *schema.get("$defs", {}).values()):
        node["additionalProperties"] = False
        node["required"] = list(node["properties"])  # every key, nullable ones included: nothing left to invent
    properties = schema["properties"]
    properties["reasoning"]["maxLength"] = REASONING_CHARS
    properties["strategy_scores"] = {
        "type": "object",
        "properties": {name: {"type": "number", "minimum": 0, "maximum": 1} for name in strategies},
        "required": list(strategies),
        "additionalProperties": False,
    }
    market = schema["$defs"]["LLMMarketAnalysis"]["properties"]
    for name in ("support_levels_pct", "resistance_levels_pct"):
        market[name]["maxItems"] = LEVELS
    market["volume_analysis"]["maxLength"] = 300
    return schema

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def extract_json(text: str) -> Any:
    """The JSON object in a model's text: the whole text, a fenced block, or the outermost braces."""
    candidates = [text.strip()]
    candidates += [m.strip() for m in _FENCE.findall(text)]
    first, last = text.find("{"), text.rfind("}")
    if 0 <= first < last:
        candidates.append(text[first:last + 1])
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    raise ValueError("no JSON object found in the answer")


def parse_answer(text: str) -> tuple[LLMSignal | None, str | None]:
    """Validate an answer, bounds included; returns the signal or the reason it is unusable (for the repair)."""
    try:
        data = extract_json(text)
    except ValueError as exc:
        return None, str(exc)
    try:
        return LLMSignal.model_validate(data), None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'answer'}: {e['msg']}" for e in exc.errors()[:8])
        return None, f"the JSON does not match the schema: {problems}"
