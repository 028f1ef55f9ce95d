"""The AI decision log: every model call with its input, prompt, raw answer, parse, tokens, latency
and cost, and the cache of answers by (model, prompt hash) that makes replays exact and free.

One row per model call: a decision that needed a repair is two rows (``attempt`` 1 and 2, the
second naming the first as ``parent_id``), each with its own prompt, answer, tokens and latency.
A decision answered from the log, or made offline without a call, writes no row.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol, TypedDict

__all__ = ["Decision", "DecisionFilter", "DecisionLog", "DecisionSource"]

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
    attempt: int = 1  # 1: the decision's first call; 2: its repair
    parent_id: str | None = None  # the repair's first call
    prompt_detail: str | None = None  # full, compact or minimal (see analysts.prompt)
    prompt_budget: int | None = None  # the token budget the prompt was fitted to; None: none
    finish_reason: str | None = None  # "length": the output cap cut the answer


class DecisionFilter(TypedDict, total=False):
    """Which decisions a listing or an export covers; a missing or None key matches every row.

    ``symbol`` in any spelling; ``analyst`` and ``model`` exactly as logged (``llm:gpt-4o-mini``,
    ``gpt-4o-mini``); ``since`` inclusive and ``until`` exclusive, so adjacent windows never share
    a row; ``text`` a case-insensitive substring of any prompt message's content or of the raw
    response, taken literally (``%`` and ``_`` are not wildcards).
    """

    symbol: str | None
    analyst: str | None
    model: str | None
    since: datetime | None
    until: datetime | None
    text: str | None


class DecisionLog(Protocol):
    def record(self, decision: Decision) -> None: ...

    def cached(self, model: str, prompt_hash: str) -> Decision | None:
        """The newest valid answer for this model and prompt: a call with that prompt, or the repair of one."""
        ...

    def replay(self, model: str, input_hash: str) -> tuple[str, dict[str, Any], str] | None:
        """``(decision_id, parsed, source)`` of the newest valid answer for this model and input hash:
        a replay finds its answer without rebuilding the prompt, and knows how it was first made."""
        ...

    def query(self, *, symbol: str | None = None, analyst: str | None = None, model: str | None = None,
              since: datetime | None = None, until: datetime | None = None, text: str | None = None,
              limit: int = 100) -> list[Decision]:
        """The newest ``limit`` decisions matching every given filter (see ``DecisionFilter``), newest first."""
        ...

    def iterate(self, *, symbol: str | None = None, analyst: str | None = None, model: str | None = None,
                since: datetime | None = None, until: datetime | None = None,
                text: str | None = None) -> Iterator[Decision]:
        """Every matching decision (see ``DecisionFilter``), oldest first, fetched in batches (for exports)."""
        ...

    def usage(self) -> dict[str, Any]:
        """``{"by_model": [{model, calls, prompt_tokens, completion_tokens, total_tokens, cost_usd}],
        "by_day": [{day, calls, total_tokens, cost_usd}], "total": {...}}``; one call per row, cost sums
        skip unknown prices; ``by_model`` also gives ``repairs`` (second calls), for estimates."""
        ...
