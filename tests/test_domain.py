from __future__ import annotations

import math

import pytest

from tradewind.domain import Candle, Timeframe, check_candle, normalize_symbol, parse_timeframe, parse_timeframe_name
from tradewind.domain.errors import InvalidCandle, InvalidSymbol, InvalidTimeframe


@pytest.mark.parametrize(
    ("text", "timeframe", "answered"),
    [
        ("1m", Timeframe.M1, "1m"), ("M1", Timeframe.M1, "M1"), ("m1", Timeframe.M1, "M1"),
        ("5M", Timeframe.M5, "5m"), ("m15", Timeframe.M15, "M15"), ("30m", Timeframe.M30, "30m"),
        ("H1", Timeframe.H1, "H1"), ("1H", Timeframe.H1, "1h"), ("h4", Timeframe.H4, "H4"),
        ("4h", Timeframe.H4, "4h"), ("D1", Timeframe.D1, "D1"), ("1d", Timeframe.D1, "1d"),
    ],
)
def test_timeframes_in_both_families_answer_in_the_form_asked(text: str, timeframe: Timeframe, answered: str) -> None:
    name = parse_timeframe_name(text)
    assert name.timeframe is timeframe
    assert str(name) == answered


@pytest.mark.parametrize("text", ["", "2m", "1w", "H2", "minute", "1 m"])
def test_unknown_timeframes_are_rejected_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidTimeframe) as info:
        parse_timeframe(text, field="timeframe")
    assert info.value.field == "timeframe"
    assert repr(text) in str(info.value)


def test_buckets_align_to_utc_boundaries() -> None:
    ts = 1_700_003_723.5  # 2023-11-14T23:15:23.5Z
    assert Timeframe.M1.bucket(ts) % 60 == 0
    assert Timeframe.H4.bucket(ts) % 14400 == 0
    assert Timeframe.D1.bucket(ts) == 1_699_920_000  # 2023-11-14T00:00:00Z
    assert Timeframe.M15.bucket(ts) == 1_700_003_700


@pytest.mark.parametrize("text", ["BTCUSDT", "BTC/USDT", "btc-usdt", "btc_usdt", " BtcUsdt ".upper(), "btcusdt"])
def test_symbol_spellings_are_one_symbol(text: str) -> None:
    assert normalize_symbol(text) == "BTCUSDT"


def test_broker_suffix_stays_distinct() -> None:
    assert normalize_symbol("BTCUSDc") == "BTCUSDc"
    assert normalize_symbol("BTCUSDC") == "BTCUSDC"
    assert normalize_symbol("BTCUSDc") != normalize_symbol("BTCUSDC")
    assert normalize_symbol("EURUSDm") == "EURUSDm"
    assert normalize_symbol("BTC/USDT:USDT") == "BTCUSDT:USDT"


@pytest.mark.parametrize("text", ["", "   ", "BTC$USD", "x" * 41])
def test_bad_symbols_are_rejected(text: str) -> None:
    with pytest.raises(InvalidSymbol) as info:
        normalize_symbol(text)
    assert info.value.field == "symbol"


def test_valid_candle_round_trips() -> None:
    candle = check_candle(60, 1.0, 2.0, 0.5, 1.5, 10, 0.01)
    assert candle == Candle(60, 1.0, 2.0, 0.5, 1.5, 10.0, 0.01)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ((60, math.nan, 2.0, 0.5, 1.5, 1.0), "open"),
        ((60, 1.0, math.inf, 0.5, 1.5, 1.0), "high"),
        ((60, 1.0, 0.4, 0.5, 0.45, 1.0), "high"),
        ((60, 1.0, 2.0, 0.5, 1.5, -1.0), "volume"),
        ((60, -1.0, 2.0, 0.5, 1.5, 1.0), "open"),
        ((60.5, 1.0, 2.0, 0.5, 1.5, 1.0), "time"),
        ((60, "1.0", 2.0, 0.5, 1.5, 1.0), "open"),
        ((60, 1.0, 2.0, 1.2, 1.5, 1.0), "low"),
    ],
)
def test_bad_candles_name_the_field_and_row(values: tuple, field: str) -> None:
    with pytest.raises(InvalidCandle) as info:
        check_candle(*values, row=7)
    assert info.value.field == field
    assert info.value.row == 7
    assert str(info.value).startswith("row 7:")


