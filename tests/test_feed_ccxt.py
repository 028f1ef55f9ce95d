"""CcxtFeed against a fake Binance on 127.0.0.1: real ccxt, real HTTP, real ETH/BTC candles."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterator

import pytest
from fakes import load_rows
from support.sink import RecordingSink, until
from fakes.binance import FakeBinance

from tradewind.domain import Candle, SimClock, Timeframe
from tradewind.domain.errors import FeedError, SymbolNotFound
from tradewind.market.feeds.ccxt_feed import CcxtFeed

ROWS = load_rows("ETH_BTC-1m.json")
GAP = next(i for i in range(len(ROWS) - 1) if ROWS[i + 1][0] - ROWS[i][0] != 60_000)  # the file's one gap
K = 3000  # the clock starts 30 s into this row's minute
T0 = ROWS[K][0] // 1000
TIMEOUT_MS = 2000  # generous: a loaded CI machine (a stalled second has been seen) must not time out by accident


def candle(row: list[float]) -> Candle:
    return Candle(int(row[0]) // 1000, *row[1:6])


def row_at(ts: int) -> list[float]:
    return ROWS[K + (ts - T0) // 60]


@pytest.fixture
def clock() -> SimClock:
    return SimClock(T0 + 30)


@pytest.fixture
def fake(clock: SimClock) -> Iterator[FakeBinance]:
    with FakeBinance(now=clock.now, slow_seconds=TIMEOUT_MS / 1000 + 0.5).running() as server:
        yield server  # type: ignore[misc]


def make_feed(fake: FakeBinance, clock: SimClock, **kwargs: object) -> CcxtFeed:
    options = {"poll_seconds": 0.01, "max_backoff": 0.05,
               "exchange_options": {"timeout": TIMEOUT_MS, "enableRateLimit": False, "timeout_on_exit": 0}} | kwargs
    return CcxtFeed("binance", base_url=fake.url, clock=clock, **options)  # type: ignore[arg-type]


@pytest.fixture
def feed(fake: FakeBinance, clock: SimClock) -> Iterator[CcxtFeed]:
    feed = make_feed(fake, clock)
    yield feed
    feed.close()


# --- history -------------------------------------------------------------------------------------
def test_history_returns_the_files_candles_exactly(feed: CcxtFeed, fake: FakeBinance) -> None:
    got = feed.history("ETHBTC", Timeframe.M1, 300, until=T0 + 30)
    assert got == [candle(r) for r in ROWS[K - 300:K]]  # the forming minute K is left out
    assert all(c.closed for c in got)
    assert {r.path for r in fake.requests} == {"/api/v3/exchangeInfo", "/api/v3/klines"}  # spot only


def test_history_pages_past_the_exchange_limit(feed: CcxtFeed, fake: FakeBinance) -> None:
    got = feed.history("ETH/BTC", Timeframe.M1, 2500, until=ROWS[2600][0] / 1000)
    assert got == [candle(r) for r in ROWS[100:2600]]
    assert [int(r.query["limit"]) for r in fake.paths("/api/v3/klines")] == [1000, 1000, 500]


def test_history_defaults_to_the_clock_and_a_gap_stays_a_gap(fake: FakeBinance, clock: SimClock) -> None:
    clock.set(ROWS[GAP + 10][0] / 1000 + 59)
    feed = make_feed(fake, clock)
    got = feed.history("eth-btc", Timeframe.M1, 20)
    assert got == [candle(r) for r in ROWS[GAP - 9:GAP + 10]]  # 20 minutes hold 19 candles, one missing
    assert got[-1].time + 60 <= clock.now()


def test_history_of_a_longer_timeframe_is_aligned_and_closed(feed: CcxtFeed) -> None:
    got = feed.history("ETHBTC", Timeframe.M5, 6, until=T0 + 30)
    assert [c.time % 300 for c in got] == [0] * 6
    assert got[-1].time + 300 <= T0 + 30
    first = [r for r in ROWS if got[0].time <= r[0] // 1000 < got[0].time + 300]
    assert (got[0].open, got[0].close) == (first[0][1], first[-1][4])
    assert got[0].high == max(r[2] for r in first) and got[0].low == min(r[3] for r in first)


def test_unknown_symbol_is_symbol_not_found(feed: CcxtFeed) -> None:
    with pytest.raises(SymbolNotFound, match="NOPEUSD"):
        feed.history("NOPEUSD", Timeframe.M1, 10)
    assert feed.history("BTCUSDT", Timeframe.M1, 10, until=T0) == []  # listed, but no candles served


@pytest.mark.parametrize(("kind", "says"), [("nan_row", "open must be finite"), ("negative_row", "low must not be negative")])
def test_a_malformed_row_is_a_feed_error_naming_the_row(feed: CcxtFeed, fake: FakeBinance, kind: str, says: str) -> None:
    fake.fail_next(kind)
    with pytest.raises(FeedError, match=rf"row 0 .*{says}"):
        feed.history("ETHBTC", Timeframe.M1, 10, until=T0)


@pytest.mark.parametrize(("kind", "says"), [
    ("500", "unknown error"), ("502", "unknown error"), ("truncated", "not valid JSON"),
    ("slow", "RequestTimeout"), ("429", r"retry after 2s"),
])
def test_http_failures_in_history_are_feed_errors(feed: CcxtFeed, fake: FakeBinance, kind: str, says: str) -> None:
    fake.fail_next(kind, retry_after=2)
    with pytest.raises(FeedError, match=says):
        feed.history("ETHBTC", Timeframe.M1, 10, until=T0)
    assert feed.history("ETHBTC", Timeframe.M1, 10, until=T0) == [candle(r) for r in ROWS[K - 10:K]]


def test_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "ccxt" or m.startswith("ccxt.")] or ["ccxt"]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(FeedError, match=r"tradewind\[exchanges\]"):
        CcxtFeed("binance")


def test_unknown_exchange_is_refused() -> None:
    with pytest.raises(FeedError, match="unknown ccxt exchange"):
        CcxtFeed("no-such-exchange")


# --- run -----------------------------------------------------------------------------------------
@pytest.fixture
async def running(feed: CcxtFeed) -> AsyncIterator[tuple[CcxtFeed, RecordingSink, asyncio.Task[None]]]:
    sink = RecordingSink()
    task = asyncio.create_task(feed.run(sink, ["ETHBTC"]))
    await until(lambda: bool(sink.forming()))
    yield feed, sink, task
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_run_pushes_closed_candles_and_the_forming_one(
    running: tuple[CcxtFeed, RecordingSink, asyncio.Task[None]], clock: SimClock
) -> None:
    feed, sink, _ = running
    assert sink.closed() == {T0 - 60: candle(ROWS[K - 1])}
    forming = sink.forming()[-1]
    assert (forming.time, forming.open, forming.closed) == (T0, ROWS[K][1], False)
    assert forming.volume < ROWS[K][5]  # half a minute's worth, as the exchange serves it
    for minute in range(1, 4):
        clock.advance(60)
        await until(lambda: T0 + (minute - 1) * 60 in sink.closed())
        await until(lambda: sink.forming()[-1].time == T0 + minute * 60)
    assert sorted(sink.closed().values(), key=lambda c: c.time) == [candle(r) for r in ROWS[K - 1:K + 3]]
    assert all(symbol == "ETHBTC" and tf is Timeframe.M1 for symbol, tf, _ in sink.candles)
    stats = feed.stats
    assert stats.candles == 4 and stats.partials >= 4 and stats.polls >= 4
    assert stats.last_ok_time == clock.now()


@pytest.mark.parametrize("kind", ["500", "502", "slow", "truncated", "nan_row", "negative_row"])
async def test_run_keeps_running_through_failures(
    running: tuple[CcxtFeed, RecordingSink, asyncio.Task[None]], fake: FakeBinance, clock: SimClock, kind: str
) -> None:
    feed, sink, task = running
    count = 1 if kind == "slow" else 2
    fake.fail_next(kind, count)
    clock.advance(60)
    await until(lambda: T0 in sink.closed())
    assert sink.closed()[T0] == candle(ROWS[K])  # the candle after the failures is the real one
    assert feed.stats.errors >= count and not task.done()
    assert len([r for r in fake.paths("/api/v3/klines") if r.failure == kind]) == count
    await until(lambda: feed.stats.last_ok_time == clock.now())
    clock.advance(60)
    await until(lambda: T0 + 60 in sink.closed())
    assert [c.time for c in sink.closed().values()] == [T0 - 60, T0, T0 + 60]  # nothing skipped or doubled


async def test_run_waits_as_long_as_retry_after_says(
    running: tuple[CcxtFeed, RecordingSink, asyncio.Task[None]], fake: FakeBinance, clock: SimClock
) -> None:
    feed, sink, _ = running
    fake.fail_next("429", retry_after=1)
    clock.advance(60)
    await until(lambda: T0 in sink.closed())
    klines = fake.paths("/api/v3/klines")
    limited = next(i for i, r in enumerate(klines) if r.failure == "429")
    assert klines[limited + 1].time - klines[limited].time >= 0.95  # backoff alone would be 0.02 s
    assert feed.stats.error_kinds["DDoSProtection"] == 1 and "429" in (feed.stats.last_error or "")


async def test_run_backs_off_exponentially(
    running: tuple[CcxtFeed, RecordingSink, asyncio.Task[None]], fake: FakeBinance, clock: SimClock
) -> None:
    feed, sink, _ = running
    fake.fail_next("500", 3)
    clock.advance(60)
    await until(lambda: T0 in sink.closed())
    klines = fake.paths("/api/v3/klines")
    first = next(i for i, r in enumerate(klines) if r.failure)
    gaps = [klines[i + 1].time - klines[i].time for i in range(first, first + 3)]
    assert gaps[0] >= 0.02 and gaps[1] >= 0.04 and gaps[2] >= 0.05  # 2x, 4x poll_seconds, then the cap
    assert max(gaps) < 0.5


async def test_run_skips_unknown_symbols_and_survives_a_market_load_failure(fake: FakeBinance, clock: SimClock) -> None:
    fake.fail_next("502", 2, path_prefix="/api/v3/exchangeInfo")
    feed = make_feed(fake, clock)
    sink = RecordingSink()
    task = asyncio.create_task(feed.run(sink, ["NOPEUSD", "ETHBTC"]))
    await until(lambda: T0 - 60 in sink.closed())
    assert feed.stats.errors >= 3 and feed.stats.error_kinds["SymbolNotFound"] == 1
    assert len(fake.paths("/api/v3/exchangeInfo")) == 3
    assert {symbol for symbol, _, _ in sink.candles} == {"ETHBTC"}
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_run_closes_the_exchange_session_when_cancelled(
    fake: FakeBinance, clock: SimClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ccxt.async_support

    closed: list[bool] = []
    original = ccxt.async_support.binance.close

    async def close(self: object) -> None:
        closed.append(True)
        await original(self)

    monkeypatch.setattr(ccxt.async_support.binance, "close", close)
    sink = RecordingSink()
    task = asyncio.create_task(make_feed(fake, clock).run(sink, ["ETHBTC"]))
    await until(lambda: bool(sink.candles))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert closed == [True]


async def test_a_configuration_error_stops_run_with_a_feed_error(
    fake: FakeBinance, clock: SimClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not retried forever in silence: the runtime shows the feed as failed, with the reason."""
    feed = make_feed(fake, clock)

    def no_such_timeframe(exchange: object, timeframe: Timeframe) -> str:
        raise FeedError(f"binance has no {timeframe.value} candles")

    monkeypatch.setattr(feed, "_frame", no_such_timeframe)
    with pytest.raises(FeedError, match="no 1m candles"):
        await asyncio.wait_for(feed.run(RecordingSink(), ["ETHBTC"]), timeout=10)
    assert feed.stats.errors == 1 and "no 1m candles" in (feed.stats.last_error or "")
