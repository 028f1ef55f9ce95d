"""Redis leases on the real local Redis: one holder at a time, a clean stop hands over at once, a
holder that stops renewing (dies) is replaced within the TTL, and one that lost its key gives up.

The two-process version (a worker killed with SIGKILL) is ``test_workers.py``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from support.redis_db import REDIS_URL, redis_client
from tradewind.adapters.redis_lease import RedisLease
from tradewind.domain.lease import InProcessLease

pytestmark = pytest.mark.redis

TTL = 1.0


@pytest.fixture
def client() -> Iterator[tuple[redis.Redis, str]]:
    with redis_client() as pair:
        yield pair


class Job:
    """Records when a worker's job ran: gained and lost."""

    def __init__(self) -> None:
        self.events: list[tuple[str, float]] = []
        self.running = False

    async def gain(self) -> None:
        self.running = True
        self.events.append(("gain", time.monotonic()))

    async def lose(self) -> None:
        self.running = False
        self.events.append(("lose", time.monotonic()))


def lease(client: redis.Redis, prefix: str, worker: str) -> RedisLease:
    return RedisLease(client, "scheduler", worker=worker, ttl_seconds=TTL, prefix=prefix)


async def until(predicate, timeout: float) -> float:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < timeout, "not reached in time"
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def test_one_holder_and_a_clean_stop_hands_over_at_once(client: tuple[redis.Redis, str]) -> None:
    conn, prefix = client
    a, b = lease(conn, prefix, "a"), lease(conn, prefix, "b")
    job_a, job_b = Job(), Job()
    await a.start(job_a.gain, job_a.lose)
    await b.start(job_b.gain, job_b.lose)
    assert a.held and job_a.running and not b.held and not job_b.running
    assert a.holder().startswith("a:")
    await asyncio.sleep(TTL * 1.5)  # a renews: b never gets it meanwhile
    assert a.held and not b.held and a.status()["gained"] == 1
    await a.stop()
    assert not job_a.running and conn.get(a.key) != a._token.encode()
    waited = await until(lambda: b.held, timeout=TTL)  # released: b takes it at its next try
    assert job_b.running and waited <= b.retry + 0.3
    await b.stop()
    assert conn.get(b.key) is None


async def test_a_dead_holder_is_replaced_within_the_ttl(client: tuple[redis.Redis, str]) -> None:
    conn, prefix = client
    a, b = lease(conn, prefix, "a"), lease(conn, prefix, "b")
    job_a, job_b = Job(), Job()
    await a.start(job_a.gain, job_a.lose)
    await b.start(job_b.gain, job_b.lose)
    assert a._task is not None
    a._task.cancel()  # a stops renewing without releasing, as a killed process does
    died = time.monotonic()
    await until(lambda: b.held, timeout=TTL + b.retry + 1.0)
    assert time.monotonic() - died <= TTL + b.retry + 0.3
    assert job_b.running
    await b.stop()


async def test_a_holder_whose_key_was_taken_gives_the_job_up(client: tuple[redis.Redis, str]) -> None:
    conn, prefix = client
    a = lease(conn, prefix, "a")
    job = Job()
    await a.start(job.gain, job.lose)
    conn.set(a.key, "someone-else", px=int(TTL * 1000))  # e.g. it expired while a could not reach Redis
    await until(lambda: not a.held, timeout=TTL)
    assert [kind for kind, _ in job.events] == ["gain", "lose"] and not job.running
    await a.stop()
    assert conn.get(a.key) == b"someone-else"  # not ours: a clean stop leaves it alone


async def test_an_unreachable_redis_never_runs_the_job_and_never_raises() -> None:
    dead = redis.Redis(host="127.0.0.1", port=1, socket_timeout=0.2, socket_connect_timeout=0.2,
                       retry=Retry(NoBackoff(), 0))  # nothing listens on port 1
    a = RedisLease(dead, "scheduler", worker="a", ttl_seconds=TTL)
    job = Job()
    await a.start(job.gain, job.lose)
    await asyncio.sleep(0.3)
    assert not a.held and not job.events and a.status()["errors"] >= 1
    assert "acquire" in (a.status()["last_error"] or "")
    assert a.noted() is None
    await a.stop()


async def test_a_job_that_cannot_start_lets_another_worker_have_it(client: tuple[redis.Redis, str]) -> None:
    conn, prefix = client
    a, b = lease(conn, prefix, "a"), lease(conn, prefix, "b")

    async def broken() -> None:
        raise RuntimeError("database down")

    job_b = Job()
    await a.start(broken, Job().lose)
    assert not a.held and "database down" in (a.status()["last_error"] or "")
    await b.start(job_b.gain, job_b.lose)
    assert b.held and job_b.running  # released at once, not after the TTL
    await a.stop()
    await b.stop()


def test_the_note_is_left_for_the_next_holder(client: tuple[redis.Redis, str]) -> None:
    conn, prefix = client
    a, b = lease(conn, prefix, "a"), lease(conn, prefix, "b")
    assert b.noted() is None
    a.note(1_700_000_123.5)
    assert b.noted() == 1_700_000_123.5
    conn.set(b.note_key, "garbage")
    assert b.noted() is None


async def test_in_process_lease_is_always_held() -> None:
    job = Job()
    only = InProcessLease("scheduler")
    await only.start(job.gain, job.lose)
    assert only.held and job.running and only.noted() is None
    only.note(5.0)
    assert only.noted() == 5.0
    await only.stop()
    assert not only.held and not job.running
    assert REDIS_URL  # the module's Redis tests share the URL
