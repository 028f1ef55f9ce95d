"""Shared by the HTTP and WebSocket benches: a free loopback port and commands pinned to a core."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import httpx

__all__ = ["free_port", "pinned", "wait_up"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(command: list[str], core: int) -> list[str]:
    """``command`` run on one core when taskset exists, so server and load do not share a core."""
    return ["taskset", "-c", str(core), *command] if shutil.which("taskset") else command


def wait_up(url: str, server: subprocess.Popen[bytes], *, timeout: float = 120.0) -> None:
    """Return once ``url`` answers 200; exit if ``server`` dies or ``timeout`` passes first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            raise SystemExit("server did not start")
        time.sleep(0.3)
