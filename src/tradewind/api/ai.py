"""``/ai/*``: the AI-service seed's endpoints over the signal service. Routes parse and delegate."""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime, timezone
from typing import Annotated, Any

import numpy as np
import orjson
from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import Response

from tradewind import __version__
from tradewind.api.ai_schemas import (
    AnalyzeBody,
    FeedbackBody,
    MarketConditionBody,
    StrategyRecommendationsBody,
)
from tradewind.api.deps import ContainerDep
from tradewind.api.request_route import RequestRoute, parse_body, request_body
from tradewind.api.service_info import periodic_analysis
from tradewind.bootstrap import Container
from tradewind.domain.errors import Forbidden
from tradewind.domain.signal import STRATEGIES

__all__ = ["router"]

router = APIRouter(prefix="/ai", tags=["ai"])


async def require_admin(container: ContainerDep, authorization: Annotated[str | None, Header()] = None) -> None:
    """The seam for destructive endpoints: with ``TRADEWIND_ADMIN_TOKEN`` set, a matching
    ``Authorization: Bearer <token>`` is required; real user auth will plug in here."""
    token = container.settings.admin_token
    if token is None:
        return
    if not secrets.compare_digest((authorization or "").encode(), f"Bearer {token.get_secret_value()}".encode()):
        raise Forbidden("this endpoint needs the admin credential (Authorization: Bearer <TRADEWIND_ADMIN_TOKEN>)")


AdminDep = Annotated[None, Depends(require_admin)]


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def _rows(body: AnalyzeBody | StrategyRecommendationsBody | MarketConditionBody) -> dict[str, np.ndarray] | None:
    """Each timeframe's candles as one ``(n, 6)`` float array: timestamp, open, high, low, close, volume."""
    if body.timeframe_data is None:
        return None
    return {
        key: np.array(
            [[c["timestamp"], c["open"], c["high"], c["low"], c["close"], c["volume"]] for c in candles],
            dtype=np.float64,
        ).reshape(-1, 6)
        for key, candles in body.timeframe_data.items()
    }


async def analyze(request: Request) -> Response:
    """Analyse a symbol: a Long/Short/Neutral signal with levels, stored with a ``signal_id``.

    The body is parsed straight from bytes by pydantic (``AnalyzeBody``, documented in OpenAPI):
    several times faster than FastAPI's generic path for a payload of hundreds of candles.
    """
    container: Container = request.app.state.container
    body = parse_body(AnalyzeBody, await request.body())
    context = body.strategy_context
    signals = container.signals
    analysis = signals.request_from_payload(
        symbol=body.symbol,
        timeframe_data=_rows(body),
        current_price=body.current_price,
        timestamp_ms=body.timestamp,
        selected_strategies=context.selected_strategies if context else None,
        risk_level=context.risk_level if context else None,
        market_condition=context.market_condition if context else None,
    )
    result = signals.cached_result(analysis.symbol) or await asyncio.to_thread(signals.analyze, analysis, use_cache=False)
    return Response(orjson.dumps(result.document), media_type="application/json")


router.add_api_route(
    "/analyze",
    analyze,
    methods=["POST"],
    summary="Analyse a symbol: a Long/Short/Neutral signal with levels, stored with a signal_id",
    openapi_extra=request_body(AnalyzeBody),
    route_class_override=RequestRoute,
)


@router.get("/info", summary="Analyst, timeframes, symbols and capabilities")
async def info(container: ContainerDep) -> dict[str, Any]:
    interval, periodic = periodic_analysis(container)
    return {
        "service_name": "tradewind",
        "version": __version__,
        "model_version": container.signals.analyst.name,
        "supported_timeframes": [tf.value for tf in container.settings.timeframes],
        "supported_symbols": container.streamer.symbols,
        "capabilities": [
            "trend_analysis", "signal_generation", "risk_assessment", "strategy_recommendation",
            "market_condition_detection", "smart_money_structure", "outcome_scoring",
        ],
        "last_trained": None,
        "analysis_timeframes": [tf.value for tf in container.settings.analysis_timeframes],
        "cache_ttl_seconds": container.settings.analysis_cache_seconds,
        "analysis_interval_minutes": interval,
        "periodic_analysis": periodic,
        "websocket_broadcasting": True,
    }


@router.get("/strategies", summary="The strategies the analyst scores")
async def strategies() -> list[str]:
    return list(STRATEGIES)


@router.post("/strategy-recommendations", summary="How well each strategy suits the market now")
async def strategy_recommendations(body: StrategyRecommendationsBody, container: ContainerDep) -> list[dict[str, Any]]:
    return await asyncio.to_thread(
        container.signals.strategy_recommendations,
        symbol=body.symbol, timeframe_data=_rows(body), current_price=body.current_price,
        timestamp_ms=body.timestamp, available_strategies=body.available_strategies,
    )


@router.post("/market-condition", summary="Trending Up / Trending Down / Sideways, and the phase")
async def market_condition(body: MarketConditionBody, container: ContainerDep) -> dict[str, Any]:
    return await asyncio.to_thread(
        container.signals.market_condition,
        symbol=body.symbol, timeframe_data=_rows(body), current_price=body.current_price, timestamp_ms=body.timestamp,
    )


@router.post("/feedback", summary="Feedback on a stored signal, kept beside its measured outcome")
async def feedback(body: FeedbackBody, container: ContainerDep) -> dict[str, Any]:
    item = await asyncio.to_thread(container.signals.feedback, **body.model_dump())
    return {"message": "Feedback received successfully", "signal_id": item.signal_id, "timestamp": _now_iso()}


@router.get("/signals/{signal_id}", summary="A stored signal with its measured outcome and feedback")
async def signal(signal_id: str, container: ContainerDep) -> dict[str, Any]:
    return await asyncio.to_thread(container.signals.signal_detail, signal_id)


@router.get("/performance", summary="Accuracy and calibration, measured from resolved outcomes only")
async def performance(container: ContainerDep) -> dict[str, Any]:
    report = await asyncio.to_thread(container.signals.performance)
    return {**report, "model_uptime": None, "last_updated": _now_iso()}


@router.get("/storage/stats", summary="Stored analyses per symbol")
async def storage_stats(container: ContainerDep) -> dict[str, Any]:
    stats = await asyncio.to_thread(container.signals.storage_stats)
    return {
        "total_analyses": stats["total"],
        "symbols_analyzed": len(stats["symbols"]),
        "symbol_breakdown": [
            {"symbol": symbol, "analysis_count": count, "latest_analysis": latest.isoformat()}
            for symbol, count, latest in stats["symbols"]
        ],
        "analysis_interval_minutes": periodic_analysis(container)[0],
        "collection_name": "ai_analysis_results",
    }


@router.post("/storage/clear", summary="Delete every stored analysis (irreversible; admin)")
async def storage_clear(container: ContainerDep, _: AdminDep) -> dict[str, Any]:
    cleared = await asyncio.to_thread(container.signals.clear_storage)
    return {"message": "Storage cleared successfully", "cleared_analyses": cleared, "timestamp": _now_iso()}
