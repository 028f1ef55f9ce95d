"""``tradewind`` as a real process: ``serve`` on a free port, for crash, drain and overload tests.

The child gets only the ``TRADEWIND_*`` settings a test names (none of the test process's own),
its stderr goes to a file a failure can quote, and ``kill`` is SIGKILL: nothing of the server's
own runs after it, as after a crash or the OOM killer.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from support.waiting import wait_for

__all__ = ["Served", "free_port", "serving", "tradewind_env"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tradewind_env(settings: Mapping[str, str]) -> dict[str, str]:
    """The environment of a child: this one without any ``TRADEWIND_*``, plus ``settings``.

    Authentication and rate limits are off unless ``settings`` turns them on: these tests are about
    what survives a kill or a flood, and a child on the defaults would refuse their writes (401) and
    their polling (429)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEWIND_")}
    env.update({"TRADEWIND_AUTH": "false", "TRADEWIND_RATE_LIMIT_ENABLED": "false"})
    env.update({f"TRADEWIND_{k.upper()}": v for k, v in settings.items()})
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        """SIGKILL, and wait for it to be gone."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def alive(self) -> bool:
        return self.process.poll() is None


def _ready(served: Served) -> bool:
    assert served.alive(), f"the server exited with {served.process.returncode}:\n{served.stderr()}"
    try:
        return httpx.get(f"{served.url}/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def serving(cwd: Path, settings: Mapping[str, str], *, name: str = "serve",
            startup_timeout: float = 90) -> Iterator[Served]:
    """``python -m tradewind serve`` in ``cwd`` with ``settings``; killed at the end if still running."""
    port = free_port()
    log = cwd / f"{name}.log"
    with log.open("ab") as err:
        process = subprocess.Popen([sys.executable, "-m", "tradewind", "serve", "--port", str(port)], cwd=cwd,
                                   env=tradewind_env(settings), stdout=subprocess.DEVNULL, stderr=err)
    served = Served(process, f"http://127.0.0.1:{port}", log)
    try:
        wait_for(lambda: _ready(served), timeout=startup_timeout, every=0.1)
        yield served
    finally:
        if served.alive():
            served.kill()
