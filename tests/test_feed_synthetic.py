"""The synthetic market: a pure, realistic price path shared by history and the live stream."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

import numpy as np
import pytest

from tradewind.domain.candle import check_candle
from tradewind.domain.clock import SimClock
from tradewind.domain.errors import ValidationError
from tradewind.domain.timeframe import Timeframe
from tradewind.domain.bars import Bars, bars_from_candles, resample
from tradewind.market.feeds.synthetic import TICK_STEP, SyntheticFeed
from tradewind.market.synthetic_prices import (
    prices_at,
    session_activity,
    spreads_at,
    symbol_profile,
    volatility_at,
)

SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "ADAUSDT", "DOTUSDT", "XRPUSDT", "LINKUSDT")
BASES = {"BTCUSDT": 65000, "ETHUSDT": 3400, "BNBUSDT": 590, "SOLUSDT": 150,
         "ADAUSDT": 0.45, "DOTUSDT": 6.5, "XRPUSDT": 0.55, "LINKUSDT": 15}
NOW = 1_717_200_000.0  # 2024-06-01 00:00 UTC
HOUR = 3600
DAY = 86400


def _year(step: float, start: float = NOW - 365 * DAY) -> np.ndarray:
    return start + step * np.arange(int(365 * DAY / step))


# --- the price model -------------------------------------------------------------------------


def test_same_seed_same_path_other_seed_other_path() -> None:
    t = NOW + np.sort(np.random.default_rng(1).uniform(0, 30 * DAY, 5000))
    a = prices_at(7, "BTCUSDT", t)
    assert np.array_equal(a, prices_at(7, "BTCUSDT", t.copy()))
    assert np.mean(a != prices_at(8, "BTCUSDT", t)) > 0.99
    assert np.mean(a / BASES["BTCUSDT"] != prices_at(7, "ETHUSDT", t) / BASES["ETHUSDT"]) > 0.99


def test_a_price_does_not_depend_on_the_other_times_asked() -> None:
    big = NOW + 0.25 * np.arange(400_000)  # ~28 hours of quarter-second ticks: many chunks and knots
    whole = prices_at(7, "SOLUSDT", big)
    for lo, hi in ((0, 1), (12_345, 12_346), (99_000, 131_000), (399_000, 400_000)):
        assert np.array_equal(prices_at(7, "SOLUSDT", big[lo:hi]), whole[lo:hi])
    sparse = big[::9973]  # far-apart times take the sparse lattice paths
    assert np.array_equal(prices_at(7, "SOLUSDT", sparse), whole[::9973])
    shuffled = np.random.default_rng(2).permutation(sparse.size)
    assert np.array_equal(prices_at(7, "SOLUSDT", sparse[shuffled]), whole[::9973][shuffled])


def test_symbol_spelling_does_not_change_the_path() -> None:
    t = NOW + 60.0 * np.arange(100)
    assert np.array_equal(prices_at(7, "btc/usdt", t), prices_at(7, "BTCUSDT", t))


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_levels_stay_near_the_base_and_on_the_tick(symbol: str) -> None:
    base = BASES[symbol]
    prices = prices_at(7, symbol, _year(900.0))
    assert 0.4 * base <= prices.min() and prices.max() <= 1.7 * base
    assert 0.6 * base <= np.median(prices) <= 1.5 * base
    tick = symbol_profile(symbol).tick
    assert np.allclose(prices / tick, np.round(prices / tick), atol=1e-6)


def test_other_symbols_get_a_stable_level_of_their_own() -> None:
    one, two = symbol_profile("FOOBARUSDT"), symbol_profile("QUUXUSDT")
    assert one == symbol_profile("foobar-usdt")
    assert one.base_price != two.base_price
    assert 0.1 <= one.base_price <= 1000
    prices = prices_at(3, "FOOBARUSDT", _year(3600.0))
    assert 0.4 * one.base_price <= prices.min() and prices.max() <= 1.7 * one.base_price


@pytest.mark.parametrize("symbol", ["BTCUSDT", "SOLUSDT", "XRPUSDT"])
def test_realised_volatility_matches_the_profile_at_every_scale(symbol: str) -> None:
    log_price = np.log(prices_at(7, symbol, _year(60.0)))
    target = symbol_profile(symbol).daily_vol
    for minutes in (1, 60, 1440):
        daily = np.diff(log_price[::minutes]).std() * math.sqrt(1440 / minutes)
        assert 0.75 * target < daily < 1.5 * target, (minutes, daily, target)
    one_minute = np.diff(log_price)
    kurtosis = np.mean((one_minute - one_minute.mean()) ** 4) / one_minute.var() ** 2
    assert kurtosis > 4  # fat tails


@pytest.mark.parametrize("symbol", ["BTCUSDT", "ETHUSDT", "ADAUSDT"])
def test_calm_and_volatile_trending_and_ranging_stretches(symbol: str) -> None:
    log_price = np.log(prices_at(11, symbol, _year(300.0)))
    # Volatility regimes: daily realised volatility from five-minute returns.
    daily_vol = np.diff(log_price)[: 364 * 288].reshape(364, 288).std(axis=1)
    p10, p90 = np.percentile(daily_vol, [10, 90])
    assert p90 / p10 > 2.0
    # Trend regimes: efficiency ratio |net move| / path length over three days of hourly closes.
    hourly = log_price[::12]
    windows = np.lib.stride_tricks.sliding_window_view(hourly, 73)[::24]
    efficiency = np.abs(windows[:, -1] - windows[:, 0]) / np.abs(np.diff(windows, axis=1)).sum(axis=1)
    assert np.mean(efficiency > 0.35) > 0.04  # trending
    assert np.mean(efficiency < 0.1) > 0.25  # ranging
    day_moves = np.abs(np.diff(hourly[::24]))
    assert np.percentile(day_moves, 90) > 6 * np.percentile(day_moves, 20)


def test_busier_and_more_volatile_in_the_london_and_new_york_sessions() -> None:
    monday, saturday = 19_002 * DAY, 19_000 * DAY  # epoch day 0 was a Thursday
    activity = session_activity(monday + np.arange(24) * 3600.0)
    assert activity[13:17].mean() > 1.5 * activity[[21, 22, 23, 4, 5]].mean()
    assert session_activity(np.array([saturday + 15 * 3600.0]))[0] < activity[15]
    week = session_activity(monday + 60.0 * np.arange(7 * 1440))
    assert 0.95 < week.mean() < 1.05
    assert volatility_at(7, "BTCUSDT", monday + 15 * 3600.0 + 60.0 * np.arange(0, 364 * 1440, 1440)).mean() > (
        volatility_at(7, "BTCUSDT", monday + 22 * 3600.0 + 60.0 * np.arange(0, 364 * 1440, 1440)).mean()
    )


def test_spreads_are_a_few_basis_points_and_wider_when_volatile() -> None:
    t = NOW + 60.0 * np.arange(30 * 1440)
    prices = prices_at(7, "ETHUSDT", t)
    spreads = spreads_at(7, "ETHUSDT", t, prices)
    bps = spreads / prices * 1e4
    assert spreads.min() >= symbol_profile("ETHUSDT").tick - 1e-12
    assert 0.3 < np.median(bps) < 10 and bps.max() < 50
    assert np.corrcoef(bps, volatility_at(7, "ETHUSDT", t))[0, 1] > 0.5


# --- the feed: history -----------------------------------------------------------------------


@pytest.fixture
def feed() -> SyntheticFeed:
    return SyntheticFeed(7, clock=SimClock(NOW + 1234.5))


def test_candles_are_valid(feed: SyntheticFeed) -> None:
    for timeframe, limit in ((Timeframe.M1, 3000), (Timeframe.H1, 300), (Timeframe.D1, 30)):
        candles = feed.history("ADAUSDT", timeframe, limit)
        assert len(candles) == limit
        for row, c in enumerate(candles):
            assert check_candle(c.time, c.open, c.high, c.low, c.close, c.volume, c.spread, row=row) == c
            assert c.closed and c.volume > 0 and c.spread > 0
        times = np.array([c.time for c in candles])
        assert np.all(np.diff(times) == timeframe.seconds)


def test_history_ends_with_the_last_closed_candle(feed: SyntheticFeed) -> None:
    now = feed.clock.now()
    for timeframe in (Timeframe.M1, Timeframe.M15, Timeframe.H4, Timeframe.D1):
        last = feed.history("BTCUSDT", timeframe, 3)[-1]
        assert last.time + timeframe.seconds <= now < last.time + 2 * timeframe.seconds
    assert feed.history("BTCUSDT", Timeframe.H1, 0) == []
    assert feed.history("BTCUSDT", Timeframe.H1, 5, until=NOW)[-1].time == NOW - HOUR


def test_one_hour_is_exactly_its_sixty_minutes(feed: SyntheticFeed) -> None:
    until = NOW + 17 * 60
    minutes = bars_from_candles(feed.history("SOLUSDT", Timeframe.M1, 48 * 60, until=until))
    hours = bars_from_candles(feed.history("SOLUSDT", Timeframe.H1, 47, until=until))
    aggregated, complete = resample(minutes, HOUR, source_seconds=60)
    assert complete[:-1].all() and not complete[-1]  # the last hour is still forming at until
    for mine, theirs in zip(hours, aggregated.slice(1, -1)):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12)
    days = bars_from_candles(feed.history("SOLUSDT", Timeframe.D1, 2, until=NOW))
    one_day = feed.base_history("SOLUSDT", int(NOW) - DAY, int(NOW))
    assert days.high[-1] == one_day.high.max() and days.low[-1] == one_day.low.min()
    assert days.open[-1] == one_day.open[0] and days.close[-1] == one_day.close[-1]


def test_base_history_is_pure_and_deterministic(feed: SyntheticFeed) -> None:
    start = int(NOW) - 3 * DAY
    big = feed.base_history("DOTUSDT", start, start + 3 * DAY)
    part = feed.base_history("DOTUSDT", start + 1000 * 60, start + 1100 * 60)
    for mine, theirs in zip(part, big.slice(1000, 1100)):
        assert np.array_equal(mine, theirs)
    again = SyntheticFeed(7).base_history("DOTUSDT", start + 1000 * 60, start + 1100 * 60)
    assert all(np.array_equal(a, b) for a, b in zip(part, again))
    other = SyntheticFeed(8).base_history("DOTUSDT", start + 1000 * 60, start + 1100 * 60)
    assert not np.array_equal(part.close, other.close)
    assert len(feed.base_history("DOTUSDT", start, start)) == 0
    with pytest.raises(ValidationError):
        feed.base_history("DOTUSDT", start + 1, start + 60)


def test_volume_follows_the_sessions_and_the_moves(feed: SyntheticFeed) -> None:
    start = int(NOW) - 28 * DAY
    bars = feed.base_history("BTCUSDT", start, int(NOW))
    assert np.all(bars.volume > 0)
    hour = (bars.time % DAY) // HOUR
    sessions = bars.volume[(hour >= 8) & (hour < 20)].mean()
    quiet = bars.volume[(hour >= 21) | (hour < 6)].mean()
    assert sessions > 1.3 * quiet
    ranges = np.log(bars.high / bars.low)
    assert np.corrcoef(ranges, np.log(bars.volume))[0, 1] > 0.3


def test_generation_is_fast() -> None:
    feed = SyntheticFeed(7)
    end = int(NOW)
    feed.base_history("BTCUSDT", end - 600, end)  # warm-up
    began = time.perf_counter()
    total = sum(len(feed.base_history(symbol, end - 520 * HOUR, end)) for symbol in SYMBOLS)
    elapsed = time.perf_counter() - began
    print(f"\nsynthetic history: {total} one-minute candles in {elapsed:.3f} s")
    assert total == 8 * 520 * 60
    assert elapsed < 3.0


def test_constructor_checks_its_arguments() -> None:
    with pytest.raises(ValidationError):
        SyntheticFeed(ticks_per_minute_history=1)
    with pytest.raises(ValidationError):
        SyntheticFeed(tick_interval=0)


# --- the feed: live ticks --------------------------------------------------------------------


def test_live_minutes_equal_history_minutes(feed: SyntheticFeed) -> None:
    start = int(NOW) + 600
    times, prices, sizes, spreads = feed.ticks("LINKUSDT", start, start + 300)
    assert times.size == 300 / TICK_STEP and np.all(np.diff(times) > 0)
    history = feed.base_history("LINKUSDT", start, start + 300)
    live, _ = resample(Bars(times.astype(np.int64), prices, prices, prices, prices, sizes, spreads), 60)
    for column in ("time", "open", "high", "low", "close", "spread"):
        assert np.array_equal(getattr(live, column), getattr(history, column)), column
    np.testing.assert_allclose(live.volume, history.volume, rtol=1e-9)
    assert np.mean(np.diff(prices) != 0) > 0.3  # the ticks between history samples move too


def test_ticks_split_anywhere_are_the_same_ticks(feed: SyntheticFeed) -> None:
    start = NOW + 10.0
    whole = feed.ticks("XRPUSDT", start, start + 90)
    cuts = (start, start + 0.3, start + 61.1, start + 90)
    parts = [feed.ticks("XRPUSDT", a, b) for a, b in zip(cuts, cuts[1:])]
    for mine, theirs in zip(whole, zip(*parts)):
        assert np.array_equal(mine, np.concatenate(theirs))


def test_live_windows_are_the_ticks_computed_directly() -> None:
    """Short windows are cut from kept whole minutes; a long one is computed directly: the same ticks."""
    start = NOW + 17.0
    direct = SyntheticFeed(7).ticks("SOLUSDT", start, start + 600)  # ten minutes: computed directly
    feed = SyntheticFeed(7)
    windows = [(start + 0.25 * i, start + 0.25 * (i + 1)) for i in range(600)]  # the live stream's quarter-seconds
    windows += [(start + 300.1, start + 301), (start + 59.9, start + 60.3), (start + 10, start + 50),
                (start + 43, start + 100), (start, start + 0.1)]  # odd bounds, a minute's edge, an older minute
    for lo, hi in windows:
        mine = feed.ticks("SOLUSDT", lo, hi)
        keep = (direct[0] >= lo) & (direct[0] < hi)
        assert mine[0].size == int(keep.sum())
        for got, expected in zip(mine, direct):
            assert np.array_equal(got, expected[keep])
    mine = feed.ticks("SOLUSDT", start, start + 1)
    mine[1][:] = 0.0  # what a caller does with its arrays does not reach the kept minute
    assert np.array_equal(feed.ticks("SOLUSDT", start, start + 1)[1], direct[1][:4])


class _SteppingClock:
    """A clock that moves ``step`` seconds each time it is read, so ``run`` covers minutes in milliseconds."""

    def __init__(self, start: float, step: float) -> None:
        self.t, self.step = start, step

    def now(self) -> float:
        self.t += self.step
        return self.t


class _Sink:
    def __init__(self, fail_first: int = 0) -> None:
        self.batches: dict[str, list[tuple[np.ndarray, ...]]] = {}
        self.fail_first = fail_first

    def ingest_ticks(self, symbol: str, times: np.ndarray, prices: np.ndarray, sizes: np.ndarray,
                     spreads: np.ndarray | None = None) -> None:
        if self.fail_first > 0:
            self.fail_first -= 1
            raise RuntimeError("sink hiccup")
        self.batches.setdefault(symbol, []).append((times, prices, sizes, spreads))

    def ingest_candle(self, symbol: str, timeframe: Timeframe, candle: object) -> None:
        raise AssertionError("the synthetic feed sends ticks")


async def _wait_for(done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5.0
    while not done() and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
    assert done()


async def _stop(task: asyncio.Task[None]) -> None:
    assert not task.done()  # it never stops by itself
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_run_streams_the_history_path() -> None:
    start = NOW + 30.1
    clock = _SteppingClock(start, 5.0)
    feed = SyntheticFeed(7, tick_interval=0.002, clock=clock)
    sink = _Sink(fail_first=1)  # a failing sink is logged, not fatal
    task = asyncio.create_task(feed.run(sink, ["BTCUSDT", "eth/usdt"]))
    await _wait_for(lambda: clock.t > start + 300)
    await _stop(task)
    assert set(sink.batches) == {"BTCUSDT", "ETHUSDT"}
    for symbol, batches in sink.batches.items():
        times = np.concatenate([b[0] for b in batches])
        prices = np.concatenate([b[1] for b in batches])
        assert times.size > 240 and np.all(np.diff(times) > 0)
        assert np.allclose(np.diff(times), TICK_STEP) or symbol == "BTCUSDT"  # BTC lost the failed batch
        assert times[-1] <= clock.t
        minute = (times // 60 * 60).astype(np.int64)
        history = feed.base_history(symbol, int(minute[0]), int(minute[-1]) + 60)
        row = (minute - minute[0]) // 60
        assert np.all((prices >= history.low[row]) & (prices <= history.high[row]))
    eth = [np.concatenate(column) for column in zip(*sink.batches["ETHUSDT"])]
    assert eth[0][0] == math.floor(start / 60) * 60  # starts at the minute's open
    live, complete = resample(Bars(eth[0].astype(np.int64), eth[1], eth[1], eth[1], eth[1], eth[2], eth[3]), 60)
    history = feed.base_history("ETHUSDT", int(live.time[0]), int(live.time[-1]))  # the closed minutes
    assert len(history) == len(live) - 1 >= 3
    for column in ("time", "open", "high", "low", "close", "spread"):
        assert np.array_equal(getattr(live, column)[:-1], getattr(history, column)), column
    np.testing.assert_allclose(live.volume[:-1], history.volume, rtol=1e-9)


async def test_a_live_stream_computes_each_minute_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Idle cost: a quarter-second tick is cut from its minute, computed once per symbol, not recomputed
    (that recomputation was most of an idle server's 17% of a core)."""
    from tradewind.market import synthetic_prices

    calls: list[int] = []
    real = synthetic_prices.prices_at

    def counted(seed: int, symbol: str, times: np.ndarray) -> np.ndarray:
        calls.append(int(np.asarray(times).size))
        return real(seed, symbol, times)

    monkeypatch.setattr(synthetic_prices, "prices_at", counted)
    start = NOW + 0.1
    clock = _SteppingClock(start, TICK_STEP)  # one tick per pass, as a live stream at the default interval
    feed = SyntheticFeed(7, tick_interval=0.0005, clock=clock)
    sink = _Sink()
    task = asyncio.create_task(feed.run(sink, ["BTCUSDT", "SOLUSDT"]))
    await _wait_for(lambda: clock.t > start + 180)
    await _stop(task)
    batches = sum(len(b) for b in sink.batches.values())
    minutes = {int(t // 60) for b in sink.batches.values() for batch in b for t in batch[0].tolist()}
    assert batches > 2 * 700 and len(minutes) >= 4
    assert len(calls) <= 2 * 2 * len(minutes)  # per symbol and minute: its bars, then its ticks


async def test_run_skips_ahead_after_a_stall() -> None:
    clock = SimClock(NOW + 0.1)
    feed = SyntheticFeed(7, tick_interval=0.002, clock=clock)
    sink = _Sink()
    task = asyncio.create_task(feed.run(sink, ["ADAUSDT"]))
    await _wait_for(lambda: "ADAUSDT" in sink.batches)
    before = len(sink.batches["ADAUSDT"])
    clock.advance(3 * DAY)
    await _wait_for(lambda: len(sink.batches["ADAUSDT"]) > before)
    await _stop(task)
    first, stalled = sink.batches["ADAUSDT"][0][0], sink.batches["ADAUSDT"][before][0]
    assert list(first) == [NOW]
    assert stalled[-1] == NOW + 3 * DAY and stalled[0] % 60 == 0
    assert stalled.size <= 600 / TICK_STEP + 1
