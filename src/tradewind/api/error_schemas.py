"""The error bodies in the OpenAPI document, and the statuses every route shares, in one place.

Routes name the statuses only they can answer (``responses=rest(404, 503)``); ``document_errors``
then adds what follows from the path and the middleware, so the document cannot drift from the
code: the path's error shape on every 4xx (``/streamer`` has the streamer seed's, ``/v1`` OpenAI's
envelope, the rest the AI seed's), 400 (and 422 outside ``/v1`` and ``/streamer``) wherever a
parameter or body is validated, 413 and 415 wherever a body is read (``BodyLimit``, ``read_json``),
429 with ``Retry-After`` and ``x-ratelimit-*`` on every route (the rate limiter), 503 with
``Retry-After`` on every route (``Admission`` past capacity, ``RequestTimeout`` when no answer began
in time), and 401/403 where ``document_auth`` is told a credential is needed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DESCRIPTIONS",
    "OpenAIError",
    "OpenAIErrorDetail",
    "RestError",
    "StreamerError",
    "document_auth",
    "document_errors",
    "openai",
    "rest",
    "streamer",
]


class RestError(BaseModel):
    """The AI-service seed's error body, with the field at fault added."""

    model_config = ConfigDict(title="RestError")
    detail: str = Field(description="what is wrong, quoting at most an excerpt of the input")
    error_code: str = Field(description="stable machine-readable code, e.g. VALIDATION_ERROR, NOT_FOUND")
    field: str | None = Field(None, description="the parameter or body field at fault, when there is one")


class StreamerError(BaseModel):
    """The streamer seed's error body, with the field at fault added."""

    model_config = ConfigDict(title="StreamerError")
    success: Literal[False]
    error: str = Field(description="what is wrong, quoting at most an excerpt of the input")
    error_code: str = Field(description="stable machine-readable code, e.g. INVALID_TIMEFRAME, SYMBOL_NOT_FOUND")
    field: str | None = Field(None, description="the parameter at fault, when there is one")


class OpenAIErrorDetail(BaseModel):
    model_config = ConfigDict(title="OpenAIErrorDetail")
    message: str
    type: str = Field(description="invalid_request_error, authentication_error, rate_limit_error, server_error...")
    param: str | None = Field(description="the parameter at fault, when there is one")
    code: str | None


class OpenAIError(BaseModel):
    """OpenAI's error envelope, which its SDK parses into ``openai.APIError``."""

    model_config = ConfigDict(title="OpenAIError")
    error: OpenAIErrorDetail


class _RestRateLimited(BaseModel):
    """The seed's 429 body: only ``detail`` is promised."""

    model_config = ConfigDict(title="RateLimited")
    detail: str
    error_code: str | None = None


class _StreamerRateLimited(BaseModel):
    model_config = ConfigDict(title="StreamerRateLimited")
    success: Literal[False]
    error: str
    error_code: str | None = None


DESCRIPTIONS = {
    400: "Invalid value: the body names the field and the reason",
    401: "Missing or invalid credential",
    403: "The credential lacks the scope this route needs",
    404: "No such object",
    409: "Conflicts with the object's state",
    413: "Request body larger than TRADEWIND_MAX_BODY_BYTES",
    415: "Unsupported content type",
    422: "The body does not match the schema's JSON types and shapes",
    429: "Rate limit exceeded: retry after Retry-After seconds",
    500: "The check itself failed",
    503: "Not available here now: at capacity, no answer begun in time, or a part not running; retry later",
}

_Shape = type[BaseModel]


def _responses(model: _Shape, statuses: tuple[int, ...]) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": model, "description": DESCRIPTIONS.get(status, "Error")} for status in statuses}


