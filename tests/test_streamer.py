"""The multi-timeframe streamer: aggregation, ordering rules, gaps, events, ring buffers."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradewind.domain.bus import InProcessBus
from tradewind.domain import Candle, CandleClosed, Timeframe
from tradewind.domain.errors import InvalidTimeframe, SymbolNotFound
from tradewind.domain.bars import bars_from_candles
from tradewind.market.streamer import MultiTimeframeStreamer

DATA = Path(__file__).parent / "data"
T0 = 1_699_999_200  # 2023-11-14T22:00:00Z, an hour boundary


def make(timeframes=tuple(Timeframe), size: int = 1000) -> tuple[MultiTimeframeStreamer, list[CandleClosed]]:
    bus = InProcessBus()
    closed: list[CandleClosed] = []
    bus.subscribe(CandleClosed.topic, closed.append)  # type: ignore[arg-type]
    return MultiTimeframeStreamer(["BTCUSDT"], timeframes, buffer_size=size, bus=bus), closed


def load_freqtrade(name: str) -> list[Candle]:
    rows = json.loads((DATA / name).read_text())
    return [Candle(r[0] // 1000, *map(float, r[1:])) for r in rows]


@pytest.mark.parametrize("path", ["candle", "bars"])
def test_eth_btc_1m_aggregates_to_the_exchange_5m_candles(path: str) -> None:
    """Real data: Freqtrade's ETH/BTC 1m file, aggregated, equals its 5m file over the overlap."""
    one_minute = load_freqtrade("ETH_BTC-1m.json")
    five_minute = {c.time: c for c in load_freqtrade("ETH_BTC-5m.json")}
    streamer = MultiTimeframeStreamer(["ETH/BTC"], [Timeframe.M1, Timeframe.M5], buffer_size=20_000)
    if path == "candle":
        for candle in one_minute:
            streamer.ingest_candle("ETHBTC", Timeframe.M1, candle)
    else:
        streamer.ingest_bars("ETHBTC", Timeframe.M1, bars_from_candles(one_minute))
    ours = [c for c in streamer.candles("ETHBTC", Timeframe.M5, 20_000) if c.time >= one_minute[0].time]
    overlap = [c for c in ours if c.time in five_minute]
    assert len(overlap) == 2880  # every 5m bucket the 1m file covers from its start
    for candle in overlap:
        theirs = five_minute[candle.time]
        assert (candle.open, candle.high, candle.low, candle.close) == (theirs.open, theirs.high, theirs.low, theirs.close)
        # The exchange summed decimal volumes; float addition differs only past the 8th decimal it publishes.
        assert round(candle.volume, 8) == theirs.volume
    assert ours[-1].closed is False or ours[-1].time == one_minute[-1].time // 300 * 300


def test_ticks_build_every_timeframe_and_publish_closes() -> None:
    streamer, closed = make()
    times = np.array([T0 + 1, T0 + 20, T0 + 59, T0 + 61, T0 + 300.5])
    prices = np.array([100.0, 103.0, 99.0, 101.0, 102.0])
    sizes = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    spreads = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    streamer.ingest_ticks("BTCUSDT", times, prices, sizes, spreads)
    minute = streamer.candles("BTCUSDT", Timeframe.M1, 10)
    assert minute[0] == Candle(T0, 100.0, 103.0, 99.0, 99.0, 6.0, 0.3, True)
    assert minute[-1].closed is False and minute[-1].time == int(T0 + 300.5) // 60 * 60
    hour = streamer.candles("BTCUSDT", Timeframe.H1, 10)
    assert len(hour) == 1 and hour[0].closed is False
    assert (hour[0].open, hour[0].high, hour[0].low, hour[0].close, hour[0].volume) == (100.0, 103.0, 99.0, 102.0, 15.0)
    assert {e.timeframe for e in closed} == {Timeframe.M1, Timeframe.M5}
    assert [e.candle.time for e in closed if e.timeframe is Timeframe.M1] == [T0, T0 + 60]


