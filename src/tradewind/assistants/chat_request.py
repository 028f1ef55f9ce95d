"""A Chat Completions request, checked the way OpenAI checks it: each rule names the parameter.

The body arrives as parsed JSON (any shape); what comes out is a ``ChatRequest`` whose messages,
tools and tool choice the models can read without further checks. Unknown top-level parameters
that clients send (``temperature``, ``top_p``, ``user``, ``seed``...) are accepted and ignored, as
the built-in model has no use for them; an unknown tool type, role or content part is refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tradewind.domain.errors import ValidationError
from tradewind.domain.excerpt import excerpt

__all__ = ["ChatRequest", "InvalidRequest", "MAX_MESSAGES", "function_tool", "parse_chat_request", "tool_choice"]

MAX_MESSAGES = 2048
MAX_CONTENT_CHARS = 200_000
MAX_TOOLS = 128
MAX_SCHEMA_CHARS = 64_000
TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})


class InvalidRequest(ValidationError):
    """OpenAI's ``invalid_request_error`` with its ``code`` where OpenAI gives one."""

    def __init__(self, message: str, *, field: str | None = None, code: str = "invalid_value") -> None:
        super().__init__(message, field=field)
        self.code = code  # type: ignore[misc]


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] = field(default_factory=list)  # the client's own function tools
    tool_choice: Any = "auto"  # "auto" | "none" | "required" | {"type": "function", "function": {"name"}}
    stream: bool = False
    include_usage: bool = False
    max_tokens: int | None = None


def parse_chat_request(body: Any) -> ChatRequest:
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object", field="body")
    model = body.get("model")
    if not isinstance(model, str) or not 0 < len(model) <= 256:
        raise InvalidRequest("model must be a model id (GET /v1/models lists them)", field="model",
                             code="missing_required_parameter" if model is None else "invalid_value")
    messages = _messages(body.get("messages"))
    tools = _tools(body.get("tools"))
    choice = tool_choice(body.get("tool_choice"), tools)
    stream = _flag(body, "stream")
    options = body.get("stream_options")
    if options is not None and (not isinstance(options, dict) or not stream):
        raise InvalidRequest("stream_options is only allowed with stream: true, as an object",
                             field="stream_options")
    include_usage = bool(options and _flag(options, "include_usage", "stream_options.include_usage"))
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
        raise InvalidRequest(f"max_tokens must be an integer >= 1, got {excerpt(max_tokens)}", field="max_tokens")
    n = body.get("n", 1)
    if n != 1:
        raise InvalidRequest("only n = 1 is supported", field="n")
    return ChatRequest(model, messages, tools, choice, stream, include_usage, max_tokens)


def _flag(body: Mapping[str, Any], name: str, path: str | None = None) -> bool:
    value = body.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidRequest(f"{path or name} must be true or false, got {excerpt(value)}", field=path or name)
    return value


def _messages(value: Any) -> list[dict[str, Any]]:
    if value is None:
        raise InvalidRequest("messages is required", field="messages", code="missing_required_parameter")
    if not isinstance(value, list) or not 0 < len(value) <= MAX_MESSAGES:
        raise InvalidRequest(f"messages must be a list of 1 to {MAX_MESSAGES} messages", field="messages")
    out = []
    for index, message in enumerate(value):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise InvalidRequest(f"{where} must be an object", field=where)
        role = message.get("role")
        if not isinstance(role, str) or role not in ROLES:
            raise InvalidRequest(f"{where}.role must be one of {', '.join(sorted(ROLES))}, got {excerpt(role)}",
                                 field=f"{where}.role")
        clean: dict[str, Any] = {"role": role, "content": _content(message.get("content"), f"{where}.content",
                                                                      optional=role == "assistant")}
        if role == "assistant" and message.get("tool_calls") is not None:
            clean["tool_calls"] = _tool_calls(message["tool_calls"], f"{where}.tool_calls")
        elif role == "assistant" and clean["content"] is None:
            raise InvalidRequest(f"{where} needs content or tool_calls", field=f"{where}.content")
        if role == "tool":
            call_id = message.get("tool_call_id")
            if not isinstance(call_id, str) or not 0 < len(call_id) <= 128:
                raise InvalidRequest(f"{where}.tool_call_id must name the call this answers", field=f"{where}.tool_call_id",
                                     code="missing_required_parameter" if call_id is None else "invalid_value")
            clean["tool_call_id"] = call_id
        name = message.get("name")
        if name is not None:
            if not isinstance(name, str) or not TOOL_NAME.fullmatch(name):
                raise InvalidRequest(f"{where}.name must match [A-Za-z0-9_-]{{1,64}}", field=f"{where}.name")
            clean["name"] = name
        out.append(clean)
    answered = {m["tool_call_id"] for m in out if m["role"] == "tool"}
    asked = {c["id"] for m in out for c in m.get("tool_calls", ())}
    unknown = sorted(answered - asked)
    if unknown:
        index = next(i for i, m in enumerate(out) if m.get("tool_call_id") == unknown[0])
        raise InvalidRequest(f"messages[{index}] answers tool call {excerpt(unknown[0])}, which no assistant message "
                             "made", field=f"messages[{index}].tool_call_id")
    return out


