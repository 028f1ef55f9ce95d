"""``ChatClient`` over the official ``openai`` SDK, for any OpenAI-compatible server.

OpenAI, vLLM, llama.cpp server, LM Studio and Ollama differ only in ``base_url``, ``model`` and keys.
The SDK does the HTTP and auth; this module owns what the SDK cannot know about us:

* a key pool (``OPENAI_API_KEY`` then ``OPENAI_BACKUP_API_KEYS``): the first usable key answers;
  a 429 parks its key until the reset the server announced and the next key is tried at once;
* a minimum interval between requests (the seed's ``OPENAI_REQUEST_DELAY``), shared by threads;
* bounded retries with exponential backoff for 5xx and dropped connections (SDK retries are off,
  since they would retry a 429 on the same key);
* structured-output tiers ``json_schema`` → ``json_object`` → plain text, stepping down when the
  server rejects a format and remembering the tier that works;
* the prompt's size in the model's own tokens where the server can tell (llama.cpp renders the
  chat template at ``/apply-template`` and counts at ``/tokenize``); servers without those answer
  404 once and are not asked again;
* the truth for health checks: the last call's outcome and the errors among the recent calls.

Every failure leaves as ``LLMError(kind=...)``: ``timeout``, ``server_error``, ``unreachable``,
``auth``, ``bad_response``, ``bad_request`` (another 4xx), ``not_configured``, or
``LLMRateLimited`` when every key is parked. Keys never appear in logs, errors or ``status()``.
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tradewind.analysts.llm_port import ChatResult, Message, ResponseFormat
from tradewind.domain.errors import LLMError, LLMRateLimited

__all__ = ["NO_KEY", "OpenAIChatClient", "parse_reset"]


class _Deferred:
    """``openai``, imported at its first use: the SDK is 22 MB resident that a server with no LLM
    configured (the embedded default) never needs, yet ``bootstrap`` imports this module."""

    def __getattr__(self, name: str) -> Any:
        import openai as module

        return getattr(module, name)


if TYPE_CHECKING:
    import openai
else:
    openai = _Deferred()

log = logging.getLogger(__name__)

NO_KEY = "not-needed"
"""Sent as the key when none is configured: local servers ignore it, the SDK insists on one."""

DEFAULT_RESET = 60.0  # seconds a 429 parks a key when the server says nothing about when
QUOTA_RESET = 3600.0  # ``insufficient_quota`` is billing, not a rate: the seed's "wait 1 hour"
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0
PING_PROMPT = "Reply with SUCCESS"
PING_MAX_TOKENS = 8  # a ping must come back at once, whatever the model would like to say
RECENT_CALLS = 20  # how many calls health reports on
TOKENIZE_TIMEOUT = 10.0

_TIERS: tuple[ResponseFormat, ...] = ("json_schema", "json_object", "text")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_reset(headers: Mapping[str, str], *, now_wall: float | None = None) -> float | None:
    """Seconds until a 429 lifts, from ``Retry-After`` (seconds or HTTP date), ``retry-after-ms``
    or OpenAI's ``x-ratelimit-reset-{requests,tokens}`` ("1s", "6m0s", "20ms"); ``None`` if absent.

    Of the two reset headers, the one whose ``remaining`` is 0 is what blocked us; unknown: the later.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    if (ms := _number(lower.get("retry-after-ms"))) is not None:
        return max(0.0, ms / 1000)
    if (value := lower.get("retry-after")) is not None:
        if (seconds := _number(value)) is not None:
            return max(0.0, seconds)
        try:
            when = email.utils.parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError):
            when = None
        if when is not None:
            return max(0.0, when - (time.time() if now_wall is None else now_wall))
    resets: dict[str, float] = {}
    for limit in ("requests", "tokens"):
        if (seconds := _duration(lower.get(f"x-ratelimit-reset-{limit}"))) is not None:
            resets[limit] = seconds
    exhausted = [s for limit, s in resets.items() if lower.get(f"x-ratelimit-remaining-{limit}", "").strip() == "0"]
    chosen = exhausted or list(resets.values())
    return max(chosen) if chosen else None


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _duration(text: str | None) -> float | None:
    if text is None:
        return None
    text = text.strip()
    if (plain := _number(text)) is not None:
        return plain
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _UNIT[u] for n, u in parts)


