"""The LLM analyst: any OpenAI-compatible model, validated, logged with its cost, never an error.

For each request it computes the same multi-timeframe analysis as the rule-based analyst, fits the
prompt to the token budget (``prompt.fit_prompt``), asks the model for the closed answer schema
with the output capped at ``max_tokens``, validates the answer, allows one repair round (which
sends only the problem, the price and the answer, not the market data again), and falls back to
the rule-based signal when the model is unreachable, rate limited or still wrong.

Every model call is its own row in the decision log, with its own prompt, raw answer, tokens,
latency, cost and finish reason; a repair names its first call. An answer already logged for the
same model and input (or prompt) is replayed from the log instead of paying again, and writes no
row; ``offline`` allows nothing else. A ``SpendLimit`` is checked before every call.

The signal's ``extras`` say what happened: ``source`` (llm, llm_repaired, cache, rules_fallback),
``source_reason`` (for ``cache``: the decision replayed, and ``origin``: how that answer was first
made, llm or llm_repaired), ``transient`` (the fallback came from a
failure that may pass: a timeout, a 5xx, the server unreachable or rate limited) and the prompt's
``prompt_detail`` and ``prompt_tokens``.
"""

from __future__ import annotations

import json
import hashlib
import logging
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

from tradewind.analysts.base import AnalysisRequest, request_hash
from tradewind.analysts.decisions import Decision, DecisionLog, DecisionSource
from tradewind.analysts.llm_port import ChatClient, ChatResult, Message
from tradewind.analysts.llm_schema import LLMSignal, parse_answer, signal_schema
from tradewind.analysts.pricing import cost_usd
from tradewind.analysts.prompt import PROMPT_VERSION, Prompt, fit_prompt, prompt_hash, repair_messages
from tradewind.analysts.rules import RulesAnalyst
from tradewind.analysts.spend import SpendLimit, SpendLimitReached
from tradewind.domain.clock import Clock, SystemClock
from tradewind.domain.errors import LLMError
from tradewind.domain.signal import MarketAnalysis, RiskAssessment, Signal

__all__ = ["DEFAULT_MAX_TOKENS", "DEFAULT_PROMPT_BUDGET", "TRANSIENT_KINDS", "LLMAnalyst"]

log = logging.getLogger(__name__)

DEFAULT_PROMPT_BUDGET = 2000
"""Prompt tokens by default: with the output cap and a repair round this fits a 4k context."""
DEFAULT_MAX_TOKENS = 600
"""Output cap by default: the seed's answer with a few sentences of reasoning takes 300-450 tokens."""
TRANSIENT_KINDS = frozenset({"timeout", "server_error", "unreachable", "rate_limited"})


@dataclass(frozen=True)
class _Call:
    """One model call on its way to the log."""

    decision_id: str
    attempt: int
    messages: list[Message]
    result: ChatResult | None
    parsed: dict[str, Any] | None
    error: str | None


