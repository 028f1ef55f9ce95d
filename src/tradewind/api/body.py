"""``read_json``: every JSON request body is read the same way, whatever the route.

JSON is accepted as ``application/json``, any ``+json`` type, ``text/plain`` (what a browser's
``fetch`` sends without a header) or with no content type; anything else (a form, XML...) is 415
naming the header, instead of a confusing validation error. Bodies are parsed straight from bytes
by pydantic-core (which also refuses lone surrogates and nesting deeper than it can handle), and
a large body is parsed in a worker thread so it does not stall the event loop for the others.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

import pydantic
from starlette.requests import Request

from fastapi.exceptions import RequestValidationError

from tradewind.api.errors import UnsupportedMediaType
from tradewind.domain.excerpt import excerpt

__all__ = ["OFFLOAD_BYTES", "parse_body", "read_json"]

Model = TypeVar("Model", bound=pydantic.BaseModel)

OFFLOAD_BYTES = 64 * 1024
"""Bodies above this are parsed off the event loop; below it a thread hop costs more than parsing."""

_JSON_TYPES = frozenset({"", "application/json", "text/plain"})


async def read_json(request: Request, model: type[Model]) -> Model:
    """The request's JSON body as ``model``; 415 for a non-JSON content type, 422/400 naming the field."""
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media not in _JSON_TYPES and not media.endswith("+json"):
        raise UnsupportedMediaType(
            f"content-type must be application/json, got {excerpt(media)}", field="content-type"
        )
    raw = await request.body()
    if len(raw) > OFFLOAD_BYTES:
        return await asyncio.to_thread(parse_body, model, raw)
    return parse_body(model, raw)


def parse_body(model: type[Model], raw: bytes) -> Model:
    """Parse and validate JSON bytes in one pass (pydantic-core); errors go to the 422/400 handler."""
    try:
        return model.model_validate_json(raw)
    except pydantic.ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None
