"""``GET /metrics`` and the middleware that feeds it and names each request, installed in one call.

Outermost first: ``RequestId`` (so even a 413 or a 429 has an id and its log lines carry it), then
``RequestMetrics`` (so refusals are timed and counted too), then whatever ``create_app`` added before.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client.exposition import choose_encoder

from tradewind.api.metrics import Metrics
from tradewind.api.request_id import RequestId
from tradewind.api.request_metrics import RequestMetrics
from tradewind.bootstrap import Container

__all__ = ["install_observability"]


def install_observability(app: FastAPI, container: Container) -> Metrics:
    """Count this container's events into a registry of the app's own, serve it, add the middleware."""
    metrics = Metrics()
    metrics.watch(bus=container.bus, hub=container.hub, decisions=container.decisions,
                  wall_clock=container.feed.capabilities.wall_clock)
    app.state.metrics = metrics

    async def scrape(request: Request) -> Response:
        """The text format the scraper's Accept asks for (Prometheus' text, or OpenMetrics)."""
        encode, content_type = choose_encoder(request.headers.get("accept", "")[:1024])
        return Response(encode(metrics.registry), headers={"content-type": content_type})

    app.add_api_route(
        "/metrics", scrape, methods=["GET"], tags=["service"], summary="Prometheus metrics of this process",
        response_class=Response,
        responses={200: {"description": "Prometheus text exposition format (OpenMetrics when asked for)",
                         "content": {"text/plain": {"schema": {"type": "string"}},
                                     "application/openmetrics-text": {"schema": {"type": "string"}}}}},
    )
    app.add_middleware(RequestMetrics, metrics=metrics)  # type: ignore[arg-type]
    app.add_middleware(RequestId)  # type: ignore[arg-type]
    return metrics