def _content(value: Any, where: str, *, optional: bool) -> str | list[dict[str, str]] | None:
    if value is None:
        if optional:
            return None
        raise InvalidRequest(f"{where} is required", field=where, code="missing_required_parameter")
    if isinstance(value, str):
        if len(value) > MAX_CONTENT_CHARS:
            raise InvalidRequest(f"{where} is too long: at most {MAX_CONTENT_CHARS} characters", field=where,
                                 code="string_above_max_length")
        return value
    if isinstance(value, list):
        parts = []
        for index, part in enumerate(value[:1000]):
            at = f"{where}[{index}]"
            if not isinstance(part, dict) or part.get("type") != "text":
                kind = part.get("type") if isinstance(part, dict) else part
                raise InvalidRequest(f"{at}.type must be text (no images or audio here), got {excerpt(kind)}",
                                     field=f"{at}.type")
            text = part.get("text")
            if not isinstance(text, str) or len(text) > MAX_CONTENT_CHARS:
                raise InvalidRequest(f"{at}.text must be a string of at most {MAX_CONTENT_CHARS} characters",
                                     field=f"{at}.text")
            parts.append({"type": "text", "text": text})
        if len(value) > 1000:
            raise InvalidRequest(f"{where} holds more than 1000 parts", field=where)
        return parts
    raise InvalidRequest(f"{where} must be a string or a list of text parts, got {excerpt(value)}", field=where)


def _tool_calls(value: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or len(value) > MAX_TOOLS:
        raise InvalidRequest(f"{where} must be a list of at most {MAX_TOOLS} calls", field=where)
    out = []
    for index, call in enumerate(value):
        at = f"{where}[{index}]"
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(call, dict) or call.get("type", "function") != "function" or not isinstance(function, dict):
            raise InvalidRequest(f"{at} must be {{id, type: function, function: {{name, arguments}}}}", field=at)
        call_id, name, arguments = call.get("id"), function.get("name"), function.get("arguments", "")
        if not isinstance(call_id, str) or not 0 < len(call_id) <= 128:
            raise InvalidRequest(f"{at}.id must be a string", field=f"{at}.id")
        if not isinstance(name, str) or not TOOL_NAME.fullmatch(name):
            raise InvalidRequest(f"{at}.function.name must match [A-Za-z0-9_-]{{1,64}}", field=f"{at}.function.name")
        if not isinstance(arguments, str) or len(arguments) > MAX_CONTENT_CHARS:
            raise InvalidRequest(f"{at}.function.arguments must be a JSON string", field=f"{at}.function.arguments")
        out.append({"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}})
    return out


def _tools(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_TOOLS:
        raise InvalidRequest(f"tools must be a list of at most {MAX_TOOLS} tools", field="tools")
    out, names = [], set()
    for index, tool in enumerate(value):
        at = f"tools[{index}]"
        if not isinstance(tool, dict) or tool.get("type") != "function":
            kind = tool.get("type") if isinstance(tool, dict) else tool
            raise InvalidRequest(f"{at}.type must be function, got {excerpt(kind)}", field=f"{at}.type")
        clean = function_tool(tool, at)
        name = clean["name"]
        if name in names:
            raise InvalidRequest(f"{at}.function.name {name} is declared twice", field=f"{at}.function.name")
        names.add(name)
        out.append({"type": "function", "function": clean})
    return out


def function_tool(tool: Mapping[str, Any], at: str) -> dict[str, Any]:
    """A ``{"type": "function", "function": {...}}`` tool's function, checked: name, description, schema."""
    function = tool.get("function")
    if not isinstance(function, dict):
        raise InvalidRequest(f"{at}.function must be an object with a name", field=f"{at}.function")
    name = function.get("name")
    if not isinstance(name, str) or not TOOL_NAME.fullmatch(name):
        raise InvalidRequest(f"{at}.function.name must match [A-Za-z0-9_-]{{1,64}}, got {excerpt(name)}",
                             field=f"{at}.function.name")
    description = function.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 4096):
        raise InvalidRequest(f"{at}.function.description must be a string of at most 4096 characters",
                             field=f"{at}.function.description")
    parameters = function.get("parameters", {"type": "object", "properties": {}})
    if not isinstance(parameters, dict) or parameters.get("type", "object") != "object":
        raise InvalidRequest(f"{at}.function.parameters must be a JSON schema of type object",
                             field=f"{at}.function.parameters")
    if len(json.dumps(parameters)) > MAX_SCHEMA_CHARS:
        raise InvalidRequest(f"{at}.function.parameters is larger than {MAX_SCHEMA_CHARS} characters",
                             field=f"{at}.function.parameters")
    for key in ("properties", "required"):
        if key in parameters and not isinstance(parameters[key], dict if key == "properties" else list):
            raise InvalidRequest(f"{at}.function.parameters.{key} is malformed", field=f"{at}.function.parameters.{key}")
    return {"name": name, "parameters": parameters, **({"description": description} if description else {})}


def tool_choice(value: Any, tools: list[dict[str, Any]]) -> Any:
    if value is None:
        return "auto"
    if value in ("auto", "none", "required"):
        return value
    if isinstance(value, dict) and value.get("type") == "function" and isinstance(value.get("function"), dict):
        name = value["function"].get("name")
        if isinstance(name, str) and TOOL_NAME.fullmatch(name):
            return {"type": "function", "function": {"name": name}}
    raise InvalidRequest('tool_choice must be "auto", "none", "required" or {"type": "function", "function": '
                         '{"name": ...}}', field="tool_choice")
