"""``by_model`` in the performance report: which model produced each signal, rules against LLM."""

from __future__ import annotations

import pytest

from tradewind.signals.outcomes import Outcome, ScoredInput
from tradewind.signals.performance import RULES_MODEL, performance_report, signal_model


def scored(n: int, analyst: str, source: str | None, confidence: float, success: bool | None) -> tuple[ScoredInput, Outcome]:
    signal = ScoredInput(f"s{n}", "BTCUSDT", analyst, "Long", confidence, 1_000 * n, 100.0, None, None, 3600,
                         source=source)
    if success is None:
        return signal, Outcome(signal.signal_id, "open")
    return signal, Outcome(signal.signal_id, "take_profit" if success else "stop_loss", 1_000 * n + 60,
                           101.0 if success else 99.0, 0.01 if success else -0.01, "Long" if success else "Short",
                           success)


def test_the_model_behind_each_signal() -> None:
    def of(analyst: str, source: str | None) -> str:
        return signal_model(scored(0, analyst, source, 0.5, None)[0])

    assert of("rules", "rules") == RULES_MODEL == "rules"
    assert of("rules", None) == "rules"
    assert of("llm:gpt-4o-mini", "llm") == "gpt-4o-mini"
    assert of("llm:gpt-4o-mini", "llm_repaired") == "gpt-4o-mini"
    assert of("llm:gpt-4o-mini", "cache") == "gpt-4o-mini"  # replayed from the log: still that model's answer
    assert of("llm:llama3.1:8b", "llm") == "llama3.1:8b"  # only the first colon is the prefix's
    assert of("llm:gpt-4o-mini", "rules_fallback") == "rules"  # the rules decided it, with their confidence
    assert of("llm:", "llm") == "llm:" and of("custom", "custom") == "custom"  # no model to read: the analyst


def test_by_model_splits_rules_from_each_llm_with_their_own_figures() -> None:
    records = [
        scored(1, "rules", "rules", 0.6, True),
        scored(2, "rules", "rules", 0.6, False),
        scored(3, "llm:gpt-4o-mini", "llm", 0.9, True),
        scored(4, "llm:gpt-4o-mini", "cache", 0.7, False),
        scored(5, "llm:gpt-4o-mini", "rules_fallback", 0.55, True),
        scored(6, "llm:gpt-4o-mini", "llm", 0.8, None),  # open: counted, never scored
    ]
    report = performance_report(records)
    assert list(report["by_model"]) == ["gpt-4o-mini", "rules"]
    llm, rules = report["by_model"]["gpt-4o-mini"], report["by_model"]["rules"]
    assert (llm["predictions_made"], llm["resolved"], llm["open"], llm["successful"]) == (3, 2, 1, 1)
    assert llm["success_rate"] == 0.5 and llm["brier_score"] == pytest.approx(((0.9 - 1) ** 2 + 0.7**2) / 2)
    assert (rules["predictions_made"], rules["resolved"], rules["successful"]) == (3, 3, 2)
    assert rules["brier_score"] == pytest.approx((0.4**2 + 0.6**2 + 0.45**2) / 3)
    bins = {b["bucket"]: b for b in llm["reliability"] if b["count"]}
    assert set(bins) == {"0.7-0.8", "0.9-1.0"} and bins["0.9-1.0"]["hit_rate"] == 1.0
    assert "by_model" not in llm and set(report["by_analyst"]) == {"rules", "llm:gpt-4o-mini"}
    assert performance_report([])["by_model"] == {}
