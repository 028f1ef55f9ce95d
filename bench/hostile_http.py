"""Hostile load against one worker: what a 40 MB body and a stream of cached analyses cost the others.

The server (the real app on the embedded defaults, one symbol) runs pinned to one core; the load,
a small asyncio HTTP/1.1 keep-alive client measuring each request, runs on the other. Each figure
is compared with a baseline measured in the same run:

1. Candles alone: 4 connections reading ``/streamer/candles/BTCUSDT/1m?limit=50`` (p50, p99).
2. The same while another connection POSTs a 40 MB body to ``/ai/analyze`` every ``--pause``
   seconds: how fast the 413 arrives (from the first byte sent to the status line) and the candle
   p99 against (1). Goal: refused in < 50 ms, candle p99 unchanged (within 1.5x: the machines are
   noisy). For contrast, the same against a server whose limit is lifted to 1 GiB (parsed).
3. 4 candle connections beside 4 connections POSTing ``{"symbol": "BTCUSDT"}`` (answered from
   the 5-minute cache), against 8 candle connections alone (the same load on the worker):
   candle p50 within 1.5x.

Baseline and loaded runs alternate for ``--rounds`` rounds; a ratio is the median of the rounds'
ratios, each from a pair measured back to back.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import httpx
from loopback import free_port, pinned

CANDLES = b"GET /streamer/candles/BTCUSDT/1m?limit=50 HTTP/1.1\r\nHost: bench\r\n\r\n"
BIG = 40 * 1024 * 1024


def serve(port: int, max_body: int) -> None:
    import uvicorn

    from tradewind.api.app import create_app
    from tradewind.api.server import uvicorn_options
    from tradewind.bootstrap import build_container
    from tradewind.settings import Settings

    tmp = tempfile.mkdtemp()
    settings = Settings(database_url=f"sqlite:///{tmp}/bench.db", symbols=["BTCUSDT"], history_hours=30,
                        max_body_bytes=max_body, analysis_interval_minutes=0)
    uvicorn.run(create_app(build_container(settings)), host="127.0.0.1", port=port, log_level="warning",
                access_log=False, **uvicorn_options(settings))


@dataclass
class Latencies:
    values: list[float] = field(default_factory=list)

    def quantile(self, q: float) -> float:
        ordered = sorted(self.values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


async def read_response(reader: asyncio.StreamReader) -> tuple[int, float]:
    """Status and the time its line arrived; the body is read and dropped."""
    line = await reader.readline()
    arrived = time.perf_counter()
    status = int(line.split()[1])
    length = 0
    while True:
        header = await reader.readline()
        if header in (b"\r\n", b""):
            break
        name, _, value = header.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status, arrived


async def candle_client(port: int, until: float, out: Latencies) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while time.perf_counter() < until:
        start = time.perf_counter()
        writer.write(CANDLES)
        status, _ = await read_response(reader)
        assert status == 200, status
        out.values.append(time.perf_counter() - start)
    writer.close()


async def post_client(port: int, until: float, body: bytes, out: Latencies, expect: int, pause: float = 0.0) -> None:
    """POSTs ``body`` again and again (``pause`` s apart); ``out`` gets the time from the first byte sent to
    the status line."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (f"POST /ai/analyze HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    view = memoryview(body)
    while time.perf_counter() < until:
        start = time.perf_counter()
        answer = asyncio.create_task(read_response(reader))
        writer.write(head)
        for offset in range(0, len(body), 1 << 20):  # the body keeps flowing while the answer comes
            writer.write(view[offset:offset + (1 << 20)])
            await writer.drain()
        status, arrived = await answer
        assert status == expect, status
        out.values.append(arrived - start)
        await asyncio.sleep(pause)
    writer.close()


