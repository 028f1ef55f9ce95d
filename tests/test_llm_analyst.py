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
from tradewind.signals.requests import bars_from_rows

DATA = Path(__file__).parent / "data"
FIVE = bars_from_rows(json.loads((DATA / "ETH_BTC-5m.json").read_text()))


def request(end: int = 3000) -> AnalysisRequest:
    prefix = FIVE.slice(0, end)
    hourly, done = resample(prefix, 3600, source_seconds=300)
    return AnalysisRequest(
        symbol="ETHBTC", candles={Timeframe.M5: prefix.slice(-300), Timeframe.H1: Bars(*(c[done] for c in hourly))},
        timestamp_ms=int(prefix.time[-1] + 300) * 1000, extras={"signal_id": "sig_test", "input_hash": "abc"},
    )


def answer(entry: float, *, signal: str = "Long", stop: float | None = 1.0, take: float | None = 2.0) -> str:
    """A valid answer; levels are distances from the price in percent, as the schema asks."""
    return json.dumps({
        "signal": signal, "confidence": 0.61, "reasoning": "RSI 14 at 58 and a bullish BOS on 1h.",
        "strategy_scores": {"RSI Strategy": 0.7, "MACD Strategy": 0.6},
        "market_analysis": {"trend_direction": "Bullish", "trend_strength": 0.5, "support_levels_pct": [1.0],
                            "resistance_levels_pct": [2.0], "volatility_level": "Medium", "volume_analysis": "steady"},
        "risk_assessment": {"overall_risk": "Medium", "technical_risk": 0.4, "market_risk": 0.5,
                            "recommended_position_size": 0.05, "stop_loss_pct": stop, "take_profit_pct": take},
    })


ENTRY = float(FIVE.close[2999])


def test_a_valid_answer_is_used_and_logged_with_tokens_and_cost() -> None:
    log = MemoryDecisionLog()
    chat = FakeChat(lambda messages: answer(ENTRY))
    signal = LLMAnalyst(chat, decisions=log).analyze(request())
    assert (signal.signal, signal.confidence, signal.analyst) == ("Long", 0.61, "llm:gpt-4o-mini")
    assert signal.extras["source"] == "llm" and signal.risk_assessment.stop_loss_suggestion == pytest.approx(ENTRY * 0.99)
    assert signal.risk_assessment.take_profit_suggestion == pytest.approx(ENTRY * 1.02)
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
    LLMAnalyst(chat, prompt_budget=None).analyze(request())  # no budget: the full prompt
    user = chat.calls[0][1]["content"]
    views = RulesAnalyst().views(request())
    rsi = views[0].indicators["rsi_14"]
    assert f'"rsi_14":{float(f"{rsi:.8g}")}' in user
    for needle in ('"open_fair_value_gaps"', '"liquidity_pools"', '"last_break"', '"zone"', '"killzone"',
                   '"reference_rule_based_signal"', '"5m"', '"1h"', '"stop_loss_pct"'):
        assert needle in user
    assert "confidence" in chat.calls[0][0]["content"]


def test_one_repair_round_then_fallback_each_call_its_own_row() -> None:
    replies = iter(["sure! here it is: {not json", answer(ENTRY)])
    log = MemoryDecisionLog()
    chat = FakeChat(lambda messages: next(replies))
    signal = LLMAnalyst(chat, decisions=log).analyze(request())
    assert signal.extras["source"] == "llm_repaired" and len(chat.calls) == 2
    first, repair = log.decisions
    assert (first.attempt, first.parent_id, first.parsed, first.raw_response) == (1, None, None, "sure! here it is: {not json")
    assert first.error.startswith("invalid answer") and first.prompt == chat.calls[0]
    assert (repair.attempt, repair.parent_id, repair.error, repair.prompt_detail) == (2, first.decision_id, None, "repair")
    assert repair.parsed["signal"] == "Long" and repair.prompt == chat.calls[1]
    assert first.total_tokens == repair.total_tokens == 1200  # each call its own tokens, nothing summed
    assert {first.source, repair.source} == {"llm_repaired"} and first.input_hash == repair.input_hash

    wrong = iter([json.dumps({"signal": "Up"}), json.dumps({"signal": "Long", "confidence": 3})])
    log = MemoryDecisionLog()
    signal = LLMAnalyst(FakeChat(lambda m: next(wrong)), decisions=log).analyze(request())
    rules = RulesAnalyst().analyze(request())
    assert signal.extras["source"] == "rules_fallback" and "after one repair" in signal.extras["source_reason"]
    assert (signal.signal, signal.confidence, signal.analyst) == (rules.signal, rules.confidence, "rules")
    assert [d.source for d in log.decisions] == ["rules_fallback", "rules_fallback"]
    assert all(d.error and d.parsed is None for d in log.decisions)
    assert "confidence" in log.decisions[1].error  # the bound is checked after parsing (3 > 1)


def test_the_repair_round_sends_only_what_it_needs() -> None:
    replies = iter(['{"signal": "Long"}', answer(ENTRY)])
    chat = FakeChat(lambda m: next(replies))
    LLMAnalyst(chat, prompt_budget=None).analyze(request())
    first, repair = chat.calls
    assert len(repair) == 2 and repair[1]["role"] == "user"  # no replay of the conversation
    text = repair[1]["content"]
    assert '{"signal": "Long"}' in text and "unusable" in text and "market_analysis" in text
    assert "timeframes" not in text and "open_fair_value_gaps" not in text  # not the market data again
    assert len(text) < len(first[1]["content"]) / 4


