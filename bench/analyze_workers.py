"""Cached POST /ai/analyze with 1 and with 2 workers (`tradewind serve --workers N`) on PostgreSQL + Redis.

The same server both times, as a user would deploy it: `python -m tradewind serve --workers N` on
the local PostgreSQL (a schema of its own, dropped afterwards) and Redis (the bus and leases, a
key prefix of its own), one symbol streamed, no periodic analysis, no trading. The payload is
the 3 x 100-candle body of `analyze_http.py`; every worker answers it from its cache once it has
analysed it (warmed first). Load: wrk, one thread, unpinned (the machine has 2 cores and the
load generator needs one too, so 2 workers cannot get 2 whole cores). Rounds alternate 1 and 2
workers so background load on the machine hits both alike; the medians, their ratio and the
median of each round's own ratio (1 and 2 workers measured back to back) are printed, with the
machine's load average, because other work on a shared machine moves these figures a lot. Each
run also prints the cores each worker and wrk used, and the requests per core-second the workers
used: when that stays flat from 1 to 2 workers, a ratio under 2 is cores the machine did not have.
Goal: 2 workers >= 1.7 x 1 worker. The baseline in the same rounds: 2 workers under uvicorn's own
supervisor (`uvicorn --workers 2`), whose workers share one socket (see api/reuse_port.py).

    .venv/bin/python bench/analyze_workers.py [--seconds 8] [--rounds 3] [--connections 16]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psutil
import psycopg
import redis
from analyze_http import LUA, body
from loopback import free_port
from sqlalchemy.engine import make_url

POSTGRES_URL = os.environ.get("TRADEWIND_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/tradewind_test")
REDIS_URL = os.environ.get("TRADEWIND_BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")


def start(workers: int, port: int, database_url: str, prefix: str, cwd: Path,
          shared: bool = False) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEWIND_")}
    env.update({"TRADEWIND_DATABASE_URL": database_url, "TRADEWIND_REDIS_URL": REDIS_URL,
                "TRADEWIND_REDIS_PREFIX": prefix, "TRADEWIND_SYMBOLS": "BTCUSDT", "TRADEWIND_HISTORY_HOURS": "24",
                "TRADEWIND_ANALYSIS_INTERVAL_MINUTES": "0", "TRADEWIND_TRADING": "false",
                # one client asking flat out is the load: the seed's 10 a minute would answer it 429
                "TRADEWIND_RATE_LIMIT_ENABLED": "false"})
    command = ([sys.executable, "-m", "uvicorn", "--factory", "tradewind.api.app:create_app", "--workers", str(workers)]
               if shared else [sys.executable, "-m", "tradewind", "serve", "--workers", str(workers)])
    return subprocess.Popen([*command, "--port", str(port)], cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def warm(base: str, workers: int, server: subprocess.Popen[bytes], payload: dict[str, object]) -> None:
    """Until every worker answered the payload from its cache (new connections land on either)."""
    cached: set[int] = set()
    deadline = time.monotonic() + 180
    with httpx.Client(base_url=base, timeout=10, limits=httpx.Limits(max_keepalive_connections=0)) as http:
        while len(cached) < workers:
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit(f"{workers} worker(s) did not come up")
            try:
                pid = http.get("/health").json()["worker"]["pid"]
                answer = http.post("/ai/analyze", json=payload)
                if answer.status_code != 200:
                    raise SystemExit(f"/ai/analyze answered {answer.status_code}: {answer.text[:200]}")
                if answer.json().get("cached"):
                    cached.add(pid)  # the health and the analyze may be two workers: a few more tries
            except (httpx.TransportError, KeyError, ValueError):
                time.sleep(0.3)


class Cores:
    """Cores used during one wrk run: by each worker process, and by wrk itself."""

    def __init__(self, server: subprocess.Popen[bytes]) -> None:
        parent = psutil.Process(server.pid)  # one worker: uvicorn serves in the process itself
        self.workers = [p for p in parent.children(recursive=True) if _is_worker(p)] or [parent]
        self._before = [sum(p.cpu_times()[:2]) for p in self.workers]
        self._wrk = resource.getrusage(resource.RUSAGE_CHILDREN)
        self._started = time.monotonic()

    def done(self) -> tuple[list[float], float]:
        wall = time.monotonic() - self._started
        used = [(sum(p.cpu_times()[:2]) - b) / wall for p, b in zip(self.workers, self._before)]
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        wrk = (after.ru_utime - self._wrk.ru_utime + after.ru_stime - self._wrk.ru_stime) / wall
        return used, wrk


def _is_worker(process: psutil.Process) -> bool:
    """A uvicorn worker (not multiprocessing's resource tracker)."""
    try:
        return "resource_tracker" not in " ".join(process.cmdline())
    except psutil.Error:
        return False


def wrk(url: str, script: Path, seconds: int, connections: int) -> float:
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url],
                         capture_output=True, text=True, check=True).stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        raise SystemExit(f"{bad.group(1)} error responses (a rate limit on /ai/analyze? switch it off for the bench)")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("this bench needs wrk (apt-get install wrk)")
    schema, prefix = f"bench_workers_{uuid.uuid4().hex[:8]}", f"twbench:{uuid.uuid4().hex[:8]}:"
    base_url = make_url(POSTGRES_URL)
    libpq = base_url.set(drivername="postgresql").render_as_string(hide_password=False)
    database_url = base_url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    tmp = Path(tempfile.mkdtemp())
    payload = body("ETHBTC")
    template = tmp / "body.json"
    template.write_text(json.dumps(body("__SYMBOL__")))
    script = tmp / "same.lua"
    script.write_text(LUA % (template, '"ETHBTC"'))
    with psycopg.connect(libpq, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    # 0: the baseline, 2 workers under uvicorn's own supervisor (one socket shared by the workers)
    rates: dict[int, list[float]] = {1: [], 2: [], 0: []}
    efficiency: dict[int, list[float]] = {1: [], 2: [], 0: []}  # requests per core-second the workers used
    try:
        for _ in range(args.rounds):
            for kind in (1, 2, 0):
                workers = kind or 2
                port = free_port()
                server = start(workers, port, database_url, prefix, tmp, shared=kind == 0)
                try:
                    warm(f"http://127.0.0.1:{port}", workers, server, payload)
                    cores = Cores(server)
                    rates[kind].append(wrk(f"http://127.0.0.1:{port}/ai/analyze", script, args.seconds,
                                           args.connections))
                    used, by_wrk = cores.done()
                finally:
                    server.terminate()
                    server.wait(timeout=60)
                per_core = rates[kind][-1] / sum(used) if sum(used) else float("nan")
                efficiency[kind].append(per_core)
                label = "2 workers, one shared socket (uvicorn --workers)" if kind == 0 else f"{workers} worker(s)"
                print(f"  {label}: {rates[kind][-1]:,.0f} req/s; cores used by the workers "
                      f"{' + '.join(f'{u:.2f}' for u in used)}, by wrk {by_wrk:.2f}; {per_core:,.0f} req per worker "
                      f"core-second (load average {os.getloadavg()[0]:.1f})", flush=True)
    finally:
        with psycopg.connect(libpq, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
        client.close()
    one, two, shared = statistics.median(rates[1]), statistics.median(rates[2]), statistics.median(rates[0])
    print(f"cached POST /ai/analyze (3 x 100 candles), PostgreSQL + Redis, wrk 1 thread, {args.connections} "
          f"connections, {args.rounds} x {args.seconds}s each, {os.cpu_count()} cores")
    print(f"{'workers':<10} {'req/s (median)':>15} {'rounds':>30}")
    for kind, label, rps in ((1, "1", one), (2, "2", two), (0, "2 shared", shared)):
        print(f"{label:<10} {rps:>15,.0f} {', '.join(f'{r:,.0f}' for r in rates[kind]):>30}")
    ratio = two / one
    paired = statistics.median(b / a for a, b in zip(rates[1], rates[2]))
    print(f"ratio of the medians 2/1: {ratio:.2f}x; median of the rounds' ratios: {paired:.2f}x "
          f"(goal >= 1.7x: {'met' if min(ratio, paired) >= 1.7 else 'NOT met'})")
    print(f"baseline, 2 workers on uvicorn's one shared socket: {shared / one:.2f}x of 1 worker "
          f"(each worker's own socket, SO_REUSEPORT: {ratio:.2f}x)")
    print(f"requests per worker core-second (median): 1 worker {statistics.median(efficiency[1]):,.0f}, "
          f"2 workers {statistics.median(efficiency[2]):,.0f}: the 2 workers scale as far as the cores left "
          "to them by wrk (and the machine) allow")


if __name__ == "__main__":
    main()
