"""A stopped service stops promptly: its server's thread ends within seconds of the shutdown.

A server on a replay runs on a simulated clock: the feed drives the clock, and the trading cycle
of each asset wakes on it. A stop cancels the cycles, then the feed while it waits for them in
``SimClock.advance_to``; that cancel once got lost (Python 3.11's ``asyncio.wait_for``), and the
"stopped" service played its replay to the end, holding its thread for as long.
"""

from __future__ import annotations

import time
from pathlib import Path

from support.server import serve
from support.waiting import wait_for

from tradewind.api.app import create_app
from tradewind.bootstrap import build_container
from tradewind.settings import Settings

DATA = Path(__file__).parent / "data"


def test_a_server_on_a_replay_stops_within_seconds_mid_replay(tmp_path: Path) -> None:
    # 100,000 times real speed: 3 ms a 5-minute candle, the file's ~5,000 candles in ~15 s
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'tw.db'}", feed="replay",
                        replay_path=DATA / "ETH_BTC-5m.json", replay_symbol="ETHBTC", replay_timeframe="5m",
                        replay_speed=100_000, symbols=["ETHBTC"], timeframes=["5m", "15m", "1h"],
                        analysis_timeframes=["15m", "1h"])
    container = build_container(settings)
    feed = container.runtime.feed
    with serve(create_app(container), stop_timeout=15):
        wait_for(lambda: feed.played >= int(__import__("os").environ.get("N", "300")), every=0.001)  # type: ignore[attr-defined]
        asked = time.monotonic()
    stopped_in = time.monotonic() - asked
    total = len(feed.candles())  # type: ignore[attr-defined]
    assert stopped_in < 3, f"the server took {stopped_in:.1f} s to stop (the feed played {feed.played} of {total})"
    assert feed.played < total, "the replay played to its end: the stop did not stop it"  # type: ignore[attr-defined]
    assert container.runtime.state == "stopped"
