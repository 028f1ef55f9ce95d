"""``RequestRoute``: a documented FastAPI route whose endpoint takes the Request directly.

FastAPI's documented extension point (a custom ``APIRoute`` overriding ``get_route_handler``)
lets the hottest read path skip per-request dependency solving and response validation, which cost
more than the work itself. The route still appears in OpenAPI (parameters via ``openapi_extra``)
and its errors go through the app's exception handlers like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pydantic
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["RequestRoute", "openapi_models", "parse_body", "request_body"]

Model = TypeVar("Model", bound=pydantic.BaseModel)

openapi_models: dict[str, type[pydantic.BaseModel]] = {}
"""Models documented through ``request_body``; ``create_app`` adds them to the OpenAPI components."""


def request_body(model: type[pydantic.BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting ``model`` as the JSON request body of a RequestRoute."""
    openapi_models[model.__name__] = model
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def parse_body(model: type[Model], raw: bytes) -> Model:
    """Parse and validate JSON bytes in one pass (pydantic-core); errors are FastAPI's 422."""
    try:
        return model.model_validate_json(raw)
    except pydantic.ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


class RequestRoute(APIRoute):
    """For endpoints of the form ``async def endpoint(request: Request) -> Response`` only."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return self.endpoint  # type: ignore[return-value]
