"""The periodic analysis: on its own with a fake service and a simulated clock, then in the served app."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from support.server import serve
from websockets.asyncio.client import connect

from tradewind.api.app import create_app
from tradewind.bootstrap import Container, build_container
from tradewind.domain import SimClock
from tradewind.settings import Settings
from tradewind.signals.periodic import PeriodicAnalysis

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class FakeSignals:
    """The two calls the scheduler makes; ``BAD`` fails like a symbol the streamer lacks."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.analysed: list[tuple[str, bool, str, float]] = []

    def request_from_payload(self, *, symbol: str, timeframe_data: object) -> str:
        assert timeframe_data is None  # the streamer's candles
        if symbol == "BAD":
            raise LookupError("symbol 'BAD' is not streamed")
        return symbol

    def analyze(self, request: str, *, use_cache: bool = True, origin: str = "api", streamed: bool = False) -> None:
        time.sleep(0.01)  # real work in the worker thread: simulated time must wait for it
        self.analysed.append((request, use_cache, origin, self.clock.now()))


def scheduler(signals: FakeSignals, clock: SimClock, *, ready: Callable[[], bool] = lambda: True,
              **kwargs: Any) -> PeriodicAnalysis:
    return PeriodicAnalysis(
        signals, symbols=lambda: ["BTCUSDT", "BAD", "ETHUSDT"], interval_seconds=300, clock=clock,  # type: ignore[arg-type]
        ready=ready, ready_poll_seconds=1, **kwargs,
    )


async def test_runs_follow_the_clock_analyse_every_symbol_fresh_and_survive_a_failure() -> None:
    clock = SimClock(START)
    signals = FakeSignals(clock)
    periodic = scheduler(signals, clock)
    assert (periodic.status()["last_run"], periodic.status()["next_run"]) == (None, None)
    task = asyncio.create_task(periodic.run())
    try:
        await clock.advance_to(START + 1)  # the first run, as soon as the streamer is ready
        await clock.advance_to(START + 299)
        assert periodic.runs == 1
        await clock.advance_to(START + 900)  # three more intervals
    finally:
        task.cancel()
    assert periodic.runs == 4
    starts = sorted({at for _, _, _, at in signals.analysed})
    assert starts == [START, START + 300, START + 600, START + 900]  # every 300 s of simulated time, exactly
    assert [(symbol, fresh, origin) for symbol, fresh, origin, _ in signals.analysed[:2]] == [
        ("BTCUSDT", False, "periodic"), ("ETHUSDT", False, "periodic")]  # cache bypassed
    status = periodic.status()
    assert status["errors"] == 4 and status["analyses"] == 8
    assert status["last_error"] == "BAD: LookupError: symbol 'BAD' is not streamed"
    assert status["last_run"] == datetime.fromtimestamp(START + 900, timezone.utc).isoformat()
    assert datetime.fromisoformat(status["next_run"]).timestamp() == START + 1200
    assert (status["enabled"], status["interval_minutes"]) == (True, 5.0)


async def test_the_first_run_waits_for_the_streamer_and_symbols_are_spaced() -> None:
    clock = SimClock(START)
    signals = FakeSignals(clock)
    ready = False
    periodic = scheduler(signals, clock, ready=lambda: ready, symbol_delay_seconds=10)
    task = asyncio.create_task(periodic.run())
    try:
        await clock.advance_to(START + 60)
        assert signals.analysed == [] and periodic.next_run is None
        ready = True
        await clock.advance_to(START + 120)
    finally:
        task.cancel()
    # the run starts at the next readiness poll; two pauses of 10 s: before BAD and before ETHUSDT
    assert [(symbol, at - START) for symbol, _, _, at in signals.analysed] == [("BTCUSDT", 61), ("ETHUSDT", 81)]


def test_an_interval_of_zero_means_no_scheduler(tmp_path: Path) -> None:
    container = build_container(Settings(database_url=f"sqlite:///{tmp_path / 'tw.db'}", symbols=["BTCUSDT"],
                                         analysis_interval_minutes=0))
    assert container.scheduler is None
    container.database.dispose()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Container]]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path_factory.mktemp('sched') / 'tw.db'}", symbols=["BTCUSDT", "ETHUSDT"],
        history_hours=30, analysis_interval_minutes=0.01,
    )
    container = build_container(settings)
    assert container.scheduler is not None
    tracked = container.scheduler.symbols
    container.scheduler.symbols = lambda: [*tracked(), "NOPEUSDT"]  # one symbol that always fails
    with serve(create_app(container)) as url:
        yield url, container


async def test_served_runs_store_and_broadcast_every_symbol(running: tuple[str, Container]) -> None:
    url, _ = running
    async with connect("ws" + url.removeprefix("http") + "/ws", proxy=None) as ws:
        assert orjson.loads(await ws.recv())["type"] == "connection"
        seen: list[dict[str, Any]] = []
        async with asyncio.timeout(15):
            while len(seen) < 4:  # two runs of both streamed symbols
                message = orjson.loads(await ws.recv())
                assert message["type"] == "AISignalReceived"
                seen.append(message["data"])
    assert {data["symbol"] for data in seen} == {"BTCUSDT", "ETHUSDT"}
    assert len({data["signal_id"] for data in seen}) == 4  # each run is a new, stored signal
    async with httpx.AsyncClient(base_url=url) as http:
        for data in seen:
            assert (await http.get(f"/ai/signals/{data['signal_id']}")).status_code == 200
        health = (await http.get("/health")).json()
        info = (await http.get("/ai/info")).json()
        root = (await http.get("/")).json()
    assert health["analysis_interval_minutes"] == 0.01 and info["analysis_interval_minutes"] == 0.01
    periodic = health["periodic_analysis"]
    assert periodic["runs"] >= 1 and periodic["errors"] >= 1 and "NOPEUSDT" in periodic["last_error"]
    assert datetime.fromisoformat(periodic["next_run"]) > datetime.fromisoformat(periodic["last_run"])
    assert info["periodic_analysis"]["last_run"] is not None and info["websocket_broadcasting"] is True
    assert root["features"]["periodic_analysis"] is True and root["features"]["websocket_broadcasting"] is True
    assert root["features"]["analysis_interval_minutes"] == 0.01 and root["endpoints"]["websocket"].startswith("WS /ws")
