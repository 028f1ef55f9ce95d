"""The FastAPI application: built from a container, started and stopped with it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from tradewind import __version__
from tradewind.adapters.api_keys import ApiKeys
from tradewind.api import ai, ai_logs, assistants_v1, debug, files_v1, openai_v1, service_info, streamer, trading, ws
from tradewind.api.access import needed_scope
from tradewind.api.admission import Admission
from tradewind.api.auth import install_auth
from tradewind.api.body_limit import BodyLimit
from tradewind.api.error_schemas import document_auth, document_errors
from tradewind.api.errors import install_error_handlers
from tradewind.api.observability import install_observability
from tradewind.api.rate_limits import install_rate_limits
from tradewind.api.redaction import install_redaction
from tradewind.api.request_route import openapi_models
from tradewind.api.request_timeout import RequestTimeout
from tradewind.bootstrap import Container, build_container
from tradewind.settings import Settings
from tradewind.storage.api_keys import SqlApiKeyStore
from tradewind.web.routes import install_dashboard

__all__ = ["create_app"]


def create_app(container: Container | None = None, *, settings: Settings | None = None) -> FastAPI:
    """Build the app; without a container one is wired from settings (``TRADEWIND_*``)."""
    container = container or build_container(settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = container.engine
        unbridge = ws.bridge(container.bus, container.hub, (lambda: tuple(engine.assets)) if engine else tuple)
        await container.start()
        try:
            yield
        finally:
            await container.stop()
            unbridge()

    app = FastAPI(
        title="tradewind",
        version=__version__,
        description="Multi-timeframe market data, AI trading analysis, paper trading and backtests.",
        lifespan=lifespan,
    )
    app.state.container = container
    app.state.streamer_service = container.streamer_service
    install_error_handlers(app)
    install_rate_limits(app, container.settings)  # inside authentication: it counts the principal
    keys = container.api_keys or ApiKeys(SqlApiKeyStore(container.database))
    install_auth(app, settings=container.settings.auth_settings, keys=keys,
                 cors_origins=container.settings.cors_origins)  # the scope table of api/access.py, CORS outside it
    install_redaction(app, container.settings.secret_values())  # no secret in any body or log line
    app.add_middleware(BodyLimit, max_bytes=container.settings.max_body_bytes)  # before any parsing
    if container.settings.request_timeout_seconds:  # a slow body counts against it too
        app.add_middleware(RequestTimeout, seconds=container.settings.request_timeout_seconds)
    if container.settings.max_connections:  # past it a fast 503 in the path's shape, not a queue
        app.add_middleware(Admission, limit=container.settings.max_connections)  # type: ignore[arg-type]
    install_observability(app, container)  # outermost: request ids, timing and GET /metrics
    app.include_router(service_info.router)
    app.include_router(streamer.router)
    app.include_router(ai.router)
    app.include_router(debug.router)
    app.include_router(ai_logs.router)
    app.include_router(trading.router)
    app.include_router(ws.router)
    app.include_router(openai_v1.router)
    app.include_router(assistants_v1.router)
    app.include_router(files_v1.router)
    install_dashboard(app)
    _document(app, container.settings)
    return app


def _needs_credential(settings: Settings) -> Callable[[str, str], bool]:
    """Whether a route may answer 401/403 (documented so): with authentication on, every route the
    scope table does not make public (a refused credential is 401 even on a public read)."""
    def needs(method: str, path: str) -> bool:
        return settings.auth and needed_scope(method, path) not in ("public", None)

    return needs


def _document(app: FastAPI, settings: Settings) -> None:
    """Complete the generated document: the models of ``RequestRoute`` bodies (added to the
    components they reference), then the error statuses every route shares (``error_schemas``)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, model in openapi_models.items():
            model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for definition, body in model_schema.pop("$defs", {}).items():
                components.setdefault(definition, body)
            components.setdefault(name, model_schema)
        app.openapi_schema = document_auth(document_errors(schema), _needs_credential(settings))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
