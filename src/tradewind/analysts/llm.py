"""The LLM analyst: any OpenAI-compatible model, validated, logged with its cost, never an error.

For each request it computes the same multi-timeframe analysis as the rule-based analyst, asks
the model (structured output where the server supports it), validates the answer, allows one
repair round, and falls back to the rule-based signal when the model is unreachable, rate
limited or still wrong. Every attempt is written to the decision log with the exact prompt, the
raw answer, tokens, latency and cost; an answer already logged for the same model and prompt is
replayed from the log instead of paying again (``offline`` allows nothing else).
The signal's ``extras`` say what happened: ``source`` (llm, llm_repaired, cache, rules_fallback)
and ``source_reason`` (for ``cache``: the decision replayed; a replay is not logged again).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from tradewind.analysts.base import AnalysisRequest, request_hash
from tradewind.analysts.decisions import Decision, DecisionLog, DecisionSource
from tradewind.analysts.llm_port import ChatClient, ChatResult, Message
from tradewind.analysts.llm_schema import SIGNAL_SCHEMA, LLMSignal, parse_answer
from tradewind.analysts.pricing import cost_usd
from tradewind.analysts.prompt import PROMPT_VERSION, build_messages, prompt_hash, repair_messages
from tradewind.analysts.rules import RulesAnalyst
from tradewind.domain.clock import Clock, SystemClock
from tradewind.domain.errors import LLMError
from tradewind.domain.signal import MarketAnalysis, RiskAssessment, Signal

__all__ = ["LLMAnalyst"]

log = logging.getLogger(__name__)


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
    ) -> None:
        self.client = client
        self.decisions = decisions
        self.rules = rules or RulesAnalyst()
        self.prices = prices
        self.clock = clock or SystemClock()
        self.offline = offline
        self.use_cache = use_cache
        self.name = f"llm:{client.model}"
        self.spent_usd = 0.0  # what this analyst's model calls cost so far (known prices only)
        self.calls = 0

    # --- the port --------------------------------------------------------------------------------
    def replay_key(self, request: AnalysisRequest) -> str:
        """The decision log's ``input_hash``: the request plus everything that shapes the prompt, so
        a replay finds its answer without rebuilding the analysis (the prompt is a deterministic
        function of these), and a new prompt version never reuses old answers."""
        return hashlib.sha256(f"{PROMPT_VERSION}|{self.rules.window}|{request_hash(request)}".encode()).hexdigest()

    def analyze(self, request: AnalysisRequest) -> Signal:
        replay = self.replay_key(request)
        primary = min(request.candles, key=lambda tf: tf.seconds)
        entry = request.current_price or float(request.candles[primary].close[-1])
        if self.use_cache and self.decisions is not None:
            hit = self.decisions.replay(self.client.model, replay)
            if hit is not None:  # a replay is not a model call: nothing new to log
                decision_id, parsed = hit
                return self._signal(request, LLMSignal.model_validate(parsed), primary.value, entry, "cache",
                                    f"replayed decision {decision_id}")
        views = self.rules.views(request)
        reference = self.rules.decide(request, views)
        messages = build_messages(request, views, reference)
        key = prompt_hash(self.client.model, messages)
        base = {"request": request, "messages": messages, "key": key, "timeframe": reference.timeframe, "replay": replay}
        if self.use_cache and self.decisions is not None:  # the same prompt from another input: same answer
            same = self.decisions.cached(self.client.model, key)
            if same is not None and same.parsed is not None:
                return self._signal(request, LLMSignal.model_validate(same.parsed), reference.timeframe, entry, "cache",
                                    f"replayed decision {same.decision_id} (same prompt)")
        if self.offline:
            return self._fallback(reference, "offline: no cached answer for this prompt", base, result=None)

        try:
            first = self.client.complete(messages, schema=SIGNAL_SCHEMA)
        except LLMError as exc:
            return self._fallback(reference, f"{exc.kind}: {exc}", base, result=None)
        answer, problem = parse_answer(first.text, entry=entry)
        if answer is not None:
            answer = _complete(answer, request, reference)
            self._record(**base, source="llm", result=first, raw=first.text, parsed=answer.model_dump(), error=None)
            return self._signal(request, answer, reference.timeframe, entry, "llm", f"answered in {first.response_format}")

        repair = repair_messages(messages, first.text, problem or "invalid")
        try:
            second = self.client.complete(repair, schema=SIGNAL_SCHEMA)
        except LLMError as exc:
            return self._fallback(reference, f"invalid answer ({problem}); repair failed: {exc.kind}: {exc}", base,
                                  result=first, raw=first.text)
        answer, problem2 = parse_answer(second.text, entry=entry)
        merged = _merge(first, second)
        if answer is not None:
            answer = _complete(answer, request, reference)
            self._record(**base, source="llm_repaired", result=merged, raw=second.text, parsed=answer.model_dump(),
                         error=None)
            return self._signal(request, answer, reference.timeframe, entry, "llm_repaired",
                                f"repaired: first answer {problem}")
        return self._fallback(reference, f"invalid answer after one repair: {problem2}", base, result=merged,
                              raw=second.text)

    # --- helpers ---------------------------------------------------------------------------------
    def _fallback(self, reference: Signal, reason: str, base: dict[str, Any], *, result: ChatResult | None,
                  raw: str | None = None) -> Signal:
        log.warning("%s fell back to the rule-based analyst: %s", self.name, reason)
        self._record(**base, source="rules_fallback", result=result, raw=raw, parsed=None, error=reason)
        extras = {**reference.extras, "source": "rules_fallback", "source_reason": reason, "model": self.client.model}
        return replace(reference, extras=extras)

    def _signal(self, request: AnalysisRequest, answer: LLMSignal, timeframe: str | None, entry: float,
                source: DecisionSource, reason: str) -> Signal:
        market, risk = answer.market_analysis, answer.risk_assessment
        neutral = answer.signal == "Neutral"
        return Signal(
            symbol=request.symbol,
            signal=answer.signal,
            confidence=answer.confidence,
            reasoning=answer.reasoning,
            strategy_scores={name: answer.strategy_scores.get(name, 0.5) for name in request.selected_strategies},
            market_analysis=MarketAnalysis(
                trend_direction=market.trend_direction, trend_strength=market.trend_strength,
                support_levels=tuple(sorted((p for p in market.support_levels if p < entry), reverse=True)),
                resistance_levels=tuple(sorted(p for p in market.resistance_levels if p > entry)),
                volatility_level=market.volatility_level, volume_analysis=market.volume_analysis,
            ),
            risk_assessment=RiskAssessment(
                overall_risk=risk.overall_risk, technical_risk=risk.technical_risk, market_risk=risk.market_risk,
                recommended_position_size=0.0 if neutral else risk.recommended_position_size,
                stop_loss_suggestion=None if neutral else risk.stop_loss_suggestion,
                take_profit_suggestion=None if neutral else risk.take_profit_suggestion,
            ),
            timestamp=request.timestamp_ms,
            analyst=self.name,
            timeframe=timeframe,
            entry_price=entry,
            extras={"source": source, "source_reason": reason, "model": self.client.model},
        )

    def _record(self, *, request: AnalysisRequest, messages: list[Message], key: str, timeframe: str | None,
                replay: str, source: DecisionSource, result: ChatResult | None, raw: str | None, parsed: dict[str, Any] | None,
                error: str | None) -> None:
        prompt_tokens = completion_tokens = total_tokens = cost = None
        if result is not None:
            prompt_tokens, completion_tokens, total_tokens = result.prompt_tokens, result.completion_tokens, result.total_tokens
            cost = cost_usd(result.model or self.client.model, prompt_tokens, completion_tokens, self.prices)
            self.calls += 1
            self.spent_usd += cost or 0.0
        if self.decisions is None:
            return
        decision = Decision(
            decision_id="dec_" + uuid.uuid4().hex[:20],
            created_at=datetime.fromtimestamp(self.clock.now(), timezone.utc),
            analyst=self.name,
            symbol=request.symbol,
            timeframe=timeframe,
            input_hash=replay,
            prompt_hash=key,
            prompt=list(messages),
            model=self.client.model,
            raw_response=raw,
            parsed=parsed,
            source=source,
            latency_ms=result.latency_ms if result is not None else None,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=total_tokens,
            cost_usd=cost,
            error=error,
            signal_id=request.extras.get("signal_id"),  # type: ignore[arg-type]
        )
        try:
            self.decisions.record(decision)
        except Exception:  # the log must never turn an answer into an error
            log.exception("could not record decision %s", decision.decision_id)


def _complete(answer: LLMSignal, request: AnalysisRequest, reference: Signal) -> LLMSignal:
    """Fill strategies the model left out with the rule analyst's scores, before logging, so a
    replay from the log gives exactly the same signal."""
    scores = {name: answer.strategy_scores.get(name, reference.strategy_scores.get(name, 0.5))
              for name in request.selected_strategies}
    return answer.model_copy(update={"strategy_scores": scores})


def _merge(first: ChatResult, second: ChatResult) -> ChatResult:
    """Both calls of a repaired answer count: tokens and latency add up."""

    def add(a: int | None, b: int | None) -> int | None:
        return None if a is None and b is None else (a or 0) + (b or 0)

    return replace(
        second,
        latency_ms=first.latency_ms + second.latency_ms,
        prompt_tokens=add(first.prompt_tokens, second.prompt_tokens),
        completion_tokens=add(first.completion_tokens, second.completion_tokens),
        total_tokens=add(first.total_tokens, second.total_tokens),
    )
