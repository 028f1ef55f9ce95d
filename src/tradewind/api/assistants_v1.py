"""``/v1`` Assistants API v2: assistants, threads, messages, runs and run steps, as OpenAI served them.

Code written on ``client.beta.assistants`` / ``client.beta.threads`` keeps running by setting the
SDK's ``base_url``. Routes are thin: the owner comes from the bearer key, the services do the
rest. ``POST /v1/threads/runs`` is declared before ``/v1/threads/{thread_id}`` so it is not taken
for a thread id. A streamed run is server-sent events (``event: <name>`` / ``data: <object>``)
ending with ``event: done`` / ``data: [DONE]``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from tradewind.api.deps import ContainerDep
from tradewind.api.error_schemas import openai
from tradewind.api.openai_v1 import Owner, json_body
from tradewind.assistants.chat_request import InvalidRequest
from tradewind.assistants.runs import POLL_AFTER_MS, RunService
from tradewind.domain.errors import NotFound
from tradewind.domain.excerpt import excerpt

__all__ = ["OBJECT_BODY", "Cursor", "Limit", "Order", "SSE", "json_response", "object_body", "off", "router"]

router = APIRouter(prefix="/v1", tags=["assistants"])


Limit = Annotated[int, Query(ge=1, le=100)]
Order = Annotated[str, Query(pattern="^(asc|desc)$", max_length=4)]
Cursor = Annotated[str | None, Query(min_length=1, max_length=64, description="an object id")]


OBJECT_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"type": "object", "description": "the object's fields as OpenAI's API takes them"}}}}}
"""``openapi_extra`` of a route that reads a JSON object and checks its fields itself (``assistants.checks``)."""

SSE: dict[int | str, dict[str, Any]] = {200: {"description": "The object, or with stream=true its events",
                                              "content": {"application/json": {"schema": {"type": "object"}},
                                                          "text/event-stream": {"schema": {"type": "string"}}}}}
"""``responses=`` of a route that answers JSON, or server-sent events when the body asks for a stream."""


def json_response(document: Any, *, poll: bool = False) -> Response:
    headers = {"openai-poll-after-ms": str(POLL_AFTER_MS)} if poll else None
    return Response(orjson.dumps(document), media_type="application/json", headers=headers)


async def object_body(request: Request) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object", field="body")
    return body


def _stream(body: dict[str, Any]) -> bool:
    value = body.get("stream", False)
    if value is not None and not isinstance(value, bool):
        raise InvalidRequest("stream must be true or false", field="stream")
    return bool(value)


async def off(work: Any, *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(work, *args, **kwargs)


# --- assistants ---------------------------------------------------------------------------------------
@router.post("/assistants", openapi_extra=OBJECT_BODY, summary="Create an assistant", response_model=None)
async def create_assistant(request: Request, container: ContainerDep, owner: Owner) -> Response:
    return json_response(await off(container.assistants.create_assistant, owner, await object_body(request)))


@router.get("/assistants", summary="List assistants", response_model=None)
async def list_assistants(container: ContainerDep, owner: Owner, limit: Limit = 20, order: Order = "desc",
                          after: Cursor = None, before: Cursor = None) -> Response:
    return json_response(await off(container.assistants.page, "assistant", owner, limit=limit, order=order, after=after,
                            before=before))


@router.get("/assistants/{assistant_id}", responses=openai(404), summary="Retrieve an assistant", response_model=None)
async def get_assistant(assistant_id: str, container: ContainerDep, owner: Owner) -> Response:
    return json_response(await off(container.assistants.get, "assistant", owner, assistant_id))


@router.post("/assistants/{assistant_id}", responses=openai(404), openapi_extra=OBJECT_BODY,
             summary="Modify an assistant", response_model=None)
async def modify_assistant(assistant_id: str, request: Request, container: ContainerDep, owner: Owner) -> Response:
    return json_response(await off(container.assistants.modify_assistant, owner, assistant_id, await object_body(request)))


@router.delete("/assistants/{assistant_id}", responses=openai(404),
               summary="Delete an assistant (and its runs)", response_model=None)
async def delete_assistant(assistant_id: str, container: ContainerDep, owner: Owner) -> Response:
    return json_response(await off(container.assistants.delete, "assistant", owner, assistant_id))


# --- threads (create-and-run first: /threads/runs is not a thread) ------------------------------------
@router.post("/threads/runs", responses={**SSE}, openapi_extra=OBJECT_BODY,
             summary="Create a thread and run it", response_model=None)
async def create_thread_and_run(request: Request, container: ContainerDep, owner: Owner) -> Response:
    body = await object_body(request)
    stream = _stream(body)
    run = await container.runs.create_thread_and_run(owner, body)
    if stream:
        thread = await off(container.assistants.get, "thread", owner, run["thread_id"])
        return _run_stream(container.runs, owner, run, [("thread.created", thread)])
    container.runs.start(owner, run)
    return json_response(run, poll=True)


@router.post("/threads", openapi_extra=OBJECT_BODY,
             summary="Create a thread (with its first messages)", response_model=None)
async def create_thread(request: Request, container: ContainerDep, owner: Owner) -> Response:
    return json_response(await off(container.assistants.create_thread, owner, await object_body(request)))


@router.get("/threads/{thread_id}", responses=openai(404), summary="Retrieve a thread", response_model=None)
async def get_thread(thread_id: str, container: ContainerDep, owner: Owner) -> Response:
    return json_response(await off(container.assistants.get, "thread", owner, thread_id))


@router.post("/threads/{thread_id}", responses=openai(404), openapi_extra=OBJECT_BODY,
             summary="Modify a thread", response_model=None)
async def modify_thread(thread_id: str, request: Request, container: ContainerDep, owner: Owner) -> Response:
    return json_response(await off(container.assistants.modify_thread, owner, thread_id, await object_body(request)))


@router.delete("/threads/{thread_id}", responses=openai(404),
               summary="Delete a thread (its messages, runs and steps too)",
               response_model=None)
async def delete_thread(thread_id: str, container: ContainerDep, owner: Owner) -> Response:
    return json_response(await off(container.assistants.delete, "thread", owner, thread_id))


# --- messages -----------------------------------------------------------------------------------------
@router.post("/threads/{thread_id}/messages", responses=openai(404), openapi_extra=OBJECT_BODY,
             summary="Add a message to a thread", response_model=None)
async def create_message(thread_id: str, request: Request, container: ContainerDep, owner: Owner) -> Response:
    return json_response(await off(container.assistants.create_message, owner, thread_id, await object_body(request)))


@router.get("/threads/{thread_id}/messages", responses=openai(404),
            summary="List a thread's messages", response_model=None)
async def list_messages(thread_id: str, container: ContainerDep, owner: Owner, limit: Limit = 20,
                        order: Order = "desc", after: Cursor = None, before: Cursor = None,
                        run_id: Cursor = None) -> Response:
    return json_response(await off(container.assistants.list_messages, owner, thread_id, run_id=run_id, limit=limit,
                            order=order, after=after, before=before))


@router.get("/threads/{thread_id}/messages/{message_id}", responses=openai(404),
            summary="Retrieve a message", response_model=None)
async def get_message(thread_id: str, message_id: str, container: ContainerDep, owner: Owner) -> Response:
    return json_response(await off(container.assistants.thread_message, owner, thread_id, message_id))


@router.post("/threads/{thread_id}/messages/{message_id}", responses=openai(404), openapi_extra=OBJECT_BODY,
             summary="Modify a message's metadata", response_model=None)
async def modify_message(thread_id: str, message_id: str, request: Request, container: ContainerDep,
                         owner: Owner) -> Response:
    return json_response(await off(container.assistants.modify_message, owner, thread_id, message_id, await object_body(request)))


@router.delete("/threads/{thread_id}/messages/{message_id}", responses=openai(404),
               summary="Delete a message", response_model=None)
async def delete_message(thread_id: str, message_id: str, container: ContainerDep, owner: Owner) -> Response:
    return json_response(await off(container.assistants.delete_message, owner, thread_id, message_id))


# --- runs ---------------------------------------------------------------------------------------------
@router.post("/threads/{thread_id}/runs", responses={**SSE, **openai(404)}, openapi_extra=OBJECT_BODY,
             summary="Run an assistant on a thread", response_model=None)
async def create_run(thread_id: str, request: Request, container: ContainerDep, owner: Owner) -> Response:
    body = await object_body(request)
    stream = _stream(body)
    run = await container.runs.create(owner, thread_id, body)
    if stream:
        return _run_stream(container.runs, owner, run, [])
    container.runs.start(owner, run)
    return json_response(run, poll=True)


@router.get("/threads/{thread_id}/runs", responses=openai(404), summary="List a thread's runs", response_model=None)
async def list_runs(thread_id: str, container: ContainerDep, owner: Owner, limit: Limit = 20, order: Order = "desc",
                    after: Cursor = None, before: Cursor = None) -> Response:
    return json_response(await container.runs.list(owner, thread_id, limit=limit, order=order, after=after, before=before))


@router.get("/threads/{thread_id}/runs/{run_id}", responses=openai(404), summary="Retrieve a run", response_model=None)
async def get_run(thread_id: str, run_id: str, container: ContainerDep, owner: Owner) -> Response:
    return json_response(await container.runs.retrieve(owner, thread_id, run_id), poll=True)


@router.post("/threads/{thread_id}/runs/{run_id}", responses=openai(404), openapi_extra=OBJECT_BODY,
             summary="Modify a run's metadata", response_model=None)
async def modify_run(thread_id: str, run_id: str, request: Request, container: ContainerDep, owner: Owner) -> Response:
    return json_response(await container.runs.modify(owner, thread_id, run_id, await object_body(request)))


@router.post("/threads/{thread_id}/runs/{run_id}/cancel", responses=openai(404),
             summary="Cancel a run", response_model=None)
async def cancel_run(thread_id: str, run_id: str, container: ContainerDep, owner: Owner) -> Response:
    return json_response(await container.runs.cancel(owner, thread_id, run_id), poll=True)


@router.post("/threads/{thread_id}/runs/{run_id}/submit_tool_outputs", responses={**SSE, **openai(404)},
             openapi_extra=OBJECT_BODY,
             summary="Send the outputs of the run's function calls", response_model=None)
async def submit_tool_outputs(thread_id: str, run_id: str, request: Request, container: ContainerDep,
                              owner: Owner) -> Response:
    body = await object_body(request)
    stream = _stream(body)
    run = await container.runs.submit_tool_outputs(owner, thread_id, run_id, body)
    if stream:
        return _run_stream(container.runs, owner, run, [], created=False)
    container.runs.start(owner, run)
    return json_response(run, poll=True)


@router.get("/threads/{thread_id}/runs/{run_id}/steps", responses=openai(404),
            summary="List a run's steps", response_model=None)
async def list_steps(thread_id: str, run_id: str, container: ContainerDep, owner: Owner, limit: Limit = 20,
                     order: Order = "desc", after: Cursor = None, before: Cursor = None) -> Response:
    await container.runs.retrieve(owner, thread_id, run_id)
    return json_response(await off(container.assistants.page, "run_step", owner, where={"run_id": run_id}, limit=limit,
                            order=order, after=after, before=before))


@router.get("/threads/{thread_id}/runs/{run_id}/steps/{step_id}", responses=openai(404), summary="Retrieve a run step",
            response_model=None)
async def get_step(thread_id: str, run_id: str, step_id: str, container: ContainerDep, owner: Owner) -> Response:
    await container.runs.retrieve(owner, thread_id, run_id)
    step = await off(container.assistants.get, "run_step", owner, step_id)
    if step["run_id"] != run_id:  # another run's step: not found here, like any other
        raise NotFound(f"No run step found with id '{excerpt(step_id)}'.", field="step_id")
    return json_response(step)


def _run_stream(runs: RunService, owner: str, run: dict[str, Any], first: list[tuple[str, Any]], *,
                created: bool = True) -> StreamingResponse:
    queue = runs.subscribe(run["id"])  # before the run starts: no event is missed
    runs.start(owner, run)

    async def events() -> AsyncIterator[bytes]:
        lead = [*first, ("thread.run.created", run)] if created else first
        for name, data in lead:
            yield _event(name, data)
        async for name, data in runs.follow(run["id"], queue):
            yield _event(name, data)
        yield b"event: done\ndata: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _event(name: str, data: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"
