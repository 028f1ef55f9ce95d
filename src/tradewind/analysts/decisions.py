"""The AI decision log: every model call with its input, prompt, raw answer, parse, tokens, latency
and cost, and the cache of answers by (model, prompt hash) that makes replays exact and free."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

__all__ = ["Decision", "DecisionLog", "DecisionSource"]

DecisionSource = Literal["llm", "llm_repaired", "cache", "rules_fallback"]


@dataclass(frozen=True)
class Decision:
    decision_id: str
    created_at: datetime
    analyst: str  # e.g. "llm:gpt-4o-mini"
    symbol: str
    timeframe: str | None
    input_hash: str  # hash of the candles and context the analysis saw
    prompt_hash: str  # sha256 of the exact messages sent (with the model: the cache key)
    prompt: list[dict[str, str]]  # the exact messages
    model: str | None
    raw_response: str | None
    parsed: dict[str, Any] | None  # the validated decision (seed response shape), None if invalid
    source: DecisionSource
    latency_ms: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None
    cost_usd: float | None  # None when the model has no price in the table (never guessed)
    error: str | None
    signal_id: str | None = None


class DecisionLog(Protocol):
    def record(self, decision: Decision) -> None: ...

    def cached(self, model: str, prompt_hash: str) -> Decision | None:
        """The newest decision for this model and prompt with a valid parsed answer."""
        ...

    def replay(self, model: str, input_hash: str) -> tuple[str, dict[str, Any]] | None:
        """``(decision_id, parsed)`` of the newest valid answer for this model and input hash: a
        replay finds its answer without rebuilding the prompt."""
        ...

    def query(self, *, symbol: str | None = None, since: datetime | None = None, limit: int = 100) -> list[Decision]:
        """Newest first."""
        ...

    def iterate(self, *, symbol: str | None = None, since: datetime | None = None) -> Iterator[Decision]:
        """Every matching decision, oldest first, fetched in batches (for exports)."""
        ...

    def usage(self) -> dict[str, Any]:
        """``{"by_model": [{model, calls, prompt_tokens, completion_tokens, total_tokens, cost_usd}],
        "by_day": [{day, calls, total_tokens, cost_usd}], "total": {...}}``; cost sums skip unknown prices."""
        ...
