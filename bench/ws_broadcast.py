"""One signal broadcast to 1,000 WebSocket clients: per-client delivery latency.

The server (the real app, synthetic feed running) is another process pinned to core 0; the
clients are ``websockets`` asyncio connections in this process, pinned to core 1. Each broadcast
is triggered over HTTP: the server publishes a real analysis document through the hub exactly as
the signal service does (``on_signal`` from a worker thread) and answers the ``time.time()`` it
published at; each client stamps ``time.time()`` when its ``recv()`` returns. Same machine, same
clock, so latency = receive - publish. That includes the clients' own queueing on one core, so it
is an upper bound on the server's share; the server's share alone is printed too (publish to the
last client's frame written to its socket, from a bench-only wrapper of ``Subscriber.mark_sent``).
Baseline: the same broadcast to 1 client. Goal: p99 < 100 ms at 1,000 clients.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import httpx
from loopback import free_port


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def serve(port: int) -> None:
    import uvicorn

    from tradewind.adapters.broadcast import Subscriber
    from tradewind.api.app import create_app
    from tradewind.bootstrap import build_container
    from tradewind.settings import Settings
    from tradewind.trading.signal_service import signal_document

    raise_fd_limit()
    tmp = tempfile.mkdtemp()
    settings = Settings(database_url=f"sqlite:///{tmp}/bench.db", symbols=["BTCUSDT"], history_hours=24,
                        analysis_interval_minutes=0)
    container = build_container(settings)
    app = create_app(container)
    documents: list[dict[str, Any]] = []
    last_write = [0.0]
    mark_sent = Subscriber.mark_sent

    def stamped(self: Subscriber) -> None:
        last_write[0] = time.time()
        mark_sent(self)

    Subscriber.mark_sent = stamped  # type: ignore[method-assign]

    def publish(seq: int) -> float:
        if not documents:  # one real analysis of the streamed symbol, reused for every broadcast
            signals = container.signals
            request = signals.request_from_payload(symbol="BTCUSDT", timeframe_data=None)
            signal = signals.analyst.analyze(request)
            primary = min(request.candles, key=lambda tf: tf.seconds)
            documents.append({**signal_document(signal), "analyst": signal.analyst, "timeframe": primary.value})
        published = time.time()
        container.hub.publish_signal("BTCUSDT", {**documents[0], "signal_id": f"bench-{seq}"})
        return published

    @app.post("/bench/broadcast", include_in_schema=False)
    async def broadcast(seq: int = 0) -> dict[str, float]:
        return {"published_at": await asyncio.to_thread(publish, seq)}  # off the loop, like on_signal

    @app.get("/bench/last-write", include_in_schema=False)
    async def last() -> dict[str, float]:
        return {"at": last_write[0]}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


class Clients:
    """``count`` connections; ``received[i]`` collects receive times of broadcast ``i``."""

    def __init__(self, url: str, count: int, compression: str | None) -> None:
        self.url = url
        self.count = count
        self.compression = compression
        self.received: list[list[float]] = []
        self.arrived = asyncio.Event()
        self.connections: list[Any] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def open(self) -> None:
        from websockets.asyncio.client import connect

        semaphore = asyncio.Semaphore(100)

        async def one() -> None:
            async with semaphore:
                ws = await connect(self.url, proxy=None, compression=self.compression, max_queue=64,
                                   open_timeout=60, ping_interval=None)
                await ws.recv()  # the connection message
                self.connections.append(ws)

        await asyncio.gather(*(one() for _ in range(self.count)))
        self.tasks = [asyncio.create_task(self._listen(ws)) for ws in self.connections]

    async def _listen(self, ws: Any) -> None:
        while True:
            await ws.recv()
            stamp = time.time()
            bucket = self.received[-1]
            bucket.append(stamp)
            if len(bucket) == self.count:
                self.arrived.set()

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await asyncio.gather(*(ws.close() for ws in self.connections), return_exceptions=True)


async def measure(
    base: str, count: int, rounds: int, compression: str | None
) -> tuple[list[float], list[float], float]:
    """Client latencies and server write times in ms of ``rounds`` broadcasts to ``count`` clients,
    and the connect time."""
    started = time.perf_counter()
    clients = Clients(base.replace("http", "ws", 1) + "/ws", count, compression)
    await clients.open()
    connect_seconds = time.perf_counter() - started
    latencies: list[float] = []
    written: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for seq in range(rounds + 2):  # two warm-up broadcasts
            clients.received.append([])
            clients.arrived.clear()
            published = (await http.post("/bench/broadcast", params={"seq": seq})).json()["published_at"]
            await asyncio.wait_for(clients.arrived.wait(), 30)
            if seq >= 2:
                latencies.extend((stamp - published) * 1000 for stamp in clients.received[-1])
                written.append(((await http.get("/bench/last-write")).json()["at"] - published) * 1000)
            await asyncio.sleep(0.1)
    await clients.close()
    return latencies, written, connect_seconds


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    limit = raise_fd_limit()
    if limit < args.clients + 100:
        raise SystemExit(f"open-file limit {limit} is too low for {args.clients} clients (ulimit -n)")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, __file__, "--serve", str(port)]
    pinned = shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2
    if pinned:
        cmd = ["taskset", "-c", "0", *cmd]
        os.sched_setaffinity(0, {1})
    server = subprocess.Popen(cmd)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(base + "/health", timeout=5).json()["streamer"]["state"] == "running":
                    httpx.post(base + "/bench/broadcast", timeout=30).raise_for_status()  # the one analysis
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("server did not start")
            time.sleep(0.3)
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            runner = asyncio.run
        where = "server on core 0, clients on core 1" if pinned else "not pinned (no taskset or one core)"
        print(f"{args.rounds} broadcasts of one AISignalReceived per setting; {where}; server: uvicorn defaults")
        print(f"{'clients':>8} {'compression':>12} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'mean ms':>8} "
              f"{'server ms':>10} {'connect s':>10} {'goal':>18}")
        for compression in (None, "deflate"):
            for count in (1, args.clients):
                latencies, written, connect_seconds = runner(measure(base, count, args.rounds, compression))
                p99 = pct(latencies, 0.99)
                goal = f"p99 < 100: {'met' if p99 < 100 else 'NOT met'}" if count == args.clients else "baseline"
                print(f"{count:>8} {compression or 'off':>12} {pct(latencies, 0.5):>8.2f} {p99:>8.2f} "
                      f"{max(latencies):>8.2f} {statistics.fmean(latencies):>8.2f} {statistics.median(written):>10.2f} "
                      f"{connect_seconds:>10.2f} {goal:>18}")
                time.sleep(0.5)
        print("server ms: median time from publish to the last client's frame written to its socket")
        stats = httpx.get(base + "/health", timeout=5).json()["websocket"]
        print(f"hub: {stats['messages_published']} broadcasts, {stats['messages_sent']} messages sent, "
              f"{stats['slow_clients_disconnected']} slow clients cut off")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