class _KeyPool:
    """Which keys may be used now: parked ones (429) until their reset, rejected ones (401/403) never."""

    def __init__(self, size: int, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.until: list[float | None] = [None] * size
        self.rejected: set[int] = set()
        self.lock = threading.Lock()

    def pick(self, skip: set[int]) -> int | None:
        """The first usable key not in ``skip`` (primary first, as the seed does)."""
        with self.lock:
            now = self.clock()
            for index, until in enumerate(self.until):
                if index in self.rejected or index in skip:
                    continue
                if until is not None and until > now:
                    continue
                self.until[index] = None
                return index
        return None

    def park(self, index: int, seconds: float) -> None:
        with self.lock:
            self.until[index] = self.clock() + seconds

    def reject(self, index: int) -> None:
        with self.lock:
            self.rejected.add(index)

    def earliest_reset(self) -> float | None:
        with self.lock:
            now = self.clock()
            times = [u for i, u in enumerate(self.until) if i not in self.rejected and u is not None and u > now]
        return min(times) if times else None

    def all_rejected(self) -> bool:
        with self.lock:
            return len(self.rejected) == len(self.until)

    def snapshot(self) -> tuple[int, list[float | None], list[int]]:
        with self.lock:
            now = self.clock()
            left = [round(u - now, 3) if u is not None and u > now else None for u in self.until]
            available = sum(1 for i, s in enumerate(left) if s is None and i not in self.rejected)
            return available, left, sorted(self.rejected)


class _FormatRejected(Exception):
    """The server refused the response_format tier we sent."""


class _ParamRejected(Exception):
    """The model refused ``temperature`` or ``max_tokens`` (OpenAI reasoning models do)."""

    def __init__(self, param: str) -> None:
        super().__init__(param)
        self.param = param


class OpenAIChatClient:
    """``ChatClient`` for one model on one OpenAI-compatible endpoint, with a pool of keys."""

    def __init__(
        self,
        model: str,
        *,
        api_keys: Sequence[str],
        base_url: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 2,
        min_interval: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        response_formats: Sequence[str] = _TIERS,
        organization: str | None = None,
    ) -> None:
        keys = list(dict.fromkeys(k.strip() for k in api_keys if k and k.strip()))
        unknown = [f for f in response_formats if f not in _TIERS]
        if unknown or not response_formats:
            raise ValueError(f"response_formats must be drawn from {_TIERS}, got {list(response_formats)}")
        self.model = model
        self.timeout = timeout
        self.max_retries = max(0, max_retries)
        self.min_interval = max(0.0, min_interval)
        self.clock = clock
        self.sleep = sleep
        self._keys = keys
        self._tiers: tuple[ResponseFormat, ...] = tuple(f for f in _TIERS if f in response_formats)
        self._tier = 0
        self._max_tokens_param = "max_tokens"
        self._send_temperature = True
        self._clients = [
            openai.OpenAI(api_key=key, base_url=base_url, timeout=timeout, max_retries=0, organization=organization)
            for key in (keys or [NO_KEY])
        ]
        self.base_url = str(self._clients[0].base_url)
        if not keys and "api.openai.com" in self.base_url:
            raise LLMError("No OpenAI API key configured (set OPENAI_API_KEY or a local base_url)", kind="not_configured")
        self._pool = _KeyPool(len(self._clients), clock)
        self._lock = threading.Lock()
        self._next_slot = float("-inf")
        self._requests = 0
        self._errors: Counter[str] = Counter()
        self._recent: deque[str | None] = deque(maxlen=RECENT_CALLS)  # None: ok, else the error kind
        self._last: dict[str, Any] | None = None
        self._tokenizer: bool | None = None  # None: not asked yet; False: the server has none
        self._root = re.sub(r"/v1/?$", "", self.base_url.rstrip("/"))

    # --- ChatClient ----------------------------------------------------------------------------
    def complete(
        self,
        messages: Sequence[Message],
        *,
        schema: dict[str, Any] | None = None,
        schema_name: str = "trading_signal",
        max_tokens: int | None = None,
        temperature: float = 0.0,
    ) -> ChatResult:
        """One chat completion; with ``schema`` the best structured-output tier the server takes."""
        started = self.clock()
        try:
            result = self._complete(messages, schema, schema_name, max_tokens, temperature)
        except LLMError as exc:
            self._remember(started, exc.kind, None, None)
            raise
        self._remember(started, None, result.latency_ms, result.finish_reason)
        return result

    def _complete(self, messages: Sequence[Message], schema: dict[str, Any] | None, schema_name: str,
                  max_tokens: int | None, temperature: float) -> ChatResult:
        while True:
            tier = self._tier if schema is not None else None
            fmt: ResponseFormat = self._tiers[tier] if tier is not None else "text"
            body: dict[str, Any] = {"model": self.model, "messages": list(messages)}
            if self._send_temperature:
                body["temperature"] = temperature
            if max_tokens is not None:
                body[self._max_tokens_param] = max_tokens
            if schema is not None and fmt == "json_schema":
                body["response_format"] = {"type": "json_schema",
                                           "json_schema": {"name": schema_name, "schema": schema, "strict": False}}
            elif schema is not None and fmt == "json_object":
                body["response_format"] = {"type": "json_object"}
            try:
                return self._send(body, fmt)
            except _FormatRejected as rejected:
                assert tier is not None
                if tier + 1 >= len(self._tiers):
                    raise self._fail("bad_request", f"LLM server refused every allowed response_format: {rejected}")
                with self._lock:
                    if self._tier == tier:
                        self._tier = tier + 1
                log.warning("LLM server rejected response_format %s; using %s from now on", fmt, self._tiers[tier + 1])
            except _ParamRejected as rejected:
                with self._lock:
                    if rejected.param == "max_tokens":
                        self._max_tokens_param = "max_completion_tokens"
                    else:
                        self._send_temperature = False
                log.warning("LLM model %s rejected %s; adapting and retrying", self.model, rejected.param)

    def converse(self, messages: Sequence[Mapping[str, Any]], *, tools: Sequence[Mapping[str, Any]] = (),
                 tool_choice: Any = "auto", max_tokens: int | None = None, temperature: float = 0.0) -> ChatResult:
        """One turn of a conversation with function calling: the answer may be text or ``tool_calls``
        (in ``raw``); the same key pool, pacing, retries and failures as ``complete``."""
        started = self.clock()
        try:
            while True:
                body: dict[str, Any] = {"model": self.model, "messages": list(messages)}
                if tools:
                    body["tools"], body["tool_choice"] = list(tools), tool_choice
                if self._send_temperature:
                    body["temperature"] = temperature
                if max_tokens is not None:
                    body[self._max_tokens_param] = max_tokens
                try:
                    result = self._send(body, "text", tool_calls=True)
                    break
                except _ParamRejected as rejected:
                    with self._lock:
                        if rejected.param == "max_tokens":
                            self._max_tokens_param = "max_completion_tokens"
                        else:
                            self._send_temperature = False
        except LLMError as exc:
            self._remember(started, exc.kind, None, None)
            raise
        self._remember(started, None, result.latency_ms, result.finish_reason)
        return result

    def ping(self) -> ChatResult:
        """A tiny live call (the seed's ``/debug/gpt4`` check), capped at a few tokens."""
        return self.complete([{"role": "user", "content": PING_PROMPT}], max_tokens=PING_MAX_TOKENS)

    def count_tokens(self, messages: Sequence[Message]) -> int | None:
        """The prompt in the model's own tokens (chat template included) where the server can tell."""
        if self._tokenizer is False:
            return None
        client = self._clients[0].with_options(timeout=TOKENIZE_TIMEOUT, max_retries=0)
        try:
            rendered = client.post(f"{self._root}/apply-template", body={"messages": list(messages)}, cast_to=object)
            prompt = rendered.get("prompt") if isinstance(rendered, dict) else None
            if not isinstance(prompt, str):
                raise ValueError("no prompt in the apply-template answer")
            counted = client.post(f"{self._root}/tokenize", body={"content": prompt, "add_special": True},
                                  cast_to=object)
            tokens = counted.get("tokens") if isinstance(counted, dict) else None
            if not isinstance(tokens, list):
                raise ValueError("no tokens in the tokenize answer")
        except (openai.NotFoundError, openai.BadRequestError, openai.UnprocessableEntityError, ValueError) as exc:
            if self._tokenizer is None:
                log.info("LLM server at %s has no tokenizer endpoint (%s); prompt sizes are estimated",
                         self._root, type(exc).__name__)
            self._tokenizer = False
            return None
        except openai.OpenAIError as exc:  # down or slow right now: estimate this time, ask again later
            log.warning("LLM server tokenizer failed: %s", type(exc).__name__)
            return None
        self._tokenizer = True
        return len(tokens)

    def status(self) -> dict[str, Any]:
        """Configuration and key-pool state; never a key, only counts and per-index timers."""
        available, left, rejected = self._pool.snapshot()
        with self._lock:
            return {
                "model": self.model,
                "base_url": self.base_url,
                "keys_configured": len(self._keys),
                "keys_available": available,
                "key_placeholder": not self._keys,
                "limited_until": left,  # per key index: seconds until usable again, None when usable
                "keys_rejected": rejected,  # indexes refused with 401/403, out of rotation
                "response_format": self._tiers[self._tier],
                "min_interval": self.min_interval,
                "timeout": self.timeout,
                "requests": self._requests,
                "errors": dict(self._errors),
                "tokenizer": self._tokenizer,
                "last_call": None if self._last is None else {
                    **{k: v for k, v in self._last.items() if k != "at"},
                    "seconds_ago": round(self.clock() - self._last["at"], 1),
                },
                "recent": {
                    "calls": len(self._recent),
                    "errors": sum(1 for kind in self._recent if kind is not None),
                    "by_kind": dict(Counter(kind for kind in self._recent if kind is not None)),
                },
            }

    def _remember(self, started: float, kind: str | None, latency_ms: float | None, finish: str | None) -> None:
        """One finished call (after its retries), for ``status``: what health reports is the truth."""
        with self._lock:
            self._recent.append(kind)
            self._last = {"at": started, "ok": kind is None, "error_kind": kind, "latency_ms": latency_ms,
                          "finish_reason": finish}

    # --- one request, across keys and retries ----------------------------------------------------
    def _send(self, body: dict[str, Any], fmt: ResponseFormat, *, tool_calls: bool = False) -> ChatResult:
        tried_429: set[int] = set()
        failures = 0
        while True:
            index = self._pool.pick(tried_429)
            if index is None:
                raise self._exhausted()
            self._pace()
            with self._lock:
                self._requests += 1
            started = time.perf_counter()
            try:
                raw = self._clients[index].chat.completions.with_raw_response.create(**_sdk_arguments(body))
            except openai.APITimeoutError as exc:
                raise self._fail("timeout", f"LLM request timed out after {self.timeout:g}s") from exc
            except openai.APIConnectionError as exc:
                failures += 1
                if failures > self.max_retries:
                    raise self._fail("unreachable", f"LLM server unreachable at {self.base_url}: {exc}") from exc
                self._count("unreachable")
                self._backoff(failures)
            except openai.RateLimitError as exc:
                self._count("rate_limited")
                tried_429.add(index)
                quota = _error_code(exc.body) == "insufficient_quota"
                seconds = QUOTA_RESET if quota else (parse_reset(exc.response.headers) or DEFAULT_RESET)
                self._pool.park(index, seconds)
                log.warning("LLM key #%d %s; parked for %.1fs", index, "out of quota" if quota else "rate limited", seconds)
            except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
                self._count("auth")
                self._pool.reject(index)
                log.warning("LLM key #%d rejected (HTTP %d); dropped from rotation", index, exc.status_code)
                if self._pool.all_rejected():
                    raise self._fail("auth", f"Every API key was rejected: {self._redact(_message(exc))}", count=False) from exc
            except openai.APIStatusError as exc:
                if exc.status_code >= 500:
                    failures += 1
                    if failures > self.max_retries:
                        raise self._fail("server_error", f"LLM server error HTTP {exc.status_code} "
                                                         f"after {failures} attempts") from exc
                    self._count("server_error")
                    self._backoff(failures)
                    continue
                text = self._redact(_message(exc))
                if exc.status_code in (400, 422) and fmt != "text" and _mentions_format(text):
                    self._count("format_rejected")
                    raise _FormatRejected(text) from exc
                if exc.status_code == 400 and (param := _rejected_param(exc, body)) is not None:
                    self._count("param_rejected")
                    raise _ParamRejected(param) from exc
                raise self._fail("bad_request", f"LLM server refused the request (HTTP {exc.status_code}): {text}") from exc
            else:
                return self._result(raw.http_response.content, fmt, (time.perf_counter() - started) * 1000,
                                    tool_calls=tool_calls)

    def _result(self, content: bytes, fmt: ResponseFormat, latency_ms: float, *, tool_calls: bool = False) -> ChatResult:
        try:
            data = json.loads(content)
            choice = data["choices"][0]
            text = choice["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise self._fail("bad_response", f"LLM answer is not a chat completion: {content[:200]!r}") from exc
        calls = choice["message"].get("tool_calls") if isinstance(choice.get("message"), dict) else None
        if tool_calls and isinstance(calls, list) and calls:
            text = text if isinstance(text, str) else ""  # a turn of function calls needs no text
        elif not isinstance(text, str) or not text.strip():
            raise self._fail("bad_response", "LLM answer has no message content "
                                             f"(finish_reason={choice.get('finish_reason')!r})")
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        finish = choice.get("finish_reason")
        return ChatResult(
            text=text,
            model=str(data.get("model") or self.model),
            latency_ms=round(latency_ms, 3),
            response_format=fmt,
            prompt_tokens=_int(usage.get("prompt_tokens")),
            completion_tokens=_int(usage.get("completion_tokens")),
            total_tokens=_int(usage.get("total_tokens")),
            raw=data,
            finish_reason=finish if isinstance(finish, str) else None,
        )

    # --- pacing, backoff, bookkeeping ----------------------------------------------------------
    def _pace(self) -> None:
        """Reserve the next request slot ``min_interval`` after the last one, then wait for it."""
        if self.min_interval <= 0:
            return
        with self._lock:
            now = self.clock()
            start = max(now, self._next_slot)
            self._next_slot = start + self.min_interval
        if start > now:
            self.sleep(start - now)

    def _backoff(self, failures: int) -> None:
        self.sleep(min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (failures - 1)))

    def _exhausted(self) -> LLMError:
        if self._pool.all_rejected():
            return self._fail("auth", "Every API key was rejected (401/403)")
        retry_at = self._pool.earliest_reset()
        self._count("rate_limited_all")
        log.error("All API keys exhausted or rate limited (next reset in %s s)",
                  "?" if retry_at is None else f"{retry_at - self.clock():.1f}")
        return LLMRateLimited("All API keys exhausted or rate limited", retry_at=retry_at)

    def _fail(self, kind: str, message: str, *, count: bool = True) -> LLMError:
        if count:
            self._count(kind)
        return LLMError(message, kind=kind)

    def _count(self, kind: str) -> None:
        with self._lock:
            self._errors[kind] += 1

    def _redact(self, text: str) -> str:
        for key in self._keys:
            text = text.replace(key, "***")
        return text


def _error_code(body: object) -> str | None:
    error = body.get("error", body) if isinstance(body, dict) else None
    return error.get("code") if isinstance(error, dict) and isinstance(error.get("code"), str) else None


def _message(exc: openai.APIStatusError) -> str:
    """The server's own words: OpenAI/llama.cpp nest them in ``error``, vLLM does not, FastAPI says ``detail``."""
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        return json.dumps(body)[:500]
    return str(body or exc.message)[:500]


def _mentions_format(text: str) -> bool:
    """A rejection of the response_format itself, not OpenAI's "messages must contain the word json"."""
    lower = text.lower()
    return any(w in lower for w in ("response_format", "response format", "json_schema", "json_object")) \
        and "contain the word" not in lower


def _rejected_param(exc: openai.APIStatusError, body: dict[str, Any]) -> str | None:
    text = _message(exc).lower()
    if "max_tokens" in body and "max_tokens" in text and "max_completion_tokens" in text:
        return "max_tokens"
    if "temperature" in body and "temperature" in text and ("unsupported" in text or "not support" in text):
        return "temperature"
    return None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _sdk_arguments(body: dict[str, Any]) -> dict[str, Any]:
    """The request for the SDK, with ``response_format`` passed through ``extra_body``: the SDK
    otherwise walks the whole JSON schema recursively on every call (milliseconds per request)."""
    arguments = {key: value for key, value in body.items() if key != "response_format"}
    if "response_format" in body:
        arguments["extra_body"] = {"response_format": body["response_format"]}
    return arguments
