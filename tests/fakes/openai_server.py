"""A fake OpenAI-compatible server: the chat-completions wire protocol on 127.0.0.1, scriptable.

``POST /v1/chat/completions`` answers in the exact ``chat.completion`` shape with the content a
``handler(request_json) -> str`` returns (or a whole message: a dict with ``content`` and ``tool_calls``); ``GET /v1/models`` lists the one model. Every request is
recorded (path, headers, JSON body, the Bearer key) for assertions.

Failures are scripted for the next ``count`` chat requests, for every key or only one::

    server.fail_next("429", 2, key="sk-a", retry_after=30)      # sk-a limited twice
    server.fail_next("429", None, reset_requests="6m0s")         # every key, until clear()
    server.reject_formats = {"json_schema"}                      # like an older vLLM or llama.cpp

Kinds: see ``FAILURE_KINDS``. ``reject_formats`` answers a 400 (or 422) in the dialect of the
server named by ``reject_style``; ``reject_params`` emulates OpenAI reasoning models that refuse
``temperature`` or ``max_tokens``; ``valid_keys`` makes every other key a 401.

Tokens follow one rule (``count_tokens``: a token per four characters of the rendered chat
template), so usage is consistent with what ``tokenizer=True`` serves at llama.cpp's
``POST /apply-template`` and ``POST /tokenize`` (without it those paths are 404, as on OpenAI).
Like a real server, an answer longer than ``max_tokens`` is cut there with ``finish_reason: length``.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from . import LoopbackServer, Reply

__all__ = ["FAILURE_KINDS", "ChatHandler", "FakeOpenAI", "RecordedRequest", "count_tokens", "default_handler",
           "render_template"]

CHARS_PER_TOKEN = 4


def count_tokens(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)


def render_template(messages: list[Any]) -> str:
    """A chat template in the manner of llama.cpp's: each message between role markers."""
    return "".join(f"<|im_start|>{m.get('role')}\n{m.get('content')}<|im_end|>\n" for m in messages if isinstance(m, dict))

FAILURE_KINDS = (
    "429",  # rate limited; headers from retry_after / reset_requests / reset_tokens
    "insufficient_quota",  # OpenAI's 429 for a key out of credit
    "401",
    "403",
    "500",
    "502",  # with an HTML body, as a proxy in front of the model server sends
    "503",
    "slow",  # a good answer after ``slow_seconds``
    "truncated",  # a 200 whose JSON body is cut in half
    "html",  # a 200 with an HTML page
    "wrong_schema",  # valid chat.completion whose content is JSON of another shape
    "no_usage",  # valid chat.completion without ``usage`` (several local servers)
    "no_content",  # valid chat.completion whose message content is null
)

ChatHandler = Callable[[dict[str, Any]], str]

_FORMAT_REJECTIONS: dict[str, tuple[int, dict[str, Any]]] = {
    # llama.cpp server before json_schema support
    "llamacpp": (400, {"error": {"code": 400, "type": "invalid_request_error",
                                  "message": 'response_format type must be one of "text" or "json_object", but got: {fmt}'}}),
    # vLLM answers errors with a top-level ErrorResponse
    "vllm": (400, {"object": "error", "type": "BadRequestError", "param": None, "code": 400,
                   "message": "1 validation error for ChatCompletionRequest\nresponse_format.type\n"
                              "  Input should be 'text' or 'json_object' [type=literal_error, input_value='{fmt}']"}),
    "ollama": (400, {"error": {"message": "invalid response_format type: {fmt}", "type": "invalid_request_error",
                               "param": None, "code": None}}),
    # a FastAPI-based proxy validating the body
    "fastapi422": (422, {"detail": [{"loc": ["body", "response_format", "type"], "type": "literal_error",
                                     "msg": "Input should be 'text'", "input": "{fmt}"}]}),
}


def default_handler(request: dict[str, Any]) -> str:
    """JSON for a JSON response_format, else the ``SUCCESS`` a ping expects."""
    if request.get("response_format", {}).get("type") in ("json_schema", "json_object"):
        return json.dumps({"signal": "Neutral", "confidence": 0.5, "reasoning": "fake"})
    return "SUCCESS"


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    json: dict[str, Any] | None
    key: str | None  # the Bearer token
    failure: str | None  # the scripted failure it got, if any
    time: float  # time.monotonic() on arrival


@dataclass(slots=True)
class _Script:
    kind: str
    remaining: int | None  # None: until clear()
    key: str | None
    headers: dict[str, str] = field(default_factory=dict)


