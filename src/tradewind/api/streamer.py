"""``/streamer/*``: candles from the live buffers, with the seed's exact response shapes.

The candle route answers by joining candles that were serialised once when they closed; only the
forming candle and the envelope are encoded per request.
"""

from __future__ import annotations

import time

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import QueryParams

from tradewind.api.deps import StreamerDep
from tradewind.api.error_schemas import streamer
from tradewind.api.request_route import RequestRoute
from tradewind.domain.errors import TradewindError, ValidationError
from tradewind.domain.excerpt import excerpt
from tradewind.domain.symbol import MAX_SYMBOL_INPUT, SYMBOL_PATTERN
from tradewind.domain.timeframe import MAX_TIMEFRAME_INPUT, TIMEFRAME_PATTERN
from tradewind.market.service import MAX_LIMIT, StreamerService

__all__ = ["router"]

router = APIRouter(prefix="/streamer", tags=["streamer"])


_second_cache: list[object] = [-1, ""]


def _now_iso() -> str:
    """UTC now as ``2025-12-05T08:00:00.123456Z``; the seconds part is formatted once per second."""
    now = time.time()
    second = int(now)
    if _second_cache[0] != second:
        _second_cache[0] = second
        _second_cache[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
    return f"{_second_cache[1]}.{int((now - second) * 1_000_000):06d}Z"


def _json(body: dict[str, object], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


_CANDLE_PARAMETERS = [
    {"name": "symbol", "in": "path", "required": True,
     "schema": {"type": "string", "minLength": 1, "maxLength": MAX_SYMBOL_INPUT, "pattern": SYMBOL_PATTERN},
     "description": "BTCUSDT, BTC/USDT or btc-usdt are one symbol; a broker suffix such as BTCUSDc stays distinct"},
    {"name": "timeframe", "in": "path", "required": True,
     "schema": {"type": "string", "maxLength": MAX_TIMEFRAME_INPUT, "pattern": TIMEFRAME_PATTERN},
     "description": "1m 5m 15m 30m 1h 4h 1d or M1 M5 M15 M30 H1 H4 D1, any case; answered in the form asked"},
    {"name": "limit", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50},
     "description": "how many candles, oldest first; the forming candle is last with closed=false"},
    {"name": "format", "in": "query", "required": False,
     "schema": {"type": "string", "enum": ["dict", "array"], "default": "dict"},
     "description": "dict: objects; array: [time, open, high, low, close, volume, spread, closed]"},
]


def _candle_params(query_string: bytes) -> tuple[int, str]:
    """``limit`` and ``format`` from a raw query string; repeated strings are parsed once."""
    known = _parsed_queries.get(query_string)
    if known is not None:
        return known
    params = QueryParams(query_string)
    fmt = params.get("format", "dict")
    if fmt not in ("dict", "array"):
        raise ValidationError(f"format must be 'dict' or 'array', got {excerpt(fmt)}", field="format")
    text = params.get("limit")
    try:
        limit = 50 if text is None else int(text)
    except ValueError:
        raise ValidationError(
            f"limit must be an integer between 1 and {MAX_LIMIT}, got {excerpt(text)}", field="limit"
        ) from None
    if len(_parsed_queries) < 1024 and len(query_string) <= 64:  # bounded in entries and in bytes
        _parsed_queries[query_string] = (limit, fmt)
    return limit, fmt


_parsed_queries: dict[bytes, tuple[int, str]] = {}


def _head(symbol: str, timeframe: str, count: int) -> bytes:
    """The response up to the candles; symbols and timeframe names are validated to
    ``[A-Za-z0-9.:]``, so they need no JSON escaping. Cached: the same few repeat."""
    key = (symbol, timeframe, count)
    head = _heads.get(key)
    if head is None:
        head = b'{"success":true,"symbol":"%s","timeframe":"%s","count":%d,"candles":[' % (
            symbol.encode(), timeframe.encode(), count,
        )
        if len(_heads) < 4096:
            _heads[key] = head
    return head


_heads: dict[tuple[str, str, int], bytes] = {}


async def get_candles(request: Request) -> Response:
    """Candles from the streamer buffer (the forming one last, flagged ``closed: false``).

    The hot read path: parameters are read from the request here (see ``RequestRoute``), with the
    same rules and field-naming errors as everywhere else.
    """
    limit, fmt = _candle_params(request.scope["query_string"])
    service: StreamerService = request.app.state.streamer_service
    path = request.path_params
    query = service.query(path["symbol"], path["timeframe"], limit)
    if fmt == "dict":
        candles, count = query.series.tail_json(query.limit)
    else:
        rows = [
            [c.time, c.open, c.high, c.low, c.close, c.volume, c.spread, c.closed]
            for c in query.series.tail(query.limit)
        ]
        candles = orjson.dumps(rows)[1:-1]
        count = len(rows)
    body = b"".join((
        _head(query.symbol, str(query.timeframe), count), candles,
        b'],"timestamp":"', _now_iso().encode(), b'","source":"streamer_buffer"}',
    ))
    return Response(body, media_type="application/json")


router.add_api_route(
    "/candles/{symbol:path}/{timeframe}",
    get_candles,
    methods=["GET"],
    summary="Candles from the streamer buffer",
    openapi_extra={"parameters": _CANDLE_PARAMETERS},
    responses=streamer(404, 503),
    route_class_override=RequestRoute,
)


@router.get("/status", summary="Streamer state, symbols, timeframes and metrics")
async def get_status(service: StreamerDep) -> Response:
    return _json({"success": True, **service.status(), "timestamp": _now_iso()})


@router.get("/available", summary="Symbols and the timeframes streamed for each", responses=streamer(503))
async def get_available(service: StreamerDep) -> Response:
    available = service.available()
    return _json({"success": True, "symbols": available, "count": len(available), "timestamp": _now_iso()})


@router.get("/health", summary="Streamer health: buffers and data freshness", responses=streamer(503))
async def get_health(service: StreamerDep) -> Response:
    try:
        health = service.health()
    except TradewindError as exc:
        return _json(
            {"success": False, "status": "unhealthy", "healthy": False, "error": str(exc),
             "error_code": exc.code, "last_check": _now_iso()},
            503,
        )
    return _json({"success": True, "status": "healthy", **health, "last_check": _now_iso()})