def test_levels_are_distances_on_the_right_side_and_out_of_range_ones_are_repaired() -> None:
    signal = LLMAnalyst(FakeChat(lambda m: answer(ENTRY, signal="Short", stop=1.0, take=2.0))).analyze(request())
    risk, market = signal.risk_assessment, signal.market_analysis
    assert risk.stop_loss_suggestion == pytest.approx(ENTRY * 1.01) and risk.take_profit_suggestion == pytest.approx(ENTRY * 0.98)
    assert market.support_levels == (pytest.approx(ENTRY * 0.99),) and market.resistance_levels == (pytest.approx(ENTRY * 1.02),)
    replies = iter([answer(ENTRY, stop=-1.0), answer(ENTRY)])
    chat = FakeChat(lambda m: next(replies))
    assert LLMAnalyst(chat).analyze(request()).extras["source"] == "llm_repaired"
    assert "stop_loss_pct" in chat.calls[1][-1]["content"] and "greater than 0" in chat.calls[1][-1]["content"]
    far = LLMAnalyst(FakeChat(lambda m: answer(ENTRY, take=75.0))).analyze(request())  # 75% away is not a level
    assert far.extras["source"] == "rules_fallback" and "less than or equal to 50" in far.extras["source_reason"]


@pytest.mark.parametrize("error", [LLMRateLimited(retry_at=123.0), LLMError("read timed out", kind="timeout"),
                                   LLMError("502 Bad Gateway", kind="server_error")])
def test_model_failures_fall_back_to_rules_and_are_logged(error: LLMError) -> None:
    def fail(messages: list) -> str:
        raise error

    log = MemoryDecisionLog()
    signal = LLMAnalyst(FakeChat(fail), decisions=log).analyze(request())
    assert signal.extras["source"] == "rules_fallback" and error.kind in signal.extras["source_reason"]
    assert signal.extras["transient"] is True  # such a fallback is not cached as the answer
    [call] = log.decisions  # the failed call is logged, once
    assert call.error.startswith(error.kind) and call.parsed is None and call.latency_ms is None


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
    assert len(log.decisions) == 1  # offline calls nothing, so it logs nothing


def test_every_call_is_capped_and_asks_for_the_closed_schema() -> None:
    chat = FakeChat(lambda messages: answer(ENTRY))
    analyst = LLMAnalyst(chat, max_tokens=321)
    analyst.analyze(request())
    assert chat.max_tokens == [321]
    schema = chat.schemas[0]
    scores = schema["properties"]["strategy_scores"]
    assert set(scores["properties"]) == {"RSI Strategy", "MACD Strategy", "Volume Strategy", "Bollinger Bands Strategy"}
    assert scores["additionalProperties"] is False and schema["additionalProperties"] is False
    assert all(node["additionalProperties"] is False for node in schema["$defs"].values())


def test_an_answer_cut_by_the_output_cap_is_named_as_such() -> None:
    log = MemoryDecisionLog()
    chat = FakeChat(lambda messages: answer(ENTRY)[:150], finish_reason="length")
    signal = LLMAnalyst(chat, decisions=log, max_tokens=64).analyze(request())
    assert signal.extras["source"] == "rules_fallback"
    assert "cut at the output cap of 64 tokens" in signal.extras["source_reason"]
    assert all(d.finish_reason == "length" and "output cap" in d.error for d in log.decisions)


def test_the_prompt_is_fitted_to_the_budget_counted_by_the_server() -> None:
    """With a tokenizer the most detailed level that fits is sent, and the log says which."""
    counted: list[int] = []

    def tokenizer(messages: list) -> int:
        counted.append(sum(len(m["content"]) for m in messages) // 3)
        return counted[-1]

    sizes = {}
    for budget in (None, 100_000, 2_000, 10):
        log = MemoryDecisionLog()
        chat = FakeChat(lambda messages: answer(ENTRY), tokenizer=tokenizer)
        signal = LLMAnalyst(chat, decisions=log, prompt_budget=budget).analyze(request())
        [decision] = log.decisions
        sizes[budget] = (decision.prompt_detail, signal.extras["prompt_tokens"])
        assert decision.prompt_budget == budget and signal.extras["prompt_tokens_counted"] is (budget is not None)
        if budget is not None and budget >= 100:
            assert signal.extras["prompt_tokens"] <= budget
    assert sizes[None][0] == sizes[100_000][0] == "full"
    assert sizes[2_000][0] in ("compact", "minimal") and sizes[10][0] == "minimal"  # nothing fits: the smallest
    assert sizes[2_000][1] < sizes[None][1] / 2
    replay = {budget: LLMAnalyst(FakeChat(str), prompt_budget=budget).replay_key(request()) for budget in (None, 2_000)}
    assert replay[None] != replay[2_000]  # another budget, another prompt: old answers are not reused


def test_a_spend_limit_stops_before_a_call_that_could_pass_it() -> None:
    from tradewind.analysts.spend import SpendLimit, SpendLimitReached

    chat = FakeChat(lambda messages: answer(ENTRY), tokenizer=lambda m: 900)
    analyst = LLMAnalyst(chat, limit=SpendLimit(0.001), max_tokens=500)  # gpt-4o-mini: ~0.00045 $ worst per call
    made = 0
    with pytest.raises(SpendLimitReached):
        for _ in range(10):  # no decision log: the same request is asked again each time
            analyst.analyze(request())
            made += 1
    # each call measures 1000 + 200 tokens = $0.00027; a worst case is 916 + 500 = $0.000437
    assert made == 3 and analyst.calls == 3 and analyst.spent_usd == pytest.approx(3 * 0.00027)
    assert analyst.spent_usd <= 0.001
