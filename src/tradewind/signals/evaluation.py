"""Replay history through an analyst bar by bar and score every signal it gives: the ``evaluate`` command.

No look-ahead, by construction: at bar ``i`` the analyst gets the bars up to and including ``i``
(all closed: bar ``i`` closes at ``time[i] + timeframe``) and, for each ``higher`` timeframe, the
candles aggregated from those same bars whose whole period has ended by then. The forming higher
candle is never given. A higher candle whose last source bar is missing (a data gap) still counts
once its period is over, as the live streamer closes it when the next one begins.

Each signal enters at the close of bar ``i``, at its close time, and is scored by
``resolve_bars`` against the bars that follow; signals too close to the end stay ``open``.
Every window is a numpy view and every higher timeframe is aggregated once, so a replay costs
about one analyst call per bar, not a copy of history per bar.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from tradewind.analysts.base import AnalysisRequest, Analyst
from tradewind.domain.bars import Bars, resample
from tradewind.domain.errors import ValidationError
from tradewind.domain.timeframe import Timeframe
from tradewind.signals.outcomes import (
    DEFAULT_HORIZONS,
    Outcome,
    ScoredInput,
    resolve_bars,
)
from tradewind.signals.performance import performance_report

__all__ = ["evaluate", "replay_requests"]

Record = tuple[ScoredInput, Outcome]


def replay_requests(
    bars: Bars,
    *,
    symbol: str,
    timeframe: Timeframe,
    higher: Sequence[Timeframe] = (),
    warmup: int = 100,
    step: int = 1,
) -> Iterator[tuple[int, AnalysisRequest]]:
    """The requests a bar-by-bar replay makes, in order: ``(bar index, request)``. At bar i the
    analyst sees ``bars[:i+1]`` (read-only views) and only the higher candles complete by then."""
    _check(bars, timeframe=timeframe, higher=higher, warmup=warmup, step=step, horizon_seconds=None)
    seconds = timeframe.seconds
    aggregated = {tf: _aggregate(bars, tf, seconds) for tf in dict.fromkeys(higher)}
    for i in range(warmup - 1, len(bars), step):
        close_time = int(bars.time[i]) + seconds
        candles = {timeframe: _prefix(bars, i + 1)}
        for tf, (agg, ends) in aggregated.items():
            candles[tf] = _prefix(agg, int(np.searchsorted(ends, close_time, side="right")))
        yield i, AnalysisRequest(symbol=symbol, candles=candles, timestamp_ms=close_time * 1000,
                                 current_price=float(bars.close[i]))


def evaluate(
    analyst: Analyst,
    bars: Bars,
    *,
    symbol: str,
    timeframe: Timeframe,
    higher: Sequence[Timeframe] = (),
    warmup: int = 100,
    step: int = 1,
    horizon_seconds: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Record], dict[str, Any]]:
    """Ask ``analyst`` at every ``step``-th bar, from the one where it has ``warmup`` bars on.

    Returns the scored records (oldest first) and their ``performance_report``.
    ``progress(done, total)`` is called after each analyst call.
    """
    _check(bars, timeframe=timeframe, higher=higher, warmup=warmup, step=step, horizon_seconds=horizon_seconds)
    horizon = DEFAULT_HORIZONS[timeframe] if horizon_seconds is None else horizon_seconds
    seconds = timeframe.seconds
    name = str(getattr(analyst, "name", "") or "analyst")
    total = len(range(warmup - 1, len(bars), step))
    records: list[Record] = []
    requests = replay_requests(bars, symbol=symbol, timeframe=timeframe, higher=higher, warmup=warmup, step=step)
    for done, (i, request) in enumerate(requests, start=1):
        close_time = request.timestamp_ms // 1000
        price = float(bars.close[i])
        signal = analyst.analyze(request)
        if signal is not None:
            scored = ScoredInput(
                signal_id=f"{symbol}:{timeframe.value}:{close_time}:{name}",
                symbol=symbol,
                analyst=name,
                direction=signal.signal,
                confidence=float(signal.confidence),
                entry_time=close_time,
                entry_price=price,
                stop_loss=signal.risk_assessment.stop_loss_suggestion,
                take_profit=signal.risk_assessment.take_profit_suggestion,
                horizon_seconds=horizon,
                candle_seconds=seconds,
                source=str(signal.extras.get("origin") or signal.extras.get("source") or name),  # a replay: who answered
            )
            records.append((scored, resolve_bars(scored, bars)))
        if progress is not None:
            progress(done, total)
    return records, performance_report(records)


def _prefix(bars: Bars, stop: int) -> Bars:
    """The first ``stop`` rows as read-only views: no copy, and an analyst cannot rewrite history."""
    views = []
    for column in bars:
        view = column[:stop]
        view.flags.writeable = False
        views.append(view)
    return Bars(*views)


def _aggregate(bars: Bars, tf: Timeframe, seconds: int) -> tuple[Bars, np.ndarray]:
    """All ``tf`` candles of the history and the time each one ends; a prefix is what bar ``i`` may see.

    A bucket only holds bars that opened inside it, so a candle that has ended by bar ``i``'s
    close is the same whether aggregated from ``bars[: i + 1]`` or from the whole history.
    """
    agg, _complete = resample(bars, tf.seconds, source_seconds=seconds)
    return agg, agg.time + tf.seconds


def _check(
    bars: Bars,
    *,
    timeframe: Timeframe,
    higher: Sequence[Timeframe],
    warmup: int,
    step: int,
    horizon_seconds: int | None,
) -> None:
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
