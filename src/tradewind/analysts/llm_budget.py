"""What a run of the LLM analyst would cost, before it runs.

The requests a replay will make are checked against the decision log: those already answered
replay for free. For the rest, the first one's real prompt is built and fitted to the analyst's
budget, and its size counted by the server's tokenizer where it has one (else estimated, and the
estimate says so). Calls per analysis are one plus the repair rate this model has shown in the
log (else one: there is nothing to go on, and the spend limit still holds the line); completions
are the average the log has seen for this model, else the output cap. Priced with the configured
table; an unknown price makes the cost None, never a guess.

The estimate is for planning. What keeps a run under ``--max-cost`` is ``SpendLimit``, checked
before every call against the money measured so far.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tradewind.analysts.base import AnalysisRequest
from tradewind.analysts.llm import LLMAnalyst
from tradewind.analysts.pricing import cost_usd

__all__ = ["RunEstimator", "CostEstimate", "estimate_run"]


@dataclass(frozen=True)
class CostEstimate:
    requests: int
    cached: int  # answered from the decision log: free
    analyses: int  # would call the model
    calls: float  # model calls expected: analyses x (1 + repair rate)
    repair_rate: float | None  # from the log; None when the log has no decision of this model yet
    prompt_tokens_per_call: int | None
    prompt_tokens_counted: bool  # True: the server's tokenizer counted them
    completion_tokens_per_call: int
    cost_per_call_usd: float | None
    total_usd: float | None

    def describe(self, model: str) -> str:
        if not self.analyses:
            return f"{self.requests} analyses, all from the decision log: no call to {model}, $0"
        cost = "unknown (no price for this model)" if self.total_usd is None else f"about ${self.total_usd:.4f}"
        how = "counted by the server" if self.prompt_tokens_counted else "estimated"
        repairs = "no repair history" if self.repair_rate is None else f"repair rate {self.repair_rate:.0%}"
        return (f"{self.requests} analyses: {self.cached} from the decision log, {self.analyses} to {model} "
                f"(~{self.calls:.0f} calls, {repairs}; {self.prompt_tokens_per_call} prompt tokens each, {how}, "
                f"+ ~{self.completion_tokens_per_call} completion): {cost}")


def estimate_run(analyst: LLMAnalyst, requests: Iterable[AnalysisRequest]) -> CostEstimate:
    estimator = RunEstimator(analyst)
    for request in requests:
        estimator.add(request)
    return estimator.result()


class RunEstimator:
    """An estimate built one request at a time, so a replay can feed it without keeping every
    request (each holds its candle windows) in memory."""

    def __init__(self, analyst: LLMAnalyst) -> None:
        self.analyst = analyst
        self.total = self.cached = 0
        self.first_uncached: AnalysisRequest | None = None

    def add(self, request: AnalysisRequest) -> None:
        analyst = self.analyst
        self.total += 1
        hit = analyst.decisions.replay(analyst.client.model, analyst.replay_key(request)) if analyst.decisions else None
        if hit is not None:
            self.cached += 1
        elif self.first_uncached is None:
            self.first_uncached = request

    def result(self) -> CostEstimate:
        analyst, model = self.analyst, self.analyst.client.model
        analyses = self.total - self.cached
        history = _history(analyst)
        repair_rate = history.get("repair_rate")
        completion = history.get("completion_tokens") or analyst.max_tokens
        calls = analyses * (1.0 + (repair_rate or 0.0))
        prompt_tokens: int | None = None
        counted = False
        per_call: float | None = None
        if self.first_uncached is not None:
            prompt, _ = analyst.prompt_for(self.first_uncached)
            prompt_tokens, counted = prompt.tokens, prompt.counted
            per_call = cost_usd(model, prompt_tokens, completion, analyst.prices)
        total_cost = 0.0 if analyses == 0 else (None if per_call is None else per_call * calls)
        return CostEstimate(self.total, self.cached, analyses, calls, repair_rate, prompt_tokens, counted, completion,
                            per_call, total_cost)


def _history(analyst: LLMAnalyst) -> dict[str, float | int]:
    """This model's repair rate and average completion from the log (empty when it has none)."""
    if analyst.decisions is None:
        return {}
    for row in analyst.decisions.usage().get("by_model", []):
        if row.get("model") != analyst.client.model or not row.get("calls"):
            continue
        out: dict[str, float | int] = {}
        first_calls = row["calls"] - row.get("repairs", 0)
        if first_calls > 0:
            out["repair_rate"] = row.get("repairs", 0) / first_calls
        if row.get("completion_tokens"):
            out["completion_tokens"] = int(row["completion_tokens"] / row["calls"])
        return out
    return {}
