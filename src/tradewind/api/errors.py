"""Error bodies, in each seed's shape with the field at fault added.

``/streamer/*`` answers ``{success: false, error, error_code, field}`` (streamer seed); every other
path answers ``{detail, error_code, field}`` (AI-service seed). Domain errors map to statuses here
and only here: validation 400 (422 for a body of the wrong JSON types), forbidden 403, not found
404, not ready 503. Anything unexpected is INTERNAL_ERROR 500, logged with its trace.
"""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from tradewind.domain.errors import Forbidden, NotFound, TradewindError, Unavailable, ValidationError

__all__ = ["error_response", "install_error_handlers"]

log = logging.getLogger(__name__)

_FIELD_CODES = {"limit": "INVALID_LIMIT", "format": "INVALID_FORMAT", "timeframe": "INVALID_TIMEFRAME"}


def error_response(status: int, message: str, code: str, *, field: str | None = None, path: str = "/streamer") -> Response:
    if path.startswith("/streamer"):
        body: dict[str, object] = {"success": False, "error": message, "error_code": code}
    else:
        body = {"detail": message, "error_code": code}
    if field is not None:
        body["field"] = field
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _status(error: TradewindError) -> int:
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


async def _request_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0]
    loc = [part for part in first.get("loc", ()) if part not in ("query", "path", "body")]
    field = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".") or None
    message = f"{field}: {first.get('msg')}" if field else str(first.get("msg"))
    if first.get("input") is not None and not isinstance(first.get("input"), (dict, list)):
        message += f" (got {first['input']!r})"
    if not request.url.path.startswith("/streamer"):
        return error_response(422, message, "VALIDATION_ERROR", field=field, path=request.url.path)
    code = _FIELD_CODES.get(str(loc[-1]) if loc else "", "INVALID_PARAMETER")
    return error_response(400, message, code, field=field)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, f"Internal error: {type(exc).__name__}", "INTERNAL_ERROR", path=request.url.path)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(TradewindError, _domain_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(Exception, _unexpected)
