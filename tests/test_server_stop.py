"""A stopped service stops promptly: its server's thread ends within seconds of the shutdown.

A server on a replay runs on a simulated clock: the feed drives the clock, and the trading cycle
of each asset wakes on it. A stop cancels the cycles, then the feed, which is waiting in
``SimClock.advance_to`` for the woken cycle to be done. That cancel once got lost (Python 3.11's
``asyncio.wait_for`` swallows a cancel that comes just after what it waits for has finished), and
the "stopped" service played its replay to the end, holding its thread for as long.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from support.server import serve
from support.waiting import wait_for

from tradewind.api.app import create_app
from tradewind.bootstrap import build_container
from tradewind.settings import Settings

DATA = Path(__file__).parent / "data"


def test_a_server_stopped_while_a_cycle_is_in_its_analysis_stops_within_seconds(tmp_path: Path) -> None:
    # 100,000 times real speed: 3 ms a 5-minute candle, the file's ~5,000 candles in ~15 s
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'tw.db'}", feed="replay",
                        replay_path=DATA / "ETH_BTC-5m.json", replay_symbol="ETHBTC", replay_timeframe="5m",
                        replay_speed=100_000, symbols=["ETHBTC"], timeframes=["5m", "15m", "1h"],
                        analysis_timeframes=["15m", "1h"])
    container = build_container(settings)
    engine, feed = container.kernel.engine, container.runtime.feed
    assert engine is not None
    blocking: Callable[[Callable[[], Any]], Awaitable[Any]] = engine.blocking
    in_analysis = threading.Event()

    async def held(work: Callable[[], Any]) -> Any:
        """The cycle's analysis, in its worker thread until the stop has begun: the stop finds the
        cycle awake and the feed waiting for it (the moment the cancel was lost)."""
        def slow() -> Any:
            in_analysis.set()
            wait_for(lambda: not engine.running, timeout=10, every=0.005)
            return work()

        return await blocking(slow)

    engine.blocking = held  # type: ignore[method-assign]
    with serve(create_app(container), stop_timeout=5):  # more is a stop that does not stop
        assert in_analysis.wait(30)
        asked = time.monotonic()
    stopped_in = time.monotonic() - asked
    total = len(feed.candles())  # type: ignore[attr-defined]
    assert stopped_in < 3, f"the server took {stopped_in:.1f} s to stop (the feed played {feed.played} of {total})"  # type: ignore[attr-defined]
    assert feed.played < total, "the replay played to its end: the stop did not stop it"  # type: ignore[attr-defined]
    assert container.runtime.state == "stopped"
