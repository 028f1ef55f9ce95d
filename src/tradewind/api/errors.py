"""Error bodies, in each seed's shape with the field at fault added.

``/streamer/*`` answers ``{success: false, error, error_code, field}`` (streamer seed); every other
path answers ``{detail, error_code, field}`` (AI-service seed). Domain errors map to statuses here
and only here: validation 400, forbidden 403, not found 404, too large 413, unsupported media type
415, not ready 503. A body that does not match the schema's JSON types and shapes (invalid JSON,
a wrong type, a missing field, a value outside an enumeration) is 422; a well-typed value that
breaks a declared bound (too long, out of range) is 400 like every other rule about values. A
query, path or header parameter is text, so any bad one is 400 (``INVALID_LIMIT`` and the like for
the seeds' named parameters); 405 lists in ``Allow`` every method the path serves.

Messages quote at most an excerpt of the input and are cut at ``MAX_MESSAGE_CHARS``, so an error
is never an echo of a hostile request. Anything unexpected is INTERNAL_ERROR 500, logged with its
trace, answered by ``UnexpectedErrors`` so the connection stays usable.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tradewind.domain.errors import Forbidden, NotFound, TradewindError, Unavailable, ValidationError
from tradewind.domain.excerpt import excerpt

__all__ = [
    "MAX_MESSAGE_CHARS",
    "UnexpectedErrors",
    "UnsupportedMediaType",
    "error_response",
    "install_error_handlers",
    "openai_error",
]

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 1000

_FIELD_CODES = {"limit": "INVALID_LIMIT", "format": "INVALID_FORMAT", "timeframe": "INVALID_TIMEFRAME",
                "symbol": "INVALID_SYMBOL"}

_BOUND_ERRORS = frozenset({
    "greater_than", "greater_than_equal", "less_than", "less_than_equal", "multiple_of", "finite_number",
    "too_long", "too_short", "string_too_long", "string_too_short", "int_from_float", "decimal_max_digits",
    "string_pattern_mismatch",
})
"""pydantic error types that mean "right type, value out of bounds": 400, not 422."""


class UnsupportedMediaType(ValidationError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    status = 415


def error_response(
    status: int, message: str, code: str, *, field: str | None = None, path: str = "/streamer",
    headers: dict[str, str] | None = None,
) -> Response:
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[:MAX_MESSAGE_CHARS] + "..."
    if path.startswith("/v1/") or path == "/v1":
        return Response(orjson.dumps(openai_error(status, message, code, field)), status_code=status,
                        media_type="application/json", headers=headers)
    if path.startswith("/streamer"):
        body: dict[str, object] = {"success": False, "error": message, "error_code": code}
    else:
        body = {"detail": message, "error_code": code}
    if field is not None:
        body["field"] = field[:200]
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def openai_error(status: int, message: str, code: str, field: str | None) -> dict[str, object]:
    """OpenAI's error envelope (``/v1``), which its SDK parses into ``openai.APIError``."""
    kind = "server_error" if status >= 500 else "rate_limit_error" if status == 429 else (
        "authentication_error" if status == 401 else "permission_error" if status == 403 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": field[:200] if field else None, "code": code.lower()}}


def _status(error: TradewindError) -> int:
    explicit = getattr(error, "status", None)
    if isinstance(explicit, int):
        return explicit
    if isinstance(error, ValidationError):
        return 400
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, Forbidden):
        return 403
    if isinstance(error, Unavailable):
        return 503
    return 500


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TradewindError)
    field = getattr(exc, "field", None)
    code = exc.code
    if isinstance(exc, ValidationError) and code == "VALIDATION_ERROR" and field in _FIELD_CODES:
        code = _FIELD_CODES[field]
    return error_response(_status(exc), str(exc), code, field=field, path=request.url.path)


def _field(loc: Any) -> str:
    parts = [part for part in loc if part not in ("query", "path", "body", "[key]")]  # a bad map key: the key
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in parts).lstrip(".") or "body"


async def _request_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0]
    loc = first.get("loc", ())
    field = _field(loc)
    reason = first.get("msg")
    if first.get("type") == "string_pattern_mismatch":  # the pattern itself is in the OpenAPI document
        reason = "String does not have the documented form (the parameter's pattern in /openapi.json)"
    message = f"{field}: {reason}"
    got = first.get("input")
    if got is not None and not isinstance(got, (dict, list)):
        message += f" (got {excerpt(got)})"
    bound = first.get("type") in _BOUND_ERRORS
    if request.url.path.startswith("/v1/"):  # OpenAI answers every invalid request 400
        return error_response(400, message, "invalid_value", field=field, path=request.url.path)
    named = [part for part in loc if part not in ("query", "path", "body")]
    if not request.url.path.startswith("/streamer"):
        if loc and loc[0] != "body":  # a parameter is text: any bad one is a bad value
            code = _FIELD_CODES.get(str(named[-1]) if named else "", "VALIDATION_ERROR")
            return error_response(400, message, code, field=field, path=request.url.path)
        code = _FIELD_CODES.get(str(named[-1]) if named else "", "VALIDATION_ERROR") if bound else "VALIDATION_ERROR"
        return error_response(400 if bound else 422, message, code, field=field, path=request.url.path)
    code = _FIELD_CODES.get(str(named[-1]) if named else "", "INVALID_PARAMETER")
    return error_response(400, message, code, field=field)


class UnexpectedErrors:
    """ASGI middleware: an unexpected exception becomes a logged 500 in the path's error shape.

    Starlette's own last-resort handler re-raises after answering, which makes the server drop a
    keep-alive connection; answering here instead keeps the client's connection usable.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise  # half an answer is out: only closing the connection can tell the client
            path = scope.get("path", "")
            response = error_response(500, f"Internal error: {type(exc).__name__}", "INTERNAL_ERROR", path=path)
            await response(scope, receive, send)


_HTTP_ERRORS = {404: ("NOT_FOUND", "path"), 405: ("METHOD_NOT_ALLOWED", "method")}


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 (no such route) and 405 (wrong method), in the path's error shape."""
    assert isinstance(exc, StarletteHTTPException)
    code, field = _HTTP_ERRORS.get(exc.status_code, ("HTTP_ERROR", None))
    headers = exc.headers
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": ", ".join(_allowed(request))}
    return error_response(exc.status_code, str(exc.detail), code, field=field, path=request.url.path,
                          headers=headers)


def _allowed(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette's 405 names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return sorted(methods)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(TradewindError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_middleware(UnexpectedErrors)
