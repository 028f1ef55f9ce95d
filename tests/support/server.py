"""A real uvicorn server on 127.0.0.1 (a free port) in a background thread, for HTTP tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from tradewind.api.server import uvicorn_options


@contextmanager
def serve(app: object, *, startup_timeout: float = 30.0, stop_timeout: float = 15.0) -> Iterator[str]:
    """Run ``app`` (with its lifespan) and yield its base URL; stop it on exit.

    A server whose thread is still running ``stop_timeout`` seconds after it was told to stop is an
    error: a stopped service must stop (a lost cancel once kept one playing its replay)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    container = getattr(getattr(app, "state", None), "container", None)
    options = uvicorn_options(container.settings) if container is not None else {}
    config = uvicorn.Config(app, log_level="warning", lifespan="on", **options)  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=stop_timeout)
        sock.close()
    if thread.is_alive():  # only when the body passed: its own failure says more
        raise RuntimeError(f"the test server was still running {stop_timeout:g} s after it was told to stop")