def test_gaps_stay_gaps() -> None:
    streamer, _ = make([Timeframe.M1])
    streamer.ingest_ticks("BTCUSDT", np.array([T0 + 5, T0 + 245.0]), np.array([1.0, 2.0]), np.ones(2))
    candles = streamer.candles("BTCUSDT", Timeframe.M1, 10)
    assert [c.time for c in candles] == [T0, T0 + 240]


def test_late_tick_updates_the_forming_candle_and_older_one_is_dropped() -> None:
    streamer, _ = make([Timeframe.M1, Timeframe.M5])
    streamer.ingest_tick("BTCUSDT", T0 + 60 + 10, 100.0, 1.0)
    streamer.ingest_tick("BTCUSDT", T0 + 60 + 30, 101.0, 1.0)
    streamer.ingest_tick("BTCUSDT", T0 + 60 + 20, 105.0, 2.0)  # late, same minute: high and volume change
    streamer.ingest_tick("BTCUSDT", T0 + 60 + 5, 99.0, 1.0)  # late and earliest: becomes the open
    streamer.ingest_tick("BTCUSDT", T0 + 59, 50.0, 1.0)  # previous minute: dropped
    forming = streamer.candles("BTCUSDT", Timeframe.M1, 1)[0]
    assert forming == Candle(T0 + 60, 99.0, 105.0, 99.0, 101.0, 5.0, None, False)
    assert streamer.metrics.ticks_late_applied == 2
    assert streamer.metrics.ticks_dropped_old == 1
    assert streamer.metrics.ticks_received == 5
    five = streamer.candles("BTCUSDT", Timeframe.M5, 1)[0]
    assert (five.low, five.volume) == (99.0, 5.0)


def test_unsorted_batch_falls_back_to_tick_rules() -> None:
    streamer, _ = make([Timeframe.M1])
    streamer.ingest_ticks("BTCUSDT", np.array([T0 + 70, T0 + 65, T0 + 10.0]), np.array([2.0, 3.0, 9.0]), np.ones(3))
    assert streamer.candles("BTCUSDT", Timeframe.M1, 5) == [Candle(T0 + 60, 3.0, 3.0, 2.0, 2.0, 2.0, None, False)]
    assert streamer.metrics.ticks_dropped_old == 1


def test_clock_closes_quiet_candles_after_the_grace() -> None:
    streamer, closed = make([Timeframe.M1, Timeframe.M5])
    streamer.ingest_tick("BTCUSDT", T0 + 10, 100.0, 1.0)
    assert streamer.close_due(T0 + 61, grace=2.0) == 0
    assert streamer.close_due(T0 + 62, grace=2.0) == 1
    assert [e.timeframe for e in closed] == [Timeframe.M1]
    streamer.ingest_tick("BTCUSDT", T0 + 30, 1.0, 1.0)  # belongs to a closed candle now: dropped
    assert streamer.metrics.ticks_dropped_old == 1
    assert streamer.candles("BTCUSDT", Timeframe.M1, 5)[-1].closed is True


