"""``GET /`` and ``GET /health`` with the fields of the AI-service seed, reporting what is true now.

``gpt4_available`` is true only while the model is configured, has a usable key and its last call
answered; ``llm`` adds the last call and the errors among the recent ones. Storage fields report the real
database (``mongodb_connected`` keeps the seed's name for the storage connection, ``database`` says
which one it is). ``analysis_interval_minutes`` is the configured periodic analysis (null when off)
and ``periodic_analysis`` its last and next run; ``websocket`` counts the ``/ws`` hub's clients.
``worker`` names the worker process that answered (with several, each has its own), the leases it
holds (``scheduler``: the periodic analysis; ``trading``: the engine) and its bus with the lag.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from tradewind import __version__
from tradewind.api.deps import ContainerDep
from tradewind.bootstrap import Container
from tradewind.storage.db import check_connection
from tradewind.signals.periodic import disabled_status
from tradewind.web.routes import dashboard_redirect, wants_html

__all__ = ["periodic_analysis", "router"]

router = APIRouter(tags=["service"])

SERVICE_NAME = "tradewind"


def periodic_analysis(container: Container) -> tuple[float | None, dict[str, object]]:
    """The configured interval in minutes (None when off) and the scheduler's figures."""
    scheduler = container.scheduler
    if scheduler is None:
        return None, disabled_status()
    return container.settings.analysis_interval_minutes, scheduler.status()


def _json(body: dict[str, object], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def llm_state(container: Container) -> dict[str, object]:
    """What is true of the model now: configured, not locked out (every key limited or rejected), and
    its last call answered. Before any call nothing is known against it, so it counts as available."""
    client = container.llm_client
    if client is None:
        return {"configured": False, "available": False, "model": None}
    status = client.status()
    last = status.get("last_call")
    answered = last is None or bool(last.get("ok"))
    return {
        "configured": True,
        "available": status.get("keys_available", 0) > 0 and answered,
        "last_call": last,
        "recent": status.get("recent"),
        "model": client.model,
        "base_url": status.get("base_url"),
        "keys_configured": status.get("keys_configured"),
        "keys_available": status.get("keys_available"),
        "response_format": status.get("response_format"),
        "requests": status.get("requests"),
        "errors": status.get("errors"),
    }


def _analyst(container: Container) -> str:
    if container.llm_client is None:
        return "the rule-based analyst"
    return f"the LLM analyst ({container.llm_client.model}, the rule-based analyst as its fallback)"


@router.get("/health", summary="Service health with storage and streamer status")
async def health(container: ContainerDep) -> Response:
    connected = await asyncio.to_thread(check_connection, container.database)
    runtime = container.runtime
    interval, periodic = periodic_analysis(container)
    llm = llm_state(container)
    status = "healthy" if connected and runtime.running else "degraded"
    return _json(
        {
            "status": status,
            "timestamp": datetime.now(timezone.utc).isoformat(),
            "service": SERVICE_NAME,
            "version": __version__,
            "gpt4_available": llm["available"],
            "api_key_configured": bool(container.settings.api_keys()),
            "llm": llm,
            "analyst": container.signals.analyst.name,
            "mongodb_connected": connected,
            "database": {"dialect": container.database.dialect.name, "connected": connected},
            "streamer": {"state": runtime.state, "feed": runtime.feed.name, "error": runtime.error},
            "analysis_interval_minutes": interval,
            "periodic_analysis": periodic,
            "websocket": container.hub.stats(),
            "supported_symbols": container.streamer.symbols,
            "trading": trading_state(container),
            "worker": container.scale.status(),
        }
    )


def trading_state(container: Container) -> dict[str, object]:
    """Whether the engine trades, on which broker, and the book's headline figures."""
    engine = container.engine
    if engine is None:
        return {"enabled": False}
    return {"enabled": True, "broker": container.broker.name, "assets": len(engine.assets),
            "halted": engine.portfolio.halted, "equity": engine.portfolio.equity()}


@router.get("/", summary="Service information and the endpoints that exist")
async def root(container: ContainerDep, request: Request) -> Response:
    """The seed's JSON for API clients; a browser asking for a page is sent to the dashboard."""
    if wants_html(request):
        return dashboard_redirect()
    interval, _ = periodic_analysis(container)
    return _json(
        {
            "service": SERVICE_NAME,
            "version": __version__,
            "description": "Self-hosted AI trading analyst: multi-timeframe candles, TA-Lib indicators and "
            "smart-money structure, a rule-based analyst whose signals are stored and scored against what the "
            "market did next.",
            "endpoints": {
                "analyze": f"POST /ai/analyze - Long/Short/Neutral signal from {_analyst(container)} (stored, with signal_id)",
                "strategy_recommendations": "POST /ai/strategy-recommendations - Get strategy recommendations",
                "market_condition": "POST /ai/market-condition - Analyze market conditions",
                "feedback": "POST /ai/feedback - Send feedback on a stored signal",
                "performance": "GET /ai/performance - Accuracy and calibration measured from signal outcomes",
                "info": "GET /ai/info - Analyst and capabilities",
                "strategies": "GET /ai/strategies - Supported strategies",
                "signal": "GET /ai/signals/{signal_id} - A stored signal with its outcome and feedback",
                "storage_stats": "GET /ai/storage/stats - View storage statistics",
                "clear_storage": "POST /ai/storage/clear - Clear analysis storage (admin)",
                "streamer_candles": "GET /streamer/candles/{symbol}/{timeframe}?limit=50&format=dict - Candles from the streamer buffer",
                "streamer_status": "GET /streamer/status - Streamer state and metrics",
                "streamer_available": "GET /streamer/available - Symbols and timeframes",
                "streamer_health": "GET /streamer/health - Streamer health",
                "health": "GET /health - Health check with database status",
                "websocket": "WS /ws - Real-time AI signal broadcasting (channels: signals, "
                "candles:{SYMBOL}:{timeframe}, trading:{SYMBOL})",
                "dashboard": "GET /dashboard - The live web dashboard (a browser asking for / is sent there)",
            },
            "documentation": "/docs",
            "features": {
                "gpt4_enabled": container.llm_client is not None,
                "mongodb_storage": False,
                "sql_storage": container.database.dialect.name,
                "websocket_broadcasting": True,
                "periodic_analysis": interval is not None,
                "analysis_interval_minutes": interval,
                "symbols_tracked": container.streamer.symbols,
                "feed": container.runtime.feed.name,
            },
        }
    )
