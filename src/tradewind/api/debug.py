"""``GET /debug/gpt4`` (the seed's path) and ``GET /debug/llm``: a live check of the configured model."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from tradewind.domain.errors import LLMError

__all__ = ["router"]

router = APIRouter(tags=["debug"])


def _json(body: dict[str, Any], status: int) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


async def _check(request: Request) -> Response:
    client = request.app.state.container.llm_client
    if client is None:
        return _json({
            "client_initialized": False, "api_key_configured": False, "status": "failed",
            "error": "OpenAI client not initialized", "error_type": "InitializationError",
            "diagnosis": "no LLM is configured: set TRADEWIND_ANALYST=llm with TRADEWIND_LLM_BASE_URL and/or "
                         "OPENAI_API_KEY (see README)",
        }, 500)
    status = client.status()
    configured = bool(status.get("keys_configured"))
    try:
        result = await asyncio.to_thread(client.ping)
    except LLMError as exc:
        return _json({
            "client_initialized": True, "api_key_configured": configured, "status": "failed", "error": str(exc),
            "error_type": type(exc).__name__, "diagnosis": exc.kind, "model_used": client.model,
            "base_url": status.get("base_url"),
        }, 500)
    return _json({
        "client_initialized": True, "api_key_configured": configured, "status": "success",
        "test_response": result.text.strip()[:200], "model_used": result.model or client.model,
        "latency_ms": round(result.latency_ms, 1), "base_url": status.get("base_url"),
        "response_format": status.get("response_format"),
    }, 200)


_CHECK = {200: {"description": "The model answered", "content": {"application/json": {"schema": {"type": "object"}}}},
          500: {"description": "The seed's answer when no model is configured or the call failed: status failed, "
                               "error, error_type and a diagnosis",
                "content": {"application/json": {"schema": {
                    "type": "object", "required": ["status", "error", "error_type"],
                    "properties": {"status": {"const": "failed"}, "error": {"type": "string"},
                                   "error_type": {"type": "string"}}}}}}}


@router.get("/debug/gpt4", summary="Live connectivity check of the configured model (the seed's path)",
            responses=_CHECK)
async def debug_gpt4(request: Request) -> Response:
    return await _check(request)


@router.get("/debug/llm", summary="Live connectivity check of the configured model", responses=_CHECK)
async def debug_llm(request: Request) -> Response:
    return await _check(request)
