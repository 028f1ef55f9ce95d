"""``ScaleOut``: how one worker shares the work with the others (DESIGN.md, "Defaults and scale").

One process (the embedded default): the in-process bus and leases that are always held. Several
workers on one Redis: the Redis bus and Redis leases, under one key prefix. The worker's id
(host, pid and a nonce, so a restarted worker that got the same pid is a new one) names it in
``GET /health``, in the bus's messages, in the leases' tokens and on the runs and backtests it
executes.

Liveness: each worker keeps a lease of its own (``worker:<id>``) while it runs, so ``alive`` tells
any worker whether another is still there; work recorded under a worker that is not alive was cut
by its death. ``keep_alive`` starts that lease and settles such work (its ``sweeps``): once at start,
then (several workers) every lease TTL on whichever worker holds the ``recovery`` lease, so a dead
worker's runs and backtests end within about two TTLs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from tradewind.adapters.book_forwarding import BookForwarding
from tradewind.adapters.redis_bus import RedisBus
from tradewind.adapters.redis_lease import RedisLease
from tradewind.domain.bus import InProcessBus
from tradewind.domain.errors import StorageUnavailable
from tradewind.domain.excerpt import excerpt
from tradewind.domain.lease import InProcessLease, Lease
from tradewind.domain.ports import EventBus

__all__ = ["ScaleOut", "worker_id"]

log = logging.getLogger(__name__)

Sweep = Callable[[], Awaitable[int]]
"""Settle the work of workers that are gone; returns how many items it settled."""


def worker_id() -> str:
    return f"{socket.gethostname()[:100]}-{os.getpid()}-{secrets.token_hex(3)}"


@dataclass
class ScaleOut:
    worker: str
    bus: EventBus
    redis: redis.Redis | None = None
    prefix: str = "tradewind:"
    lease_ttl_seconds: float = 10.0
    leases: dict[str, Lease] = field(default_factory=dict)
    book: BookForwarding | None = None  # overrides sent to the worker holding the book (several workers)
    _heartbeat: Lease | None = None
    _sweeps: list[Sweep] = field(default_factory=list)
    _sweeping: asyncio.Task[None] | None = None

    @classmethod
    def single(cls) -> ScaleOut:
        return cls(worker_id(), InProcessBus())

    @classmethod
    def over_redis(cls, url: str, *, prefix: str = "tradewind:", lease_ttl_seconds: float = 10.0) -> ScaleOut:
        client = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0, health_check_interval=30)
        worker = worker_id()
        # pub/sub channels ignore the database number: name it, so deployments on other numbers never mix
        db = client.connection_pool.connection_kwargs.get("db", 0)
        bus = RedisBus(client, worker=worker, channel=f"{prefix}db{db}:events")
        return cls(worker, bus, client, prefix, lease_ttl_seconds,
                   book=BookForwarding(client, prefix=f"{prefix}db{db}:"))

    def lease(self, name: str) -> Lease:
        """The lease named ``name`` (the kernel's ``LeaseFactory``)."""
        made: Lease = (InProcessLease(name) if self.redis is None else
                       RedisLease(self.redis, name, worker=self.worker, ttl_seconds=self.lease_ttl_seconds,
                                  prefix=self.prefix))
        self.leases[name] = made
        return made

    def start(self) -> None:
        """Before the kernel starts: the bus listens (a no-op in one process)."""
        if isinstance(self.bus, RedisBus):
            try:
                self.bus.start()
            except redis.RedisError as exc:
                raise StorageUnavailable(f"TRADEWIND_REDIS_URL: Redis cannot be reached ({type(exc).__name__}: "
                                         f"{excerpt(str(exc))})") from exc

    def _liveness_key(self, worker: str) -> str:
        return f"{self.prefix}lease:worker:{worker}"

    def alive(self, worker: str) -> bool:
        """Whether ``worker`` still runs (blocking: call it from a thread). Unsure (Redis away)
        counts as alive: its work is left alone rather than failed under a live worker."""
        if worker == self.worker:
            return True
        if self.redis is None:
            return False  # one process: any other worker is a previous start of this service
        try:
            return bool(self.redis.exists(self._liveness_key(worker)))
        except redis.RedisError as exc:
            log.warning("cannot tell whether worker %s is alive (%s): leaving its work alone", worker,
                        type(exc).__name__)
            return True

    async def keep_alive(self, *sweeps: Sweep) -> None:
        """After the kernel started: this worker's liveness lease, then ``sweeps`` settle what dead
        workers left: now, and with several workers periodically while this one holds ``recovery``."""
        self._sweeps = list(sweeps)
        if self.redis is not None:
            self._heartbeat = RedisLease(self.redis, f"worker:{self.worker}", worker=self.worker,
                                         ttl_seconds=self.lease_ttl_seconds, prefix=self.prefix)
            await self._heartbeat.start(_nothing, _nothing)
        await self._sweep()
        if self.redis is not None:
            await self.lease("recovery").start(self._start_sweeping, self._stop_sweeping)

    async def _sweep(self) -> None:
        for sweep in self._sweeps:
            try:
                await sweep()
            except Exception:  # noqa: BLE001 - the next sweep tries again
                log.exception("settling the work of stopped workers failed")

    async def _start_sweeping(self) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(self.lease_ttl_seconds)
                await self._sweep()

        self._sweeping = asyncio.create_task(loop(), name="recovery-sweep")

    async def _stop_sweeping(self) -> None:
        if self._sweeping is not None:
            self._sweeping.cancel()
            await asyncio.gather(self._sweeping, return_exceptions=True)
            self._sweeping = None

    async def stop_keeping_alive(self) -> None:
        """Before the kernel stops: no more sweeps; the liveness lease goes last, after our work ended."""
        recovery = self.leases.get("recovery")
        if recovery is not None:
            await recovery.stop()
        await self._stop_sweeping()

    async def release_heartbeat(self) -> None:
        if self._heartbeat is not None:
            await self._heartbeat.stop()
            self._heartbeat = None

    def close(self) -> None:
        """After the kernel stopped: what is queued on the bus is sent, the connection closed."""
        if self.book is not None:
            self.book.close()
        if isinstance(self.bus, RedisBus):
            self.bus.close()
        if self.redis is not None:
            self.redis.close()

    def status(self) -> dict[str, Any]:
        """For ``GET /health``: which worker answered, what it holds, the bus and its lag."""
        bus = self.bus.stats() if isinstance(self.bus, RedisBus) else {"kind": "in-process"}
        return {"id": self.worker, "pid": os.getpid(), "bus": bus,
                **({"overrides": self.book.stats()} if self.book is not None else {}),
                "leases": {name: lease.status() for name, lease in sorted(self.leases.items())}}


async def _nothing() -> None:
    """A liveness lease starts and stops no job."""
