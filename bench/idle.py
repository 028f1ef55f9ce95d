"""Idle footprint of ``make run``: CPU (% of one core) and resident memory of a service nobody talks to.

Two servers start side by side, each exactly as ``make run`` starts one (``tradewind serve`` on its
embedded defaults: SQLite, the synthetic market of 8 symbols ticking four times a second, rules
analyst, paper broker, every timeframe, dashboard), each on its own temporary SQLite file and free
port, in an empty working directory (no ``.env``) and with no ``TRADEWIND_*`` variable inherited:

- **this code**: ``.venv/bin/tradewind serve``;
- **baseline**: the same interpreter with ``PYTHONPATH`` on the ``src/`` of the base commit
  (``git archive`` into a temporary directory), i.e. the code before the idle work.

Both warm up (the streamer reports ``running``, then ``--warmup`` seconds more: the start-up
backfill, the first periodic analysis and the first candle closes are over), then both are
measured over the same wall window: process CPU time (user + system, all threads) over wall time,
and RSS sampled every second (the last sample and the largest). Running them at once means both see
the same machine load, so their ratio is the figure to trust on a shared machine.

Goals (issue 12): under 3% of a core and under 300 MB resident after warm-up.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
BASE_COMMIT = "6d2d9b45f39a296ac859400a8f7ae37d2f690e3e"  # issue 12's groundwork, before the idle work


@dataclass
class Server:
    """One ``tradewind serve`` process and what was measured of it."""

    label: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path
    cpu_start: float = 0.0
    wall_start: float = 0.0
    rss: list[int] = field(default_factory=list)

    @property
    def ps(self) -> psutil.Process:
        return psutil.Process(self.process.pid)

    def cpu_seconds(self) -> float:
        times = self.ps.cpu_times()
        return times.user + times.system


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_source(commit: str, into: Path) -> Path:
    """The ``src/`` tree of ``commit``, extracted without touching the repository's worktrees."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", commit, "src"],
                             check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def start(label: str, command: list[str], workdir: Path, pythonpath: Path | None) -> Server:
    workdir.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEWIND_") and k != "PYTHONPATH"}
    env["TRADEWIND_DATABASE_URL"] = f"sqlite:///{workdir / 'tradewind.db'}"
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    port = free_port()
    log = workdir / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen([*command, "serve", "--port", str(port)], cwd=workdir, env=env,
                                   stdout=out, stderr=subprocess.STDOUT)
    return Server(label, process, f"http://127.0.0.1:{port}", log)


def imported_from(command: list[str], pythonpath: Path | None) -> str:
    """Where the interpreter of ``command`` imports tradewind from: proves the baseline is the base."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    code = "import tradewind, os; print(os.path.dirname(tradewind.__file__))"
    return subprocess.run([command[0], "-c", code], env=env, capture_output=True, text=True, check=True).stdout.strip()


def streamer_state(url: str) -> str | None:
    try:
        with urllib.request.urlopen(f"{url}/streamer/status", timeout=5) as response:
            body = json.loads(response.read())
    except (OSError, ValueError):
        return None
    data = body.get("data", body) if isinstance(body, dict) else {}
    return data.get("state") if isinstance(data, dict) else None


def wait_running(servers: list[Server], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    waiting = list(servers)
    while waiting:
        for server in list(waiting):
            if server.process.poll() is not None:
                raise SystemExit(f"{server.label} exited ({server.process.returncode}):\n{tail(server.log)}")
            if streamer_state(server.url) == "running":
                waiting.remove(server)
        if time.monotonic() > deadline:
            raise SystemExit(f"{', '.join(s.label for s in waiting)} not running after {timeout:g} s")
        time.sleep(0.5)


def tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def measure(servers: list[Server], window: float) -> None:
    for server in servers:
        server.wall_start, server.cpu_start = time.monotonic(), server.cpu_seconds()
    end = time.monotonic() + window
    while (now := time.monotonic()) < end:
        for server in servers:
            server.rss.append(server.ps.memory_info().rss)
        time.sleep(min(1.0, max(0.0, end - now)))
    for server in servers:
        server.rss.append(server.ps.memory_info().rss)


def cpu_percent(server: Server) -> float:
    return 100.0 * (server.cpu_seconds() - server.cpu_start) / (time.monotonic() - server.wall_start)


def stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds after the streamer runs (default 60)")
    parser.add_argument("--window", type=float, default=60.0, help="measured wall seconds (default 60)")
    parser.add_argument("--base", default=BASE_COMMIT, help="baseline commit (default: before the idle work)")
    parser.add_argument("--no-baseline", action="store_true", help="measure this code only")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="tradewind-idle-"))
    tradewind = [str(Path(sys.executable).parent / "tradewind")]
    servers: list[Server] = []
    try:
        servers.append(start("this code", tradewind, scratch / "current", None))
        if not args.no_baseline:
            src = base_source(args.base, scratch / "base-tree")
            where = imported_from([sys.executable], src)
            if not where.startswith(str(src)):
                raise SystemExit(f"the baseline would import tradewind from {where}, not {src}")
            servers.append(start(f"baseline {args.base[:7]}", [sys.executable, "-m", "tradewind"], scratch / "base", src))
        wait_running(servers, timeout=300.0)
        time.sleep(args.warmup)
        measure(servers, args.window)
        results = {s.label: (cpu_percent(s), s.rss[-1] / 2**20, max(s.rss) / 2**20) for s in servers}
    finally:
        for server in servers:
            stop(server)

    print(f"idle `tradewind serve` (8 symbols, synthetic ticks every 0.25 s): {args.warmup:g} s warm-up, "
          f"{args.window:g} s window, run side by side")
    print(f"{'':>18} {'CPU % of a core':>16} {'RSS MB (end)':>13} {'RSS MB (max)':>13}")
    for label, (cpu, rss, peak) in results.items():
        print(f"{label:>18} {cpu:>16.2f} {rss:>13.1f} {peak:>13.1f}")
    if len(results) == 2:
        (cpu, rss, _), (base_cpu, base_rss, _) = results.values()
        print(f"{'ratio':>18} {cpu / base_cpu if base_cpu else float('nan'):>16.3f} {rss / base_rss:>13.3f}")
    cpu, rss, _ = results["this code"]
    print(f"goals: CPU < 3% ({'met' if cpu < 3 else 'NOT met'}), RSS < 300 MB ({'met' if rss < 300 else 'NOT met'})")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
