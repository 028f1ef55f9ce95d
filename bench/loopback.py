"""Shared by the HTTP and WebSocket benches: a free loopback port and commands pinned to a core."""

from __future__ import annotations

import shutil
import socket

__all__ = ["free_port", "pinned"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(command: list[str], core: int) -> list[str]:
    """``command`` run on one core when taskset exists, so server and load do not share a core."""
    return ["taskset", "-c", str(core), *command] if shutil.which("taskset") else command
