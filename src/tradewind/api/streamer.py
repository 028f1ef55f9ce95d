"""``/streamer/*``: candles from the live buffers, with the seed's exact response shapes.

The candle route answers by joining candles that were serialised once when they closed; only the
forming candle and the envelope are encoded per request.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

import orjson
from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from tradewind.api.deps import StreamerDep
from tradewind.domain.errors import TradewindError
from tradewind.market.service import MAX_LIMIT

__all__ = ["router"]

router = APIRouter(prefix="/streamer", tags=["streamer"])


def _now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json(body: dict[str, object], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


@router.get("/candles/{symbol:path}/{timeframe}", summary="Candles from the streamer buffer")
async def get_candles(
    service: StreamerDep,
    symbol: str = Path(description="BTCUSDT, BTC/USDT (URL-encoded) or btc-usdt; broker suffixes like BTCUSDc stay distinct"),
    timeframe: str = Path(description="1m 5m 15m 30m 1h 4h 1d or M1 M5 M15 M30 H1 H4 D1, any case"),
    limit: int = Query(50, ge=1, le=MAX_LIMIT, description="how many candles, newest last"),
    format: Literal["dict", "array"] = Query("dict", description="dict: objects; array: [time, o, h, l, c, v, spread, closed]"),
) -> Response:
    query = service.query(symbol, timeframe, limit)
    if format == "dict":
        items = query.series.tail_encoded(query.limit)
        candles = b"[" + b",".join(items) + b"]"
        count = len(items)
    else:
        rows = [
            [c.time, c.open, c.high, c.low, c.close, c.volume, c.spread, c.closed]
            for c in query.series.tail(query.limit)
        ]
        candles = orjson.dumps(rows)
        count = len(rows)
    head = orjson.dumps({"success": True, "symbol": query.symbol, "timeframe": str(query.timeframe), "count": count})
    tail = orjson.dumps({"timestamp": _now_iso(), "source": "streamer_buffer"})
    body = head[:-1] + b',"candles":' + candles + b"," + tail[1:]
    return Response(body, media_type="application/json")


@router.get("/status", summary="Streamer state, symbols, timeframes and metrics")
async def get_status(service: StreamerDep) -> Response:
    return _json({"success": True, **service.status(), "timestamp": _now_iso()})


@router.get("/available", summary="Symbols and the timeframes streamed for each")
async def get_available(service: StreamerDep) -> Response:
    available = service.available()
    return _json({"success": True, "symbols": available, "count": len(available), "timestamp": _now_iso()})


@router.get("/health", summary="Streamer health: buffers and data freshness")
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
