"""``GET /`` and ``GET /health`` with the fields of the AI-service seed, reporting what is true now.

No LLM is configured yet and no periodic analysis runs, so those fields say so (false / null);
storage fields report the real database (``mongodb_connected`` keeps the seed's name for the
storage connection, ``database`` says which one it is).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import orjson
from fastapi import APIRouter
from fastapi.responses import Response

from tradewind import __version__
from tradewind.api.deps import ContainerDep
from tradewind.storage.db import check_connection

__all__ = ["router"]

router = APIRouter(tags=["service"])

SERVICE_NAME = "tradewind"


def _json(body: dict[str, object], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


@router.get("/health", summary="Service health with storage and streamer status")
async def health(container: ContainerDep) -> Response:
    connected = await asyncio.to_thread(check_connection, container.engine)
    runtime = container.runtime
    status = "healthy" if connected and runtime.running else "degraded"
    return _json(
        {
            "status": status,
            "timestamp": datetime.now(timezone.utc).isoformat(),
            "service": SERVICE_NAME,
            "version": __version__,
            "gpt4_available": False,
            "api_key_configured": False,
            "llm": {"configured": False, "available": False, "model": None},
            "mongodb_connected": connected,
            "database": {"dialect": container.engine.dialect.name, "connected": connected},
            "streamer": {"state": runtime.state, "feed": runtime.feed.name, "error": runtime.error},
            "analysis_interval_minutes": None,
            "supported_symbols": container.streamer.symbols,
        }
    )


@router.get("/", summary="Service information and the endpoints that exist")
async def root(container: ContainerDep) -> Response:
    return _json(
        {
            "service": SERVICE_NAME,
            "version": __version__,
            "description": "Self-hosted AI trading analyst: multi-timeframe candles from a live or synthetic "
            "feed, stored in a SQL database, served over HTTP.",
            "endpoints": {
                "streamer_candles": "GET /streamer/candles/{symbol}/{timeframe}?limit=50&format=dict - Candles from the streamer buffer",
                "streamer_status": "GET /streamer/status - Streamer state and metrics",
                "streamer_available": "GET /streamer/available - Symbols and timeframes",
                "streamer_health": "GET /streamer/health - Streamer health",
                "health": "GET /health - Health check with database status",
            },
            "documentation": "/docs",
            "features": {
                "gpt4_enabled": False,
                "mongodb_storage": False,
                "sql_storage": container.engine.dialect.name,
                "websocket_broadcasting": False,
                "periodic_analysis": False,
                "analysis_interval_minutes": None,
                "symbols_tracked": container.streamer.symbols,
                "feed": container.runtime.feed.name,
            },
        }
    )
