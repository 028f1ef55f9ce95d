"""The scope table: what each route needs, for every route of the app in one place.

``method path-template -> public | read | trade | admin``. ``public`` needs nothing, whatever the
settings (health, the API's documents, the dashboard's page and static files, which must load
before anyone can type a key); ``read`` is public too when ``TRADEWIND_PUBLIC_READS`` is on (the
seed's default); ``trade`` and ``admin`` always need a credential holding that scope or a higher
one. Authentication (``api/auth.py``) enforces it; the OpenAPI document can ask ``needed_scope``.

Decisions beyond the issue's list: analysis that only reads the market (``POST /ai/analyze``,
``/ai/market-condition``, ``/ai/strategy-recommendations``, ``/v1/chat/completions``) is ``read``
(a chat tool that would start work runs only for a ``trade`` caller); ``POST /ai/feedback``
changes what the signal statistics say, so it is ``trade``; the debug endpoints show the model
configuration and call it, so they are ``admin``; every ``/v1`` write (assistants, threads,
messages, runs, files, vector stores) is ``trade``, every ``/v1`` read is ``read`` and sees only
the caller's own objects. A route missing from the table is refused (``admin``) and fails the
test that walks the app's routes.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["ACCESS", "Access", "needed_scope"]

Access = Literal["public", "read", "trade", "admin"]

_READ_V1 = ("/v1/models", "/v1/models/{model}", "/v1/assistants", "/v1/assistants/{assistant_id}",
            "/v1/threads/{thread_id}", "/v1/threads/{thread_id}/messages",
            "/v1/threads/{thread_id}/messages/{message_id}", "/v1/threads/{thread_id}/runs",
            "/v1/threads/{thread_id}/runs/{run_id}", "/v1/threads/{thread_id}/runs/{run_id}/steps",
            "/v1/threads/{thread_id}/runs/{run_id}/steps/{step_id}", "/v1/files", "/v1/files/{file_id}",
            "/v1/files/{file_id}/content", "/v1/vector_stores", "/v1/vector_stores/{vector_store_id}")
_WRITE_V1 = ("POST /v1/assistants", "POST /v1/assistants/{assistant_id}", "DELETE /v1/assistants/{assistant_id}",
             "POST /v1/threads/runs", "POST /v1/threads", "POST /v1/threads/{thread_id}",
             "DELETE /v1/threads/{thread_id}", "POST /v1/threads/{thread_id}/messages",
             "POST /v1/threads/{thread_id}/messages/{message_id}",
             "DELETE /v1/threads/{thread_id}/messages/{message_id}", "POST /v1/threads/{thread_id}/runs",
             "POST /v1/threads/{thread_id}/runs/{run_id}", "POST /v1/threads/{thread_id}/runs/{run_id}/cancel",
             "POST /v1/threads/{thread_id}/runs/{run_id}/submit_tool_outputs", "POST /v1/files",
             "DELETE /v1/files/{file_id}", "POST /v1/vector_stores", "POST /v1/vector_stores/{vector_store_id}",
             "DELETE /v1/vector_stores/{vector_store_id}")

ACCESS: dict[str, Access] = {
    # the service itself, its documents and the dashboard's page and files
    "GET /health": "public", "GET /": "public", "GET /openapi.json": "public", "GET /docs": "public",
    "GET /docs/oauth2-redirect": "public", "GET /redoc": "public", "GET /dashboard": "public",
    "GET /dashboard/": "public", "GET /dashboard/static": "public", "GET /metrics": "read",
    # the streamer seed
    "GET /streamer/candles/{symbol:path}/{timeframe}": "read", "GET /streamer/status": "read",
    "GET /streamer/available": "read", "GET /streamer/health": "read",
    # the AI-service seed
    "POST /ai/analyze": "read", "GET /ai/info": "read", "GET /ai/strategies": "read",
    "POST /ai/strategy-recommendations": "read", "POST /ai/market-condition": "read", "POST /ai/feedback": "trade",
    "GET /ai/signals/{signal_id}": "read", "GET /ai/performance": "read", "GET /ai/storage/stats": "read",
    "POST /ai/storage/clear": "admin", "GET /debug/gpt4": "admin", "GET /debug/llm": "admin",
    # the decision log and its exports (secrets masked)
    "GET /api/ai-logs": "read", "GET /api/ai-logs/export/json": "read", "GET /api/ai-logs/export/csv": "read",
    "GET /api/ai-logs/usage": "read",
    # trading: reads, and the controls that change what the bot does
    "GET /api/assets": "read", "GET /api/assets/{symbol}": "read", "GET /api/assets/{symbol}/dashboard": "read",
    "GET /api/assets/{symbol}/chart": "read", "POST /api/assets/{symbol}/pause": "trade",
    "POST /api/assets/{symbol}/resume": "trade", "PATCH /api/assets/{symbol}": "trade",
    "POST /api/assets/{symbol}/close": "trade", "POST /api/assets/{symbol}/enter": "trade",
    "GET /api/trades": "read", "GET /api/positions": "read", "GET /api/performance": "read",
    "GET /api/risk-events": "read", "GET /api/reflections": "read",
    "POST /api/backtests": "trade", "GET /api/backtests": "read", "GET /api/backtests/options": "read",
    "GET /api/backtests/{job_id}": "read",
    # live updates
    "WS /ws": "read",
    # OpenAI's /v1
    "POST /v1/chat/completions": "read",
    **{f"GET {path}": "read" for path in _READ_V1},
    **dict.fromkeys(_WRITE_V1, "trade"),
}
"""``"METHOD /path/template"`` (``WS`` for a WebSocket; a mount's prefix for its files) -> access."""


def needed_scope(method: str, path_template: str) -> Access | None:
    """What a route needs (HEAD as GET), or None when the table has no entry for it."""
    method = method.upper()
    return ACCESS.get(f"{'GET' if method == 'HEAD' else method} {path_template}")
