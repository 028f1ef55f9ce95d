"""``RequestRoute``: a documented FastAPI route whose endpoint takes the Request directly.

FastAPI's documented extension point (a custom ``APIRoute`` overriding ``get_route_handler``)
lets the hottest read path skip per-request dependency solving and response validation, which cost
more than the work itself. The route still appears in OpenAPI (parameters via ``openapi_extra``)
and its errors go through the app's exception handlers like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["RequestRoute"]


class RequestRoute(APIRoute):
    """For endpoints of the form ``async def endpoint(request: Request) -> Response`` only."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return self.endpoint  # type: ignore[return-value]
