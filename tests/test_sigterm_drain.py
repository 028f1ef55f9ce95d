"""SIGTERM drains: the request in flight gets its answer, new connections are refused, the loops
stop, what was running ends with a reason, and the process exits 0 within a bounded time.

A real ``python -m tradewind serve`` trades a fast replay (its cycles and the periodic analysis
running) with an upstream model (a local fake of OpenAI's wire protocol) that answers one chat
request slowly and keeps an assistant run waiting, and a backtest running, when it gets SIGTERM.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from fakes.openai_server import FakeOpenAI
from support.process import serving
from support.waiting import wait_for

from tradewind.domain.timeframe import Timeframe
from tradewind.storage.candle_import import import_into_database

DATA = Path(__file__).parent / "data"
UPSTREAM = "gpt-4o-mini"
SLOW_SECONDS = 2.0

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def model() -> Iterator[tuple[FakeOpenAI, threading.Event, threading.Event, threading.Event]]:
    """Answers "slow" chat requests after SLOW_SECONDS; holds a run's request until released."""
    slow_asked, run_asked = threading.Event(), threading.Event()
    release = threading.Event()

    def answer(request: dict[str, Any]) -> str:
        text = json.dumps(request["messages"])
        if "slow question" in text:
            slow_asked.set()
            time.sleep(SLOW_SECONDS)
            return "the drained answer"
        run_asked.set()
        release.wait(20)
        return "too late"

    with FakeOpenAI(answer, model=UPSTREAM).running() as server:
        yield server, slow_asked, run_asked, release
        release.set()


def run_status(db: Path, run_id: str) -> str | None:
    with sqlite3.connect(db) as connection:
        row = connection.execute("SELECT status FROM v1_runs WHERE id = ?", (run_id,)).fetchone()
    return row[0] if row else None


def test_sigterm_finishes_requests_in_flight_refuses_new_ones_and_exits_0(
        tmp_path: Path, model: tuple[FakeOpenAI, threading.Event, threading.Event, threading.Event]) -> None:
    fake, slow_asked, run_asked, release = model
    db = tmp_path / "tw.db"
    settings = {
        "database_url": f"sqlite:///{db}", "feed": "replay", "replay_path": str(DATA / "ETH_BTC-5m.json"),
        "replay_symbol": "ETHBTC", "replay_timeframe": "5m", "replay_speed": "20000", "symbols": "ETHBTC",
        "timeframes": "5m,15m,1h", "analysis_timeframes": "15m,1h", "analysis_interval_minutes": "60",
        "trading_assets": json.dumps([{"symbol": "ETHBTC", "timeframe": "5m", "interval_minutes": 5,
                                       "strategy": "sma-cross", "params": {"fast": 5, "slow": 12}}]),
        "llm_base_url": fake.base_url, "llm_model": UPSTREAM, "llm_api_keys": "sk-up", "llm_max_retries": "0",
        "llm_timeout": "15", "shutdown_timeout_seconds": "3",
    }
    # the backtest's candles: another series than the replay's (whose stored candles it would skip as
    # played), and long enough (14,397 one-minute candles, seconds of work) to be running at the SIGTERM
    import_into_database(settings["database_url"], DATA / "ETH_BTC-1m.json", symbol="ETHBTC", timeframe=Timeframe.M1)
    with serving(tmp_path, settings) as server:
        base = server.url
        wait_for(lambda: httpx.get(f"{base}/api/trades", params={"limit": 1}).json()["trades"], timeout=60)  # trading
        client = openai.OpenAI(base_url=f"{base}/v1", api_key="sk-client", max_retries=0, timeout=30)
        assistant = client.beta.assistants.create(model=UPSTREAM)
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "a run question"}])
        run = client.beta.threads.runs.create(thread.id, assistant_id=assistant.id)
        assert run_asked.wait(30)
        backtest = httpx.post(f"{base}/api/backtests", json={"symbol": "ETHBTC", "timeframe": "1m",
                                                             "strategy": "signal-follower"}).json()
        wait_for(lambda: httpx.get(f"{base}/api/backtests/{backtest['id']}").json()["status"] == "running")

        answers: list[Any] = []

        def slow_request() -> None:
            try:
                answers.append(client.chat.completions.create(
                    model=UPSTREAM, messages=[{"role": "user", "content": "a slow question"}]))
            except Exception as exc:  # noqa: BLE001 - the assertion below shows it
                answers.append(exc)

        asking = threading.Thread(target=slow_request)
        asking.start()
        assert slow_asked.wait(30), "the slow request never reached the model"
        server.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()

        def refused() -> bool:
            try:
                httpx.get(f"{base}/health", timeout=1)
            except httpx.ConnectError:
                return True
            except httpx.TransportError:
                return False
            return False

        wait_for(refused, timeout=5, every=0.02)  # the listening socket is closed at once
        assert server.alive(), "it stopped before the request in flight had its answer"
        asking.join(timeout=30)
        answer = answers[0]
        assert not isinstance(answer, Exception), answer
        assert answer.choices[0].message.content == "the drained answer"
        wait_for(lambda: run_status(db, run.id) == "failed", timeout=20)  # runs get 3 s, then are cut
        # its model call goes on in a worker thread, which the exit waits for (at most llm_timeout): end it
        release.set()
        code = server.process.wait(timeout=30)
        took = time.monotonic() - signalled
    assert code == 0, server.stderr()
    print(f"SIGTERM to exit 0: {took:.1f} s (the slow request {SLOW_SECONDS:g} s, then the runs' 3 s)")
    # bounded: the drain and the runs (each at most shutdown_timeout), a model call in a thread (llm_timeout)
    assert took < 3 + 3 + 15, f"the exit took {took:.1f} s"
    log = server.stderr()
    assert "Traceback" not in log, log
    assert "Application shutdown complete" in log
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        stored_run = json.loads(connection.execute("SELECT body FROM v1_runs WHERE id = ?", (run.id,)).fetchone()[0])
        stored_backtest = json.loads(connection.execute("SELECT body FROM backtests WHERE id = ?",
                                                        (backtest["id"],)).fetchone()[0])
    assert stored_run["status"] == "failed"
    assert "the server was shut down while this run was in progress" in stored_run["last_error"]["message"]
    assert stored_backtest["status"] == "failed" and stored_backtest["error"]["code"] == "CANCELLED"
    assert "the server stopped while it ran" in stored_backtest["error"]["message"]
