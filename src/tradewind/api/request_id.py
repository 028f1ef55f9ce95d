"""``RequestId``: every request has an id, echoed as ``X-Request-ID`` and on each log line it causes.

A caller's own ``X-Request-ID`` is kept when it is sane (1 to 128 characters of letters, digits and
``-_.:``), so a proxy's or a client's id follows the request through; anything else (too long,
spaces, control characters: text that would forge log lines) is replaced by a fresh one. The id
lives in a context variable for the request's task, which ``log_format.RequestIdFilter`` reads.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["HEADER", "RequestId", "current_request_id", "request_id_var"]

HEADER = "x-request-id"
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")

request_id_var: ContextVar[str | None] = ContextVar("tradewind_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being handled in this context, or None outside one."""
    return request_id_var.get()


class RequestId:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # a WebSocket is one long connection, not a request: /ws goes untouched
            await self.app(scope, receive, send)
            return
        given = next((value for name, value in scope.get("headers", ()) if name == HEADER.encode()), b"")
        text = given.decode("latin-1")
        request_id = text if _SANE.fullmatch(text) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        raw = (HEADER.encode(), request_id.encode())

        async def echo(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*(h for h in message.get("headers", []) if h[0].lower() != raw[0]), raw]
            await send(message)

        try:
            await self.app(scope, receive, echo)
        finally:
            request_id_var.reset(token)
