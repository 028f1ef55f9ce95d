"""The performance report on a small set whose every figure was worked out by hand."""

from __future__ import annotations

import pytest

from tradewind.domain.errors import ValidationError
from tradewind.signals.outcomes import Outcome, ScoredInput
from tradewind.signals.performance import performance_report, reliability


def record(
    n: int, direction: str, confidence: float, status: str, actual: str | None, success: bool | None,
    ret: float | None, *, analyst: str, symbol: str,
) -> tuple[ScoredInput, Outcome]:
    sid = f"s{n}"
    scored = ScoredInput(sid, symbol, analyst, direction, confidence, 1_000 * n, 100.0, None, None, 3600)  # type: ignore[arg-type]
    if status == "open":
        return scored, Outcome(sid, "open")
    return scored, Outcome(sid, status, 1_000 * n + 3600, 100.0 * (1 + ret), ret, actual, success)  # type: ignore[arg-type, operator]


# (direction, confidence) -> (actual, success, realized return)
RECORDS = [
    record(1, "Long", 0.80, "take_profit", "Long", True, 0.02, analyst="A", symbol="X"),
    record(2, "Long", 0.60, "stop_loss", "Short", False, -0.01, analyst="A", symbol="X"),
    record(3, "Short", 0.70, "take_profit", "Short", True, 0.015, analyst="B", symbol="X"),
    record(4, "Short", 0.85, "horizon", "Neutral", True, 0.002, analyst="B", symbol="Y"),
    record(5, "Neutral", 0.50, "horizon", "Neutral", True, 0.001, analyst="A", symbol="Y"),
    record(6, "Long", 0.65, "open", None, None, None, analyst="A", symbol="Y"),
]


def test_counts_accuracy_and_success() -> None:
    r = performance_report(RECORDS)
    assert (r["predictions_made"], r["resolved"], r["open"], r["successful"]) == (6, 5, 1, 4)
    assert r["accuracy"] == pytest.approx(3 / 5)  # records 1, 3 and 5 called the move
    assert r["success_rate"] == pytest.approx(4 / 5)
    assert r["average_confidence"] == pytest.approx(3.45 / 5)  # the open record's 0.65 is left out
    assert r["average_return"] == pytest.approx((0.02 - 0.01 + 0.015 + 0.002) / 4)  # Neutral takes no position


def test_precision_recall_f1_per_class_and_macro() -> None:
    r = performance_report(RECORDS)
    long, short, neutral = (r["per_class"][k] for k in ("Long", "Short", "Neutral"))
    assert (long["predicted"], long["actual"], long["correct"]) == (2, 1, 1)
    assert (long["precision"], long["recall"]) == (0.5, 1.0)
    assert long["f1"] == pytest.approx(2 / 3)
    assert (short["predicted"], short["actual"], short["correct"]) == (2, 2, 1)
    assert (short["precision"], short["recall"], short["f1"]) == (0.5, 0.5, 0.5)
    assert (neutral["predicted"], neutral["actual"], neutral["correct"]) == (1, 2, 1)
    assert (neutral["precision"], neutral["recall"]) == (1.0, 0.5)
    assert neutral["f1"] == pytest.approx(2 / 3)
    assert r["precision"] == pytest.approx(2 / 3)
    assert r["recall"] == pytest.approx(2 / 3)
    assert r["f1_score"] == pytest.approx((2 / 3 + 0.5 + 2 / 3) / 3)


def test_brier_score() -> None:
    expected = ((0.8 - 1) ** 2 + 0.6**2 + (0.7 - 1) ** 2 + (0.85 - 1) ** 2 + (0.5 - 1) ** 2) / 5
    assert performance_report(RECORDS)["brier_score"] == pytest.approx(expected)
    assert expected == pytest.approx(0.1525)


