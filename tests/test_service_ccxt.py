"""The whole service on TRADEWIND_FEED=ccxt: bootstrap, real ccxt, a fake Binance on 127.0.0.1,
the streamer and the HTTP API, on a clock shifted into January 2018 so the real ETH/BTC candles
are "live"."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
from fakes import load_rows
from fakes.binance import FakeBinance
from support.server import serve

from tradewind.api.app import create_app
from tradewind.bootstrap import build_container
from tradewind.settings import Settings

DATA = Path(__file__).parent / "data"


class ShiftedClock:
    """Wall-clock time moved back to a moment inside the recorded data; it keeps ticking."""

    def __init__(self, at: float) -> None:
        self.offset = time.time() - at

    def now(self) -> float:
        return time.time() - self.offset


def test_service_streams_an_exchange_through_ccxt(tmp_path: Path) -> None:
    rows = load_rows("ETH_BTC-1m.json")
    clock = ShiftedClock(rows[6000][0] / 1000 + 45)  # 45 s into a minute, days into the file
    with FakeBinance(now=clock.now).running() as exchange:
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'tw.db'}", feed="ccxt", ccxt_base_url=exchange.url,
            ccxt_poll_seconds=0.2, symbols=["ETH/BTC"], timeframes=["1m", "5m", "1h"], buffer_size=300,
            history_hours=12,
        )
        container = build_container(settings, clock=clock)
        with serve(create_app(container)) as url:
            deadline = time.monotonic() + 30
            while container.runtime.state == "initializing":
                assert time.monotonic() < deadline
                time.sleep(0.05)
            body = httpx.get(f"{url}/streamer/candles/ETHBTC/5m", params={"limit": 100}).json()
            assert body["success"] and body["count"] == 100
            reference = {r[0] // 1000: r for r in json.loads((DATA / "ETH_BTC-5m.json").read_text())}
            closed = [c for c in body["candles"] if c["closed"]]
            assert len(closed) >= 99
            for candle in closed:  # the exchange's own 5m candles, rebuilt from its 1m candles
                assert [candle["open"], candle["high"], candle["low"], candle["close"]] == reference[candle["time"]][1:5]
            status = httpx.get(f"{url}/streamer/status").json()
            assert status["feed"] == "ccxt" and status["running"] is True
            polls = status["feed_stats"]["polls"]
            time.sleep(1.0)
            assert httpx.get(f"{url}/streamer/status").json()["feed_stats"]["polls"] > polls  # it keeps polling
            hourly = httpx.get(f"{url}/streamer/candles/ETHBTC/H1", params={"limit": 12}).json()
            assert hourly["timeframe"] == "H1" and hourly["candles"][-1]["closed"] is False
