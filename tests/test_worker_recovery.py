"""Several workers on one PostgreSQL and one Redis: a worker that starts, or sweeps, settles only the
runs and backtests of a worker that is gone, never those a live worker is executing; a dead
worker's work ends failed within about two lease TTLs; a cancel that reaches another worker leaves
the run to its executor. Real PostgreSQL, real Redis, the service's own stores and services."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import Engine

from support.redis_db import REDIS_URL, redis_client
from tradewind.adapters.pdf_text import pdf_text
from tradewind.adapters.scale_out import ScaleOut
from tradewind.analysts.rules import RulesAnalyst
from tradewind.assistants.files import FileService
from tradewind.assistants.objects import AssistantObjects
from tradewind.assistants.runs import RunService
from tradewind.assistants.vector_stores import VectorStores
from tradewind.domain.clock import SystemClock
from tradewind.domain.timeframe import Timeframe
from tradewind.market.candle_file import read_candle_file
from tradewind.storage.assistants import NOBODY, SqlObjectStore
from tradewind.storage.backtests import SqlBacktestStore
from tradewind.storage.files import SqlFileStore
from tradewind.trading.backtest import BacktestSpec
from tradewind.trading.jobs import BacktestJobs

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

TTL = 1.0  # a dead worker's liveness key frees itself within this
CANDLES = read_candle_file(Path(__file__).parent / "data" / "ETH_BTC-5m.json", timeframe=Timeframe.M5).candles


@pytest.fixture
def prefix() -> Iterator[str]:
    with redis_client() as (_, fresh):
        yield fresh


class Worker:
    """One worker's share of the deployment: its scale-out (liveness, sweeps), backtests and runs."""

    def __init__(self, engine: Engine, prefix: str) -> None:
        self.scale = ScaleOut.over_redis(REDIS_URL, prefix=prefix, lease_ttl_seconds=TTL)
        self.backtests = BacktestJobs(candles=lambda *_: CANDLES, analysts=lambda: {"rules": RulesAnalyst()},
                                      clock=SystemClock(), store=SqlBacktestStore(engine), worker=self.scale.worker,
                                      alive=self.scale.alive)
        store = SqlObjectStore(engine)
        files = FileService(store=SqlFileStore(engine), max_bytes=1 << 20, read_pdf=pdf_text, wall=time.time)
        self.objects = AssistantObjects(store=store, models=lambda: ["tradewind-analyst"], tools={}, files=files,
                                        vector_stores=VectorStores(store=store, files=files, wall=time.time),
                                        wall=time.time)
        self.runs = RunService(store=store, objects=self.objects, models={}, tools={}, wall=time.time,
                               worker=self.scale.worker, alive=self.scale.alive)

    async def start(self) -> None:
        await self.scale.keep_alive(self.runs.recover, self.backtests.recover)

    async def die(self) -> None:
        """As SIGKILL leaves it: nothing more is saved, the liveness key is no longer renewed."""
        for job in self.backtests._jobs.values():
            job.stopping.set()
            if job.task is not None:
                job.task.cancel()
        for lease in [self.scale._heartbeat, *self.scale.leases.values()]:
            task = getattr(lease, "_task", None)
            if task is not None:
                task.cancel()
        await self.scale._stop_sweeping()
        await asyncio.sleep(0)

    async def stop(self) -> None:
        await self.scale.stop_keeping_alive()
        await self.backtests.stop()
        await self.scale.release_heartbeat()
        self.scale.close()


@pytest.fixture
async def workers(postgres_engine: Engine, prefix: str) -> AsyncIterator[list[Worker]]:
    made: list[Worker] = []

    def make() -> Worker:
        made.append(Worker(postgres_engine, prefix))
        return made[-1]

    yield make  # type: ignore[misc]
    for worker in made:
        try:
            await worker.stop()
        except (redis.RedisError, RuntimeError):
            pass


