"""The LLM analyst with a scripted model: validated answers, one repair, fallback, cache, the log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.llm_doubles import FakeChat, MemoryDecisionLog

from tradewind.analysts.base import AnalysisRequest
from tradewind.analysts.llm import LLMAnalyst
from tradewind.analysts.rules import RulesAnalyst
from tradewind.domain import Timeframe
from tradewind.domain.bars import Bars, resample
from tradewind.domain.errors import LLMError, LLMRateLimited
from tradewind.trading.analysis_input import bars_from_rows

DATA = Path(__file__).parent / "data"
FIVE = bars_from_rows(json.loads((DATA / "ETH_BTC-5m.json").read_text()))


def request(end: int = 3000) -> AnalysisRequest:
    prefix = FIVE.slice(0, end)
    hourly, done = resample(prefix, 3600, source_seconds=300)
    return AnalysisRequest(
        symbol="ETHBTC", candles={Timeframe.M5: prefix.slice(-300), Timeframe.H1: Bars(*(c[done] for c in hourly))},
        timestamp_ms=int(prefix.time[-1] + 300) * 1000, extras={"signal_id": "sig_test", "input_hash": "abc"},
    )


def answer(entry: float, *, signal: str = "Long", stop: float | None = None, take: float | None = None) -> str:
    return json.dumps({
        "signal": signal, "confidence": 0.61, "reasoning": "RSI 14 at 58 and a bullish BOS on 1h.",
        "strategy_scores": {"RSI Strategy": 0.7, "MACD Strategy": 0.6},
        "market_analysis": {"trend_direction": "Bullish", "trend_strength": 0.5, "support_levels": [entry * 0.99],
                            "resistance_levels": [entry * 1.02], "volatility_level": "Medium", "volume_analysis": "steady"},
        "risk_assessment": {"overall_risk": "Medium", "technical_risk": 0.4, "market_risk": 0.5,
                            "recommended_position_size": 0.05,
                            "stop_loss_suggestion": stop if stop is not None else entry * 0.99,
                            "take_profit_suggestion": take if take is not None else entry * 1.02},
    })


ENTRY = float(FIVE.close[2999])


def test_a_valid_answer_is_used_and_logged_with_tokens_and_cost() -> None:
    log = MemoryDecisionLog()
    chat = FakeChat(lambda messages: answer(ENTRY))
    signal = LLMAnalyst(chat, decisions=log).analyze(request())
    assert (signal.signal, signal.confidence, signal.analyst) == ("Long", 0.61, "llm:gpt-4o-mini")
    assert signal.extras["source"] == "llm" and signal.risk_assessment.stop_loss_suggestion == pytest.approx(ENTRY * 0.99)
    assert set(signal.strategy_scores) == {"RSI Strategy", "MACD Strategy", "Volume Strategy", "Bollinger Bands Strategy"}
    [decision] = log.decisions
    assert decision.source == "llm" and decision.parsed["signal"] == "Long" and decision.error is None
    assert (decision.prompt_tokens, decision.completion_tokens, decision.total_tokens) == (1000, 200, 1200)
    assert decision.cost_usd == pytest.approx(1000 * 0.15 / 1e6 + 200 * 0.60 / 1e6)
    assert decision.signal_id == "sig_test" and decision.raw_response == answer(ENTRY)
    assert decision.input_hash == LLMAnalyst(chat).replay_key(request())
    assert decision.prompt == chat.calls[0]


def test_the_prompt_carries_the_computed_analysis_and_the_reference() -> None:
    chat = FakeChat(lambda messages: answer(ENTRY))
    LLMAnalyst(chat).analyze(request())
    user = chat.calls[0][1]["content"]
    views = RulesAnalyst().views(request())
    rsi = views[0].indicators["rsi_14"]
    assert f'"rsi_14":{float(f"{rsi:.8g}")}' in user
    for needle in ('"open_fair_value_gaps"', '"liquidity_pools"', '"last_break"', '"zone"', '"killzone"',
                   '"reference_rule_based_signal"', '"5m"', '"1h"', '"stop_loss_suggestion"'):
        assert needle in user
    assert "confidence" in chat.calls[0][0]["content"]


def test_one_repair_round_then_fallback() -> None:
    replies = iter(["sure! here it is: {not json", answer(ENTRY)])
    log = MemoryDecisionLog()
    chat = FakeChat(lambda messages: next(replies))
    signal = LLMAnalyst(chat, decisions=log).analyze(request())
    assert signal.extras["source"] == "llm_repaired" and len(chat.calls) == 2
    assert "unusable" in chat.calls[1][-1]["content"] and chat.calls[1][-2]["role"] == "assistant"
    assert log.decisions[-1].total_tokens == 2400 and log.decisions[-1].source == "llm_repaired"

    wrong = iter([json.dumps({"signal": "Up"}), json.dumps({"signal": "Long", "confidence": 3})])
    log = MemoryDecisionLog()
    signal = LLMAnalyst(FakeChat(lambda m: next(wrong)), decisions=log).analyze(request())
    rules = RulesAnalyst().analyze(request())
    assert signal.extras["source"] == "rules_fallback" and "after one repair" in signal.extras["source_reason"]
    assert (signal.signal, signal.confidence, signal.analyst) == (rules.signal, rules.confidence, "rules")
    assert log.decisions[-1].source == "rules_fallback" and log.decisions[-1].error


def test_levels_on_the_wrong_side_are_repaired() -> None:
    replies = iter([answer(ENTRY, stop=ENTRY * 1.01), answer(ENTRY)])
    chat = FakeChat(lambda m: next(replies))
    signal = LLMAnalyst(chat).analyze(request())
    assert signal.extras["source"] == "llm_repaired" and "stop_loss < entry" in chat.calls[1][-1]["content"]


@pytest.mark.parametrize("error", [LLMRateLimited(retry_at=123.0), LLMError("read timed out", kind="timeout"),
                                   LLMError("502 Bad Gateway", kind="server_error")])
def test_model_failures_fall_back_to_rules_and_are_logged(error: LLMError) -> None:
    def fail(messages: list) -> str:
        raise error

    log = MemoryDecisionLog()
    signal = LLMAnalyst(FakeChat(fail), decisions=log).analyze(request())
    assert signal.extras["source"] == "rules_fallback" and error.kind in signal.extras["source_reason"]
    assert log.decisions[-1].error.startswith(error.kind) and log.decisions[-1].parsed is None


def test_the_same_prompt_is_answered_from_the_log_and_offline_needs_it() -> None:
    log = MemoryDecisionLog()
    chat = FakeChat(lambda messages: answer(ENTRY))
    first = LLMAnalyst(chat, decisions=log).analyze(request())
    again = LLMAnalyst(chat, decisions=log).analyze(request())
    assert len(chat.calls) == 1 and again.extras["source"] == "cache"
    assert (again.signal, again.confidence, again.reasoning) == (first.signal, first.confidence, first.reasoning)
    assert len(log.decisions) == 1  # a replay is not a model call: nothing new in the log
    offline = LLMAnalyst(chat, decisions=log, offline=True)
    assert offline.analyze(request()).extras["source"] == "cache"
    other = offline.analyze(request(end=3100))
    assert other.extras["source"] == "rules_fallback" and "offline" in other.extras["source_reason"]
    assert len(chat.calls) == 1