class LLMAnalyst:
    def __init__(
        self,
        client: ChatClient,
        *,
        decisions: DecisionLog | None = None,
        rules: RulesAnalyst | None = None,
        prices: dict[str, tuple[float, float]] | None = None,
        clock: Clock | None = None,
        offline: bool = False,
        use_cache: bool = True,
        prompt_budget: int | None = DEFAULT_PROMPT_BUDGET,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        limit: SpendLimit | None = None,
    ) -> None:
        if prompt_budget is not None and prompt_budget < 1:
            raise ValueError("prompt_budget must be positive (None: the full prompt)")
        if max_tokens < 1:
            raise ValueError("max_tokens must be positive")
        self.client = client
        self.decisions = decisions
        self.rules = rules or RulesAnalyst()
        self.prices = prices
        self.clock = clock or SystemClock()
        self.offline = offline
        self.use_cache = use_cache
        self.prompt_budget = prompt_budget
        self.max_tokens = max_tokens
        self.limit = limit
        self.name = f"llm:{client.model}"
        self.spent_usd = 0.0  # what this analyst's model calls cost so far (known prices only)
        self.calls = 0

    # --- the port --------------------------------------------------------------------------------
    def replay_key(self, request: AnalysisRequest) -> str:
        """The decision log's ``input_hash``: the request plus everything that shapes the prompt, so
        a replay finds its answer without rebuilding the analysis (the prompt is a deterministic
        function of these), and a new prompt version or budget never reuses old answers."""
        shape = f"{PROMPT_VERSION}|{self.rules.window}|{self.prompt_budget}|{request_hash(request)}"
        return hashlib.sha256(shape.encode()).hexdigest()

    def prompt_for(self, request: AnalysisRequest) -> tuple[Prompt, Signal]:
        """The prompt this analyst would send for ``request``, and the rule-based reference in it."""
        views = self.rules.views(request)
        reference = self.rules.decide(request, views)
        count = self.client.count_tokens if self.prompt_budget is not None else (lambda _: None)
        return fit_prompt(request, views, reference, budget=self.prompt_budget, count=count), reference

    def analyze(self, request: AnalysisRequest) -> Signal:
        replay = self.replay_key(request)
        primary = min(request.candles, key=lambda tf: tf.seconds)
        entry = request.current_price or float(request.candles[primary].close[-1])
        if self.use_cache and self.decisions is not None:
            hit = self.decisions.replay(self.client.model, replay)
            if hit is not None:  # a replay is not a model call: nothing new to log
                decision_id, parsed, origin = hit
                return self._signal(request, LLMSignal.model_validate(parsed), primary.value, entry, "cache",
                                    f"replayed decision {decision_id}", origin=origin)
        prompt, reference = self.prompt_for(request)
        key = prompt_hash(self.client.model, prompt.messages)
        if self.use_cache and self.decisions is not None:  # the same prompt from another input: same answer
            same = self.decisions.cached(self.client.model, key)
            if same is not None and same.parsed is not None:
                return self._signal(request, LLMSignal.model_validate(same.parsed), reference.timeframe, entry,
                                    "cache", f"replayed decision {same.decision_id} (same prompt)", prompt,
                                    origin=same.source)
        if self.offline:  # nothing is called, so nothing is logged
            return self._fallback(reference, prompt, "offline: no logged answer for this input", transient=False)
        return _Decide(self, request, prompt, reference, key, replay, entry).run()

    def review(self, symbol: str, question: str) -> str:
        """A short free-text review (a trading reflection): one capped, logged model call, answered
        from the log when the same question was asked before; raises when the model fails."""
        messages: list[Message] = [
            {"role": "system", "content": "You are a trading analyst reviewing your own recent trades. Reply with "
                                          'JSON only: {"review": "<at most three sentences>"}.'},
            {"role": "user", "content": question},
        ]
        key = prompt_hash(self.client.model, messages)
        if self.use_cache and self.decisions is not None:
            same = self.decisions.cached(self.client.model, key)
            if same is not None and same.parsed is not None and isinstance(same.parsed.get("review"), str):
                return str(same.parsed["review"])
        if self.offline:
            raise LLMError(f"offline: no logged review for this question ({self.client.model})", kind="not_configured")
        result: ChatResult | None = None
        parsed: dict[str, Any] | None = None
        error: str | None = None
        try:
            result = self.call(messages, schema=REVIEW_SCHEMA, prompt_tokens=None)
            parsed = _review(result.text)
            if parsed is None:
                error = "the answer was not a JSON object with a review"
        except LLMError as exc:
            error = str(exc)[:500]
        if self.decisions is not None:
            try:
                self.decisions.record(Decision(
                    decision_id="dec_" + uuid.uuid4().hex[:20], created_at=datetime.fromtimestamp(self.clock.now(), timezone.utc),
                    analyst=self.name, symbol=symbol, timeframe=None, input_hash=key, prompt_hash=key,
                    prompt=list(messages), model=self.client.model,
                    raw_response=result.text if result is not None else None, parsed=parsed,
                    source="llm" if parsed is not None else "rules_fallback",
                    latency_ms=result.latency_ms if result is not None else None,
                    prompt_tokens=result.prompt_tokens if result is not None else None,
                    completion_tokens=result.completion_tokens if result is not None else None,
                    total_tokens=result.total_tokens if result is not None else None,
                    cost_usd=self.cost(result) if result is not None else None, error=error,
                    prompt_detail="reflection", finish_reason=result.finish_reason if result is not None else None,
                ))
            except Exception:  # the log must never turn an answer into an error
                log.exception("could not record a reflection call")
        if parsed is None:
            raise LLMError(error or "no review", kind="invalid_response")
        return str(parsed["review"])

    # --- helpers ---------------------------------------------------------------------------------
    def call(self, messages: list[Message], *, schema: dict[str, Any], prompt_tokens: int | None) -> ChatResult:
        """One capped model call, after checking the spend limit; counts what it cost."""
        if self.limit is not None:
            self.limit.check(model=self.client.model, spent_usd=self.spent_usd, prompt_tokens=prompt_tokens,
                             prompt_chars=sum(len(m["content"]) for m in messages), max_tokens=self.max_tokens,
                             prices=self.prices)
        self.calls += 1
        result = self.client.complete(messages, schema=schema, max_tokens=self.max_tokens)
        self.spent_usd += self.cost(result) or 0.0
        return result

    def cost(self, result: ChatResult) -> float | None:
        return cost_usd(result.model or self.client.model, result.prompt_tokens, result.completion_tokens, self.prices)

    def _fallback(self, reference: Signal, prompt: Prompt, reason: str, *, transient: bool) -> Signal:
        log.warning("%s fell back to the rule-based analyst: %s", self.name, reason)
        extras = {**reference.extras, "source": "rules_fallback", "source_reason": reason, "model": self.client.model,
                  "transient": transient, **_prompt_extras(prompt)}
        return replace(reference, extras=extras)

    def _signal(self, request: AnalysisRequest, answer: LLMSignal, timeframe: str | None, entry: float,
                source: DecisionSource, reason: str, prompt: Prompt | None = None, *,
                origin: str | None = None) -> Signal:
        market, risk = answer.market_analysis, answer.risk_assessment
        neutral = answer.signal == "Neutral"
        stop, take, supports, resistances = answer.prices(entry)
        return Signal(
            symbol=request.symbol,
            signal=answer.signal,
            confidence=answer.confidence,
            reasoning=answer.reasoning,
            strategy_scores={name: answer.strategy_scores.get(name, 0.5) for name in request.selected_strategies},
            market_analysis=MarketAnalysis(
                trend_direction=market.trend_direction, trend_strength=market.trend_strength,
                support_levels=supports,
                resistance_levels=resistances,
                volatility_level=market.volatility_level, volume_analysis=market.volume_analysis,
            ),
            risk_assessment=RiskAssessment(
                overall_risk=risk.overall_risk, technical_risk=risk.technical_risk, market_risk=risk.market_risk,
                recommended_position_size=0.0 if neutral else risk.recommended_position_size,
                stop_loss_suggestion=stop,
                take_profit_suggestion=take,
            ),
            timestamp=request.timestamp_ms,
            analyst=self.name,
            timeframe=timeframe,
            entry_price=entry,
            extras={"source": source, "source_reason": reason, "model": self.client.model,
                    **({"origin": origin} if origin is not None else {}),
                    **(_prompt_extras(prompt) if prompt is not None else {})},
        )


