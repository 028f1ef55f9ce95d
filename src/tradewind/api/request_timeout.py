"""``RequestTimeout``: a request that has not begun its answer within the limit gets 503.

Under load beyond capacity, waiting longer helps nobody: the client has likely given up, and the
work it queued holds a slot others need. So an ordinary request whose response has not *started*
after ``seconds`` is cancelled and answered 503 in its path's error shape (the seeds' shapes,
OpenAI's envelope under ``/v1``) with ``Retry-After``. Once a response has started the limit no
longer applies, so streams (SSE, CSV exports) run as long as they stream; WebSockets are not HTTP
requests and pass untouched. Work already handed to a thread finishes there, unobserved.
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tradewind.api.errors import error_response

__all__ = ["RequestTimeout"]


class RequestTimeout:
    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        if seconds <= 0:
            raise ValueError("seconds must be positive")
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = asyncio.Event()

        async def watched(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.set()
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, watched))
        begun = asyncio.ensure_future(started.wait())
        try:
            await asyncio.wait({task, begun}, timeout=self.seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            begun.cancel()
            if not (task.done() or started.is_set()):
                task.cancel()  # also when our own caller was cancelled (the server stops)
        if task.cancelled() or not task.done() and not started.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if not started.is_set():
                await self._refuse(scope, receive, send)
                return
        await task  # its answer has begun (or it is done): no limit from here on

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = (f"the server could not begin an answer within {self.seconds:g} s (it is overloaded or the "
                   "work is slow); try again later, or raise TRADEWIND_REQUEST_TIMEOUT_SECONDS")
        response = error_response(503, message, "REQUEST_TIMEOUT", path=scope.get("path", ""),
                                  headers={"Retry-After": "1"})
        await response(scope, receive, send)
