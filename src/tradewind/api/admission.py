"""``Admission``: at most ``limit`` HTTP requests are served at once; the next gets 503 at once.

Past capacity, queueing helps nobody: each waiting request holds memory and a connection, and
its client has likely given up by the time it would be served. A request beyond the limit is
answered immediately with 503, ``Retry-After`` and the path's error shape (the seeds' shapes,
OpenAI's envelope under ``/v1``), so a client or a load balancer can tell "busy" from "broken".

uvicorn's own ``limit_concurrency`` stays as a backstop set above this limit (it also counts idle
keep-alive connections and WebSockets, and answers in plain text): this middleware is what a
request flood meets. A response counts until its last byte is sent, so a slow stream holds its
place as long as it streams. WebSockets are not counted here (``/ws`` has its own limits).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from tradewind.api.errors import error_response

__all__ = ["Admission", "backstop"]


def backstop(limit: int) -> int:
    """uvicorn's ``limit_concurrency`` for an admission ``limit``: room for idle connections and
    WebSockets on top of the requests served, so requests meet the JSON answer first."""
    return limit * 2 + 64


class Admission:
    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.app = app
        self.limit = limit
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            message = (f"the server is serving as many requests as it takes at once ({self.limit}); try again "
                       "shortly, or raise TRADEWIND_MAX_CONNECTIONS")
            response = error_response(503, message, "OVERLOADED", path=scope.get("path", ""),
                                      headers={"Retry-After": "1"})
            await response(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
