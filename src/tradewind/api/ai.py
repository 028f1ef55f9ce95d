"""``/ai/*``: the AI-service seed's endpoints over the signal service. Routes parse and delegate."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

import numpy as np
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from tradewind import __version__
from tradewind.api.ai_schemas import (
    ANALYZE_FIELDS,
    CONDITION_FIELDS,
    RECOMMENDATION_FIELDS,
    AnalyzeBody,
    FeedbackBody,
    MarketConditionBody,
    StrategyRecommendationsBody,
    seed_fields,
)
from tradewind.api.deps import AdminDep, ContainerDep
from tradewind.api.error_schemas import rest
from tradewind.api.body import read_json
from tradewind.api.request_route import RequestRoute, request_body
from tradewind.api.service_info import periodic_analysis
from tradewind.api.signal_documents import signal_document
from tradewind.bootstrap import Container
from tradewind.domain.signal import STRATEGIES
from tradewind.signals.service import AnalysisResult

__all__ = ["router"]

router = APIRouter(prefix="/ai", tags=["ai"])




def _json(body: object) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


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

    A repeat for a streamed symbol is answered from memory on the event loop; anything that
    parses candles, reads the database or runs the analyst runs in a worker thread.
    """
    container: Container = request.app.state.container
    body = await read_json(request, AnalyzeBody)
    signals = container.signals
    context = body.strategy_context
    payload = {
        "symbol": body.symbol, "current_price": body.current_price, "timestamp_ms": body.timestamp,
        "selected_strategies": context.selected_strategies if context else None,
        "risk_level": context.risk_level if context else None,
        "market_condition": context.market_condition if context else None,
    }
    if body.timeframe_data is None:
        recent = signals.recent_result(**payload)
        if recent is not None:
            return _json(signal_document(recent.record, cached=True))

    def run() -> AnalysisResult:
        with seed_fields(ANALYZE_FIELDS):
            return signals.analyze_payload(timeframe_data=_rows(body), **payload)

    result = await asyncio.to_thread(run)
    return _json(signal_document(result.record, cached=result.cached))


router.add_api_route(
    "/analyze",
    analyze,
    methods=["POST"],
    summary="Analyse a symbol: a Long/Short/Neutral signal with levels, stored with a signal_id",
    openapi_extra=request_body(AnalyzeBody),
    responses=rest(404, 503),
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


async def strategy_recommendations(request: Request) -> Response:
    """How well each strategy suits the market now."""
    container: Container = request.app.state.container
    body = await read_json(request, StrategyRecommendationsBody)

    def run() -> list[dict[str, Any]]:
        with seed_fields(RECOMMENDATION_FIELDS):
            return container.signals.strategy_recommendations(
                symbol=body.symbol, timeframe_data=_rows(body), current_price=body.current_price,
                timestamp_ms=body.timestamp, available_strategies=body.available_strategies,
            )

    return _json(await asyncio.to_thread(run))


async def market_condition(request: Request) -> Response:
    """Trending Up / Trending Down / Sideways, and the phase."""
    container: Container = request.app.state.container
    body = await read_json(request, MarketConditionBody)

    def run() -> dict[str, Any]:
        with seed_fields(CONDITION_FIELDS):
            return container.signals.market_condition(
                symbol=body.symbol, timeframe_data=_rows(body), current_price=body.current_price,
                timestamp_ms=body.timestamp,
            )

    return _json(await asyncio.to_thread(run))


async def feedback(request: Request) -> Response:
    """Feedback on a stored signal, kept beside its measured outcome."""
    container: Container = request.app.state.container
    body = await read_json(request, FeedbackBody)
    item = await asyncio.to_thread(container.queries.feedback, **body.model_dump())
    return _json({"message": "Feedback received successfully", "signal_id": item.signal_id, "timestamp": _now_iso()})


for _path, _endpoint, _model, _summary, _errors in (
    ("/strategy-recommendations", strategy_recommendations, StrategyRecommendationsBody,
     "How well each strategy suits the market now", (404, 503)),
    ("/market-condition", market_condition, MarketConditionBody, "Trending Up / Trending Down / Sideways, and the phase",
     (404, 503)),
    ("/feedback", feedback, FeedbackBody, "Feedback on a stored signal, kept beside its measured outcome", (404,)),
):
    router.add_api_route(_path, _endpoint, methods=["POST"], summary=_summary, openapi_extra=request_body(_model),
                         responses=rest(*_errors), route_class_override=RequestRoute)


@router.get("/signals/{signal_id}", summary="A stored signal with its measured outcome and feedback",
            responses=rest(404))
async def signal(signal_id: str, container: ContainerDep) -> dict[str, Any]:
    return signal_document(await asyncio.to_thread(container.queries.signal_detail, signal_id))


@router.get("/performance", summary="Accuracy and calibration, measured from resolved outcomes only")
async def performance(container: ContainerDep) -> dict[str, Any]:
    report = await asyncio.to_thread(container.scorer.performance)
    return {**report, "model_uptime": None, "last_updated": _now_iso()}


@router.get("/storage/stats", summary="Stored analyses per symbol")
async def storage_stats(container: ContainerDep) -> dict[str, Any]:
    stats = await asyncio.to_thread(container.queries.storage_stats)
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


@router.post("/storage/clear", summary="Delete every stored analysis (irreversible; admin)", responses=rest(403))
async def storage_clear(container: ContainerDep, _: AdminDep) -> dict[str, Any]:
    cleared = await asyncio.to_thread(container.queries.clear_storage)
    return {"message": "Storage cleared successfully", "cleared_analyses": cleared, "timestamp": _now_iso()}
