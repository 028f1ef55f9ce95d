"""One signal broadcast to 1,000 WebSocket clients: per-client delivery latency.

The server (the real app, synthetic feed running) is another process pinned to core 0; the
clients are ``websockets`` asyncio connections in this process, pinned to core 1. Each broadcast
is triggered over HTTP: the server publishes a real analysis document through the hub exactly as
the signal service does (a ``SignalCreated`` on the bus from a worker thread) and answers the ``time.time()`` it
published at; each client stamps ``time.time()`` when its ``recv()`` returns. Same machine, same
clock, so latency = receive - publish. That includes the clients' own queueing on one core, so it
is an upper bound on the server's share; the server's share alone is printed too (publish to the
last client's frame written to its socket, from a bench-only wrapper of ``Subscriber.mark_sent``).
Baseline: the same broadcast to 1 client. Goal: p99 < 100 ms at 1,000 clients.

Then the slow-client rules at their defaults (queue 100, send timeout 3 s): a client that sends
300 pings at once while reading (baseline: the same 300 one at a time) must get every Pong and
not be cut; a raw-socket client that never reads must be cut (goal: within 5 s). At 1,000
signals of 8 KB a second its queue overflows once the kernel's buffers are full ("too slow"); when
a few large signals fill the buffers and then 20 a second follow, too few to fill its queue, the
send timeout cuts it ("not reading").
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import resource
import shutil
import socket
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
    from tradewind.domain.events import SignalCreated
    from tradewind.domain.signal import signal_record

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

    signals_made: list[Any] = []

    def announce(signal_id: str, record: dict[str, Any]) -> None:
        """As the signal service does: a ``SignalCreated`` on the bus, which the API bridges to /ws."""
        container.bus.publish(SignalCreated.topic, SignalCreated(signal_id, signals_made[0], record, "api", True))

    def publish(seq: int) -> float:
        if not documents:  # one real analysis of the streamed symbol, reused for every broadcast
            signals = container.signals
            request = signals.request_from_payload(symbol="BTCUSDT", timeframe_data=None)
            signal = signals.analyst.analyze(request)
            primary = min(request.candles, key=lambda tf: tf.seconds)
            signals_made.append(signal)
            documents.append({**signal_record(signal), "symbol": "BTCUSDT", "analyst": signal.analyst,
                              "timeframe": primary.value})
        published = time.time()
        announce(f"bench-{seq}", documents[0])
        return published

    @app.post("/bench/broadcast", include_in_schema=False)
    async def broadcast(seq: int = 0) -> dict[str, float]:
        return {"published_at": await asyncio.to_thread(publish, seq)}  # off the loop, like an analysis

    @app.get("/bench/last-write", include_in_schema=False)
    async def last() -> dict[str, float]:
        return {"at": last_write[0]}

    floods: set[asyncio.Task[None]] = set()

    async def flood(phases: list[tuple[int, float, int]]) -> None:
        seq = 0
        for count, per_second, size in phases:
            for _ in range(count):
                announce(f"flood-{seq}", {**documents[0], "reasoning": "x" * size})
                seq += 1
                await asyncio.sleep(1 / per_second)

    @app.post("/bench/flood", include_in_schema=False)
    async def start_flood(phases: list[tuple[int, float, int]]) -> dict[str, int]:
        """For each phase ``count`` signals of ``size`` bytes of reasoning at ``per_second``, in the background."""
        task = asyncio.create_task(flood(phases))
        floods.add(task)
        task.add_done_callback(floods.discard)
        return {"signals": sum(count for count, _, _ in phases)}

    @app.delete("/bench/flood", include_in_schema=False)
    async def stop_floods() -> dict[str, int]:
        for task in tuple(floods):
            task.cancel()
        return {"stopped": len(floods)}

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


async def ping_burst(base: str, count: int, at_once: bool) -> tuple[float, int, bool]:
    """ms until ``count`` pings (sent at once, or each after the last Pong) are all answered; the
    Pongs received; whether the client was cut off."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    pongs = 0
    async with connect(base.replace("http", "ws", 1) + "/ws", proxy=None) as ws:
        await ws.recv()  # the connection message
        started = time.perf_counter()
        try:
            if at_once:
                for _ in range(count):
                    await ws.send("ping")
            for _ in range(count):
                if not at_once:
                    await ws.send("ping")
                while '"Pong"' not in await asyncio.wait_for(ws.recv(), 10):
                    pass
                pongs += 1
        except ConnectionClosed:
            return (time.perf_counter() - started) * 1000, pongs, True
        return (time.perf_counter() - started) * 1000, pongs, False


def never_reading_client(base: str) -> socket.socket:
    """A raw socket that does the WebSocket handshake, with a tiny receive buffer, and never reads again."""
    port = int(base.rsplit(":", 1)[1])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 101 "), head[:40]
    return sock


def time_to_cut(base: str, phases: list[tuple[int, float, int]]) -> tuple[float, str]:
    """Seconds from the start of a flood to the never-reading client's cut-off, and which rule cut it."""
    before = httpx.get(base + "/health", timeout=5).json()["websocket"]
    sock = never_reading_client(base)
    try:
        started = time.monotonic()
        httpx.post(base + "/bench/flood", json=phases, timeout=5).raise_for_status()
        while time.monotonic() - started < 30:
            stats = httpx.get(base + "/health", timeout=5).json()["websocket"]
            if stats["slow_clients_disconnected"] > before["slow_clients_disconnected"]:
                elapsed = time.monotonic() - started
                reading = stats["slow_clients_not_reading"] > before["slow_clients_not_reading"]
                return elapsed, "not reading" if reading else "too slow"
            time.sleep(0.01)
        return float("inf"), "never cut"
    finally:
        httpx.delete(base + "/bench/flood", timeout=5)
        sock.close()


def slow_client_rules(base: str) -> None:
    stats = httpx.get(base + "/health", timeout=5).json()["websocket"]
    print(f"\nslow-client rules: queue {stats['queue_size']}, send timeout {stats['send_timeout_seconds']:g} s, "
          f"replies {stats['reply_queue_size']} before the reader waits")
    for at_once in (False, True):
        ms, pongs, cut = asyncio.run(ping_burst(base, 300, at_once))
        label = "300 pings sent at once" if at_once else "300 pings one at a time (baseline)"
        print(f"  {label:<36} {pongs:>4} Pongs in {ms:>7.1f} ms, cut off: {'yes' if cut else 'no'}")
    # the kernel takes up to ~4 MB (tcp_wmem) before a send blocks: 40 signals of 128 KB fill it fast
    for label, phases in (("1000 signals/s of 8 KB", [(3000, 1000.0, 8000)]),
                          ("40 of 128 KB, then 20/s of 8 KB", [(40, 100.0, 128_000), (200, 20.0, 8000)])):
        seconds, rule = time_to_cut(base, phases)
        goal = f"< 5 s: {'met' if seconds < 5 else 'NOT met'}"
        print(f"  never-reading client, {label:<32} cut after {seconds:>5.2f} s ({rule}); {goal}")
        time.sleep(1)


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
        slow_client_rules(base)
        stats = httpx.get(base + "/health", timeout=5).json()["websocket"]
        print(f"hub: {stats['messages_published']} broadcasts, {stats['messages_sent']} messages sent, "
              f"{stats['slow_clients_disconnected']} slow clients cut off")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
