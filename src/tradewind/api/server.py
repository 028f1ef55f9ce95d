"""The uvicorn options tradewind is served with, in one place for ``serve`` and the tests.

Limits that must hold before the app sees a byte live here: the largest WebSocket message
uvicorn will assemble, the largest request head it will buffer, how many connections it serves
at once (beyond that it answers 503 straight away instead of piling work up), and how long a
SIGTERM waits for the requests in flight before it cuts them and runs the shutdown.
"""

from __future__ import annotations

import signal
from types import FrameType
from typing import Any

from tradewind.api.admission import backstop
from tradewind.settings import Settings

__all__ = ["MAX_REQUEST_HEAD_BYTES", "exit_zero_on_sigterm", "uvicorn_options"]

MAX_REQUEST_HEAD_BYTES = 16 * 1024
"""Request line plus headers: a URL or header beyond this gets 400 from the HTTP parser itself."""


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` / ``uvicorn.Config``."""
    return {
        "ws_max_size": settings.ws_max_message_bytes,
        "h11_max_incomplete_event_size": MAX_REQUEST_HEAD_BYTES,
        # a backstop above the requests ``Admission`` serves (idle connections and WebSockets count here)
        "limit_concurrency": backstop(settings.max_connections) if settings.max_connections else None,
        "timeout_graceful_shutdown": settings.shutdown_timeout_seconds,
    }


def exit_zero_on_sigterm() -> None:
    """Make a SIGTERM end the process with status 0 once uvicorn has drained and shut down.

    uvicorn handles SIGTERM itself (it stops accepting, lets requests in flight finish, runs the
    shutdown), then raises the signal again with the handler that was there before, so that the
    process "dies of" it: status -15, which a supervisor reads as a failure. With this handler in
    place that last raise is a clean exit; a SIGTERM before uvicorn has started exits at once.
    """

    def clean_exit(_signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, clean_exit)