class _Decide:
    """One decision that calls the model: the first call, at most one repair, then the log."""

    def __init__(self, analyst: LLMAnalyst, request: AnalysisRequest, prompt: Prompt, reference: Signal, key: str,
                 replay: str, entry: float) -> None:
        self.analyst = analyst
        self.request = request
        self.prompt = prompt
        self.reference = reference
        self.key = key
        self.replay = replay
        self.entry = entry
        self.schema = signal_schema(request.selected_strategies)
        self.calls: list[_Call] = []
        self._failure = ""  # why the last call failed
        self._transient = False  # and whether that may pass by itself

    def run(self) -> Signal:
        try:
            return self._run()
        except SpendLimitReached:  # the calls already made are still logged
            for call in self.calls:
                self._record(call, "rules_fallback")
            raise

    def _run(self) -> Signal:
        a, prompt = self.analyst, self.prompt
        first = self._ask(prompt.messages, prompt.tokens if prompt.counted else None)
        if first is None:
            return self._done("rules_fallback", None, self._failure)
        answer, problem = self._parse(first)
        if answer is not None:
            return self._done("llm", answer, f"answered in {first.response_format}")
        repair = repair_messages(self.request, self.entry, first.text, problem)
        second = self._ask(repair, a.client.count_tokens(repair) if prompt.counted else None)
        if second is None:
            return self._done("rules_fallback", None, f"invalid answer ({problem}); repair failed: {self._failure}")
        answer, problem2 = self._parse(second)
        if answer is not None:
            return self._done("llm_repaired", answer, f"repaired: first answer {problem}")
        return self._done("rules_fallback", None, f"invalid answer after one repair: {problem2}")

    def _ask(self, messages: list[Message], tokens: int | None) -> ChatResult | None:
        decision_id = "dec_" + uuid.uuid4().hex[:20]
        try:
            result = self.analyst.call(messages, schema=self.schema, prompt_tokens=tokens)
        except LLMError as exc:
            self._failure = f"{exc.kind}: {exc}"
            self._transient = exc.kind in TRANSIENT_KINDS
            self.calls.append(_Call(decision_id, len(self.calls) + 1, messages, None, None, self._failure))
            return None
        self.calls.append(_Call(decision_id, len(self.calls) + 1, messages, result, None, None))
        return result

    def _parse(self, result: ChatResult) -> tuple[LLMSignal | None, str]:
        """The validated answer, or why it is unusable (the output cap named as such)."""
        answer, problem = parse_answer(result.text)
        call = self.calls[-1]
        if answer is None:
            if result.finish_reason == "length":
                problem = f"the answer was cut at the output cap of {self.analyst.max_tokens} tokens ({problem})"
            self.calls[-1] = replace(call, error=f"invalid answer: {problem}")
            return None, problem or "invalid"
        answer = _complete(answer, self.request, self.reference)
        self.calls[-1] = replace(call, parsed=answer.model_dump())
        return answer, ""

    def _done(self, source: DecisionSource, answer: LLMSignal | None, reason: str) -> Signal:
        for call in self.calls:
            self._record(call, source)
        a = self.analyst
        if answer is None:
            return a._fallback(self.reference, self.prompt, reason, transient=self._transient)
        return a._signal(self.request, answer, self.reference.timeframe, self.entry, source, reason, self.prompt)

    def _record(self, call: _Call, source: DecisionSource) -> None:
        a, result = self.analyst, call.result
        if a.decisions is None:
            return
        first = call.attempt == 1
        decision = Decision(
            decision_id=call.decision_id,
            created_at=datetime.fromtimestamp(a.clock.now(), timezone.utc),
            analyst=a.name,
            symbol=self.request.symbol,
            timeframe=self.reference.timeframe,
            input_hash=self.replay,
            prompt_hash=self.key if first else prompt_hash(a.client.model, call.messages),
            prompt=list(call.messages),
            model=a.client.model,
            raw_response=result.text if result is not None else None,
            parsed=call.parsed,
            source=source,
            latency_ms=result.latency_ms if result is not None else None,
            prompt_tokens=result.prompt_tokens if result is not None else None,
            completion_tokens=result.completion_tokens if result is not None else None,
            total_tokens=result.total_tokens if result is not None else None,
            cost_usd=a.cost(result) if result is not None else None,
            error=call.error,
            signal_id=self.request.extras.get("signal_id"),  # type: ignore[arg-type]
            attempt=call.attempt,
            parent_id=None if first else self.calls[0].decision_id,
            prompt_detail=self.prompt.detail if first else "repair",
            prompt_budget=self.prompt.budget,
            finish_reason=result.finish_reason if result is not None else None,
        )
        try:
            a.decisions.record(decision)
        except Exception:  # the log must never turn an answer into an error
            log.exception("could not record decision %s", decision.decision_id)


