"""Replay history through the rule analyst and collect (direction, strength, success) samples,
the material ``analysts.calibration.fit_calibration`` fits its confidence table on."""

from __future__ import annotations

from collections.abc import Sequence

from tradewind.analysts.base import AnalysisRequest
from tradewind.analysts.rules import RulesAnalyst
from tradewind.domain.bars import Bars
from tradewind.domain.signal import Signal
from tradewind.domain.timeframe import Timeframe
from tradewind.trading.evaluation import evaluate

__all__ = ["score_samples"]


class _ScoreRecorder(RulesAnalyst):
    """The rule analyst, remembering each raw score by the time it was asked."""

    def __init__(self) -> None:
        super().__init__()
        self.scores: dict[int, float] = {}

    def analyze(self, request: AnalysisRequest) -> Signal:
        signal = super().analyze(request)
        self.scores[request.timestamp_ms // 1000] = float(signal.extras["score"])  # type: ignore[arg-type]
        return signal


def score_samples(
    bars: Bars, *, symbol: str, timeframe: Timeframe, higher: Sequence[Timeframe] = (), step: int = 2
) -> list[tuple[str, float, bool]]:
    """Every resolved signal of a bar-by-bar replay as (direction, |raw score|, success)."""
    analyst = _ScoreRecorder()
    records, _ = evaluate(analyst, bars, symbol=symbol, timeframe=timeframe, higher=higher, step=step)
    return [(s.direction, abs(analyst.scores[s.entry_time]), bool(o.success)) for s, o in records if o.resolved]
