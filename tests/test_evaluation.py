"""Replaying real ETH/BTC 5m candles through small analysts: no look-ahead, and every signal scored."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tradewind.analysts.base import AnalysisRequest
from tradewind.domain.bars import Bars, bars_from_candles, bars_to_candles, resample
from tradewind.domain.errors import ValidationError
from tradewind.domain.signal import MarketAnalysis, RiskAssessment, Signal
from tradewind.domain.timeframe import Timeframe
from tradewind.market.candle_file import read_candle_file
from tradewind.trading.evaluation import evaluate
from tradewind.signals.outcomes import DEFAULT_HORIZONS, resolve_outcome
from tradewind.signals.performance import performance_report

DATA = Path(__file__).parent / "data"
M5 = Timeframe.M5
WINDOW = 500  # closed candles per timeframe an analyst is shown (KernelConfig.analysis_window)


@pytest.fixture(scope="module")
def bars() -> Bars:
    report = read_candle_file(DATA / "ETH_BTC-5m.json", timeframe=M5)
    assert not report.rejected
    return bars_from_candles(report.candles)


def make_signal(request: AnalysisRequest, direction: str, *, sl: float | None = None, tp: float | None = None,
                confidence: float = 0.6) -> Signal:
    return Signal(
        symbol=request.symbol, signal=direction, confidence=confidence, reasoning="test",  # type: ignore[arg-type]
        strategy_scores={}, market_analysis=MarketAnalysis("Sideways", 0.0, (), (), "Low", ""),
        risk_assessment=RiskAssessment("Low", 0.0, 0.0, 0.0, sl, tp), timestamp=request.timestamp_ms,
    )


class AlwaysLong:
    """Long at every bar, stop 1% under and target 1% over the close."""

    name = "always-long"

    def analyze(self, request: AnalysisRequest) -> Signal:
        price = request.current_price
        assert price is not None
        return make_signal(request, "Long", sl=price * 0.99, tp=price * 1.01)


class LookAheadDetector:
    """Fails the replay if it is ever shown a candle later than the bar being evaluated."""

    name = "detector"

    def __init__(self, history: Bars) -> None:
        self.history = history
        self.last_seen: list[int] = []

    def analyze(self, request: AnalysisRequest) -> Signal:
        now = request.timestamp_ms // 1000
        shown = request.candles[M5]
        i = int(np.searchsorted(self.history.time, now - M5.seconds))
        assert int(shown.time[-1]) + M5.seconds == now, "the newest candle must close exactly at the request time"
        # the streamer's window: the newest closed candles up to this one, as many as live analysis gets
        assert len(shown) == min(i + 1, WINDOW) and int(shown.time[-1]) == int(self.history.time[i])
        np.testing.assert_array_equal(shown.close, self.history.close[i + 1 - len(shown): i + 1])
        assert request.current_price == shown.close[-1] == self.history.close[i]
        assert not self.last_seen or int(shown.time[-1]) > self.last_seen[-1]
        self.last_seen.append(int(shown.time[-1]))
        return make_signal(request, "Short", sl=request.current_price * 1.005, tp=request.current_price * 0.995)


class HigherPeeker:
    """Checks that each higher timeframe holds exactly the complete candles of the bars seen so far."""

    name = "peeker"

    def __init__(self, history: Bars, higher: tuple[Timeframe, ...]) -> None:
        self.history = history
        self.higher = higher
        self.calls = 0

    def analyze(self, request: AnalysisRequest) -> Signal:
        now = request.timestamp_ms // 1000
        seen = request.candles[M5]
        assert set(request.candles) == {M5, *self.higher}
        upto = self.history.slice(0, int(np.searchsorted(self.history.time, now - M5.seconds)) + 1)
        for tf in self.higher:
            given = request.candles[tf]
            assert len(given) == 0 or int(given.time[-1]) + tf.seconds <= now, f"a forming {tf} candle was given"
            expected, complete = resample(upto, tf.seconds, source_seconds=M5.seconds)
            ended = expected.time + tf.seconds <= now  # every candle whose period is over, as the streamer has it
            for got, want in zip(given, expected, strict=True):  # volume: the same sum in another order
                np.testing.assert_allclose(got, want[ended][-len(given):] if len(given) else want[:0], rtol=1e-12)
        self.calls += 1
        return make_signal(request, "Neutral", confidence=0.5)


def reference_outcome(bars: Bars, i: int, sl: float, tp: float, bars_ahead: int) -> tuple[str, float | None]:
    """An independent, loop-by-loop reading of the rules for a Long with both levels."""
    for j in range(i + 1, min(i + 1 + bars_ahead, len(bars))):
        o, h, l = bars.open[j], bars.high[j], bars.low[j]
        if l <= sl and not (h >= tp and o >= tp):
            return "stop_loss", min(sl, float(o))
        if h >= tp:
            return "take_profit", tp
    if i + bars_ahead >= len(bars):
        return "open", None
    return "horizon", float(bars.close[i + bars_ahead])


def test_always_long_is_scored_against_the_following_bars(bars: Bars) -> None:
    records, report = evaluate(AlwaysLong(), bars, symbol="ETHBTC", timeframe=M5, warmup=50)
    n, ahead = len(bars), DEFAULT_HORIZONS[M5] // M5.seconds
    assert len(records) == n - 49
    for k, (scored, outcome) in enumerate(records):
        i = k + 49
        assert (scored.entry_time, scored.entry_price) == (int(bars.time[i]) + 300, float(bars.close[i]))
        assert (scored.analyst, scored.symbol, scored.direction, scored.horizon_seconds) == ("always-long", "ETHBTC", "Long", 7200)
        status, price = reference_outcome(bars, i, scored.stop_loss, scored.take_profit, ahead)  # type: ignore[arg-type]
        assert (outcome.status, outcome.exit_price) == (status, pytest.approx(price)), f"bar {i}"
        assert outcome.resolved == (outcome.success is not None)
    statuses = {o.status for _, o in records}
    assert statuses == {"take_profit", "stop_loss", "horizon", "open"}
    last_close = int(bars.time[-1]) + 300
    assert all(s.entry_time + s.horizon_seconds > last_close for s, o in records if o.status == "open")
    assert report == performance_report(records)
    assert report["predictions_made"] == len(records) and report["resolved"] + report["open"] == len(records)
    assert report["per_class"]["Long"]["recall"] == 1.0 and report["per_class"]["Short"]["precision"] is None
    assert 0.0 <= report["brier_score"] <= 1.0


def test_array_scoring_matches_candle_scoring(bars: Bars) -> None:
    records, _ = evaluate(AlwaysLong(), bars.slice(0, 600), symbol="ETHBTC", timeframe=M5, warmup=100, step=7)
    candles = bars_to_candles(bars.slice(0, 600))
    for scored, outcome in records:
        assert resolve_outcome(scored, candles) == outcome


def test_the_analyst_never_sees_the_future(bars: Bars) -> None:
    detector = LookAheadDetector(bars)
    records, report = evaluate(detector, bars, symbol="ETHBTC", timeframe=M5, warmup=20, step=3)
    assert len(detector.last_seen) == len(records) == len(range(19, len(bars), 3))
    for (scored, _), last in zip(records, detector.last_seen, strict=True):
        assert last + M5.seconds == scored.entry_time
    assert report["per_class"]["Short"]["predicted"] == report["resolved"]


def test_higher_timeframes_hold_only_complete_candles(bars: Bars) -> None:
    higher = (Timeframe.M15, Timeframe.H1, Timeframe.H4)
    peeker = HigherPeeker(bars, higher)
    records, report = evaluate(peeker, bars.slice(0, 2000), symbol="ETHBTC", timeframe=M5, higher=higher,
                               warmup=60, step=11)
    assert peeker.calls == len(records) > 100
    assert {o.status for _, o in records} <= {"horizon", "open"}  # Neutral waits for the horizon
    assert report["per_class"]["Neutral"]["predicted"] == report["resolved"]


def test_history_is_read_only_to_the_analyst(bars: Bars) -> None:
    class Vandal:
        name = "vandal"

        def analyze(self, request: AnalysisRequest) -> Signal:
            request.candles[M5].close[-1] = 1.0
            raise AssertionError("unreachable")

    before = bars.close.copy()
    with pytest.raises(ValueError, match="read-only"):
        evaluate(Vandal(), bars, symbol="ETHBTC", timeframe=M5)
    np.testing.assert_array_equal(bars.close, before)
    assert bars.close.flags.writeable


def test_progress_and_horizon_override(bars: Bars) -> None:
    class Flat:
        name = "flat"

        def analyze(self, request: AnalysisRequest) -> Signal:
            return make_signal(request, "Neutral")

    seen: list[tuple[int, int]] = []
    part = bars.slice(0, 300)
    records, _ = evaluate(Flat(), part, symbol="ETHBTC", timeframe=M5, warmup=100, step=10,
                          horizon_seconds=600, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(k, 21) for k in range(1, 22)]  # bars 99, 109, ..., 299
    for scored, outcome in records:
        i = int(np.searchsorted(part.time, scored.entry_time - 300))
        if i + 2 < len(part):
            assert (outcome.status, outcome.exit_time, outcome.exit_price) == (
                "horizon", scored.entry_time + 600, float(part.close[i + 2]))
        else:
            assert outcome.status == "open"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"higher": (M5,)}, "higher"), ({"higher": (Timeframe.M1,)}, "higher"), ({"warmup": 0}, "warmup"),
     ({"step": 0}, "step"), ({"horizon_seconds": -1}, "horizon_seconds")],
)
def test_bad_arguments_name_the_field(bars: Bars, kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        evaluate(AlwaysLong(), bars, symbol="ETHBTC", timeframe=M5, **kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_unsorted_bars_are_refused(bars: Bars) -> None:
    shuffled = Bars(*(column[::-1] for column in bars.slice(0, 200)))
    with pytest.raises(ValidationError) as caught:
        evaluate(AlwaysLong(), shuffled, symbol="ETHBTC", timeframe=M5)
    assert caught.value.field == "bars"
