"""Chat Completions: a model's turns, with tradewind's own tools run here in a loop.

Each round the model sees the conversation and every tool it may call: the built-in trading
tools and the client's own functions. The calls it makes to built-in tools run server-side and
their outputs go back to it; a call to a client's function ends the completion with
``finish_reason: "tool_calls"``, as OpenAI answers, and the client sends the output in its next
request. Streaming runs the same rounds, then sends the answer as chunks (``chunks``).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from tradewind.assistants.builtin_model import ModelTurn, ToolCall, count_tokens
from tradewind.assistants.chat_request import ChatRequest, InvalidRequest
from tradewind.assistants.tools import LOCAL_OWNER, Tool, run_tool
from tradewind.domain.errors import NotFound
from tradewind.domain.excerpt import excerpt

__all__ = ["ChatModel", "ChatService", "Completion", "ModelNotFound", "ToolStep", "message_tokens", "pieces", "respond", "usage_of"]

MAX_ROUNDS = 4  # built-in tool rounds per completion: a model that keeps calling is stopped


class ModelNotFound(NotFound):
    code = "model_not_found"


class ChatModel(Protocol):
    id: str
    remote: bool  # whether ``respond`` waits on the network (then it runs in a worker thread)

    def respond(self, messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]],
                tool_choice: Any = "auto", max_tokens: int | None = None) -> ModelTurn:
        """One turn; ``max_tokens`` caps what it may write (the caller's limit, passed upstream)."""
        ...


@dataclass(frozen=True)
class ToolStep:
    """A built-in tool call made while answering: what was asked and what came back."""

    call_id: str
    name: str
    arguments: str
    output: dict[str, Any]


@dataclass
class Completion:
    id: str
    created: int
    model: str
    content: str | None
    tool_calls: list[ToolCall]
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    steps: list[ToolStep] = field(default_factory=list)

    def message(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.content, "refusal": None}
        if self.tool_calls:
            message["tool_calls"] = [_wire(call) for call in self.tool_calls]
        return message

    def usage(self) -> dict[str, int]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens}

    def document(self) -> dict[str, Any]:
        """The ``chat.completion`` object."""
        return {"id": self.id, "object": "chat.completion", "created": self.created, "model": self.model,
                "choices": [{"index": 0, "message": self.message(), "logprobs": None,
                             "finish_reason": self.finish_reason}],
                "usage": self.usage(), "system_fingerprint": None,
                "tool_steps": [{"id": s.call_id, "name": s.name, "arguments": s.arguments, "output": s.output}
                               for s in self.steps]}