REVIEW_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["review"],
    "properties": {"review": {"type": "string", "minLength": 1, "maxLength": 2000}},
}


def _review(text: str | None) -> dict[str, Any] | None:
    """``{"review": str}`` from a model's answer (JSON, perhaps wrapped in prose), else None."""
    if not text:
        return None
    start, end = text.find("{"), text.rfind("}")
    try:
        value = json.loads(text[start:end + 1]) if 0 <= start < end else None
    except ValueError:
        return None
    review = value.get("review") if isinstance(value, dict) else None
    return {"review": review.strip()[:2000]} if isinstance(review, str) and review.strip() else None


def _prompt_extras(prompt: Prompt) -> dict[str, object]:
    return {"prompt_detail": prompt.detail, "prompt_tokens": prompt.tokens, "prompt_tokens_counted": prompt.counted,
            "prompt_budget": prompt.budget}


def _complete(answer: LLMSignal, request: AnalysisRequest, reference: Signal) -> LLMSignal:
    """Fill strategies the model left out with the rule analyst's scores, before logging, so a
    replay from the log gives exactly the same signal."""
    scores = {name: answer.strategy_scores.get(name, reference.strategy_scores.get(name, 0.5))
              for name in request.selected_strategies}
    return answer.model_copy(update={"strategy_scores": scores})
