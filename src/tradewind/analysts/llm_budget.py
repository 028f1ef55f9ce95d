"""What a run of the LLM analyst would cost, before it runs.

The requests a replay will make are checked against the decision log: those already answered
replay for free; for the rest the prompt of the first one is built and its tokens estimated at
four characters a token (the usual rule of thumb for OpenAI tokenizers on English and JSON; it
is an estimate and says so), completions at the average the log has seen for this model (else
400 tokens), priced with the configured table. Unknown price: the cost is None, never a guess.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tradewind.analysts.base import AnalysisRequest
from tradewind.analysts.llm import LLMAnalyst
from tradewind.analysts.pricing import cost_usd
from tradewind.analysts.prompt import build_messages

__all__ = ["CHARS_PER_TOKEN", "CostEstimate", "estimate_run"]

CHARS_PER_TOKEN = 4
DEFAULT_COMPLETION_TOKENS = 400


@dataclass(frozen=True)
class CostEstimate:
    requests: int
    cached: int  # answered from the decision log: free
    calls: int  # would call the model
    prompt_tokens_per_call: int | None
    completion_tokens_per_call: int
    cost_per_call_usd: float | None
    total_usd: float | None

    def describe(self, model: str) -> str:
        cost = "unknown (no price for this model)" if self.total_usd is None else f"about ${self.total_usd:.4f}"
        tokens = f"~{self.prompt_tokens_per_call} prompt + ~{self.completion_tokens_per_call} completion tokens each"
        return (f"{self.requests} analyses: {self.cached} from the decision log, {self.calls} calls to {model} "
                f"({tokens if self.calls else 'none needed'}): {cost if self.calls else '$0'}")


def estimate_run(analyst: LLMAnalyst, requests: Iterable[AnalysisRequest], *,
                 completion_tokens: int | None = None) -> CostEstimate:
    model = analyst.client.model
    total = cached = 0
    first_uncached: AnalysisRequest | None = None
    for request in requests:
        total += 1
        hit = analyst.decisions.replay(model, analyst.replay_key(request)) if analyst.decisions else None
        if hit is not None:
            cached += 1
        elif first_uncached is None:
            first_uncached = request
    calls = total - cached
    completion = completion_tokens or _average_completion(analyst) or DEFAULT_COMPLETION_TOKENS
    prompt_tokens = None
    per_call = None
    if first_uncached is not None:
        views = analyst.rules.views(first_uncached)
        messages = build_messages(first_uncached, views, analyst.rules.decide(first_uncached, views))
        prompt_tokens = sum(len(m["content"]) for m in messages) // CHARS_PER_TOKEN
        per_call = cost_usd(model, prompt_tokens, completion, analyst.prices)
    total_cost = 0.0 if calls == 0 else (None if per_call is None else per_call * calls)
    return CostEstimate(total, cached, calls, prompt_tokens, completion, per_call, total_cost)


def _average_completion(analyst: LLMAnalyst) -> int | None:
    if analyst.decisions is None:
        return None
    for row in analyst.decisions.usage().get("by_model", []):
        if row.get("model") == analyst.client.model and row.get("completion_tokens") and row.get("calls"):
            return int(row["completion_tokens"] / row["calls"])
    return None