class ChatService:
    def __init__(self, *, models: Mapping[str, ChatModel], tools: Mapping[str, Tool],
                 wall: Callable[[], float] = time.time, created: int | None = None) -> None:
        self.models = dict(models)
        self.tools = dict(tools)
        self.wall = wall
        self.created = int(created if created is not None else wall())  # when these models came to be here

    def model_list(self) -> list[dict[str, Any]]:
        return [self.model_document(name) for name in self.models]

    def model_document(self, name: str) -> dict[str, Any]:
        if name not in self.models:
            raise ModelNotFound(f"The model {excerpt(name)} does not exist", field="model")
        upstream = getattr(self.models[name], "remote", False)
        return {"id": name, "object": "model", "created": self.created, "owned_by": "upstream" if upstream else "tradewind",
                "server_tools": list(self.tools)}  # a function tool of one of these names runs here

    async def complete(self, request: ChatRequest, owner: str = LOCAL_OWNER) -> Completion:
        """The completion; ``owner`` is whose request it is (whose files the tools may read)."""
        model = self._model(request)
        declared = [tool.spec() for tool in self.tools.values()] + list(request.tools)
        messages: list[dict[str, Any]] = list(request.messages)
        prompt = completion = 0
        steps: list[ToolStep] = []
        choice = request.tool_choice
        for _ in range(MAX_ROUNDS):
            turn = await respond(model, messages, declared if choice != "none" else [], choice, request.max_tokens)
            prompt_used, completion_used = usage_of(turn, messages, declared if choice != "none" else [])
            prompt += prompt_used
            completion += completion_used
            if not turn.tool_calls:
                return self._done(request, turn.content or "", [], "stop", prompt, completion, steps)
            server = [c for c in turn.tool_calls if c.name in self.tools]
            client = [c for c in turn.tool_calls if c.name not in self.tools]
            if server:
                messages.append({"role": "assistant", "content": None, "tool_calls": [_wire(c) for c in server]})
                for call in server:
                    output = await run_tool(self.tools[call.name], call.arguments, owner=owner)
                    steps.append(ToolStep(call.id, call.name, call.arguments, output))
                    messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(output)})
            if client:
                return self._done(request, None, client, "tool_calls", prompt, completion, steps)
            choice = "auto"  # a forced call is made once; then the model answers
        text = f"I stopped after {MAX_ROUNDS} rounds of tool calls without an answer."
        return self._done(request, text, [], "stop", prompt, completion + count_tokens(text), steps)

    @staticmethod
    def chunks(request: ChatRequest, done: Completion) -> Iterator[dict[str, Any]]:
        """``done`` as ``chat.completion.chunk`` objects: the role, the content in pieces (or the tool
        calls), the finish reason, and the usage last when asked (``stream_options.include_usage``).
        The tools have run by then, so a stream never starts before an error could be answered."""

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            body: dict[str, Any] = {"id": done.id, "object": "chat.completion.chunk", "created": done.created,
                                    "model": done.model, "system_fingerprint": None,
                                    "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
            if request.include_usage:
                body["usage"] = None
            return body

        yield chunk({"role": "assistant", "content": "", "refusal": None})
        if done.tool_calls:
            for index, call in enumerate(done.tool_calls):
                yield chunk({"tool_calls": [{"index": index, **_wire(call)}]})
        else:
            for piece in pieces(done.content or ""):
                yield chunk({"content": piece})
        yield chunk({}, done.finish_reason)
        if request.include_usage:
            yield {"id": done.id, "object": "chat.completion.chunk", "created": done.created, "model": done.model,
                   "system_fingerprint": None, "choices": [], "usage": done.usage()}

    # --- internals -----------------------------------------------------------------------------------
    def _model(self, request: ChatRequest) -> ChatModel:
        model = self.models.get(request.model)
        if model is None:
            raise InvalidRequest(f"The model {excerpt(request.model)} does not exist; GET /v1/models lists them",
                                 field="model", code="model_not_found")
        clash = next((t["function"]["name"] for t in request.tools if t["function"]["name"] in self.tools), None)
        if clash is not None:
            index = next(i for i, t in enumerate(request.tools) if t["function"]["name"] == clash)
            raise InvalidRequest(f"tools[{index}].function.name {clash} is a built-in tool's name; rename yours",
                                 field=f"tools[{index}].function.name")
        choice = request.tool_choice
        if isinstance(choice, dict):
            name = choice["function"]["name"]
            if name not in self.tools and all(t["function"]["name"] != name for t in request.tools):
                raise InvalidRequest(f"tool_choice names {excerpt(name)}, which is not a declared or built-in tool",
                                     field="tool_choice")
        return model

    def _done(self, request: ChatRequest, content: str | None, calls: list[ToolCall], finish: str,
              prompt: int, completion: int, steps: list[ToolStep]) -> Completion:
        if content is not None and request.max_tokens is not None and count_tokens(content) > request.max_tokens:
            content, finish = _truncate(content, request.max_tokens), "length"
            completion = request.max_tokens
        return Completion("chatcmpl-" + uuid.uuid4().hex[:24], int(self.wall()), request.model, content, calls,
                          finish, prompt, completion, steps)


async def respond(model: ChatModel, messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]],
                  choice: Any, max_tokens: int | None = None) -> ModelTurn:
    """One model turn: a remote model in a worker thread, so the event loop never waits on it."""
    if getattr(model, "remote", False):
        return await asyncio.to_thread(model.respond, messages, tools, choice, max_tokens)
    return model.respond(messages, tools, choice, max_tokens)


def usage_of(turn: ModelTurn, messages: Sequence[Mapping[str, Any]],
             tools: Sequence[Mapping[str, Any]]) -> tuple[int, int]:
    """(prompt, completion) tokens of a turn: the model server's count, else the built-in tokenizer's."""
    prompt = turn.prompt_tokens if turn.prompt_tokens is not None else (
        message_tokens(messages) + (_tokens_of(tools) if tools else 0))
    completion = turn.completion_tokens if turn.completion_tokens is not None else (
        count_tokens(turn.content or "") + sum(count_tokens(c.arguments) + 1 for c in turn.tool_calls))
    return prompt, completion


def _wire(call: ToolCall) -> dict[str, Any]:
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}


def message_tokens(messages: Sequence[Mapping[str, Any]]) -> int:
    total = 0
    for message in messages:
        content = message.get("content")
        text = content if isinstance(content, str) else " ".join(
            p.get("text", "") for p in content or () if isinstance(p, dict))
        total += count_tokens(text) + 3  # the role and the message's delimiters
        for call in message.get("tool_calls") or ():
            total += count_tokens(call["function"]["arguments"]) + 1
    return total


def _tokens_of(tools: Sequence[Mapping[str, Any]]) -> int:
    return count_tokens(json.dumps(tools))


def pieces(text: str) -> list[str]:
    """The answer in word-sized pieces, whitespace kept, so the joined pieces are the text."""
    pieces: list[str] = []
    start = 0
    for index in range(1, len(text) + 1):
        if index == len(text) or (text[index].isspace() and not text[index - 1].isspace()):
            pieces.append(text[start:index])
            start = index
    return [p for p in pieces if p]


def _truncate(text: str, tokens: int) -> str:
    out, seen = [], 0
    for piece in pieces(text):
        seen += count_tokens(piece)
        if seen > tokens:
            break
        out.append(piece)
    return "".join(out)
