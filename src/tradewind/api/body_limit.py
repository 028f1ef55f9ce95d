"""``BodyLimit``: request bodies larger than the configured maximum get 413 before they are read.

A declared ``Content-Length`` above the limit is refused at once, without reading a byte of the
body; a chunked body is counted as it arrives and refused as soon as it passes the limit. Either
way the server's parser discards the rest of the body as it comes (nothing is buffered), so the
connection stays usable. Below the limit the body reaches the app untouched.

Starlette 1.x has a body limit of its own (``FastAPI(max_body_size=...)``), but it answers a
declared oversize with its own plain-text "Content Too Large", replacing whatever the app sends;
clients of the seeds expect the JSON error shape naming the field, so the check is made here.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tradewind.api.errors import error_response

__all__ = ["BodyLimit"]


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None:
            if declared > self.max_bytes:
                await self._refuse(scope, receive, send, f"{declared} declared")
            else:
                await self.app(scope, receive, send)  # the server delivers no more than declared
            return
        # No length declared (chunked): read up to the limit, then hand the body on in one piece.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away: the app sees the disconnect
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send, f"more than {self.max_bytes} sent")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
                break
        await self.app(scope, _replay(message, receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, got: str) -> None:
        message = (f"request body too large: at most {self.max_bytes} bytes ({_human(self.max_bytes)}), {got}; "
                   "send fewer candles, or raise TRADEWIND_MAX_BODY_BYTES")
        response = error_response(413, message, "BODY_TOO_LARGE", field="body", path=scope.get("path", ""))
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server's parser has refused it already
    return None


def _replay(first: Message, receive: Receive) -> Receive:
    """A ``receive`` that yields ``first`` once, then defers to the real one (disconnects)."""
    pending: list[Message] = [first]

    async def replay() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replay


def _human(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:g} {unit}"
    return f"{size} bytes"
