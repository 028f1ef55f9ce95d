"""``serve --workers N``: each worker listens on a socket of its own on one port (``SO_REUSEPORT``).

uvicorn's supervisor binds one socket and shares it: every worker waits on it, and the first to
wake accepts *all* the connections queued at that moment (asyncio accepts up to the backlog per
wake-up). A client or proxy that opens its keep-alive connections in a burst (wrk, nginx's
upstream pool) then lands most of them on one worker, and a second worker adds little: one
measured run served 16 kept-alive connections at the rate of one worker. With ``SO_REUSEPORT``
the kernel spreads new connections across the workers' sockets by a hash of their addresses,
the way nginx's ``reuseport`` and gunicorn's ``--reuse-port`` do.

The supervisor (``uvicorn.supervisors.Multiprocess``: restarts, signals, health checks) is kept;
only the socket each worker serves differs. The parent binds the port first, with
``SO_REUSEPORT`` but without listening (a bound socket that does not listen gets no connection),
so a port in use fails at once with one line instead of each worker failing in turn.
"""

from __future__ import annotations

import logging
import socket

import uvicorn
from uvicorn.supervisors import multiprocess

__all__ = ["bind_port", "run_workers"]

log = logging.getLogger("uvicorn.error")


def bind_port(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) with ``SO_REUSEPORT``, not listening yet."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class _OwnSocketProcess(multiprocess.Process):
    """A worker that binds and serves a socket of its own instead of the supervisor's shared one."""

    def target(self, sockets: list[socket.socket] | None = None) -> None:  # pragma: no cover - in the child
        super().target([bind_port(self.config.host, self.config.port)])


class _own_sockets:  # noqa: N801 - used as a context manager
    """While the supervisor runs, the workers it makes (and remakes) are the own-socket kind: its
    methods look ``Process`` up in their module. Only the ``serve --workers`` parent enters this."""

    def __enter__(self) -> None:
        self._saved = multiprocess.Process
        multiprocess.Process = _OwnSocketProcess  # type: ignore[misc]

    def __exit__(self, *_: object) -> None:
        multiprocess.Process = self._saved  # type: ignore[misc]


def run_workers(config: uvicorn.Config) -> None:
    """Run ``config.workers`` workers on ``config.host:config.port``, one listening socket each."""
    if config.port == 0:
        raise ValueError("--workers > 1 needs a fixed port: each worker binds it itself")
    held = bind_port(config.host, config.port)  # fails now if the port is taken
    log.info("Uvicorn running on http://%s:%d with %d workers, a socket each (SO_REUSEPORT) (Press CTRL+C to quit)",
             config.host, config.port, config.workers)
    try:
        with _own_sockets():
            multiprocess.Multiprocess(config, sockets=[]).run()
    finally:
        held.close()
