"""The Chat Completions loop with a scripted model: server-side rounds, tool errors handed back to
the model, client calls ending the completion, the round cap, and max_tokens."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from tradewind.assistants.builtin_model import ModelTurn, ToolCall
from tradewind.assistants.chat import MAX_ROUNDS, ChatService
from tradewind.assistants.chat_request import parse_chat_request
from tradewind.assistants.tools import Tool, ToolArgumentError


class Scripted:
    """Plays back turns in order and records what it was shown each round."""

    id = "scripted"

    def __init__(self, *turns: ModelTurn) -> None:
        self.turns = list(turns)
        self.seen: list[list[Mapping[str, Any]]] = []

    def respond(self, messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]],
                tool_choice: Any = "auto", max_tokens: int | None = None) -> ModelTurn:
        self.seen.append(list(messages))
        return self.turns.pop(0) if self.turns else ModelTurn(None, [ToolCall("call_again", "double", '{"x": 1}')])


async def _double(args: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(args.get("x"), (int, float)):
        raise ToolArgumentError("x must be a number", field="x")
    return {"y": 2 * args["x"]}


DOUBLE = Tool("double", "Twice x", {"type": "object", "properties": {"x": {"type": "number"}}}, _double)


def run(model: Scripted, body: dict[str, Any]) -> Any:
    service = ChatService(models={"scripted": model}, tools={"double": DOUBLE}, wall=lambda: 1_700_000_000.0)
    request = parse_chat_request({"model": "scripted", "messages": [{"role": "user", "content": "go"}], **body})
    return asyncio.run(service.complete(request))


def test_server_side_calls_run_and_their_outputs_go_back_to_the_model() -> None:
    model = Scripted(ModelTurn(None, [ToolCall("c1", "double", '{"x": 21}')]), ModelTurn("42"))
    done = run(model, {})
    assert (done.content, done.finish_reason) == ("42", "stop")
    assert [s.output for s in done.steps] == [{"result": {"y": 42}}]
    tool_message = model.seen[1][-1]
    assert tool_message["role"] == "tool" and json.loads(tool_message["content"]) == {"result": {"y": 42}}


@pytest.mark.parametrize(("arguments", "error"), [
    ('{"x": "many"}', "x must be a number"),
    ("{not json", "arguments are not JSON"),
    ("[1, 2]", "arguments must be a JSON object"),
])
def test_a_bad_call_is_answered_to_the_model_not_to_the_client(arguments: str, error: str) -> None:
    model = Scripted(ModelTurn(None, [ToolCall("c1", "double", arguments)]), ModelTurn("sorry"))
    done = run(model, {})
    assert done.finish_reason == "stop"
    assert error in done.steps[0].output["error"]


def test_a_client_call_ends_the_completion_after_the_server_calls() -> None:
    turn = ModelTurn(None, [ToolCall("c1", "double", '{"x": 1}'), ToolCall("c2", "lookup", '{"q": "a"}')])
    lookup = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    done = run(Scripted(turn), {"tools": [lookup]})
    assert done.finish_reason == "tool_calls"
    assert [c.name for c in done.tool_calls] == ["lookup"] and [s.name for s in done.steps] == ["double"]
    assert done.document()["choices"][0]["message"]["tool_calls"][0]["id"] == "c2"


def test_a_model_that_keeps_calling_is_stopped() -> None:
    done = run(Scripted(), {})
    assert len(done.steps) == MAX_ROUNDS and done.finish_reason == "stop"
    assert "stopped after" in done.content


def test_max_tokens_cuts_the_answer() -> None:
    done = run(Scripted(ModelTurn("one two three four five")), {"max_tokens": 2})
    assert (done.content, done.finish_reason, done.completion_tokens) == ("one two", "length", 2)


def test_usage_adds_up_and_chunks_rebuild_the_answer() -> None:
    model = Scripted(ModelTurn("an answer,  with   spaces"))
    service = ChatService(models={"scripted": model}, tools={}, wall=lambda: 0.0)
    request = parse_chat_request({"model": "scripted", "stream": True, "stream_options": {"include_usage": True},
                                  "messages": [{"role": "user", "content": "go"}]})
    done = asyncio.run(service.complete(request))
    chunks = list(service.chunks(request, done))
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == done.content
    assert chunks[-1]["usage"] == done.usage() and done.usage()["total_tokens"] == done.prompt_tokens + done.completion_tokens
