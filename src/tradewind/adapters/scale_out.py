"""``ScaleOut``: how one worker shares the work with the others (DESIGN.md, "Defaults and scale").

One process (the embedded default): the in-process bus and leases that are always held. Several
workers on one Redis: the Redis bus and Redis leases, under one key prefix. The worker's id
(host and pid) names it in ``GET /health``, in the bus's messages and in the leases' tokens.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from typing import Any

import redis

from tradewind.adapters.redis_bus import RedisBus
from tradewind.adapters.redis_lease import RedisLease
from tradewind.domain.bus import InProcessBus
from tradewind.domain.errors import StorageUnavailable
from tradewind.domain.excerpt import excerpt
from tradewind.domain.lease import InProcessLease, Lease
from tradewind.domain.ports import EventBus

__all__ = ["ScaleOut", "worker_id"]


def worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class ScaleOut:
    worker: str
    bus: EventBus
    redis: redis.Redis | None = None
    prefix: str = "tradewind:"
    lease_ttl_seconds: float = 10.0
    leases: dict[str, Lease] = field(default_factory=dict)

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
        return cls(worker, bus, client, prefix, lease_ttl_seconds)

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

    def close(self) -> None:
        """After the kernel stopped: what is queued on the bus is sent, the connection closed."""
        if isinstance(self.bus, RedisBus):
            self.bus.close()
        if self.redis is not None:
            self.redis.close()

    def status(self) -> dict[str, Any]:
        """For ``GET /health``: which worker answered, what it holds, the bus and its lag."""
        bus = self.bus.stats() if isinstance(self.bus, RedisBus) else {"kind": "in-process"}
        return {"id": self.worker, "pid": os.getpid(), "bus": bus,
                "leases": {name: lease.status() for name, lease in sorted(self.leases.items())}}
