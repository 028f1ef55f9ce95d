"""``RequestMetrics``: each HTTP request timed into ``Metrics``, labelled by route template, not path.

The clock runs from the request's arrival at this middleware to the last byte of its response
(a streamed answer, SSE, counts its whole stream). Labels stay bounded whatever callers send: the
route is the template (``/api/assets/{symbol}``, ``<unmatched>`` for every 404 path), the method one
of the HTTP verbs or ``OTHER``, the status its class (``2xx``). A request that raised before any
answer counts as ``5xx``, which is what ``UnexpectedErrors`` answers.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tradewind.api.metrics import Metrics
from tradewind.api.route_template import route_template

__all__ = ["RequestMetrics"]

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMetrics:
    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            method = scope.get("method", "")
            self.metrics.observe_request(method if method in _METHODS else "OTHER", route_template(scope), status,
                                         time.perf_counter() - started)