def rest(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a REST route: the AI seed's ``{detail, error_code, field}``."""
    return _responses(RestError, statuses)


def streamer(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a ``/streamer`` route: ``{success: false, error, error_code, field}``."""
    return _responses(StreamerError, statuses)


def openai(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a ``/v1`` route: OpenAI's ``{"error": {...}}``."""
    return _responses(OpenAIError, statuses)


_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_RETRY_HEADER = {"Retry-After": {"description": "seconds to wait before retrying (when the server is busy)",
                                "schema": {"type": "integer", "minimum": 0}}}

_RATE_HEADERS = {
    "Retry-After": {"description": "seconds to wait before retrying", "required": True,
                    "schema": {"type": "integer", "minimum": 0}},
    "X-RateLimit-Limit": {"description": "requests allowed in the window", "schema": {"type": "integer"}},
    "X-RateLimit-Remaining": {"description": "requests left in the window", "schema": {"type": "integer"}},
    "X-RateLimit-Reset": {"description": "seconds until the window resets", "schema": {"type": "integer"}},
}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _shape(path: str) -> tuple[str, str]:
    """The error model and the 429 model of a path, by the seed that owns it."""
    if path == "/v1" or path.startswith("/v1/"):
        return "OpenAIError", "OpenAIError"
    if path.startswith("/streamer"):
        return "StreamerError", "StreamerRateLimited"
    return "RestError", "RateLimited"


def _json(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, operation) for path, item in schema.get("paths", {}).items()
            for method, operation in item.items() if method in _METHODS]


def _add_components(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (RestError, StreamerError, OpenAIError, _RestRateLimited, _StreamerRateLimited):
        body = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in body.pop("$defs", {}).items():
            components.setdefault(name, definition)
        components.setdefault(str(body["title"]), body)


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the statuses that follow from a path and its middleware to every operation (in place)."""
    _add_components(schema)
    for _method, path, operation in _operations(schema):
        error, limited = _shape(path)
        responses = operation.setdefault("responses", {})
        validated = bool(operation.get("parameters")) or "requestBody" in operation
        if "422" in responses and _is_default_validation(responses["422"]):
            del responses["422"]
        if validated:
            responses.setdefault("400", _json(error, DESCRIPTIONS[400]))
            if error == "RestError":
                responses.setdefault("422", _json(error, DESCRIPTIONS[422]))
        if "requestBody" in operation:
            responses.setdefault("413", _json(error, DESCRIPTIONS[413]))
            responses.setdefault("415", _json(error, DESCRIPTIONS[415]))
        responses["429"] = {**_json(limited, DESCRIPTIONS[429]), "headers": _RATE_HEADERS}
        responses.setdefault("503", {**_json(error, DESCRIPTIONS[503]), "headers": _RETRY_HEADER})
        operation["responses"] = dict(sorted(responses.items()))
    components = schema.get("components", {}).get("schemas", {})
    if not _references(schema, "HTTPValidationError"):
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
    return schema


def document_auth(schema: dict[str, Any], needs_credential: Callable[[str, str], bool]) -> dict[str, Any]:
    """401 and 403 on each operation for which ``needs_credential(METHOD, path)`` is true (in place)."""
    for method, path, operation in _operations(schema):
        if not needs_credential(method.upper(), path):
            continue
        error, _ = _shape(path)
        responses = operation.setdefault("responses", {})
        responses.setdefault("401", _json(error, DESCRIPTIONS[401]))
        responses.setdefault("403", _json(error, DESCRIPTIONS[403]))
        operation["responses"] = dict(sorted(responses.items()))
    return schema


def _is_default_validation(response: dict[str, Any]) -> bool:
    """FastAPI's own 422 (``HTTPValidationError``), which no route here answers."""
    content = response.get("content", {}).get("application/json", {})
    return content.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError")


def _references(node: Any, name: str) -> bool:
    if isinstance(node, dict):
        if node.get("$ref", "").endswith(f"/{name}"):
            return True
        return any(_references(value, name) for key, value in node.items() if key != "components")
    if isinstance(node, list):
        return any(_references(value, name) for value in node)
    return False
