"""Scoring a replay's signals: every stored signal against the bars that followed it.

The replay itself is the backtester's (``trading.evaluation``): the kernel on a simulated clock,
the engine asking the analyst once per closed candle and placing no order. Here are its checks and
the scoring, pure functions over the stored signals and the bars.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from tradewind.domain.bars import Bars
from tradewind.domain.errors import ValidationError
from tradewind.domain.timeframe import Timeframe
from tradewind.signals.outcomes import Outcome, ScoredInput, resolve_bars
from tradewind.signals.records import StoredSignal

__all__ = ["Record", "check_replay", "score_stored"]

Record = tuple[ScoredInput, Outcome]


def score_stored(signals: Sequence[StoredSignal], bars: Bars, *, analyst: str | None = None) -> list[Record]:
    """Each signal with an entry, scored against ``bars`` (oldest first); ``analyst`` names who
    answered when the signals do not (an analyst under test)."""
    records: list[Record] = []
    for stored in signals:
        scored = stored.scored_input()
        if scored is None:
            continue
        answered_by = stored.analysis.get("answered_by")  # a replayed answer counts for who first gave it
        scored = replace(scored, analyst=analyst or scored.analyst, source=str(answered_by or scored.source))
        records.append((scored, resolve_bars(scored, bars)))
    return records


def check_replay(
    bars: Bars,
    *,
    timeframe: Timeframe,
    higher: Sequence[Timeframe],
    warmup: int,
    step: int,
    horizon_seconds: int | None,
) -> None:
    """The replay's arguments and the bars checked, each error naming its field."""
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 1:
        raise ValidationError(f"warmup must be a positive int, got {warmup!r}", field="warmup")
    if isinstance(step, bool) or not isinstance(step, int) or step < 1:
        raise ValidationError(f"step must be a positive int, got {step!r}", field="step")
    if horizon_seconds is not None and (
        isinstance(horizon_seconds, bool) or not isinstance(horizon_seconds, int) or horizon_seconds <= 0
    ):
        raise ValidationError(f"horizon_seconds must be a positive int, got {horizon_seconds!r}", field="horizon_seconds")
    for tf in higher:
        if tf.seconds <= timeframe.seconds or tf.seconds % timeframe.seconds:
            raise ValidationError(
                f"higher timeframe {tf.value} must be a longer multiple of {timeframe.value}", field="higher"
            )
    if len(bars) > 1 and bool(np.any(np.diff(bars.time) <= 0)):
        raise ValidationError("bars must be sorted by time without duplicates", field="bars")
