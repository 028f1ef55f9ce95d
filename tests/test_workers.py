"""``tradewind serve --workers 2`` as real processes on the local PostgreSQL and Redis.

One server, two uvicorn worker processes sharing its port: a signal made by whichever worker took
``POST /ai/analyze`` reaches the WebSocket clients of both workers, each exactly once; the
periodic analysis runs once per interval across both (not once per worker); SIGKILL of the worker
holding the scheduler lease moves the analysis to the other worker within one interval; only the
holder of the trading lease changes the book (the other answers 503 and shows the stored book); a rate
limit counts the requests of both workers (its counters are in Redis). And the
refusals: more than one worker on SQLite or without Redis.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import datetime
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from websockets.asyncio.client import ClientConnection, connect

from support.redis_db import REDIS_URL, redis_client
from tradewind.cli.workers import workers_problem
from tradewind.settings import Settings

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

INTERVAL_MINUTES = 0.08  # 4.8 s between periodic runs
INTERVAL = INTERVAL_MINUTES * 60
TTL = 1.5  # a dead holder's lease frees itself within this


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def schema_url(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL schema of this test's own (the workers migrate it), dropped afterwards."""
    schema = f"workers_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    base = make_url(postgres_url).difference_update_query(["options"])
    libpq = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(libpq, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def environment(database_url: str, redis_url: str, prefix: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEWIND_")}
    env.update({
        "TRADEWIND_DATABASE_URL": database_url, "TRADEWIND_REDIS_URL": redis_url, "TRADEWIND_REDIS_PREFIX": prefix,
        "TRADEWIND_LEASE_TTL_SECONDS": str(TTL), "TRADEWIND_ANALYSIS_INTERVAL_MINUTES": str(INTERVAL_MINUTES),
        "TRADEWIND_SYMBOLS": "BTCUSDT,ETHUSDT", "TRADEWIND_HISTORY_HOURS": "30",
        "TRADEWIND_TRADING_ASSETS": '[{"symbol": "ETHUSDT"}]',  # BTCUSDT's signals are the periodic ones only
        "TRADEWIND_ANALYSIS_CACHE_SECONDS": "0",  # each POST /ai/analyze makes (and announces) a new signal
        "TRADEWIND_AUTH": "false",  # the pause below is a write; credentials are test_auth.py's subject
        # rate limits on, over the shared Redis: one tight route for the count across workers, the rest out
        # of the way of this test's polling
        "TRADEWIND_RATE_LIMIT_ENABLED": "true", "TRADEWIND_RATE_LIMITS": '{"/ai/info": "4/minute"}',
        "TRADEWIND_RATE_LIMIT_DEFAULT": "100000/minute", "TRADEWIND_RATE_LIMIT_NAMESPACE": f"{prefix}limits",
    })
    return env


class Workers:
    """The server process and what its workers say about themselves on fresh connections."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = httpx.AsyncClient(base_url=base, timeout=5, limits=httpx.Limits(max_keepalive_connections=0))

    async def healths(self, tries: int = 40) -> dict[int, dict[str, Any]]:
        """The newest ``/health`` of every worker that answered one of ``tries`` new connections."""
        seen: dict[int, dict[str, Any]] = {}
        for _ in range(tries):
            try:
                body = (await self.http.get("/health")).json()
            except httpx.TransportError:
                await asyncio.sleep(0.1)
                continue
            seen[body["worker"]["pid"]] = body
        return seen

    async def both_ready(self, timeout: float = 120) -> dict[int, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = await self.healths(10)
            if len(seen) == 2 and all(h["streamer"]["state"] == "running" for h in seen.values()):
                return seen
            await asyncio.sleep(0.3)
        raise AssertionError(f"two running workers did not answer in time: {list(seen)}")


async def pinned(base: str) -> dict[int, httpx.AsyncClient]:
    """One kept-alive connection on each worker (a connection stays with the worker that accepted it)."""
    found: dict[int, httpx.AsyncClient] = {}
    for _ in range(40):
        client = httpx.AsyncClient(base_url=base, timeout=5,
                                   limits=httpx.Limits(max_connections=1, max_keepalive_connections=1))
        pid = (await client.get("/health")).json()["worker"]["pid"]
        if pid in found:
            await client.aclose()
            continue
        found[pid] = client
        if len(found) == 2:
            return found
    raise AssertionError("could not get a connection onto each worker")


def holder(healths: dict[int, dict[str, Any]], lease: str) -> list[int]:
    return [pid for pid, h in healths.items() if h["worker"]["leases"][lease]["held"]]


async def collect(ws: ClientConnection, into: list[dict[str, Any]]) -> None:
    async for raw in ws:
        into.append(orjson.loads(raw))


@pytest.fixture
async def server(schema_url: str, tmp_path: Path) -> AsyncIterator[tuple[Workers, str]]:
    with redis_client() as (conn, prefix):
        redis_url = f"redis://{conn.connection_pool.connection_kwargs['host']}:" \
                    f"{conn.connection_pool.connection_kwargs['port']}/{conn.connection_pool.connection_kwargs['db']}"
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "tradewind", "serve", "--workers", "2", "--port", str(port)],
            cwd=tmp_path, env=environment(schema_url, redis_url, prefix, tmp_path),
            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "server.log", "wb"),  # noqa: SIM115
        )
        workers = Workers(f"http://127.0.0.1:{port}")
        try:
            yield workers, schema_url
        finally:
            await workers.http.aclose()
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log = (tmp_path / "server.log").read_text(errors="replace")
            assert "Traceback" not in log, log[-3000:]


def periodic_times(database_url: str, since: float) -> list[float]:
    """When each periodic BTCUSDT signal was stored (only the periodic analysis makes them here)."""
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(
                "SELECT created_at FROM ai_analysis_results WHERE symbol = 'BTCUSDT' ORDER BY created_at")).all()
    finally:
        engine.dispose()
    return [t for (created,) in rows if (t := created.timestamp()) >= since]


async def test_two_workers_share_one_bus_and_one_scheduler(server: tuple[Workers, str]) -> None:
    workers, database_url = server
    healths = await workers.both_ready()
    assert len(holder(healths, "scheduler")) == 1 and len(holder(healths, "trading")) == 1
    started = time.time()

    # a rate limit counts across both workers: 4 a minute, asked in turn on each worker's connection
    connections = await pinned(workers.base)
    try:
        one, two = connections.values()
        codes = [(await http.get("/ai/info")).status_code for http in (one, two) * 3]
        assert codes == [200] * 4 + [429] * 2, codes
        assert {(await http.get("/health")).json()["worker"]["pid"] for http in (one, two)} == set(connections)
    finally:
        for http in connections.values():
            await http.aclose()

    # WebSocket clients until both workers have some (the kernel picks which accepts a connection)
    clients: list[ClientConnection] = []
    inboxes: list[list[dict[str, Any]]] = []
    readers: list[asyncio.Task[None]] = []
    url = workers.base.replace("http", "ws") + "/ws"
    try:
        for _ in range(24):
            ws = await connect(url)
            inbox: list[dict[str, Any]] = []
            clients.append(ws)
            inboxes.append(inbox)
            readers.append(asyncio.create_task(collect(ws, inbox)))
            if len(clients) >= 4:
                per_worker = {pid: h["websocket"]["clients"] for pid, h in (await workers.healths(16)).items()}
                if len(per_worker) == 2 and all(n > 0 for n in per_worker.values()) \
                        and sum(per_worker.values()) == len(clients):
                    break
        else:
            raise AssertionError("could not get a WebSocket client onto each worker")
        assert all(inbox and inbox[0]["type"] == "connection" for inbox in inboxes)

        # a signal made on one worker reaches every client on both, exactly once
        answer = (await workers.http.post("/ai/analyze", json={"symbol": "ETHUSDT"})).json()
        signal_id = answer["signal_id"]
        assert answer["cached"] is False

        def copies(inbox: list[dict[str, Any]]) -> int:
            return sum(1 for m in inbox if m["type"] == "AISignalReceived" and m["data"]["signal_id"] == signal_id)

        deadline = time.monotonic() + 10
        while not all(copies(i) for i in inboxes) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # a second copy would be here by now
        assert [copies(i) for i in inboxes] == [1] * len(inboxes)
        lags = [h["worker"]["bus"]["lag_seconds"]["max"] for h in (await workers.healths(10)).values()]
        assert any(lag is not None for lag in lags) and all(lag is None or 0 <= lag < 5 for lag in lags)

        # one book: only the trading lease's holder changes it; the other sends it the override (over
        # Redis) and answers with the holder's answer, and shows the book as the holder stored it
        connections = await pinned(workers.base)
        try:
            # /metrics summed over the workers counts that signal once (each counts what it published)
            scraped = [(await http.get("/metrics")).text for http in connections.values()]
            api_signals = [sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                               if line.startswith("tradewind_signals_total{") and 'origin="api"' in line)
                           for text in scraped]
            assert sorted(api_signals) == [0.0, 1.0], api_signals
            for pid, http in connections.items():  # an override through each worker's own connection
                answer = await http.post("/api/assets/ETHUSDT/pause")
                assert answer.status_code == 200 and answer.json()["paused"] is True, (pid, answer.text)
            one, two = [await http.post("/api/assets/NOSUCH/pause") for http in connections.values()]
            assert one.status_code == two.status_code == 404, (one.text, two.text)  # the holder's error, either way
            assert one.json() == two.json()
        finally:
            for http in connections.values():
                await http.aclose()
        overrides = [h["worker"]["overrides"] for h in (await workers.healths(10)).values()]
        assert sum(o["forwarded"] for o in overrides) >= 2 and sum(o["served"] for o in overrides) >= 2
        await asyncio.sleep(1.2)  # the other worker reads the book again at most once a second
        for _ in range(16):  # new connections: both workers answer
            answer = (await workers.http.get("/api/assets/ETHUSDT")).json()
            assert answer["paused"] is True and answer["status"] == "paused"

        # the leader dies; the other worker takes the scheduler over within one interval
        await asyncio.sleep(INTERVAL * 1.5)  # at least one periodic run by the first leader
        healths = await workers.healths()
        [leader] = holder(healths, "scheduler")
        [survivor] = [pid for pid in healths if pid != leader]
        before = periodic_times(database_url, started)
        assert before, "the first leader ran no periodic analysis"
        assert healths[survivor]["periodic_analysis"]["runs"] == 0  # only the holder runs it
        os.kill(leader, signal.SIGKILL)
        killed = time.time()
        deadline = time.monotonic() + INTERVAL + 20
        while True:  # the survivor's first run (its start time, not its signals': analyses take a while here)
            mine = (await workers.healths(10)).get(survivor)
            if mine is not None and mine["periodic_analysis"]["runs"] >= 1:
                break
            assert time.monotonic() < deadline, "the other worker never ran the periodic analysis"
            await asyncio.sleep(0.2)
        first = datetime.fromisoformat(mine["periodic_analysis"]["last_run"]).timestamp()
        assert 0 < first - killed <= INTERVAL, first - killed  # within one interval of the kill
        now = await workers.healths()
        assert survivor in holder(now, "scheduler") and leader not in now
        # the book left the dead worker (if it held it): to the survivor, or to the worker uvicorn started
        # in the dead one's place, whichever tried first; loaded from the database, as a restart
        (trader,) = holder(now, "trading")
        assert trader != leader
        for _ in range(8):
            answer = (await workers.http.get("/api/assets/ETHUSDT")).json()
            assert answer["paused"] is True  # the pause made before the kill
        await asyncio.sleep(INTERVAL)
        # once per interval across the workers, not once per worker: as many runs as intervals passed
        # and none close together after the first (whose analysis compiles first, so its signal comes late)
        window_end = time.time()
        times = periodic_times(database_url, started)
        gaps = [round(b - a, 2) for a, b in zip(times, times[1:])]
        assert 3 <= len(times) <= (window_end - started) / INTERVAL + 2, (len(times), gaps)  # two workers: twice
        assert min(gaps[1:]) > INTERVAL * 0.5, gaps
    finally:
        for ws in clients:
            await ws.close()
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)


def test_more_than_one_worker_needs_postgresql_and_redis(tmp_path: Path) -> None:
    pg, rd = "postgresql://postgres@127.0.0.1:5432/x", "redis://127.0.0.1:6379/10"
    sqlite = workers_problem(Settings(database_url="sqlite:///x.db", redis_url=rd))
    assert sqlite is not None and "TRADEWIND_DATABASE_URL" in sqlite and "PostgreSQL" in sqlite
    no_redis = workers_problem(Settings(database_url=pg, redis_url=None))
    assert no_redis is not None and "TRADEWIND_REDIS_URL" in no_redis
    slow = workers_problem(Settings(database_url=pg, redis_url=rd, analysis_interval_minutes=0.1, lease_ttl_seconds=10))
    assert slow is not None and "TRADEWIND_LEASE_TTL_SECONDS (10) must be under the periodic interval" in slow
    assert workers_problem(Settings(database_url=pg, redis_url=rd, analysis_interval_minutes=5)) is None
    # the command itself: one line, no traceback, before any database is touched
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEWIND_")}
    result = subprocess.run([sys.executable, "-m", "tradewind", "serve", "--workers", "2", "--port", "1"],
                            cwd=tmp_path, env={**env, "TRADEWIND_REDIS_URL": rd}, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0 and "TRADEWIND_DATABASE_URL" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "var").exists()


def test_workers_on_a_port_in_use_fail_in_one_line(tmp_path: Path, schema_url: str) -> None:
    """Each worker binds the port itself (SO_REUSEPORT); the parent binds it first, so a taken port is
    one line at once, not workers failing in turn."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))  # no SO_REUSEPORT: nobody may share it
    taken.listen()
    port = taken.getsockname()[1]
    with redis_client() as (_, prefix):
        env = environment(schema_url, REDIS_URL, prefix, tmp_path)
        try:
            result = subprocess.run([sys.executable, "-m", "tradewind", "serve", "--workers", "2", "--port", str(port)],
                                    cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        finally:
            taken.close()
    assert result.returncode == 2, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert f"cannot serve 2 workers on 127.0.0.1:{port}" in line and "Address already in use" in line
    assert "Traceback" not in result.stderr