async def running(worker: Worker) -> str:
    job = await worker.backtests.start(BacktestSpec(symbol="ETHBTC", timeframe=Timeframe.M5,
                                                    strategy="signal-follower"))
    while SqlBacktestStore(worker.backtests.store.engine).get(job.id)["status"] != "running":  # type: ignore[attr-defined]
        await asyncio.sleep(0.01)
    return job.id


def in_progress_run(worker: Worker) -> dict[str, Any]:
    """A run this worker executes, stored as a kill would leave it (``in_progress``)."""
    assistant = worker.objects.create_assistant(NOBODY, {"model": "tradewind-analyst"})
    thread = worker.objects.create_thread(NOBODY, {})
    now = worker.objects.now()
    run = {"id": f"run_{uuid.uuid4().hex[:24]}", "object": "thread.run", "created_at": now,
           "thread_id": thread["id"], "assistant_id": assistant["id"], "status": "in_progress", "started_at": now,
           "required_action": None, "expires_at": now + 600, "last_error": None}
    worker.runs.store.insert_many([("run", NOBODY, run)], runner=worker.scale.worker)
    return run


async def until(predicate: Any, timeout: float) -> float:
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, "not reached in time"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_a_starting_worker_leaves_a_live_workers_backtest_and_run_alone(workers: Any) -> None:
    one = workers()
    await one.start()
    backtest = await running(one)
    run = in_progress_run(one)
    two = workers()
    await two.start()  # its start-up sweep sees both, executed by a live worker
    assert await two.backtests.recover() == 0 and await two.runs.recover() == 0
    store = one.backtests.store
    assert store.get(backtest)["status"] == "running"
    assert one.runs.store.get("run", NOBODY, run["id"])["status"] == "in_progress"


async def test_a_dead_workers_backtest_and_run_end_failed_within_two_ttls(workers: Any) -> None:
    one, two = workers(), workers()
    await one.start()  # the first holds the recovery lease
    await two.start()
    backtest = await running(one)
    run = in_progress_run(one)
    await one.die()
    store = two.backtests.store
    took = await until(lambda: store.get(backtest)["status"] == "failed"
                       and two.runs.store.get("run", NOBODY, run["id"])["status"] == "failed", timeout=6 * TTL)
    assert took < 4 * TTL  # liveness expires (1 TTL), the recovery lease moves (1 TTL), one sweep period
    failed = store.get(backtest)
    assert failed["error"]["code"] == "INTERRUPTED"
    ended = two.runs.store.get("run", NOBODY, run["id"])
    assert ended["last_error"]["code"] == "server_error" and "start a new run" in ended["last_error"]["message"]


async def test_a_cancel_on_another_worker_leaves_the_run_to_its_executor(workers: Any) -> None:
    one, two = workers(), workers()
    await one.start()
    await two.start()
    run = in_progress_run(one)
    answered = await two.runs.cancel(NOBODY, run["thread_id"], run["id"])
    assert answered["status"] == "cancelling"  # not ended here: worker one ends it at its next step
    assert two.runs.store.get("run", NOBODY, run["id"])["status"] == "cancelling"
    await one.die()  # ... unless it dies first: then the sweep ends it cancelled
    await until(lambda: two.runs.store.get("run", NOBODY, run["id"])["status"] == "cancelled", timeout=6 * TTL)


async def test_one_process_settles_what_a_previous_start_left(postgres_engine: Engine) -> None:
    """The embedded default (no Redis): any other worker is an earlier start of this service."""
    store = SqlBacktestStore(postgres_engine)
    store.save({"id": "bt_left", "status": "running", "created_at": time.time(), "spec": {}}, "host-1-abcdef")
    scale = ScaleOut.single()
    jobs = BacktestJobs(candles=lambda *_: CANDLES, analysts=dict, clock=SystemClock(), store=store,
                        worker=scale.worker, alive=scale.alive)
    await scale.keep_alive(jobs.recover)
    assert store.get("bt_left")["status"] == "failed"
    assert scale.leases == {}  # nothing to sweep for later: no other worker can die under us
