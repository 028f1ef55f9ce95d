"""Indicators on real candles: the layer adds nothing to TA-Lib, and batch, latest and stream agree."""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import talib
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from talib import abstract

from tradewind.analysis.indicators import (
    INDICATORS,
    MIN_CANDLES,
    IndicatorSnapshot,
    IndicatorStream,
    compute_indicators,
    latest_indicators,
)
from tradewind.domain.bars import Bars
from tradewind.domain.errors import InvalidCandle

DATA = Path(__file__).parent / "data"
FILES = ["ETH_BTC-1m.json", "ETH_BTC-5m.json"]


@cache
def real_bars(name: str) -> Bars:
    """A Freqtrade ``[[ts_ms, o, h, l, c, v], ...]`` file as Bars."""
    rows = np.array(json.loads((DATA / name).read_text()), dtype=np.float64)
    time = (rows[:, 0] // 1000).astype(np.int64)
    return Bars(time, *(rows[:, i].copy() for i in range(1, 6)), np.full(len(rows), np.nan))


def make_bars(o: np.ndarray, h: np.ndarray, l: np.ndarray, c: np.ndarray, v: np.ndarray) -> Bars:
    n = len(c)
    time = np.arange(n, dtype=np.int64) * 60
    cols = (np.asarray(x, dtype=np.float64) for x in (o, h, l, c, v))
    return Bars(time, *cols, np.full(n, np.nan))


def direct_talib(bars: Bars) -> dict[str, np.ndarray]:
    """The indicator set written out as plain TA-Lib calls, independently of the module's table."""
    h, l, c, v = bars.high, bars.low, bars.close, bars.volume
    stoch_k, stoch_d = talib.STOCH(h, l, c, fastk_period=14, slowk_period=3, slowk_matype=0, slowd_period=3, slowd_matype=0)
    macd, macd_signal, macd_hist = talib.MACD(c, fastperiod=12, slowperiod=26, signalperiod=9)
    bb_upper, bb_middle, bb_lower = talib.BBANDS(c, timeperiod=20, nbdevup=2.0, nbdevdn=2.0, matype=0)
    volume_sma = talib.SMA(v, timeperiod=20)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(volume_sma > 0, v / volume_sma, np.nan)
    return {
        "sma_20": talib.SMA(c, timeperiod=20),
        "sma_50": talib.SMA(c, timeperiod=50),
        "ema_9": talib.EMA(c, timeperiod=9),
        "ema_12": talib.EMA(c, timeperiod=12),
        "ema_21": talib.EMA(c, timeperiod=21),
        "ema_26": talib.EMA(c, timeperiod=26),
        "ema_50": talib.EMA(c, timeperiod=50),
        "rsi_14": talib.RSI(c, timeperiod=14),
        "stoch_k": stoch_k,
        "stoch_d": stoch_d,
        "macd": macd,
        "macd_signal": macd_signal,
        "macd_hist": macd_hist,
        "bb_upper": bb_upper,
        "bb_middle": bb_middle,
        "bb_lower": bb_lower,
        "atr_14": talib.ATR(h, l, c, timeperiod=14),
        "adx_14": talib.ADX(h, l, c, timeperiod=14),
        "volume_sma_20": volume_sma,
        "volume_ratio": ratio,
    }


def row(batch: dict[str, np.ndarray], i: int) -> dict[str, float | None]:
    """Row ``i`` of a batch result the way a snapshot reports it (NaN -> None)."""
    return {name: None if math.isnan(batch[name][i]) else float(batch[name][i]) for name in INDICATORS}


def assert_clean(snapshot: IndicatorSnapshot) -> None:
    """No NaN or inf leaks out, and ``missing`` names exactly the ``None`` values."""
    assert list(snapshot.values) == list(INDICATORS)
    for name, value in snapshot.values.items():
        assert value is None or math.isfinite(value), (name, value)
    assert snapshot.missing == {n: MIN_CANDLES[n] for n, v in snapshot.values.items() if v is None}


# -- the API's shape ---------------------------------------------------------------------------


def test_names_and_warm_up_lengths() -> None:
    assert INDICATORS == (
        "sma_20", "sma_50", "ema_9", "ema_12", "ema_21", "ema_26", "ema_50", "rsi_14",
        "stoch_k", "stoch_d", "macd", "macd_signal", "macd_hist", "bb_upper", "bb_middle", "bb_lower",
        "atr_14", "adx_14", "volume_sma_20", "volume_ratio",
    )  # fmt: skip
    assert MIN_CANDLES == {
        "sma_20": 20, "sma_50": 50, "ema_9": 9, "ema_12": 12, "ema_21": 21, "ema_26": 26, "ema_50": 50,
        "rsi_14": 15, "stoch_k": 18, "stoch_d": 18, "macd": 34, "macd_signal": 34, "macd_hist": 34,
        "bb_upper": 20, "bb_middle": 20, "bb_lower": 20, "atr_14": 15, "adx_14": 28,
        "volume_sma_20": 20, "volume_ratio": 20,
    }  # fmt: skip
    # The same numbers as TA-Lib's own lookback + 1.
    assert MIN_CANDLES["adx_14"] == abstract.Function("ADX", timeperiod=14).lookback + 1
    assert MIN_CANDLES["macd"] == abstract.Function("MACD", fastperiod=12, slowperiod=26, signalperiod=9).lookback + 1


# -- batch and latest --------------------------------------------------------------------------


@pytest.mark.parametrize("name", FILES)
def test_batch_is_exactly_direct_talib(name: str) -> None:
    bars = real_bars(name)
    ours = compute_indicators(bars)
    expected = direct_talib(bars)
    assert list(ours) == list(INDICATORS)
    for key in INDICATORS:
        assert ours[key].dtype == np.float64 and ours[key].shape == (len(bars),)
        np.testing.assert_array_equal(ours[key], expected[key], err_msg=key)
        # NaN exactly during warm-up, a value from MIN_CANDLES on (real volume is never all zero).
        assert np.isnan(ours[key][: MIN_CANDLES[key] - 1]).all(), key
        assert np.isfinite(ours[key][MIN_CANDLES[key] - 1 :]).all(), key


@pytest.mark.parametrize("name", FILES)
def test_latest_is_exactly_the_last_batch_row(name: str) -> None:
    full = real_bars(name)
    lengths = sorted({0, 1, 2, 100, 500, len(full)} | {m + d for m in MIN_CANDLES.values() for d in (-1, 0, 1)})
    for n in lengths:
        bars = full.slice(0, n)
        snapshot = latest_indicators(bars)
        assert snapshot.candles == n
        assert_clean(snapshot)
        if n:
            assert snapshot.values == row(compute_indicators(bars), n - 1), n
        if 0 < n <= len(full) - 7:  # a window that does not start at bar 0 is the batch over it
            window = full.slice(len(full) - 7 - n, len(full) - 7)
            assert latest_indicators(window).values == row(compute_indicators(window), n - 1), n


def test_appending_a_bar_never_changes_past_values() -> None:
    full = real_bars("ETH_BTC-5m.json")
    whole = compute_indicators(full)
    part = compute_indicators(full.slice(0, 777))
    for key in INDICATORS:
        np.testing.assert_array_equal(part[key], whole[key][:777], err_msg=key)


# -- too few candles, degenerate prices ---------------------------------------------------------


def test_each_indicator_is_none_exactly_until_its_min_candles() -> None:
    full = real_bars("ETH_BTC-1m.json")
    for n in range(61):
        snapshot = latest_indicators(full.slice(0, n))
        assert_clean(snapshot)
        for key in INDICATORS:
            assert (snapshot[key] is None) == (n < MIN_CANDLES[key]), (key, n)
        assert snapshot.missing == {key: need for key, need in MIN_CANDLES.items() if n < need}
    assert latest_indicators(full.slice(0, 9)).missing["rsi_14"] == 15  # "RSI 14 needs 15 candles, have 9"


def test_zero_and_one_candle() -> None:
    one = real_bars("ETH_BTC-5m.json").slice(0, 1)
    for bars in (one.slice(0, 0), one):
        snapshot = latest_indicators(bars)
        assert snapshot.candles == len(bars)
        assert all(v is None for v in snapshot.values.values())
        assert snapshot.missing == MIN_CANDLES
        assert all(np.isnan(a).all() and len(a) == len(bars) for a in compute_indicators(bars).values())
        stream = IndicatorStream(bars)
        assert stream.snapshot.values == snapshot.values


@pytest.mark.parametrize("n", [0, 1, 19, 20, 30, 60, 200])
def test_constant_prices_and_zero_volume_leak_no_nan_or_inf(n: int) -> None:
    price = np.full(n, 0.05)
    bars = make_bars(price, price, price, price, np.zeros(n))
    snapshot = latest_indicators(bars)
    assert_clean(snapshot)
    assert snapshot["volume_ratio"] is None  # average volume 0: undefined, not 0 or inf
    if n >= 60:
        # TA-Lib's running sums are a few ulps off the exact mean; the spread is nil.
        assert snapshot["sma_50"] == pytest.approx(0.05, rel=1e-12)
        assert snapshot["bb_upper"] == pytest.approx(0.05, rel=1e-12)
        assert snapshot["atr_14"] == 0.0 and snapshot["stoch_k"] == 0.0 and snapshot["adx_14"] == 0.0
    batch = compute_indicators(bars)
    assert not any(np.isinf(a).any() for a in batch.values())
    if n:
        assert snapshot.values == row(batch, n - 1)
    stream = IndicatorStream(bars.slice(0, n // 2))
    for i in range(n // 2, n):
        assert stream.update(0.05, 0.05, 0.05, 0.05, 0.0).values == row(batch, i)


def test_zero_volume_after_real_volume_stays_finite() -> None:
    # TA-Lib's running sum leaves a few ulps behind once the window is all zeros.
    real = real_bars("ETH_BTC-5m.json").slice(0, 200)
    volume = real.volume.copy()
    volume[100:150] = 0.0
    bars = Bars(real.time, real.open, real.high, real.low, real.close, volume, real.spread)
    batch = compute_indicators(bars)
    for n in range(100, 201):
        snapshot = latest_indicators(bars.slice(0, n))
        assert_clean(snapshot)
        assert snapshot.values == row(batch, n - 1)


# -- the stream --------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "warm", "stop"), [
    ("ETH_BTC-5m.json", 0, 400),
    ("ETH_BTC-5m.json", 7, 400),
    ("ETH_BTC-5m.json", 40, None),
    ("ETH_BTC-1m.json", 300, 6000),
])  # fmt: skip
def test_stream_matches_batch_at_every_step(name: str, warm: int, stop: int | None) -> None:
    full = real_bars(name)
    bars = full.slice(0, stop)
    batch = compute_indicators(bars)
    matrix = np.column_stack([batch[key] for key in INDICATORS])
    stream = IndicatorStream(bars.slice(0, warm))
    if warm:
        assert stream.snapshot.values == row(batch, warm - 1)
    o, h, l, c, v = (col.tolist() for col in (bars.open, bars.high, bars.low, bars.close, bars.volume))
    for i in range(warm, len(bars)):
        # A forming candle that never closes like this must leave no trace.
        stream.peek(o[i] * 1.01, h[i] * 1.02, l[i] * 0.98, c[i] * 0.99, v[i] * 3 + 1)
        peeked = stream.peek(o[i], h[i], l[i], c[i], v[i])
        snapshot = stream.update(o[i], h[i], l[i], c[i], v[i])
        assert snapshot.candles == peeked.candles == i + 1
        got = np.array([np.nan if x is None else x for x in snapshot.values.values()])
        # Bit-identical, not merely close: TA-Lib 0.8 handles replay the batch arithmetic.
        np.testing.assert_array_equal(got, matrix[i], err_msg=f"bar {i}")
        assert peeked.values == snapshot.values, f"bar {i}"
        assert_clean(snapshot)
    assert stream.snapshot is snapshot


def test_stream_rejects_a_non_finite_candle_and_stays_in_step() -> None:
    bars = real_bars("ETH_BTC-5m.json").slice(0, 120)
    batch = compute_indicators(bars)
    stream = IndicatorStream(bars.slice(0, 100))
    for bad in (math.nan, math.inf):
        with pytest.raises(InvalidCandle):
            stream.update(1.0, 1.0, 1.0, bad, 1.0)
        with pytest.raises(InvalidCandle):
            stream.peek(1.0, bad, 1.0, 1.0, 1.0)
    for i in range(100, 120):
        assert stream.update(*(float(col[i]) for col in bars[1:6])).values == row(batch, i)


# -- property --------------------------------------------------------------------------------


@st.composite
def ohlcv(draw: st.DrawFn) -> Bars:
    """A valid OHLCV series: positive prices, high >= max(open, close), low <= min, volume >= 0."""
    n = draw(st.integers(0, 90))
    start = draw(st.floats(1e-4, 1e5))
    moves = np.array(draw(st.lists(st.floats(-0.2, 0.2), min_size=n, max_size=n)))
    wicks = np.array(draw(st.lists(st.floats(0.0, 0.1), min_size=2 * n, max_size=2 * n))).reshape(2, n)
    volume = np.array(draw(st.lists(st.one_of(st.just(0.0), st.floats(0.0, 1e7)), min_size=n, max_size=n)))
    close = start * np.exp(np.cumsum(moves))
    open_ = np.concatenate(([start], close[:-1]))[:n]
    high = np.maximum(open_, close) * (1 + wicks[0])
    low = np.minimum(open_, close) * (1 - wicks[1])
    return make_bars(open_, high, low, close, volume)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ohlcv())
def test_latest_is_finite_and_equals_the_batch_tail(bars: Bars) -> None:
    snapshot = latest_indicators(bars)
    assert_clean(snapshot)
    assert snapshot.candles == len(bars)
    if len(bars):
        assert snapshot.values == row(compute_indicators(bars), len(bars) - 1)
