"""Outcome scoring on hand-built candles: one test per rule, and a property that the future never rewrites the past."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradewind.domain.candle import Candle
from tradewind.domain.errors import ValidationError
from tradewind.domain.timeframe import Timeframe
from tradewind.signals.outcomes import (
    DEFAULT_HORIZONS,
    Outcome,
    ScoredInput,
    resolve_outcome,
)

T0 = 6_000  # entry time: the close of the last candle the analyst saw (1m candles)


def signal(
    direction: str = "Long",
    *,
    sl: float | None = 99.0,
    tp: float | None = 102.0,
    horizon: int = 300,
    candle_seconds: int | None = 60,
    entry: float = 100.0,
) -> ScoredInput:
    return ScoredInput(
        signal_id="s1", symbol="BTCUSD", analyst="test", direction=direction,  # type: ignore[arg-type]
        confidence=0.7, entry_time=T0, entry_price=entry, stop_loss=sl, take_profit=tp,
        horizon_seconds=horizon, candle_seconds=candle_seconds,
    )


def bar(minute: int, o: float, h: float, l: float, c: float, *, closed: bool = True) -> Candle:
    """A 1m candle opening ``minute`` minutes after the entry."""
    return Candle(T0 + 60 * minute, o, h, l, c, 1.0, closed=closed)


FLAT = [bar(m, 100.0, 100.5, 99.5, 100.0) for m in range(5)]  # never reaches 99 or 102


# --- take-profit and stop-loss --------------------------------------------------------------------
def test_take_profit_first() -> None:
    candles = [bar(0, 100, 101, 99.5, 100.5), bar(1, 100.5, 102.5, 100.2, 102.2), bar(2, 102, 102, 95, 96)]
    assert resolve_outcome(signal(), candles) == Outcome("s1", "take_profit", T0 + 120, 102.0, pytest.approx(0.02), "Long", True)


def test_stop_loss_first() -> None:
    candles = [bar(0, 100, 100.4, 99.6, 100), bar(1, 100, 100.2, 98.9, 99.2), bar(2, 99, 103, 99, 103)]
    assert resolve_outcome(signal(), candles) == Outcome("s1", "stop_loss", T0 + 120, 99.0, pytest.approx(-0.01), "Short", False)


def test_level_touched_exactly_counts() -> None:
    assert resolve_outcome(signal(), [bar(0, 100, 102.0, 99.5, 101)]).status == "take_profit"
    assert resolve_outcome(signal(), [bar(0, 100, 100.5, 99.0, 100)]).status == "stop_loss"


def test_both_levels_in_one_candle_is_a_stop_loss() -> None:
    out = resolve_outcome(signal(), [bar(0, 100, 103, 98, 101)])
    assert (out.status, out.exit_price, out.success) == ("stop_loss", 99.0, False)


def test_a_candle_that_opens_beyond_the_take_profit_took_it_first() -> None:
    out = resolve_outcome(signal(), [bar(0, 102.5, 103, 98, 101)])  # opened above TP, then fell through SL
    assert (out.status, out.exit_price, out.success) == ("take_profit", 102.0, True)


def test_a_gap_through_the_stop_fills_at_the_open() -> None:
    out = resolve_outcome(signal(), [bar(0, 97.0, 97.5, 96.0, 97.2)])
    assert (out.status, out.exit_price) == ("stop_loss", 97.0)
    assert out.realized_return == pytest.approx(-0.03)


def test_levels_decide_before_the_horizon_has_passed() -> None:
    out = resolve_outcome(signal(horizon=86_400), [bar(0, 100, 102.5, 99.5, 102)])
    assert out.status == "take_profit"


# --- short side -------------------------------------------------------------------------------
def test_short_take_profit_profits_when_price_falls() -> None:
    out = resolve_outcome(signal("Short", sl=101.0, tp=98.0), [bar(0, 100, 100.5, 99, 99.5), bar(1, 99.5, 99.6, 97.5, 97.8)])
    assert (out.status, out.exit_price, out.actual, out.success) == ("take_profit", 98.0, "Short", True)
    assert out.realized_return == pytest.approx(0.02)


def test_short_stop_loss_and_gap() -> None:
    out = resolve_outcome(signal("Short", sl=101.0, tp=98.0), [bar(0, 100, 101.2, 99.5, 101)])
    assert (out.status, out.exit_price, out.actual, out.success) == ("stop_loss", 101.0, "Long", False)
    assert out.realized_return == pytest.approx(-0.01)
    gapped = resolve_outcome(signal("Short", sl=101.0, tp=98.0), [bar(0, 103, 104, 102, 103)])
    assert gapped.exit_price == 103.0
    both = resolve_outcome(signal("Short", sl=101.0, tp=98.0), [bar(0, 100, 102, 97, 99)])
    assert both.status == "stop_loss"


def test_short_at_the_horizon() -> None:
    candles = [bar(m, 100 - m * 0.2, 100.2 - m * 0.2, 99.6 - m * 0.2, 99.8 - m * 0.2) for m in range(5)]
    out = resolve_outcome(signal("Short", sl=101.0, tp=95.0), candles)
    assert (out.status, out.exit_time, out.exit_price) == ("horizon", T0 + 300, 99.0)
    assert out.realized_return == pytest.approx(0.01)
    assert (out.actual, out.success) == ("Short", True)


# --- nonsense levels --------------------------------------------------------------------------
def test_long_with_stop_above_entry_ignores_the_stop() -> None:
    out = resolve_outcome(signal(sl=101.0, tp=102.0), FLAT)  # every candle's low is under 101
    assert out.status == "horizon"
    out = resolve_outcome(signal(sl=101.0, tp=102.0), [*FLAT[:2], bar(2, 100, 102.5, 99, 102)])
    assert out.status == "take_profit"  # the TP still counts


def test_long_with_take_profit_below_entry_ignores_it() -> None:
    candles = [bar(0, 100, 100.5, 98.5, 99), *FLAT[1:]]
    assert resolve_outcome(signal(sl=97.0, tp=98.5), candles).status == "horizon"
    assert resolve_outcome(signal(sl=98.8, tp=98.5), candles).status == "stop_loss"


def test_short_with_levels_on_the_wrong_side_and_junk_levels() -> None:
    assert resolve_outcome(signal("Short", sl=99.0, tp=101.0), FLAT).status == "horizon"  # both nonsense
    for junk in (float("nan"), float("inf"), 0.0, -5.0, 100.0, None):
        assert resolve_outcome(signal(sl=junk, tp=junk), [bar(0, 100, 200, 1, 100), *FLAT[1:]]).status == "horizon"


# --- horizon, open, gaps ---------------------------------------------------------------------
def test_horizon_exit_at_the_last_close_inside_the_horizon() -> None:
    candles = [*FLAT[:4], bar(4, 100, 100.9, 99.8, 100.3), bar(5, 100.3, 110, 90, 105)]
    out = resolve_outcome(signal(), candles)  # the candle at minute 5 lies beyond the horizon
    assert out == Outcome("s1", "horizon", T0 + 300, 100.3, pytest.approx(0.003), "Neutral", True)


def test_open_until_the_horizon_has_passed() -> None:
    out = resolve_outcome(signal(), FLAT[:4])
    assert out == Outcome("s1", "open", None, None, None, None, None)
    assert resolve_outcome(signal(), []).status == "open"


def test_without_candle_length_a_later_candle_proves_the_horizon_passed() -> None:
    sig = signal(candle_seconds=None)
    assert resolve_outcome(sig, FLAT).status == "open"
    out = resolve_outcome(sig, [*FLAT, bar(5, 100, 100, 100, 100)])
    assert (out.status, out.exit_time, out.exit_price) == ("horizon", T0 + 300, 100.0)


def test_forming_candles_are_ignored() -> None:
    assert resolve_outcome(signal(), [bar(0, 100, 103, 100, 102.5, closed=False)]).status == "open"
    assert resolve_outcome(signal(), [*FLAT[:4], bar(4, 100, 100, 100, 100, closed=False)]).status == "open"


def test_candles_before_entry_are_not_walked() -> None:
    before = Candle(T0 - 60, 100, 105, 95, 100, 1.0)  # the analyst's own last candle
    assert resolve_outcome(signal(), [before, *FLAT]).status == "horizon"


def test_gap_inside_the_horizon_uses_what_exists() -> None:
    candles = [FLAT[0], bar(3, 100, 101, 99.8, 100.8), bar(7, 100, 100, 100, 100)]
    out = resolve_outcome(signal(), candles)
    assert (out.status, out.exit_time, out.exit_price) == ("horizon", T0 + 240, 100.8)


def test_gap_at_the_end_stays_open_until_a_later_candle_exists() -> None:
    assert resolve_outcome(signal(), FLAT[:2]).status == "open"
    out = resolve_outcome(signal(), [*FLAT[:2], bar(9, 101.5, 101.6, 101, 101.2)])
    assert (out.status, out.exit_time, out.exit_price) == ("horizon", T0 + 120, 100.0)


def test_no_candle_inside_the_horizon_exits_at_the_first_open_after_it() -> None:
    later = bar(60, 101.0, 103, 97, 102)  # weekend: the next candle opens an hour later
    assert resolve_outcome(signal(), []).status == "open"
    out = resolve_outcome(signal(), [later])
    assert out == Outcome("s1", "horizon", later.time, 101.0, pytest.approx(0.01), "Long", True)


def test_exit_time_is_none_when_the_candle_length_cannot_be_known() -> None:
    out = resolve_outcome(signal(candle_seconds=None), [bar(0, 100, 102.5, 99.5, 102)])
    assert (out.status, out.exit_time) == ("take_profit", None)
    prior = Candle(T0 - 60, 100, 100, 100, 100, 1.0)
    assert resolve_outcome(signal(candle_seconds=None), [prior, bar(0, 100, 102.5, 99.5, 102)]).exit_time == T0 + 60


def test_unsorted_candles_are_sorted() -> None:
    candles = [bar(1, 100.5, 102.5, 100.2, 102.2), bar(0, 100, 100.4, 98.0, 99)]
    assert resolve_outcome(signal(), candles).status == "stop_loss"


# --- the neutral band ------------------------------------------------------------------------
def test_neutral_inside_the_band_is_a_success() -> None:
    candles = [*FLAT[:4], bar(4, 100, 100.5, 99.5, 100.4)]
    out = resolve_outcome(signal("Neutral"), candles)
    assert out == Outcome("s1", "horizon", T0 + 300, 100.4, pytest.approx(0.004), "Neutral", True)


def test_neutral_outside_the_band_fails_and_ignores_levels() -> None:
    candles = [bar(0, 100, 103, 97, 100), *FLAT[1:4], bar(4, 100, 100.5, 98.9, 99.0)]
    out = resolve_outcome(signal("Neutral"), candles)  # levels crossed in the first candle: still horizon
    assert (out.status, out.actual, out.success) == ("horizon", "Short", False)
    assert out.realized_return == pytest.approx(-0.01)
    assert resolve_outcome(signal("Neutral"), candles[:2]).status == "open"


def test_the_band_sets_what_counts_as_a_move() -> None:
    candles = [*FLAT[:4], bar(4, 100, 100.5, 99.5, 100.4)]
    wide = resolve_outcome(signal(), candles, neutral_band=0.001)
    assert (wide.actual, wide.success) == ("Long", True)
    with pytest.raises(ValidationError):
        resolve_outcome(signal(), candles, neutral_band=-0.1)


# --- inputs and defaults ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value"),
    [("confidence", 1.5), ("confidence", float("nan")), ("entry_price", 0.0), ("horizon_seconds", 0),
     ("direction", "Up"), ("candle_seconds", -60)],
)
def test_bad_inputs_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        replace(signal(), **{field: value})
    assert caught.value.field == field


def test_default_horizons_cover_every_timeframe_in_whole_bars() -> None:
    assert set(DEFAULT_HORIZONS) == set(Timeframe)
    for tf, seconds in DEFAULT_HORIZONS.items():
        assert seconds % tf.seconds == 0 and 20 <= seconds // tf.seconds <= 30


# --- the property: more future never rewrites a resolved past --------------------------------
@st.composite
def scenarios(draw: st.DrawFn) -> tuple[ScoredInput, list[Candle]]:
    n = draw(st.integers(0, 30))
    t = T0 - 60 * draw(st.integers(0, 3))
    price = 100.0
    candles = []
    for _ in range(n):
        t += 60 * draw(st.sampled_from([1, 1, 1, 2, 5]))
        o = price
        c = price * (1 + draw(st.floats(-0.03, 0.03)))
        h = max(o, c) * (1 + draw(st.floats(0, 0.02)))
        l = min(o, c) * (1 - draw(st.floats(0, 0.02)))
        candles.append(Candle(t - 60, o, h, l, c, 1.0))
        price = c
    level = st.one_of(st.none(), st.floats(97, 103))  # near entry, either side: some nonsense
    sig = ScoredInput(
        signal_id="p", symbol="X", analyst="a", direction=draw(st.sampled_from(["Long", "Short", "Neutral"])),
        confidence=0.5, entry_time=T0, entry_price=100.0, stop_loss=draw(level), take_profit=draw(level),
        horizon_seconds=60 * draw(st.integers(1, 12)), candle_seconds=draw(st.sampled_from([None, 60])),
    )
    return sig, candles


@settings(max_examples=300, deadline=None)
@given(scenarios(), st.sampled_from([0.0, 0.005, 0.02]))
def test_more_future_candles_never_change_a_resolved_outcome(
    case: tuple[ScoredInput, list[Candle]], band: float
) -> None:
    sig, candles = case
    final = resolve_outcome(sig, candles, neutral_band=band)
    seen_resolved = False
    for m in range(len(candles) + 1):
        out = resolve_outcome(sig, candles[:m], neutral_band=band)
        if out.status == "open":
            assert not seen_resolved, "an outcome went back to open"
            assert (out.exit_time, out.exit_price, out.realized_return, out.actual, out.success) == (None,) * 5
        else:
            seen_resolved = True
            assert out == final
