"""Soak: N minutes (default 10) of mixed load at a fixed rate on one worker; errors and memory growth.

One ``tradewind serve`` (one worker, embedded defaults, a temporary SQLite file, a free port; started
as bench/idle.py starts it) gets an open-loop load: every ``1 / --rate`` seconds the next request of
a fixed rotation starts, whether or not the previous ones have answered:

- **candles**: ``GET /streamer/candles/{symbol}/{tf}?limit=100`` (the 8 symbols, 1m/5m/1h in turn);
- **chart**: ``GET /api/assets/{symbol}/chart?candles=1000``, what the dashboard's asset page loads;
- **analyze**: ``POST /ai/analyze`` on the streamer's candles (``{"symbol": ...}``);
- **assistant**: a ``/v1`` assistant run through the official ``openai`` SDK on the built-in model
  (``tradewind-analyst``): a new thread with a question, ``runs.create_and_poll``; it must complete;

and ``--ws-clients`` WebSocket clients stay subscribed to ``signals`` and two candle channels each
for the whole run (a dropped connection is an error; they reconnect).

Printed: requests by kind (ok, 429, errors, p50/p99 latency), 429s counted apart (rate limits are
deliberate: with per-client limits such as 10/min on ``/ai/analyze``, most analyses of this one client
answer 429, which is the limit working), every other failure an error (goal 0), WebSocket messages received, and resident
memory sampled each minute from the end of ``--warmup`` to the end (goal: growth < 10%). Requests
the client could not start because ``--max-in-flight`` were still waiting are reported too: at such
a rate the figure measures the queue, not the service.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai
import psutil
from websockets.asyncio.client import connect

from idle import Server, start, stop, wait_running

warnings.filterwarnings("ignore", category=DeprecationWarning)  # client.beta: deprecated, still shipped

SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "ADAUSDT", "DOTUSDT", "XRPUSDT", "LINKUSDT")
TIMEFRAMES = ("1m", "5m", "1h")
ROTATION = ("candles", "candles", "candles", "chart", "analyze", "candles", "candles", "candles", "analyze",
            "assistant")  # per 10 requests: 6 candle reads, 2 analyses, 1 chart, 1 assistant run
QUESTION = "What is {symbol} trading at?"
TOOL = {"type": "function", "function": {"name": "get_market_data"}}


@dataclass
class Tally:
    """What one kind of request got back."""

    ok: int = 0
    limited: int = 0  # 429: a rate limit said no, on purpose
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)


class Load:
    def __init__(self, url: str, rate: float, max_in_flight: int, key: str) -> None:
        self.url, self.rate, self.max_in_flight = url, rate, max_in_flight
        self.tallies: dict[str, Tally] = defaultdict(Tally)
        self.not_started = 0
        self.in_flight = 0
        self.ws_messages: Counter[str] = Counter()
        self.ws_errors: Counter[str] = Counter()
        # idle connections are dropped before uvicorn's 5 s keep-alive ends them: reusing one the server
        # is closing would be the client's error, not the service's
        self.http = httpx.AsyncClient(base_url=url, timeout=60.0, limits=httpx.Limits(
            max_connections=max_in_flight, keepalive_expiry=2.0))
        self.sdk = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=60.0,
                                      http_client=openai.DefaultAsyncHttpxClient(limits=httpx.Limits(
                                          max_connections=max_in_flight, keepalive_expiry=2.0)))
        self.assistant_id: str | None = None

    async def close(self) -> None:
        await self.http.aclose()
        await self.sdk.close()

    # --- the requests ----------------------------------------------------------------------
    async def one(self, kind: str, n: int) -> None:
        symbol = SYMBOLS[n % len(SYMBOLS)]
        tally = self.tallies[kind]
        began = time.perf_counter()
        try:
            if kind == "assistant":
                await self.assistant_run(symbol)
            else:
                if kind == "candles":
                    response = await self.http.get(f"/streamer/candles/{symbol}/{TIMEFRAMES[n % 3]}",
                                                   params={"limit": 100})
                elif kind == "chart":
                    response = await self.http.get(f"/api/assets/{symbol}/chart", params={"candles": 1000})
                else:
                    response = await self.http.post("/ai/analyze", json={"symbol": symbol})
                if response.status_code == 429:
                    tally.limited += 1
                    return
                if response.status_code != 200:
                    tally.errors[f"HTTP {response.status_code}: {response.text[:120]}"] += 1
                    return
                response.json()  # a body that is not JSON is an error too
        except openai.RateLimitError:
            tally.limited += 1
            return
        except Exception as exc:  # every failure is counted by its kind and message
            tally.errors[f"{type(exc).__name__}: {str(exc)[:120]}"] += 1
            return
        finally:
            self.in_flight -= 1
        tally.ok += 1
        tally.latencies.append((time.perf_counter() - began) * 1000)

    async def assistant_run(self, symbol: str) -> None:
        if self.assistant_id is None:
            assistant = await self.sdk.beta.assistants.create(model="tradewind-analyst", tools=[TOOL])  # type: ignore[list-item]
            self.assistant_id = assistant.id
        thread = await self.sdk.beta.threads.create(
            messages=[{"role": "user", "content": QUESTION.format(symbol=symbol)}])
        run = await self.sdk.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=self.assistant_id,
                                                               poll_interval_ms=100)
        if run.status != "completed":
            raise RuntimeError(f"run ended {run.status}: {run.last_error}")
        messages = await self.sdk.beta.threads.messages.list(thread.id, order="desc", limit=1)
        if not messages.data or messages.data[0].role != "assistant":
            raise RuntimeError("the run completed without an assistant message")

    async def drive(self, seconds: float) -> None:
        """Start one request every ``1 / rate`` s for ``seconds``, on a fixed schedule (open loop)."""
        tasks: set[asyncio.Task[None]] = set()
        began = time.monotonic()
        n = 0
        while (due := began + n / self.rate) < began + seconds:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            kind = ROTATION[n % len(ROTATION)]
            n += 1
            if self.in_flight >= self.max_in_flight:
                self.not_started += 1
                continue
            self.in_flight += 1
            task = asyncio.create_task(self.one(kind, n))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks, timeout=90)

    # --- WebSocket clients -----------------------------------------------------------------
    async def ws_client(self, index: int, stop_at: float) -> None:
        channels = ["signals", f"candles:{SYMBOLS[index % 8]}:1m", f"candles:{SYMBOLS[(index + 3) % 8]}:5m"]
        ws_url = self.url.replace("http", "ws", 1) + "/ws"
        while time.monotonic() < stop_at:
            try:
                async with connect(ws_url, proxy=None, max_queue=64) as ws:
                    await ws.send(json.dumps({"type": "subscribe", "channels": channels}))
                    while (left := stop_at - time.monotonic()) > 0:
                        try:
                            raw = await asyncio.wait_for(ws.recv(), timeout=min(left, 30.0))
                        except TimeoutError:
                            await ws.send(json.dumps({"type": "ping"}))
                            continue
                        message = json.loads(raw)
                        kind = message.get("type", "?")
                        if kind == "error":
                            self.ws_errors[f"error message: {str(message)[:120]}"] += 1
                        self.ws_messages[kind] += 1
            except Exception as exc:
                if time.monotonic() < stop_at:
                    self.ws_errors[f"{type(exc).__name__}: {str(exc)[:120]}"] += 1
                    await asyncio.sleep(1.0)


def first_key(server: Server) -> str:
    """The admin key the first start printed (as a user would copy it): the assistant runs are writes."""
    found = re.search(r"^\s+(tw_\S+)$", server.log.read_text(errors="replace"), re.MULTILINE)
    if found is None:
        raise SystemExit("the server printed no admin key on its first start")
    return found.group(1)


async def soak(server: Server, args: argparse.Namespace) -> tuple[Load, list[tuple[float, float]]]:
    load = Load(server.url, args.rate, args.max_in_flight, first_key(server))
    process = psutil.Process(server.process.pid)
    total = args.warmup + args.minutes * 60.0
    stop_at = time.monotonic() + total
    clients = [asyncio.create_task(load.ws_client(i, stop_at)) for i in range(args.ws_clients)]
    driver = asyncio.create_task(load.drive(total))
    samples: list[tuple[float, float]] = []  # (minutes since warm-up, RSS MB)
    await asyncio.sleep(args.warmup)
    began = time.monotonic()
    for minute in range(args.minutes + 1):
        await asyncio.sleep(max(0.0, began + 60.0 * minute - time.monotonic()))
        if server.process.poll() is not None:
            raise SystemExit(f"the server died: {server.process.returncode}")
        samples.append((minute, process.memory_info().rss / 2**20))
        print(f"  minute {minute:>2}: RSS {samples[-1][1]:7.1f} MB, requests so far "
              f"{sum(t.ok + t.limited + sum(t.errors.values()) for t in load.tallies.values())}", flush=True)
    await driver
    await asyncio.gather(*clients)
    await load.close()
    return load, samples


def percentile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def report(load: Load, samples: list[tuple[float, float]], args: argparse.Namespace) -> int:
    print(f"\nsoak: {args.minutes} min after {args.warmup:g} s warm-up, {args.rate:g} requests/s, "
          f"{args.ws_clients} WebSocket clients, one worker")
    print(f"{'kind':>10} {'ok':>7} {'429':>6} {'errors':>7} {'p50 ms':>8} {'p99 ms':>8}")
    errors = 0
    for kind in ("candles", "chart", "analyze", "assistant"):
        t = load.tallies[kind]
        errors += sum(t.errors.values())
        print(f"{kind:>10} {t.ok:>7} {t.limited:>6} {sum(t.errors.values()):>7} "
              f"{percentile(t.latencies, 50):>8.1f} {percentile(t.latencies, 99):>8.1f}")
    print(f"websocket messages: {dict(load.ws_messages)}")
    errors += sum(load.ws_errors.values())
    for kind, t in load.tallies.items():
        for message, count in t.errors.most_common(5):
            print(f"  {kind} error x{count}: {message}")
    for message, count in load.ws_errors.most_common(5):
        print(f"  websocket error x{count}: {message}")
    if load.not_started:
        print(f"not started (already {args.max_in_flight} in flight: the rate is beyond capacity): {load.not_started}")
    first, last = samples[0][1], samples[-1][1]
    growth = (last - first) / first * 100
    print("RSS MB by minute after warm-up: " + ", ".join(f"{rss:.1f}" for _, rss in samples))
    print(f"errors other than 429: {errors} (goal 0); RSS growth {first:.1f} -> {last:.1f} MB = {growth:+.1f}% "
          f"(goal < 10%)")
    return 0 if errors == 0 and growth < 10 else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=10, help="measured minutes after warm-up (default 10)")
    parser.add_argument("--rate", type=float, default=5.0, help="requests started per second (default 5)")
    parser.add_argument("--ws-clients", type=int, default=8, help="WebSocket clients (default 8)")
    parser.add_argument("--warmup", type=float, default=120.0,
                        help="seconds of load before the first sample (default 120)")
    parser.add_argument("--max-in-flight", type=int, default=64, help="requests in flight at most (default 64)")
    args = parser.parse_args()
    if args.minutes < 1 or args.rate <= 0:
        parser.error("--minutes must be >= 1 and --rate > 0")

    scratch = Path(tempfile.mkdtemp(prefix="tradewind-soak-"))
    server = start("soak", [str(Path(sys.executable).parent / "tradewind")], scratch / "server", None)
    try:
        wait_running([server], timeout=300.0)
        load, samples = asyncio.run(soak(server, args))
    finally:
        stop(server)
    code = report(load, samples, args)
    if code:
        lines = server.log.read_text(errors="replace").splitlines()[-15:]
        print("server log (last lines):", *lines, sep="\n")
    shutil.rmtree(scratch, ignore_errors=True)
    raise SystemExit(code)


if __name__ == "__main__":
    main()
