"""What a rate limit costs a request: GET /ai/info through the whole app, in process (no sockets).

Baselines from the same run: the same app with limits off, and one Redis PING round trip. Measured:
limits on (the seed's 60/minute) with memory counters, and on the shared Redis
(``TRADEWIND_BENCH_REDIS_URL``, default database 12 of the local server; the bench's keys are removed
after). Requests come from 400 client addresses in turn, so each counter holds a realistic handful of
entries and none is refused. Rounds alternate the three apps and the median per request is reported,
so a busy machine shifts all three alike. Goal: memory < 0.3 ms; Redis within 3 PINGs (a counted
request is two round trips: the hit and the window's figures for the headers).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import redis

from tradewind.api.app import create_app
from tradewind.bootstrap import build_container
from tradewind.settings import Settings

REDIS_URL = os.environ.get("TRADEWIND_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
REQUESTS, ROUNDS = 300, 11
CLIENTS = 400


def app(tmp: Path, name: str, **overrides: object) -> object:
    settings = Settings(database_url=f"sqlite:///{tmp / f'{name}.db'}", symbols=["BTCUSDT"], timeframes=["1m"],
                        analysis_timeframes=["1m"], history_hours=1, trading=False,
                        **overrides)  # type: ignore[arg-type]
    inner = create_app(build_container(settings))
    addresses = itertools.cycle(f"10.0.{n // 250}.{n % 250}" for n in range(CLIENTS))

    async def many_clients(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
        if scope["type"] == "http":
            scope["client"] = (next(addresses), 40000)
        await inner(scope, receive, send)  # type: ignore[arg-type]

    return many_clients


async def per_request(client: httpx.AsyncClient) -> float:
    started = time.perf_counter()
    for _ in range(REQUESTS):
        response = await client.get("/ai/info")
        assert response.status_code == 200, response.text
    return (time.perf_counter() - started) / REQUESTS


async def main() -> None:
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        apps = {"off (baseline)": app(Path(tmp), "off", rate_limit_enabled=False),
                "memory": app(Path(tmp), "memory", rate_limit_enabled=True),
                "redis": app(Path(tmp), "redis", rate_limit_enabled=True, redis_url=REDIS_URL,
                             rate_limit_namespace=namespace)}
        clients = {name: httpx.AsyncClient(transport=httpx.ASGITransport(a), base_url="http://bench")  # type: ignore[arg-type]
                   for name, a in apps.items()}
        times: dict[str, list[float]] = {name: [] for name in apps}
        for name, client in clients.items():
            await per_request(client)  # warm-up
        for _ in range(ROUNDS):
            for name, client in clients.items():
                times[name].append(await per_request(client))
        for client in clients.values():
            await client.aclose()
    ping = await redis_ping()
    print(f"{'redis PING':15s} {ping * 1e3:7.3f} ms (one round trip, same run)")
    base = statistics.median(times["off (baseline)"])
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"{name:15s} {median * 1e3:7.3f} ms/request  (+{(median - base) * 1e3:.3f} ms over the baseline)")
    keys = list(redis.Redis.from_url(REDIS_URL).scan_iter(match=f"{namespace}:*"))
    if keys:
        redis.Redis.from_url(REDIS_URL).delete(*keys)


async def redis_ping() -> float:
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(REDIS_URL)
    await client.ping()
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(REQUESTS):
            await client.ping()
        samples.append((time.perf_counter() - started) / REQUESTS)
    await client.aclose()
    return statistics.median(samples)


if __name__ == "__main__":
    asyncio.run(main())
