"""AlpacaFeed against a fake Alpaca data API on 127.0.0.1: real alpaca-py, real HTTP, real candles."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from fakes import load_rows
from support.sink import RecordingSink, until
from fakes.alpaca import CRYPTO_PAIR, STOCK_TICKER, FakeAlpaca

from tradewind.domain import Candle, SimClock, Timeframe
from tradewind.domain.errors import FeedError, SymbolNotFound
from tradewind.market.feeds.alpaca_feed import AlpacaFeed, alpaca_symbol

ROWS = load_rows("ETH_BTC-1m.json")
K = 3000  # the clock starts 30 s into this row's minute
T0 = ROWS[K][0] // 1000
CRYPTO_PATH = "/v1beta3/crypto/us/bars"
TIMEOUT = 2.0  # generous: a loaded CI machine (a stalled second has been seen) must not time out by accident


def candle(row: list[float]) -> Candle:
    return Candle(int(row[0]) // 1000, *row[1:6])


@pytest.fixture
def clock() -> SimClock:
    return SimClock(T0 + 30)


@pytest.fixture
def fake(clock: SimClock) -> Iterator[FakeAlpaca]:
    with FakeAlpaca(now=clock.now, slow_seconds=TIMEOUT + 0.5, page_size=400).running() as server:
        yield server  # type: ignore[misc]


def make_feed(fake: FakeAlpaca, clock: SimClock, **kwargs: object) -> AlpacaFeed:
    options = {"poll_seconds": 0.01, "max_backoff": 0.05, "timeout": TIMEOUT} | kwargs
    return AlpacaFeed(None, None, data_url=fake.url, clock=clock, **options)  # type: ignore[arg-type]


@pytest.fixture
def feed(fake: FakeAlpaca, clock: SimClock) -> AlpacaFeed:
    return make_feed(fake, clock)


# --- symbols -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("given", "crypto"), [
    ("BTCUSD", "BTC/USD"), ("BTC/USD", "BTC/USD"), ("btc-usdt", "BTC/USDT"), ("ETHBTC", "ETH/BTC"), ("usdtusd", "USDT/USD"),
])
def test_crypto_symbols_map_to_alpaca_pairs(given: str, crypto: str) -> None:
    assert alpaca_symbol(given, "crypto") == crypto


def test_stock_symbols_stay_as_they_are() -> None:
    assert alpaca_symbol("AAPL", "stock") == "AAPL"
    assert alpaca_symbol("brk.b", "stock") == "BRK.B"


# --- history -------------------------------------------------------------------------------------
def test_history_returns_the_files_candles_exactly_across_pages(feed: AlpacaFeed, fake: FakeAlpaca) -> None:
    got = feed.history("ETHBTC", Timeframe.M1, 1000, until=T0 + 30)
    assert got == [candle(r) for r in ROWS[K - 1000:K]]  # the forming minute K is left out
    pages = fake.paths(CRYPTO_PATH)
    assert len(pages) == 3 and all(r.query["symbols"] == CRYPTO_PAIR and r.query["timeframe"] == "1Min" for r in pages)
    assert [r.query.get("page_token") is not None for r in pages] == [False, True, True]


def test_history_defaults_to_the_clock(feed: AlpacaFeed, clock: SimClock) -> None:
    clock.set(ROWS[K + 5][0] / 1000 + 1)
    assert feed.history("ETH/BTC", Timeframe.M1, 3) == [candle(r) for r in ROWS[K + 2:K + 5]]


def test_history_of_a_longer_timeframe_is_aligned_and_closed(feed: AlpacaFeed) -> None:
    got = feed.history("ETHBTC", Timeframe.H1, 4, until=T0 + 30)
    assert len(got) == 4 and [c.time % 3600 for c in got] == [0] * 4
    assert got[-1].time + 3600 <= T0 + 30
    hour = [r for r in ROWS if got[-1].time <= r[0] // 1000 < got[-1].time + 3600]
    assert (got[-1].open, got[-1].close, got[-1].high) == (hour[0][1], hour[-1][4], max(r[2] for r in hour))


def test_stock_history_uses_the_stock_endpoint_with_keys(fake: FakeAlpaca, clock: SimClock) -> None:
    stock = AlpacaFeed("key", "secret", asset_class="stock", data_url=fake.url, clock=clock, stock_feed="iex")
    assert stock.history(STOCK_TICKER, Timeframe.M1, 5, until=T0) == [candle(r) for r in ROWS[K - 5:K]]
    request = fake.paths("/v2/stocks/bars")[-1]
    assert request.query["feed"] == "iex" and request.headers["APCA-API-KEY-ID"] == "key"


def test_stock_data_without_keys_is_refused() -> None:
    with pytest.raises(FeedError, match="api_key and secret_key"):
        AlpacaFeed(None, None, asset_class="stock", data_url="http://127.0.0.1:9")


def test_unknown_symbols_are_symbol_not_found(feed: AlpacaFeed) -> None:
    with pytest.raises(SymbolNotFound, match="FOO/USD"):
        feed.history("FOOUSD", Timeframe.M1, 10)  # Alpaca answers an empty set for it
    with pytest.raises(SymbolNotFound, match="not an Alpaca crypto pair"):
        feed.history("FOO", Timeframe.M1, 10)


@pytest.mark.parametrize(("kind", "says"), [("nan_row", "open must be finite"), ("negative_row", "low must not be negative")])
def test_a_malformed_row_is_a_feed_error_naming_the_row(feed: AlpacaFeed, fake: FakeAlpaca, kind: str, says: str) -> None:
    fake.fail_next(kind)
    with pytest.raises(FeedError, match=rf"row 0 .*{says}"):
        feed.history("ETHBTC", Timeframe.M1, 10, until=T0)


@pytest.mark.parametrize(("kind", "says"), [
    ("500", "HTTP 500"), ("502", "HTTP 502"), ("truncated", "not valid JSON"), ("slow", "Timeout"), ("429", "HTTP 429.*retry after"),
])
def test_http_failures_in_history_are_feed_errors(feed: AlpacaFeed, fake: FakeAlpaca, kind: str, says: str) -> None:
    fake.fail_next(kind, retry_after=1)
    started = time.monotonic()
    with pytest.raises(FeedError, match=says):
        feed.history("ETHBTC", Timeframe.M1, 10, until=T0)
    assert time.monotonic() - started < TIMEOUT + 1.0  # alpaca-py's own 3 s retry sleep is off
    assert len(fake.paths(CRYPTO_PATH)) == 1
    assert feed.history("ETHBTC", Timeframe.M1, 10, until=T0) == [candle(r) for r in ROWS[K - 10:K]]


def test_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "alpaca" or m.startswith("alpaca.")] or ["alpaca"]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(FeedError, match=r"tradewind\[alpaca\]"):
        AlpacaFeed(None, None)


# --- run -----------------------------------------------------------------------------------------
@pytest.fixture
async def running(feed: AlpacaFeed) -> AsyncIterator[tuple[AlpacaFeed, RecordingSink, asyncio.Task[None]]]:
    sink = RecordingSink()
    task = asyncio.create_task(feed.run(sink, ["ETHBTC"]))
    await until(lambda: bool(sink.forming()))
    yield feed, sink, task
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_run_pushes_closed_candles_and_the_forming_one(
    running: tuple[AlpacaFeed, RecordingSink, asyncio.Task[None]], clock: SimClock
) -> None:
    feed, sink, _ = running
    assert sink.closed() == {T0 - 60: candle(ROWS[K - 1])}
    forming = sink.forming()[-1]
    assert (forming.time, forming.open, forming.closed) == (T0, ROWS[K][1], False)
    for minute in range(1, 4):
        clock.advance(60)
        await until(lambda: T0 + (minute - 1) * 60 in sink.closed())
        await until(lambda: sink.forming()[-1].time == T0 + minute * 60)
    assert sorted(sink.closed().values(), key=lambda c: c.time) == [candle(r) for r in ROWS[K - 1:K + 3]]
    assert all(symbol == "ETHBTC" and tf is Timeframe.M1 for symbol, tf, _ in sink.candles)
    stats = feed.stats
    assert stats.candles == 4 and stats.partials >= 4
    assert stats.last_ok_time == clock.now()


@pytest.mark.parametrize("kind", ["500", "502", "slow", "truncated", "nan_row", "negative_row"])
async def test_run_keeps_running_through_failures(
    running: tuple[AlpacaFeed, RecordingSink, asyncio.Task[None]], fake: FakeAlpaca, clock: SimClock, kind: str
) -> None:
    feed, sink, task = running
    count = 1 if kind == "slow" else 2
    fake.fail_next(kind, count)
    clock.advance(60)
    await until(lambda: T0 in sink.closed())
    assert sink.closed()[T0] == candle(ROWS[K])  # the candle after the failures is the real one
    assert feed.stats.errors >= count and not task.done()
    assert len([r for r in fake.paths(CRYPTO_PATH) if r.failure == kind]) == count
    clock.advance(60)
    await until(lambda: T0 + 60 in sink.closed())
    assert [c.time for c in sink.closed().values()] == [T0 - 60, T0, T0 + 60]


async def test_run_waits_until_the_rate_limit_resets(
    running: tuple[AlpacaFeed, RecordingSink, asyncio.Task[None]], fake: FakeAlpaca, clock: SimClock
) -> None:
    feed, sink, _ = running
    fake.fail_next("429", retry_after=0.5)  # Alpaca says when: X-RateLimit-Reset, epoch seconds
    clock.advance(60)
    await until(lambda: T0 in sink.closed())
    bars = fake.paths(CRYPTO_PATH)
    limited = next(i for i, r in enumerate(bars) if r.failure == "429")
    assert bars[limited + 1].time - bars[limited].time >= 0.45  # backoff alone would be 0.02 s
    assert [r.failure for r in bars[limited:limited + 2]] == ["429", None]  # no SDK retry in between
    assert feed.stats.error_kinds["APIError"] == 1


async def test_run_skips_unmappable_symbols(fake: FakeAlpaca, clock: SimClock) -> None:
    feed = make_feed(fake, clock)
    sink = RecordingSink()
    task = asyncio.create_task(feed.run(sink, ["FOO", "ETH/BTC"]))
    await until(lambda: T0 - 60 in sink.closed())
    assert feed.stats.error_kinds["SymbolNotFound"] == 1
    assert {symbol for symbol, _, _ in sink.candles} == {"ETHBTC"}
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