def test_candle_snapshots_replace_and_complete_buckets_close() -> None:
    streamer, closed = make([Timeframe.M1, Timeframe.M5])
    first = Candle(T0, 10.0, 12.0, 9.0, 11.0, 5.0, None, False)
    streamer.ingest_candle("BTCUSDT", Timeframe.M1, first)
    streamer.ingest_candle("BTCUSDT", Timeframe.M1, replace(first, high=13.0, close=12.5, volume=7.0))
    assert streamer.candles("BTCUSDT", Timeframe.M5, 1)[0].volume == 7.0  # snapshot replaced, not added
    streamer.ingest_candle("BTCUSDT", Timeframe.M1, replace(first, high=13.0, close=12.0, volume=8.0, closed=True))
    assert streamer.candles("BTCUSDT", Timeframe.M1, 1)[0] == Candle(T0, 10.0, 13.0, 9.0, 12.0, 8.0)
    bucket_end = (T0 // 300 + 1) * 300
    streamer.ingest_candle("BTCUSDT", Timeframe.M1, Candle(bucket_end - 60, 12.0, 14.0, 11.0, 13.0, 1.0))
    five = [e.candle for e in closed if e.timeframe is Timeframe.M5]
    assert five == [Candle(T0 // 300 * 300, 10.0, 14.0, 9.0, 13.0, 9.0)]  # closed as soon as complete


def test_ring_buffer_keeps_the_newest_and_flags_forming() -> None:
    streamer, _ = make([Timeframe.M1], size=10)
    times = T0 + np.arange(0, 60 * 25, 30, dtype=np.float64)
    streamer.ingest_ticks("BTCUSDT", times, np.linspace(1, 2, times.size), np.ones(times.size))
    candles = streamer.candles("BTCUSDT", Timeframe.M1, 500)
    assert len(candles) == 11 and candles[-1].closed is False
    assert all(c.closed for c in candles[:-1])
    assert [c.time for c in candles] == [T0 + 60 * k for k in range(14, 25)]
    assert len(streamer.candles("BTCUSDT", Timeframe.M1, 3)) == 3


def test_unknown_symbol_and_timeframe() -> None:
    streamer, _ = make([Timeframe.M1, Timeframe.H1])
    with pytest.raises(SymbolNotFound):
        streamer.candles("ETHUSDT", Timeframe.M1, 5)
    with pytest.raises(InvalidTimeframe):
        streamer.candles("BTCUSDT", Timeframe.M5, 5)
    assert streamer.series("btc/usdt", Timeframe.M1) is streamer.series("BTCUSDT", Timeframe.M1)


def test_warm_then_older_data_is_dropped() -> None:
    streamer, closed = make([Timeframe.M1])
    streamer.warm("BTCUSDT", Timeframe.M1, [Candle(T0, 1.0, 1.0, 1.0, 1.0, 1.0)])
    streamer.ingest_candle("BTCUSDT", Timeframe.M1, Candle(T0, 2.0, 2.0, 2.0, 2.0, 1.0))
    assert streamer.metrics.candles_dropped_old == 1
    assert streamer.candles("BTCUSDT", Timeframe.M1, 5) == [Candle(T0, 1.0, 1.0, 1.0, 1.0, 1.0)]
    assert closed == []


tick_batches = st.lists(
    st.tuples(st.floats(0, 7200, allow_nan=False), st.floats(1, 1000, allow_nan=False), st.floats(0, 5, allow_nan=False)),
    min_size=1,
    max_size=300,
)


@settings(max_examples=60, deadline=None)
@given(tick_batches, st.integers(1, 40))
def test_batched_and_tick_by_tick_ingest_agree(ticks: list[tuple[float, float, float]], chunk: int) -> None:
    ticks = sorted(ticks)
    times = np.array([T0 + t for t, _, _ in ticks])
    prices = np.array([p for _, p, _ in ticks])
    sizes = np.array([s for _, _, s in ticks])
    batched, batched_events = make()
    single, single_events = make()
    for i in range(0, len(ticks), chunk):
        batched.ingest_ticks("BTCUSDT", times[i:i + chunk], prices[i:i + chunk], sizes[i:i + chunk])
    for t, p, s in zip(times.tolist(), prices.tolist(), sizes.tolist()):
        single.ingest_tick("BTCUSDT", t, p, s)
    for tf in Timeframe:
        a = batched.candles("BTCUSDT", tf, 500)
        b = single.candles("BTCUSDT", tf, 500)
        assert [(c.time, c.open, c.high, c.low, c.close, c.closed) for c in a] == [
            (c.time, c.open, c.high, c.low, c.close, c.closed) for c in b
        ]
        assert [c.volume for c in a] == pytest.approx([c.volume for c in b])
    for tf in Timeframe:  # within one batch, closes come grouped by timeframe; per timeframe in time order
        got = [e.candle for e in batched_events if e.timeframe is tf]
        want = [e.candle for e in single_events if e.timeframe is tf]
        assert [(c.time, c.open, c.high, c.low, c.close) for c in got] == [(c.time, c.open, c.high, c.low, c.close) for c in want]
        assert [c.volume for c in got] == pytest.approx([c.volume for c in want])


def test_cached_json_tail_always_matches_the_candles() -> None:
    import orjson

    streamer, _ = make([Timeframe.M1, Timeframe.M5], size=20)
    series = streamer.series("BTCUSDT", Timeframe.M1)
    assert series.tail_json(5) == (b"", 0)
    rng = np.random.default_rng(3)
    t = float(T0)
    for step in range(200):
        t += float(rng.exponential(20))
        streamer.ingest_tick("BTCUSDT", t, float(rng.uniform(90, 110)), 1.0)
        if step % 37 == 0:
            streamer.close_due(t + 200, grace=0)
        for limit in (1, 2, 7, 50):
            body, count = series.tail_json(limit)
            body = b"[" + body + b"]"
            expected = [c.to_dict() for c in series.tail(limit)]
            assert orjson.loads(body) == expected and count == len(expected)


def test_one_tick_batches_build_the_candles_of_one_batch() -> None:
    """A live feed mostly sends one tick per batch (its own path): the same candles, spreads and closes."""
    from tradewind.market.feeds.synthetic import SyntheticFeed

    times, prices, sizes, spreads = SyntheticFeed(7).ticks("ETHUSDT", T0 - 30, T0 + 330)
    whole, whole_events = make()
    whole.ingest_ticks("BTCUSDT", times, prices, sizes, spreads)
    single, single_events = make()
    for i in range(times.size):
        single.ingest_ticks("BTCUSDT", times[i:i + 1], prices[i:i + 1], sizes[i:i + 1], spreads[i:i + 1])
    for tf in Timeframe:
        a, b = whole.candles("BTCUSDT", tf, 20), single.candles("BTCUSDT", tf, 20)
        assert [replace(c, volume=0.0) for c in a] == [replace(c, volume=0.0) for c in b]
        assert [c.volume for c in a] == pytest.approx([c.volume for c in b], rel=1e-12)
        assert all(type(c.close) is float and type(c.spread) is float for c in b)  # plain floats: they encode
    for tf in Timeframe:  # one batch publishes its closes grouped by timeframe: compare per timeframe
        got = [e.candle for e in single_events if e.timeframe is tf]
        want = [e.candle for e in whole_events if e.timeframe is tf]
        assert [replace(c, volume=0.0) for c in got] == [replace(c, volume=0.0) for c in want]
        assert [c.volume for c in got] == pytest.approx([c.volume for c in want], rel=1e-12)
    assert sum(e.timeframe is Timeframe.M1 for e in single_events) == 6  # T0 - 60 (begun at T0 - 30) to T0 + 240


def test_a_kept_candle_costs_its_size_in_memory() -> None:
    """Each closed candle is kept as a Candle, its JSON and a row of columns: a few hundred bytes, not the
    4 KiB buffer orjson's own result carries (that was 150 MB over an idle default service's buffers)."""
    import tracemalloc

    candles = [Candle(T0 + 60 * i, 100.0 + i, 101.0 + i, 99.0 + i, 100.5 + i, 3.25, 0.01) for i in range(2000)]
    streamer, _ = make([Timeframe.M1], size=1000)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        streamer.warm("BTCUSDT", Timeframe.M1, candles[:1000])
        streamer.ingest_bars("BTCUSDT", Timeframe.M1, bars_from_candles(candles[1000:]))  # closes 1000 more
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    series = streamer.series("BTCUSDT", Timeframe.M1)
    assert len(series.closed) == len(series.encoded) == 1000
    assert json.loads(series.encoded[-1]) == candles[-1].as_closed().to_dict()
    assert held / 1000 < 1000, f"{held / 1000:.0f} bytes per kept candle"
