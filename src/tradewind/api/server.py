"""The uvicorn options tradewind is served with, in one place for ``serve`` and the tests.

Limits that must hold before the app sees a byte live here: the largest WebSocket message
uvicorn will assemble, the largest request head it will buffer, how many connections it serves
at once (beyond that it answers 503 straight away instead of piling work up), and how long a
SIGTERM waits for the requests in flight before it cuts them and runs the shutdown.
"""

from __future__ import annotations

from typing import Any

from tradewind.settings import Settings

__all__ = ["MAX_REQUEST_HEAD_BYTES", "uvicorn_options"]

MAX_REQUEST_HEAD_BYTES = 16 * 1024
"""Request line plus headers: a URL or header beyond this gets 400 from the HTTP parser itself."""


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` / ``uvicorn.Config``."""
    return {
        "ws_max_size": settings.ws_max_message_bytes,
        "h11_max_incomplete_event_size": MAX_REQUEST_HEAD_BYTES,
        "limit_concurrency": settings.max_connections,
        "timeout_graceful_shutdown": settings.shutdown_timeout_seconds,
    }