@pytest.mark.parametrize("text", [":", "....", ".", "::", "BTC:", ":USDT", ".BTC", "BTC.", "A..B", "../../etc", "A" * 41])
def test_text_that_normalises_to_nothing_is_not_a_symbol(text: str) -> None:
    with pytest.raises(InvalidSymbol):
        normalize_symbol(text)


def test_parse_caches_are_bounded_in_bytes_not_only_entries() -> None:
    """Twenty 5 MB padded names are refused before they are parsed or cached, and quoted short."""
    import tracemalloc

    from tradewind.domain import symbol, timeframe

    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    for i in range(20):
        padded = " " * 5_000_000 + f"BTCUSDT{i}"
        with pytest.raises(InvalidSymbol) as bad_symbol:
            normalize_symbol(padded)
        with pytest.raises(InvalidTimeframe) as bad_timeframe:
            parse_timeframe_name(" " * 5_000_000 + "1m")
        assert len(str(bad_symbol.value)) < 300 and len(str(bad_timeframe.value)) < 300
        del padded, bad_symbol, bad_timeframe  # their tracebacks hold the input
    kept, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert kept - base < 1_000_000
    assert max(map(len, symbol._normalized), default=0) <= symbol.MAX_SYMBOL_INPUT
    assert max(map(len, timeframe._PARSED), default=0) <= timeframe.MAX_TIMEFRAME_INPUT
    assert normalize_symbol("  BTC/USDT  ") == "BTCUSDT"  # a little padding is still fine


def test_excerpt_quotes_a_short_part_of_any_value() -> None:
    from tradewind.domain.excerpt import excerpt

    assert excerpt("BTCUSDT") == "'BTCUSDT'"
    assert excerpt("x" * 10_000) == repr("x" * 40) + "... (10000 characters)"
    assert excerpt(b"\xff" * 100).endswith("(100 bytes)")
    assert excerpt(10**5000).startswith("an integer of about 5001 digits")
    assert len(excerpt(list(range(100_000)))) < 80


# --- check_bars: the compiled pass and the numpy rules agree ---------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tradewind.domain.bars import Bars, _fine, _vector_fine, check_bars  # noqa: E402
from tradewind.domain.epoch import MAX_EPOCH_SECONDS  # noqa: E402

_VALUES = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                    st.sampled_from([0.0, -1.0, 1.0, 2.0, 1e308, math.inf, math.nan]))


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 6).flatmap(lambda n: st.tuples(
    st.lists(st.integers(-5, MAX_EPOCH_SECONDS + 5), min_size=n, max_size=n),
    *(st.lists(_VALUES, min_size=n, max_size=n) for _ in range(5)))))
def test_compiled_candle_check_agrees_with_the_numpy_rules(columns: tuple[list[float], ...]) -> None:
    import numpy as np

    time, *prices = columns
    bars = Bars(np.array(time, dtype=np.int64), *(np.array(p, dtype=np.float64) for p in prices),
                np.full(len(time), np.nan))
    fine = _fine(*bars[:6], MAX_EPOCH_SECONDS)
    assert fine == _vector_fine(bars)
    if fine:
        check_bars(bars, field="candles")
    else:  # whatever the pass rejected, the search names
        with pytest.raises(InvalidCandle, match=r"candles\[\d+\]\."):
            check_bars(bars, field="candles")


def test_valid_bars_of_other_dtypes_take_the_numpy_rules() -> None:
    import numpy as np

    bars = Bars(np.array([0, 60], dtype=np.int32), *(np.array([1.0, 2.0], dtype=np.float32) for _ in range(4)),
                np.array([1.0, 1.0], dtype=np.float32), np.full(2, np.nan))
    check_bars(bars, field="candles")
    broken = Bars(bars.time, bars.open, bars.high, np.array([1.0, 3.0], dtype=np.float32), *bars[4:])
    with pytest.raises(InvalidCandle, match=r"candles\[1\]\.high is below low"):
        check_bars(broken, field="candles")
