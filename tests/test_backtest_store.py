"""The API's backtests are kept in the database (SQLite and PostgreSQL): a finished report outlives
the jobs object that ran it, one left running by a crash ends failed with the reason at the next
start, only the newest finished ones are kept, and a stop ends the running ones failed."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tradewind.analysts.rules import RulesAnalyst
from tradewind.domain.clock import SystemClock
from tradewind.domain.timeframe import Timeframe
from tradewind.market.candle_file import read_candle_file
from tradewind.storage.backtests import SqlBacktestStore
from tradewind.trading.backtest import BacktestSpec
from tradewind.trading.jobs import BacktestJob, BacktestJobs, BacktestRecord

CANDLES = read_candle_file(Path(__file__).parent / "data" / "ETH_BTC-5m.json", timeframe=Timeframe.M5).candles


def jobs(engine: Engine, *, keep: int = 20, candles: int = 400) -> BacktestJobs:
    return BacktestJobs(candles=lambda *_: CANDLES[:candles], analysts=lambda: {"rules": RulesAnalyst()},
                        clock=SystemClock(), keep=keep, store=SqlBacktestStore(engine))


def spec(strategy: str = "sma-cross") -> BacktestSpec:
    return BacktestSpec(symbol="ETHBTC", timeframe=Timeframe.M5, strategy=strategy)


async def finished(runner: BacktestJobs, job: BacktestJob) -> dict:
    """The stored document once the job's task is over (saved, trimmed)."""
    assert job.task is not None
    await asyncio.wait_for(asyncio.shield(job.task), timeout=120)
    return (await runner.find(job.id)).as_dict()


async def test_a_finished_report_is_served_from_the_store_by_a_new_jobs_object(engine: Engine) -> None:
    first = jobs(engine)
    job = await first.start(spec())
    report = await finished(first, job)
    assert report["status"] == "done" and report["report"]["metrics"] is not None
    again = jobs(engine)  # a restarted server
    assert await again.recover() == 0
    kept = await again.find(job.id)
    assert isinstance(kept, BacktestRecord) and kept.as_dict() == report
    assert [b.as_dict(report=False) for b in await again.recent()] == [
        {k: v for k, v in report.items() if k != "report"}]


async def test_a_backtest_left_running_by_a_crash_ends_failed_at_the_next_start(engine: Engine) -> None:
    store = SqlBacktestStore(engine)
    crashed = jobs(engine, candles=len(CANDLES))
    job = await crashed.start(spec("signal-follower"))
    while store.get(job.id)["status"] != "running":
        await asyncio.sleep(0.01)
    job.stopping.set()  # the process "dies": its thread stops and nothing more of it is saved
    assert job.task is not None
    job.task.cancel()
    await asyncio.gather(job.task, return_exceptions=True)
    assert store.get(job.id)["status"] == "running"  # as a kill leaves it
    restarted = jobs(engine)
    assert await restarted.recover() == 1
    failed = (await restarted.find(job.id)).as_dict()
    assert failed["status"] == "failed" and failed["error"]["code"] == "INTERRUPTED"
    assert "the server stopped while it ran" in failed["error"]["message"] and failed["finished_at"] is not None
    assert failed["spec"] == job.as_dict()["spec"]
    assert await restarted.recover() == 0  # settled once


async def test_only_the_newest_finished_backtests_are_kept(engine: Engine) -> None:
    runner = jobs(engine, keep=2, candles=120)
    ids = []
    for _ in range(4):
        job = await runner.start(spec())
        await finished(runner, job)
        ids.append(job.id)
    assert [b.id for b in await runner.recent()] == ids[::-1][:2]
    with pytest.raises(Exception, match="no backtest"):
        runner.get(ids[0])


async def test_a_stop_ends_a_running_backtest_failed_with_the_reason(engine: Engine) -> None:
    runner = jobs(engine, candles=len(CANDLES))
    job = await runner.start(spec("signal-follower"))
    while job.status != "running":
        await asyncio.sleep(0.01)
    await runner.stop()
    stored = SqlBacktestStore(engine).get(job.id)
    assert stored is not None and stored["status"] == "failed" and stored["error"]["code"] == "CANCELLED"
    assert "the server stopped while it ran" in stored["error"]["message"]


def test_figures_json_cannot_carry_are_stored_as_null(engine: Engine) -> None:
    store = SqlBacktestStore(engine)
    store.save({"id": "bt_1", "status": "done", "created_at": 1.0,
                "report": {"metrics": {"sharpe": math.nan, "calmar": math.inf, "trades": 3}}})
    assert store.get("bt_1")["report"]["metrics"] == {"sharpe": None, "calmar": None, "trades": 3}
