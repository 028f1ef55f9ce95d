"""StreamerClient's fallback chain: HTTP API, then the in-process streamer, then the feed's history."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from support.server import serve
from tradewind.api.app import create_app
from tradewind.bootstrap import build_container
from tradewind.client import StreamerClient
from tradewind.domain import Timeframe
from tradewind.domain.errors import FeedError, InvalidTimeframe
from tradewind.market.feeds.replay import ReplayFeed
from tradewind.market.service import StreamerService
from tradewind.settings import Settings

DATA = Path(__file__).parent / "data"


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    settings = Settings(
        database_url=f"sqlite:///{tmp_path_factory.mktemp('client') / 'tw.db'}",
        feed="replay", replay_path=DATA / "ETH_BTC-5m.json", replay_symbol="ETHBTC", replay_timeframe="5m",
        symbols=["ETHBTC"], timeframes=["5m", "1h"], buffer_size=200, trading=False,
    )
    container = build_container(settings)
    with serve(create_app(container)) as url:
        deadline = time.monotonic() + 20
        while not container.runtime.feed_finished:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        yield url, container


def test_http_api_first(running) -> None:  # type: ignore[no-untyped-def]
    url, container = running
    with StreamerClient(url, timeout=1.0) as client:
        answer = client.get_candles("ETH/BTC", "M5", limit=20)
    assert answer.source == "http_api" and answer.fallbacks == []
    assert (answer.symbol, answer.timeframe, len(answer.candles)) == ("ETHBTC", "M5", 20)
    assert answer.candles == container.streamer.candles("ETHBTC", Timeframe.M5, 20)


def test_in_process_when_the_api_is_down(running) -> None:  # type: ignore[no-untyped-def]
    _, container = running
    service = StreamerService(container.streamer, container.runtime)
    with StreamerClient(closed_port(), timeout=0.5, service=service) as client:
        answer = client.get_candles("ETHBTC", "1h", limit=10)
    assert answer.source == "in_process"
    assert "http_api" in answer.fallbacks[0] and "ConnectError" in answer.fallbacks[0]
    assert answer.candles == container.streamer.candles("ETHBTC", Timeframe.H1, 10)


def test_feed_history_last() -> None:
    feed = ReplayFeed(DATA / "ETH_BTC-5m.json", symbol="ETHBTC", timeframe=Timeframe.M5)
    with StreamerClient(closed_port(), timeout=0.5, feed=feed) as client:
        answer = client.get_candles("ETHBTC", "1h", limit=5)
    assert answer.source == "feed_history" and len(answer.fallbacks) == 1
    assert [c.time for c in answer.candles] == [c.time for c in feed.history("ETHBTC", Timeframe.H1, 5)]
    assert all(c.closed for c in answer.candles)


def test_nothing_answers_and_bad_input() -> None:
    with StreamerClient(closed_port(), timeout=0.2) as client:
        with pytest.raises(FeedError, match="no candle source answered"):
            client.get_candles("ETHBTC", "1h")
        with pytest.raises(InvalidTimeframe):
            client.get_candles("ETHBTC", "7m")
