"""``RequestRoute``: a documented FastAPI route whose endpoint takes the Request directly.

FastAPI's documented extension point (a custom ``APIRoute`` overriding ``get_route_handler``)
lets the hottest read path skip per-request dependency solving and response validation, which cost
more than the work itself. The route still appears in OpenAPI (parameters via ``openapi_extra``)
and its errors go through the app's exception handlers like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import pydantic
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["RequestRoute", "openapi_models", "request_body"]

openapi_models: dict[str, type[pydantic.BaseModel]] = {}
"""Models documented through ``request_body``; ``create_app`` adds them to the OpenAPI components."""


def request_body(model: type[pydantic.BaseModel], *, required: bool = True) -> dict[str, Any]:
    """``openapi_extra`` documenting ``model`` as the JSON request body of a route that reads it
    itself (a RequestRoute, or any route calling ``read_json``)."""
    openapi_models[model.__name__] = model
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": required, "content": {"application/json": {"schema": schema}}}}


class RequestRoute(APIRoute):
    """For endpoints of the form ``async def endpoint(request: Request) -> Response`` only."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return self.endpoint  # type: ignore[return-value]
