"""The answer a language model must give: the AI-service seed's ``/ai/analyze`` response, as a
Pydantic model (for validation) and its JSON schema (for structured output)."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = ["LLMMarketAnalysis", "LLMRiskAssessment", "LLMSignal", "SIGNAL_SCHEMA", "extract_json", "parse_answer"]


class LLMMarketAnalysis(BaseModel):
    model_config = ConfigDict(extra="ignore")

    trend_direction: Literal["Bullish", "Bearish", "Sideways"]
    trend_strength: float = Field(ge=0, le=1)
    support_levels: list[float] = Field(default_factory=list, max_length=10)
    resistance_levels: list[float] = Field(default_factory=list, max_length=10)
    volatility_level: Literal["Low", "Medium", "High"]
    volume_analysis: str = Field(max_length=2000)


class LLMRiskAssessment(BaseModel):
    model_config = ConfigDict(extra="ignore")

    overall_risk: Literal["Low", "Medium", "High"]
    technical_risk: float = Field(ge=0, le=1)
    market_risk: float = Field(ge=0, le=1)
    recommended_position_size: float = Field(ge=0, le=1)
    stop_loss_suggestion: float | None = Field(default=None, gt=0)
    take_profit_suggestion: float | None = Field(default=None, gt=0)


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


SIGNAL_SCHEMA: dict[str, Any] = LLMSignal.model_json_schema()

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


def parse_answer(text: str, *, entry: float) -> tuple[LLMSignal | None, str | None]:
    """Validate an answer; returns the signal or the reason it is unusable (for the repair round)."""
    try:
        data = extract_json(text)
    except ValueError as exc:
        return None, str(exc)
    try:
        answer = LLMSignal.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'answer'}: {e['msg']}" for e in exc.errors()[:8])
        return None, f"the JSON does not match the schema: {problems}"
    risk = answer.risk_assessment
    stop, take = risk.stop_loss_suggestion, risk.take_profit_suggestion
    if answer.signal == "Long" and ((stop is not None and stop >= entry) or (take is not None and take <= entry)):
        return None, f"a Long needs stop_loss < entry {entry} < take_profit (got {stop}, {take})"
    if answer.signal == "Short" and ((stop is not None and stop <= entry) or (take is not None and take >= entry)):
        return None, f"a Short needs take_profit < entry {entry} < stop_loss (got {take}, {stop})"
    return answer, None
