"""GET /streamer/candles/BTCUSDT/1m?limit=50 under a bounded loopback load, against the ceiling.

The ceiling is a bare FastAPI endpoint in the same server process returning the same candles as
pre-serialised bytes. Our route skips FastAPI's per-request dependency solving (``RequestRoute``),
so a second ceiling shows the same pre-serialised bytes through that route class as well: the
ratio to it is what our handler itself costs. The server runs pinned to one core, the load generator (wrk, or a bounded
async client when wrk is missing) on the other. A small ASGI middleware records server-side
handling time per request (from the app receiving the request to the last body byte) for p50/p99.
Goals: >= 0.9x the ceiling's requests/s; server-side p50 < 0.2 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from loopback import free_port, pinned
from fastapi import Request

OURS = "/streamer/candles/BTCUSDT/1m?limit=50"
CEILING = "/bench/ceiling"
RAW_CEILING = "/bench/raw-ceiling"


def serve(port: int) -> None:
    import orjson
    import uvicorn
    from fastapi import Response

    from tradewind.api.app import create_app
    from tradewind.api.request_route import RequestRoute
    from tradewind.bootstrap import build_container
    from tradewind.settings import Settings

    tmp = tempfile.mkdtemp()
    settings = Settings(database_url=f"sqlite:///{tmp}/bench.db", symbols=["BTCUSDT"], history_hours=48)
    container = build_container(settings)
    app = create_app(container)
    timings: dict[str, list[float]] = {}
    ceiling_body: list[bytes] = [b""]

    @app.get(CEILING, include_in_schema=False)
    async def ceiling() -> Response:
        return Response(ceiling_body[0], media_type="application/json")

    async def raw_ceiling(request: Request) -> Response:
        return Response(ceiling_body[0], media_type="application/json")

    app.router.add_api_route(RAW_CEILING, raw_ceiling, methods=["GET"], route_class_override=RequestRoute)

    @app.post("/bench/snapshot", include_in_schema=False)
    async def snapshot() -> Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as client:
            ceiling_body[0] = (await client.get(OURS)).content
        timings.clear()
        return Response(orjson.dumps({"bytes": len(ceiling_body[0])}), media_type="application/json")

    @app.get("/bench/timings", include_in_schema=False)
    async def get_timings() -> Response:
        return Response(orjson.dumps(timings), media_type="application/json")

    class Timer:
        def __init__(self, inner):  # type: ignore[no-untyped-def]
            self.inner = inner

        async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
            if scope["type"] != "http" or scope["path"].startswith("/bench/t"):
                return await self.inner(scope, receive, send)
            start = time.perf_counter()

            async def timed_send(message):  # type: ignore[no-untyped-def]
                await send(message)
                if message["type"] == "http.response.body" and not message.get("more_body"):
                    timings.setdefault(scope["path"], []).append(time.perf_counter() - start)

            await self.inner(scope, receive, timed_send)

    uvicorn.run(Timer(app), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def wrk(url: str, seconds: int, connections: int) -> float:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", url]
    cmd = pinned(cmd, 1)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{url}: {non2xx.group(1)} error responses")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


async def bounded_client(url: str, seconds: int, connections: int) -> float:
    done = 0
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=connections)) as client:
        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                response = await client.get(url)
                response.raise_for_status()
                done += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, __file__, "--serve", str(port)]
    cmd = pinned(cmd, 0)
    server = subprocess.Popen(cmd, cwd=Path(__file__).parent)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(base + OURS, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("server did not start")
            time.sleep(0.2)
        size = httpx.post(base + "/bench/snapshot").json()["bytes"]
        tool = "wrk" if shutil.which("wrk") else "bounded httpx client"
        print(f"load: {tool}, {args.connections} connections, {args.rounds} x {args.seconds}s per endpoint, body {size} bytes")
        rates: dict[str, list[float]] = {CEILING: [], RAW_CEILING: [], OURS: []}
        for _ in range(args.rounds):
            for path in (CEILING, RAW_CEILING, OURS):
                if tool == "wrk":
                    rates[path].append(wrk(base + path, args.seconds, args.connections))
                else:
                    rates[path].append(asyncio.run(bounded_client(base + path, args.seconds, args.connections)))
        timings = httpx.get(base + "/bench/timings").json()
    finally:
        server.terminate()
        server.wait(timeout=30)
    ceiling_rps = statistics.median(rates[CEILING])
    raw_rps = statistics.median(rates[RAW_CEILING])
    ours_rps = statistics.median(rates[OURS])
    print(f"{'endpoint':<42} {'req/s (median)':>15} {'p50 ms':>8} {'p99 ms':>8}")
    rows = (
        ("ceiling: bare FastAPI endpoint, bytes", CEILING, ceiling_rps),
        ("ceiling: RequestRoute endpoint, bytes", RAW_CEILING, raw_rps),
        (OURS, OURS.split("?")[0], ours_rps),
    )
    for label, path, rps in rows:
        samples = sorted(timings.get(path, []))
        p50 = samples[len(samples) // 2] * 1000 if samples else float("nan")
        p99 = samples[int(len(samples) * 0.99)] * 1000 if samples else float("nan")
        print(f"{label:<42} {rps:>15,.0f} {p50:>8.3f} {p99:>8.3f}")
    ratio = ours_rps / ceiling_rps
    ours_samples = sorted(timings.get(OURS.split("?")[0], []))
    p50_ours = ours_samples[len(ours_samples) // 2] * 1000
    print(f"ratio ours/RequestRoute ceiling: {ours_rps / raw_rps:.3f}x (what the handler itself costs)")
    print(f"ratio ours/ceiling: {ratio:.3f}x (goal >= 0.9x: {'met' if ratio >= 0.9 else 'NOT met'}); "
          f"server-side p50 {p50_ours:.3f} ms (goal < 0.2 ms: {'met' if p50_ours < 0.2 else 'NOT met'})")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
