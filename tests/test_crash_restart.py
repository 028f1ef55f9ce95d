"""SIGKILL mid-work, then restart on the same database: what was committed is there, whole.

Real processes throughout: ``python -m tradewind serve`` (and ``tradewind data import``) on a
free port, killed with SIGKILL (nothing of theirs runs after it, as after a crash), then started
again on the same SQLite file (or PostgreSQL schema). Each test kills in the middle of one kind
of work: trading on a fast replay, a backtest started over the API, an assistant run on ``/v1``
waiting on its model, a candle import.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from fakes.openai_server import FakeOpenAI
from sqlalchemy import create_engine, text
from support.process import serving, tradewind_env
from support.waiting import wait_for

from tradewind.domain.timeframe import Timeframe
from tradewind.storage.candle_import import import_into_database

DATA = Path(__file__).parent / "data"
UPSTREAM = "gpt-4o-mini"

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def replay_settings(db: Path, *, speed: str, trading: bool = False) -> dict[str, str]:
    """A server on the ETH/BTC 5-minute replay: ``speed`` times real time (1 = nothing new in a test)."""
    settings = {
        "database_url": f"sqlite:///{db}", "feed": "replay", "replay_path": str(DATA / "ETH_BTC-5m.json"),
        "replay_symbol": "ETHBTC", "replay_timeframe": "5m", "replay_speed": speed, "symbols": "ETHBTC",
        "timeframes": "5m,15m,1h", "analysis_timeframes": "15m,1h", "analysis_interval_minutes": "0",
        "trading": "true" if trading else "false",
    }
    if trading:  # a fast cycle on every 5-minute candle, long and short: orders all the time
        settings["trading_assets"] = json.dumps([{
            "symbol": "ETHBTC", "timeframe": "5m", "interval_minutes": 5, "strategy": "sma-cross",
            "params": {"fast": 5, "slow": 12, "short": True}, "risk": "moderate"}])
    return settings


def rows(db: Path, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as connection:
        return connection.execute(query).fetchall()


def test_killed_while_trading_a_restart_keeps_every_trade_and_reconciles_the_book(tmp_path: Path) -> None:
    db = tmp_path / "tw.db"
    with serving(tmp_path, replay_settings(db, speed="20000", trading=True)) as first:
        def some_trades() -> list[dict[str, Any]]:
            answer = httpx.get(f"{first.url}/api/trades", params={"limit": 1000}, timeout=5).json()["trades"]
            return answer if len(answer) >= 3 else []

        acknowledged = wait_for(some_trades, timeout=60)
        first.kill()
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]
    stored_trades = rows(db, "SELECT COUNT(*) FROM trading_trades")[0][0]
    assert stored_trades >= len(acknowledged)
    # every fill of a trade is there, and the book was written with the fill that made it (one transaction)
    fills = rows(db, "SELECT COUNT(*) FROM trading_fills")[0][0]
    assert fills >= 2 * stored_trades
    cash_at_kill = rows(db, "SELECT cash FROM trading_portfolio")[0][0]
    positions_at_kill = rows(db, "SELECT symbol, side, quantity FROM trading_positions ORDER BY symbol")

    # again on the same file, at real speed: the restart resumes the book and trades nothing new in the test
    with serving(tmp_path, replay_settings(db, speed="1", trading=True), name="restart") as second:
        after = httpx.get(f"{second.url}/api/trades", params={"limit": 1000}).json()["trades"]
        by_id = {json.dumps(t, sort_keys=True) for t in after}
        assert all(json.dumps(t, sort_keys=True) in by_id for t in acknowledged), "an acknowledged trade is lost"
        assert len(after) == stored_trades
        book = httpx.get(f"{second.url}/api/positions").json()
        held = sorted((p["symbol"], p["side"], p["quantity"]) for p in book["positions"])
        assert held == [tuple(p) for p in positions_at_kill]
        assert book["portfolio"]["cash"] == pytest.approx(cash_at_kill, rel=1e-12)
        events = httpx.get(f"{second.url}/api/risk-events", params={"limit": 1000}).json()["risk_events"]
        assert [e for e in events if e.get("reason") == "reconcile"] == [], "the broker and the book disagree"


@pytest.fixture
def held_model() -> Iterator[tuple[FakeOpenAI, threading.Event, threading.Event]]:
    """An upstream model that answers only once released: a run waits on it, in progress."""
    asked, release = threading.Event(), threading.Event()

    def answer(request: dict[str, Any]) -> str:
        asked.set()
        release.wait(30)
        return "late"

    with FakeOpenAI(answer, model=UPSTREAM).running() as server:
        yield server, asked, release
        release.set()


def test_killed_mid_backtest_and_mid_run_both_end_failed_with_a_reason_and_the_rest_survives(
        tmp_path: Path, held_model: tuple[FakeOpenAI, threading.Event, threading.Event]) -> None:
    fake, asked, release = held_model
    db = tmp_path / "tw.db"
    settings = {**replay_settings(db, speed="1"), "llm_base_url": fake.base_url, "llm_model": UPSTREAM,
                "llm_api_keys": "sk-up", "llm_max_retries": "0", "llm_timeout": "60"}
    import_into_database(f"sqlite:///{db}", DATA / "ETH_BTC-5m.json", symbol="ETHBTC", timeframe=Timeframe.M5)
    spec = {"symbol": "ETHBTC", "timeframe": "5m", "strategy": "signal-follower"}  # asks the analyst: it takes a while
    with serving(tmp_path, settings) as first:
        base = first.url
        done = httpx.post(f"{base}/api/backtests", json={**spec, "strategy": "sma-cross"}).json()
        report = wait_for(lambda: (r := httpx.get(f"{base}/api/backtests/{done['id']}").json())["status"] == "done"
                          and r, timeout=60)
        client = openai.OpenAI(base_url=f"{base}/v1", api_key="sk-client", max_retries=0)
        assistant = client.beta.assistants.create(model=UPSTREAM, instructions="Be brief.")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "first question"}])
        client.beta.threads.messages.create(thread.id, role="user", content="second question")
        before = [m.model_dump() for m in client.beta.threads.messages.list(thread.id, order="asc")]
        run = client.beta.threads.runs.create(thread.id, assistant_id=assistant.id)
        assert asked.wait(30), "the run never asked its model"
        assert client.beta.threads.runs.retrieve(run.id, thread_id=thread.id).status == "in_progress"
        cut = httpx.post(f"{base}/api/backtests", json=spec)
        assert cut.status_code == 202, cut.text
        wait_for(lambda: httpx.get(f"{base}/api/backtests/{cut.json()['id']}").json()["status"] == "running")
        first.kill()
    release.set()
    with serving(tmp_path, settings, name="restart") as second:
        base = second.url
        interrupted = httpx.get(f"{base}/api/backtests/{cut.json()['id']}").json()
        assert interrupted["status"] == "failed" and interrupted["finished_at"] is not None
        assert interrupted["error"]["code"] == "INTERRUPTED"
        assert "the server stopped while it ran" in interrupted["error"]["message"]
        assert interrupted["spec"]["strategy"] == "signal-follower"
        assert httpx.get(f"{base}/api/backtests/{done['id']}").json() == report  # the finished report, whole
        listed = httpx.get(f"{base}/api/backtests").json()["backtests"]
        assert [b["id"] for b in listed] == [cut.json()["id"], done["id"]]

        client = openai.OpenAI(base_url=f"{base}/v1", api_key="sk-client", max_retries=0)
        settled = client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
        assert settled.status == "failed" and settled.failed_at is not None
        assert settled.last_error is not None and settled.last_error.code == "server_error"
        assert "the server stopped while this run was in progress" in settled.last_error.message
        after = [m.model_dump() for m in client.beta.threads.messages.list(thread.id, order="asc")]
        assert after == before  # the messages, whole; no half-written answer
        assert client.beta.assistants.retrieve(assistant.id).instructions == "Be brief."


def candle_csv(path: Path, count: int) -> list[tuple[int, float, float, float, float, float]]:
    """``count`` one-minute candles (time, open, high, low, close, volume) written as CSV."""
    candles = []
    for i in range(count):
        open_ = 100.0 + (i % 97) * 0.25
        close = open_ + (0.5 if i % 2 else -0.5)
        candles.append((1_700_000_040 + 60 * i, open_, max(open_, close) + 0.125, min(open_, close) - 0.125, close,
                        float(1 + i % 13)))
    path.write_text("time,open,high,low,close,volume\n" + "".join(",".join(map(repr, c)) + "\n" for c in candles))
    return candles


def test_an_import_killed_mid_way_keeps_whole_batches_and_a_rerun_completes_it(database_url: str,
                                                                                  tmp_path: Path) -> None:
    total, batch = 15_000, 5000  # candle_import saves 5,000 a transaction
    candles = candle_csv(tmp_path / "big.csv", total)
    command = [sys.executable, "-m", "tradewind", "data", "import", str(tmp_path / "big.csv"), "--symbol", "BTCUSDT",
               "--timeframe", "1m"]
    env = tradewind_env({"database_url": database_url})
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))

    def stored() -> int:
        try:
            with engine.connect() as connection:
                return int(connection.execute(text("SELECT COUNT(*) FROM candles")).scalar() or 0)
        except Exception:  # noqa: BLE001 - the import has not created the table yet
            return 0

    try:
        process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        try:
            wait_for(lambda: stored() > 0 or process.poll() is not None, timeout=120, every=0.01)
            process.send_signal(signal.SIGKILL)
        finally:
            process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL, "the import ended before the kill: make the file larger"
        saved = stored()
        assert 0 < saved < total and saved % batch == 0, f"{saved} candles: a batch was half written"
        with engine.connect() as connection:
            got = connection.execute(text("SELECT time, open, high, low, close, volume FROM candles ORDER BY time"
                                          )).all()
        assert [tuple(row) for row in got] == candles[:saved]
        again = import_into_database(database_url, tmp_path / "big.csv", symbol="BTCUSDT", timeframe=Timeframe.M1)
        assert (again.imported, again.skipped, again.rejected) == (total - saved, saved, [])
        assert stored() == total
    finally:
        engine.dispose()