async def small_post_client(port: int, until: float, body: bytes, out: Latencies) -> None:
    """A small POST in one write, then its answer: as light on the client as ``candle_client``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = (f"POST /ai/analyze HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    while time.perf_counter() < until:
        start = time.perf_counter()
        writer.write(request)
        status, _ = await read_response(reader)
        assert status == 200, status
        out.values.append(time.perf_counter() - start)
    writer.close()


async def scenario(port: int, seconds: float, *, candles: int = 4, big: bytes | None = None, expect: int = 413,
                   pause: float = 0.0, cached: bytes | None = None) -> dict[str, Latencies]:
    until = time.perf_counter() + seconds
    results = {"candles": Latencies(), "post": Latencies()}
    tasks = [candle_client(port, until, results["candles"]) for _ in range(candles)]
    if big is not None:
        tasks.append(post_client(port, until, big, results["post"], expect, pause))
    if cached is not None:
        tasks += [small_post_client(port, until, cached, results["post"]) for _ in range(4)]
    await asyncio.gather(*tasks)
    return results


def start(max_body: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    server = subprocess.Popen(pinned([sys.executable, __file__, "--serve", str(port), "--max-body", str(max_body)], 0))
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/streamer/health", timeout=2).status_code == 200:
                return server, port
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            raise SystemExit("server did not start")
        time.sleep(0.3)


def big_body() -> bytes:
    """A 40 MB /ai/analyze body of real-looking candles (what a careless client might send)."""
    candle = b'{"timestamp": 1697234400000, "open": 67400.5, "high": 67550.5, "low": 67350.5, "close": 67500.5, ' \
             b'"volume": 1250.5}'
    count = BIG // (len(candle) + 2)
    body = b'{"symbol": "BTCUSDT", "timeframe_data": {"1m": [' + b", ".join([candle] * count) + b"]}}"
    return body + b" " * (BIG - len(body))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--max-body", type=int, default=8 * 1024 * 1024, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between two 40 MB bodies")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.max_body)
        return
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {1 % (os.cpu_count() or 1)})  # the load on the other core
    body = big_body()
    cached = json.dumps({"symbol": "BTCUSDT"}).encode()
    seconds, pause = args.seconds, args.pause
    server, port = start(8 * 1024 * 1024)
    runs: dict[str, list[dict[str, Latencies]]] = {"alone4": [], "hostile": [], "alone8": [], "mixed": []}
    try:
        httpx.post(f"http://127.0.0.1:{port}/ai/analyze", content=cached, timeout=30)  # fill the cache
        for _ in range(args.rounds):  # interleaved, so a noisy moment hits baseline and load alike
            runs["alone4"].append(asyncio.run(scenario(port, seconds)))
            runs["hostile"].append(asyncio.run(scenario(port, seconds, big=body, pause=pause)))
            runs["alone8"].append(asyncio.run(scenario(port, seconds, candles=8)))
            runs["mixed"].append(asyncio.run(scenario(port, seconds, cached=cached)))
    finally:
        server.terminate()
        server.wait(timeout=30)
    lifted, lifted_port = start(1 << 30)
    try:
        unlimited = asyncio.run(scenario(lifted_port, seconds, big=body, expect=400, pause=pause))
    finally:
        lifted.terminate()
        lifted.wait(timeout=30)

    def merged(name: str, part: str = "candles") -> Latencies:
        return Latencies([v for run in runs[name] for v in run[part].values])

    alone4, alone8, hostile, mixed = merged("alone4"), merged("alone8"), merged("hostile"), merged("mixed")
    refused, parsed = merged("hostile", "post"), unlimited["post"]
    print(f"one worker; {seconds:g} s per scenario; a 40 MB body every {pause:g} s; latencies in ms")
    print(f"{'scenario':<62} {'candle p50':>10} {'candle p99':>10}   other")
    rows = [
        ("baseline: 4 candle connections", alone4, ""),
        ("4 candle connections + 40 MB bodies, limit 8 MiB (413)", hostile,
         f"413 after {refused.quantile(0.5):.1f} (p50), {max(refused.values) * 1000:.1f} (max), {len(refused.values)} bodies"),
        ("contrast: the same with the limit lifted to 1 GiB (parsed)", Latencies(unlimited["candles"].values),
         f"answered after {parsed.quantile(0.5):.0f} (p50)"),
        ("baseline: 8 candle connections", alone8, ""),
        ("4 candle + 4 cached POST /ai/analyze connections", mixed, f"analyze p50 {merged('mixed', 'post').quantile(0.5):.2f}"),
    ]
    for name, latencies, other in rows:
        print(f"{name:<62} {latencies.quantile(0.5):>10.2f} {latencies.quantile(0.99):>10.2f}   {other}")
    worst = max(refused.values) * 1000

    def ratio(loaded: str, baseline: str, q: float) -> float:
        """The median over rounds of loaded / baseline, each pair measured back to back."""
        return statistics.median(
            run["candles"].quantile(q) / base["candles"].quantile(q) for run, base in zip(runs[loaded], runs[baseline])
        )

    p99_ratio = ratio("hostile", "alone4", 0.99)
    p50_ratio = ratio("mixed", "alone8", 0.5)
    print(f"40 MB body refused in {refused.quantile(0.5):.1f} ms (worst {worst:.1f}; goal < 50): "
          f"{'met' if worst < 50 else 'NOT met'}")
    print(f"candle p99 with 40 MB bodies / alone: {p99_ratio:.2f}x (goal <= 1.5x): {'met' if p99_ratio <= 1.5 else 'NOT met'}")
    print(f"candle p50 with cached analyses / candles alone, same connections: {p50_ratio:.2f}x (goal <= 1.5x): "
          f"{'met' if p50_ratio <= 1.5 else 'NOT met'}")

if __name__ == "__main__":
    main()