class FakeOpenAI(LoopbackServer):
    """An OpenAI-compatible chat server in a background thread; ``base_url`` ends in ``/v1``."""

    def __init__(self, handler: ChatHandler = default_handler, *, model: str = "fake-gpt-4o-mini",
                 slow_seconds: float = 1.0, tokenizer: bool = False) -> None:
        self.handler = handler
        self.model = model
        self.slow_seconds = slow_seconds
        self.tokenizer = tokenizer
        self.requests: list[RecordedRequest] = []
        self.valid_keys: set[str] | None = None
        self.reject_formats: set[str] = set()
        self.reject_style = "llamacpp"
        self.reject_params: set[str] = set()
        self._scripts: list[_Script] = []
        self._lock = threading.Lock()

    # --- lifecycle -----------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def start(self) -> FakeOpenAI:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else each header line waits on a delayed ACK (~40 ms)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                server._serve(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                server._serve(self, "POST")

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self._listen(Handler)
        return self

    # --- scripting -----------------------------------------------------------------------------
    def fail_next(self, kind: str, count: int | None = 1, *, key: str | None = None, retry_after: str | float | None = None,
                  reset_requests: str | None = None, reset_tokens: str | None = None) -> None:
        """The next ``count`` chat requests (with ``key``, or any) fail as ``kind``; ``None``: all of them."""
        if kind not in FAILURE_KINDS:
            raise ValueError(f"unknown failure kind {kind!r}")
        headers: dict[str, str] = {}
        if retry_after is not None:
            headers["Retry-After"] = retry_after if isinstance(retry_after, str) else f"{retry_after:g}"
        if reset_requests is not None:
            headers |= {"x-ratelimit-limit-requests": "3", "x-ratelimit-remaining-requests": "0",
                        "x-ratelimit-reset-requests": reset_requests}
        if reset_tokens is not None:
            headers |= {"x-ratelimit-limit-tokens": "40000", "x-ratelimit-remaining-tokens": "0",
                        "x-ratelimit-reset-tokens": reset_tokens}
        with self._lock:
            self._scripts.append(_Script(kind, count, key, headers))

    def clear(self) -> None:
        """Drop every scripted failure."""
        with self._lock:
            self._scripts.clear()

    def chat_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def keys(self) -> list[str | None]:
        """The Bearer key of each chat request, in order."""
        return [r.key for r in self.chat_requests()]

    def _take(self, key: str | None) -> _Script | None:
        with self._lock:
            for script in self._scripts:
                if (script.remaining is None or script.remaining > 0) and script.key in (None, key):
                    if script.remaining is not None:
                        script.remaining -= 1
                    return script
        return None

    # --- serving -------------------------------------------------------------------------------
    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        path = handler.path.split("?", 1)[0]
        headers = dict(handler.headers.items())
        auth = handler.headers.get("Authorization", "")
        key = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else None
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        chat = method == "POST" and path.rstrip("/").endswith("/v1/chat/completions")
        script = self._take(key) if chat else None
        with self._lock:
            self.requests.append(RecordedRequest(method, path, headers, body, key, script and script.kind, time.monotonic()))
        if chat:
            status, payload, extra = self._chat(body, key, script)
        elif method == "GET" and path.rstrip("/").endswith("/v1/models"):
            status, payload, extra = 200, self._json(self._models()), {}
        elif self.tokenizer and method == "POST" and path in ("/apply-template", "/tokenize"):
            status, payload, extra = 200, self._json(self._tokenizer(path, body)), {}
        else:
            status, payload, extra = 404, self._json(_error(f"Unknown path {path}", "invalid_request_error", "unknown_url")), {}
        content_type = extra.pop("Content-Type", "application/json")
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(payload)))
            for name, value in extra.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(payload)
        except OSError:  # the client gave up (timeout) and closed the socket
            pass

    def _chat(self, body: Any, key: str | None, script: _Script | None) -> tuple[int, bytes, dict[str, str]]:
        kind = script.kind if script else None
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return self._reply(Reply(400, _error("'messages' is a required property", "invalid_request_error")))
        if self.valid_keys is not None and key not in self.valid_keys:
            kind = "401"
        if kind in ("429", "insufficient_quota", "401", "403", "500", "502", "503"):
            return self._failure(kind, key, script)
        rejected = self._rejection(body)
        if rejected is not None:
            return self._reply(rejected)
        if kind == "slow":
            time.sleep(self.slow_seconds)
        if kind == "html":
            return 200, b"<html><body><h1>Welcome to nginx!</h1></body></html>", {"Content-Type": "text/html"}
        if kind == "wrong_schema":
            content: str | None = json.dumps({"unexpected": "shape", "items": [1, 2, 3]})
        elif kind == "no_content":
            content = None
        else:
            content = self.handler(body)
        tool_calls = None
        if isinstance(content, dict):  # a whole message: content and tool_calls (function calling)
            content, tool_calls = content.get("content"), content.get("tool_calls")
        answer = self._completion(body, content, usage=kind != "no_usage", tool_calls=tool_calls)
        payload = self._json(answer)
        if kind == "truncated":
            payload = payload[: len(payload) // 2]
        return 200, payload, {"x-request-id": f"req_{uuid.uuid4().hex[:16]}"}

    def _failure(self, kind: str, key: str | None, script: _Script | None) -> tuple[int, bytes, dict[str, str]]:
        headers = dict(script.headers) if script else {}
        if kind == "429":
            return self._reply(Reply(429, _error(
                f"Rate limit reached for {self.model} in organization org-fake on requests per min (RPM): "
                "Limit 3, Used 3, Requested 1.", "requests", "rate_limit_exceeded"), headers))
        if kind == "insufficient_quota":
            return self._reply(Reply(429, _error(
                "You exceeded your current quota, please check your plan and billing details.",
                "insufficient_quota", "insufficient_quota"), headers))
        if kind == "401":
            shown = f"{key[:3]}***{key[-2:]}" if key and len(key) > 6 else "***"
            return self._reply(Reply(401, _error(f"Incorrect API key provided: {shown}.", "invalid_request_error",
                                                 "invalid_api_key")))
        if kind == "403":
            return self._reply(Reply(403, _error("Project does not have access to this model.",
                                                 "invalid_request_error", "model_not_found")))
        if kind == "502":
            page = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
            return 502, page, {"Content-Type": "text/html"}
        return self._reply(Reply(int(kind), _error("The server had an error while processing your request.",
                                                   "server_error", None), headers))

    def _rejection(self, body: dict[str, Any]) -> Reply | None:
        fmt = (body.get("response_format") or {}).get("type")
        if fmt in self.reject_formats:
            status, template = _FORMAT_REJECTIONS[self.reject_style]
            return Reply(status, json.loads(json.dumps(template).replace("{fmt}", str(fmt))))
        if "temperature" in self.reject_params and body.get("temperature") not in (None, 1, 1.0):
            return Reply(400, _error(f"Unsupported value: 'temperature' does not support {body['temperature']} with "
                                     "this model. Only the default (1) value is supported.", "invalid_request_error",
                                     "unsupported_value", "temperature"))
        if "max_tokens" in self.reject_params and "max_tokens" in body:
            return Reply(400, _error("Unsupported parameter: 'max_tokens' is not supported with this model. "
                                     "Use 'max_completion_tokens' instead.", "invalid_request_error",
                                     "unsupported_parameter", "max_tokens"))
        return None

    def _tokenizer(self, path: str, body: Any) -> dict[str, Any]:
        if path == "/apply-template":
            return {"prompt": render_template((body or {}).get("messages") or [])}
        return {"tokens": list(range(count_tokens(str((body or {}).get("content", "")))))}

    def _completion(self, body: dict[str, Any], content: str | None, *, usage: bool,
                    tool_calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        prompt = count_tokens(render_template(body["messages"]))
        finish = "stop"
        cap = body.get("max_tokens") or body.get("max_completion_tokens")
        if content is not None and isinstance(cap, int) and count_tokens(content) > cap:
            content, finish = content[: cap * CHARS_PER_TOKEN], "length"
        completion = count_tokens(content or "") + sum(count_tokens(json.dumps(c)) for c in tool_calls or ())
        answer: dict[str, Any] = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "system_fingerprint": "fp_fake",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": None,
                "finish_reason": finish,
            }],
        }
        if tool_calls:
            answer["choices"][0]["message"]["tool_calls"] = tool_calls
            answer["choices"][0]["finish_reason"] = "tool_calls"
        if usage:
            answer["usage"] = {"prompt_tokens": prompt, "completion_tokens": completion,
                               "total_tokens": prompt + completion}
        return answer

    def _models(self) -> dict[str, Any]:
        return {"object": "list", "data": [{"id": self.model, "object": "model", "created": 1721172741,
                                            "owned_by": "tradewind-tests"}]}

    def _reply(self, reply: Reply) -> tuple[int, bytes, dict[str, str]]:
        return reply.status, self._json(reply.body), dict(reply.headers)

    @staticmethod
    def _json(body: object) -> bytes:
        return json.dumps(body, separators=(",", ":")).encode()


def _error(message: str, type_: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    """OpenAI's error body."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}
