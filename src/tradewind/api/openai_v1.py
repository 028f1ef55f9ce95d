"""``/v1``: OpenAI's Models and Chat Completions, so OpenAI clients and chat front ends (Open WebUI,
LibreChat) talk to tradewind by setting ``base_url``. Errors come in OpenAI's envelope.

Thin: the body is parsed here, checked by ``assistants.chat_request`` and answered by the chat
service; a streamed answer is server-sent events ending with ``data: [DONE]``.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import Response, StreamingResponse

from tradewind.api.auth import owner_id
from tradewind.api.body import OFFLOAD_BYTES
from tradewind.api.deps import ContainerDep
from tradewind.api.error_schemas import openai
from tradewind.api.errors import UnsupportedMediaType
from tradewind.api.principal import principal_of
from tradewind.assistants.chat_request import InvalidRequest, parse_chat_request
from tradewind.assistants.tools import LOCAL_OWNER
from tradewind.domain.excerpt import excerpt

__all__ = ["Owner", "caller_owner", "json_body", "owner_of", "router"]

router = APIRouter(prefix="/v1", tags=["openai"])

_JSON_TYPES = frozenset({"", "application/json", "text/plain"})


async def owner_of(authorization: Annotated[str | None, Header(max_length=4096)] = None) -> str:
    """With authentication off: a digest of the request's bearer string (never stored itself), or
    the one local owner (no one's objects, which anonymous callers see) without one."""
    if not authorization:
        return LOCAL_OWNER
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return LOCAL_OWNER
    return hashlib.sha256(key.strip().encode()).hexdigest()[:32]


async def caller_owner(request: Request, authorization: Annotated[str | None, Header(max_length=4096)] = None) -> str:
    """Whose objects a request sees: the authenticated principal's (``api/auth.py``), else ``owner_of``."""
    principal = principal_of(request.scope)
    if principal is not None and principal.kind != "anonymous":
        return owner_id(principal)
    return await owner_of(authorization)


Owner = Annotated[str, Depends(caller_owner)]

_CHAT_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["model", "messages"],
    "description": "OpenAI's chat completion request; every field is checked by assistants.chat_request",
    "properties": {"model": {"type": "string"}, "messages": {"type": "array", "items": {"type": "object"}}}}}}}}


@router.get("/models", summary="The models: tradewind-analyst (built in) and the configured upstream ones")
async def models(container: ContainerDep) -> dict[str, Any]:
    return {"object": "list", "data": container.chat.model_list()}


@router.get("/models/{model}", summary="One model", responses=openai(404))
async def model(container: ContainerDep, model: str = Path(max_length=256)) -> dict[str, Any]:
    return container.chat.model_document(model)


@router.post("/chat/completions", summary="A chat completion, plain or streamed, with the trading tools run here",
             response_model=None, openapi_extra=_CHAT_BODY,
             responses={200: {"description": "The completion, or with stream=true its chunks",
                              "content": {"application/json": {"schema": {"type": "object"}},
                                          "text/event-stream": {"schema": {"type": "string"}}}},
                        **openai(404, 503)})
async def chat_completions(request: Request, container: ContainerDep, owner: Owner) -> Response:
    chat = container.chat
    parsed = parse_chat_request(await json_body(request))
    done = await chat.complete(parsed, owner)
    if not parsed.stream:
        return Response(orjson.dumps(done.document()), media_type="application/json")
    return StreamingResponse(_events(chat.chunks(parsed, done)), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _events(chunks: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    for chunk in chunks:
        yield b"data: " + orjson.dumps(chunk) + b"\n\n"
    yield b"data: [DONE]\n\n"


async def json_body(request: Request) -> Any:
    """The JSON body, any shape (the service checks it); 415 for another media type, 400 for bad JSON."""
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media not in _JSON_TYPES and not media.endswith("+json"):
        raise UnsupportedMediaType(f"content-type must be application/json, got {excerpt(media)}",
                                   field="content-type")
    raw = await request.body()
    try:
        return await asyncio.to_thread(orjson.loads, raw) if len(raw) > OFFLOAD_BYTES else orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"the body is not valid JSON: {excerpt(str(exc))}", field="body",
                             code="invalid_json") from None
