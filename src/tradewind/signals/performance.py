"""Accuracy and calibration of scored signals: the figures behind ``GET /ai/performance``.

Pure functions over ``(ScoredInput, Outcome)`` records. Every figure comes from *resolved*
outcomes only (open ones are counted, never scored), and a figure whose denominator is zero is
None, never a default; counts are always ints.

- ``accuracy``: predicted direction == ``actual`` (what the market did), among resolved.
- ``success_rate``: share of resolved signals whose ``success`` is True (TP hit, or right at the horizon).
- ``per_class``: precision (of signals predicting the class, the share whose actual was that class)
  and recall (of outcomes whose actual was the class, the share predicted as such), plus F1.
  ``precision``, ``recall`` and ``f1_score`` are their macro means over the classes that have a value.
- ``brier_score``: mean of ``(confidence - success)^2``; ``confidence`` is the analyst's probability
  of success, so 0 is perfect, and always answering 0.5 scores 0.25.
- ``reliability``: every one of ``buckets`` equal confidence bins in [0, 1] (lower edge inclusive,
  1.0 in the last), each with its count, mean confidence and hit rate (None when empty), so a chart
  always gets the same bins.
- ``average_return``: mean ``realized_return`` of resolved Long/Short signals; a Neutral signal
  takes no position, so its raw price return would blur a trading figure and is left out.

``by_analyst``, ``by_symbol`` and ``by_source`` repeat the report per analyst, symbol and answer
source (an LLM analyst's ``llm``, ``llm_repaired``, ``cache`` and ``rules_fallback`` apart).
``by_model`` repeats it per model that produced the signal (``signal_model``): the LLM's own
answers (fresh, repaired or replayed from the log) under its model's name, and every signal the
rule-based analyst produced, its own or an LLM analyst's fallback, under ``rules``, so the two
are compared on what each actually decided.

The seed's names are filled beside ours: ``overall_accuracy`` (= ``accuracy``),
``successful_predictions`` (= ``successful``), ``precision``, ``recall``, ``f1_score``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from tradewind.domain.errors import ValidationError
from tradewind.signals.outcomes import Outcome, ScoredInput

__all__ = ["CLASSES", "RULES_MODEL", "performance_report", "reliability", "signal_model"]

CLASSES = ("Long", "Short", "Neutral")
RULES_MODEL = "rules"
_RULES_SOURCES = frozenset({"rules", "rules_fallback"})
_LLM_PREFIX = "llm:"

Record = tuple[ScoredInput, Outcome]


def performance_report(records: Sequence[Record], *, buckets: int = 10) -> dict[str, Any]:
    """The full report, with the same report (minus these splits) per analyst and per symbol."""
    report = _report(records, buckets)
    report["by_analyst"] = {name: _report(group, buckets) for name, group in _group(records, "analyst")}
    report["by_symbol"] = {name: _report(group, buckets) for name, group in _group(records, "symbol")}
    report["by_source"] = {name: _report(group, buckets) for name, group in _group(records, "source")}
    report["by_model"] = {name: _report(group, buckets) for name, group in _group(records, signal_model)}
    return report


def signal_model(signal: ScoredInput) -> str:
    """The model that produced a signal: ``rules`` for the rule-based analyst's own signals and
    the fallbacks it gave in an LLM's place; the model an ``llm:<model>`` analyst is named after
    (the name it logs its calls under); else the analyst's own name."""
    if signal.source in _RULES_SOURCES or signal.analyst == RULES_MODEL:
        return RULES_MODEL
    if signal.analyst.startswith(_LLM_PREFIX) and len(signal.analyst) > len(_LLM_PREFIX):
        return signal.analyst[len(_LLM_PREFIX):]
    return signal.analyst


def reliability(records: Sequence[Record], *, buckets: int = 10) -> list[dict[str, Any]]:
    """Calibration bins of resolved records: does 70% confidence come true 70% of the time?"""
    if isinstance(buckets, bool) or not isinstance(buckets, int) or buckets < 1:
        raise ValidationError(f"buckets must be a positive int, got {buckets!r}", field="buckets")
    counts = [0] * buckets
    confidence = [0.0] * buckets
    hits = [0] * buckets
    for signal, outcome in records:
        if outcome.status == "open":
            continue
        k = min(math.floor(signal.confidence * buckets + 1e-9), buckets - 1)
        counts[k] += 1
        confidence[k] += signal.confidence
        hits[k] += bool(outcome.success)
    labels = _labels(buckets)
    return [
        {
            "bucket": labels[k],
            "low": k / buckets,
            "high": (k + 1) / buckets,
            "count": counts[k],
            "mean_confidence": confidence[k] / counts[k] if counts[k] else None,
            "hit_rate": hits[k] / counts[k] if counts[k] else None,
        }
        for k in range(buckets)
    ]


def _report(records: Sequence[Record], buckets: int) -> dict[str, Any]:
    resolved = [(s, o) for s, o in records if o.status != "open"]
    n = len(resolved)
    successful = sum(1 for _, o in resolved if o.success)
    correct = sum(1 for s, o in resolved if s.direction == o.actual)
    per_class = {name: _class_scores(resolved, name) for name in CLASSES}
    precision = _mean([c["precision"] for c in per_class.values()])
    recall = _mean([c["recall"] for c in per_class.values()])
    f1 = _mean([c["f1"] for c in per_class.values()])
    accuracy = correct / n if n else None
    returns = [o.realized_return for s, o in resolved if s.direction != "Neutral" and o.realized_return is not None]
    return {
        "predictions_made": len(records),
        "resolved": n,
        "open": len(records) - n,
        "successful": successful,
        "accuracy": accuracy,
        "success_rate": successful / n if n else None,
        "per_class": per_class,
        "precision": precision,
        "recall": recall,
        "f1_score": f1,
        "average_confidence": _mean([s.confidence for s, _ in resolved]),
        "brier_score": _mean([(s.confidence - (1.0 if o.success else 0.0)) ** 2 for s, o in resolved]),
        "reliability": reliability(resolved, buckets=buckets),
        "average_return": _mean(returns),
        "overall_accuracy": accuracy,
        "successful_predictions": successful,
    }


def _class_scores(resolved: Sequence[Record], name: str) -> dict[str, Any]:
    predicted = sum(1 for s, _ in resolved if s.direction == name)
    actual = sum(1 for _, o in resolved if o.actual == name)
    hits = sum(1 for s, o in resolved if s.direction == name and o.actual == name)
    precision = hits / predicted if predicted else None
    recall = hits / actual if actual else None
    f1: float | None = None
    if precision is not None and recall is not None:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"predicted": predicted, "actual": actual, "correct": hits,
            "precision": precision, "recall": recall, "f1": f1}


def _group(records: Sequence[Record], key: str | Callable[[ScoredInput], str | None]) -> list[tuple[str, list[Record]]]:
    groups: dict[str, list[Record]] = {}
    for record in records:
        value = key(record[0]) if callable(key) else getattr(record[0], key)
        if value is not None:
            groups.setdefault(value, []).append(record)
    return sorted(groups.items())


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _labels(buckets: int) -> list[str]:
    """Edge labels like ``0.6-0.7``, with as few decimals as show every edge exactly."""
    edges = [k / buckets for k in range(buckets + 1)]
    decimals = next((d for d in range(1, 7) if all(abs(round(e, d) - e) < 1e-12 for e in edges)), 6)
    text = [f"{e:.{decimals}f}" for e in edges]
    return [f"{text[k]}-{text[k + 1]}" for k in range(buckets)]