def test_reliability_bins() -> None:
    bins = performance_report(RECORDS)["reliability"]
    assert [b["bucket"] for b in bins] == [f"{k / 10:.1f}-{(k + 1) / 10:.1f}" for k in range(10)]
    filled = {b["bucket"]: (b["count"], b["mean_confidence"], b["hit_rate"]) for b in bins if b["count"]}
    assert filled == {
        "0.5-0.6": (1, 0.5, 1.0),
        "0.6-0.7": (1, 0.6, 0.0),  # the open 0.65 is not counted
        "0.7-0.8": (1, 0.7, 1.0),
        "0.8-0.9": (2, pytest.approx(0.825), 1.0),
    }
    empty = [b for b in bins if not b["count"]]
    assert len(empty) == 6 and all(b["mean_confidence"] is None and b["hit_rate"] is None for b in empty)


def test_reliability_edges_and_labels() -> None:
    edge = [record(1, "Long", 1.0, "take_profit", "Long", True, 0.01, analyst="A", symbol="X"),
            record(2, "Long", 0.0, "stop_loss", "Short", False, -0.01, analyst="A", symbol="X")]
    bins = reliability(edge, buckets=4)
    assert [b["bucket"] for b in bins] == ["0.00-0.25", "0.25-0.50", "0.50-0.75", "0.75-1.00"]
    assert [b["count"] for b in bins] == [1, 0, 0, 1]
    with pytest.raises(ValidationError):
        reliability(edge, buckets=0)


def test_splits_by_analyst_and_symbol() -> None:
    r = performance_report(RECORDS)
    assert list(r["by_analyst"]) == ["A", "B"] and list(r["by_symbol"]) == ["X", "Y"]
    a, b = r["by_analyst"]["A"], r["by_analyst"]["B"]
    assert (a["predictions_made"], a["resolved"], a["open"], a["successful"]) == (4, 3, 1, 2)
    assert a["accuracy"] == pytest.approx(2 / 3)
    assert a["brier_score"] == pytest.approx((0.04 + 0.36 + 0.25) / 3)
    assert (b["predictions_made"], b["accuracy"], b["success_rate"]) == (2, 0.5, 1.0)
    assert b["per_class"]["Long"]["precision"] is None  # B never said Long
    x, y = r["by_symbol"]["X"], r["by_symbol"]["Y"]
    assert (x["resolved"], x["accuracy"]) == (3, pytest.approx(2 / 3))
    assert (y["resolved"], y["open"], y["accuracy"]) == (2, 1, 0.5)
    for split in (a, b, x, y):
        assert "by_analyst" not in split and "by_symbol" not in split
        assert len(split["reliability"]) == 10


def test_seed_names_mirror_ours() -> None:
    r = performance_report(RECORDS)
    assert r["overall_accuracy"] == r["accuracy"]
    assert r["successful_predictions"] == r["successful"] == 4
    for name in ("precision", "recall", "f1_score", "average_confidence", "predictions_made"):
        assert name in r


@pytest.mark.parametrize("records", [[], [r for r in RECORDS if r[1].status == "open"]], ids=["empty", "all-open"])
def test_nothing_resolved_means_every_figure_is_none(records: list[tuple[ScoredInput, Outcome]]) -> None:
    r = performance_report(records)
    counts = ("predictions_made", "resolved", "open", "successful", "successful_predictions")
    for name in counts:
        assert type(r[name]) is int
    assert (r["predictions_made"], r["resolved"], r["open"]) == (len(records), 0, len(records))
    figures = ("accuracy", "overall_accuracy", "success_rate", "precision", "recall", "f1_score",
               "average_confidence", "brier_score", "average_return")
    assert all(r[name] is None for name in figures)
    for scores in r["per_class"].values():
        assert scores["precision"] is None and scores["recall"] is None and scores["f1"] is None
    assert all(b["count"] == 0 and b["hit_rate"] is None and b["mean_confidence"] is None for b in r["reliability"])
    for split in (*r["by_analyst"].values(), *r["by_symbol"].values()):
        assert split["accuracy"] is None and split["brier_score"] is None


def test_only_neutral_signals_have_no_average_return() -> None:
    only = [record(1, "Neutral", 0.5, "horizon", "Neutral", True, 0.001, analyst="A", symbol="X")]
    r = performance_report(only)
    assert r["average_return"] is None and r["accuracy"] == 1.0
    assert r["per_class"]["Long"]["precision"] is None and r["per_class"]["Long"]["recall"] is None
