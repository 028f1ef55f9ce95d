"""A model behind the configured OpenAI-compatible endpoint, as a chat model with function calling.

The conversation and the tools go to the upstream server as they are (the built-in tools with
their schemas, the client's own functions); its answer is text or tool calls, which the chat
service and the run executor treat exactly as the built-in model's. Every call lands in the AI
decision log with its messages, raw answer, tokens, latency and cost. A failure upstream is an
``UpstreamFailed`` (503, saying what went wrong), never a fallback answer made up here.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Protocol

from tradewind.analysts.decisions import Decision, DecisionLog
from tradewind.analysts.llm_port import ChatResult
from tradewind.analysts.pricing import cost_usd
from tradewind.assistants.builtin_model import ModelTurn, ToolCall
from tradewind.domain.errors import LLMError, Unavailable

__all__ = ["ToolChatClient", "UpstreamFailed", "UpstreamModel"]

MAX_TOKENS = 1024
LOG_SYMBOL = "ASSISTANT"  # the decision log's symbol for a conversation's calls (the AI-logs filter finds them)


class UpstreamFailed(Unavailable):
    code = "upstream_error"

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class ToolChatClient(Protocol):
    model: str

    def converse(self, messages: Sequence[Mapping[str, Any]], *, tools: Sequence[Mapping[str, Any]] = (),
                 tool_choice: Any = "auto", max_tokens: int | None = None, temperature: float = 0.0) -> ChatResult: ...


class UpstreamModel:
    remote = True  # its calls block on the network: the services call it off the event loop

    def __init__(self, client: ToolChatClient, *, decisions: DecisionLog | None,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.client = client
        self.id = client.model
        self.decisions = decisions
        self.now = now

    def respond(self, messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]],
                tool_choice: Any = "auto", max_tokens: int | None = None) -> ModelTurn:
        sent = [dict(m) for m in messages]
        prompt_hash = hashlib.sha256(json.dumps([sent, list(tools)], sort_keys=True, default=str).encode()).hexdigest()
        try:
            result = self.client.converse(sent, tools=tools, tool_choice=tool_choice if tools else "auto",
                                          max_tokens=min(max_tokens or MAX_TOKENS, MAX_TOKENS))
        except LLMError as exc:
            self._log(sent, prompt_hash, None, str(exc))
            raise UpstreamFailed(f"the model {self.id} failed: {str(exc)[:300]}", kind=exc.kind) from None
        message = result.raw["choices"][0]["message"]
        calls = []
        for call in message.get("tool_calls") or ():
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                continue  # a malformed call is dropped, and logged with the raw answer below
            arguments = function.get("arguments")
            calls.append(ToolCall(str(call.get("id") or "call_" + uuid.uuid4().hex[:24]), function["name"][:64],
                                  arguments if isinstance(arguments, str) else json.dumps(arguments or {})))
        self._log(sent, prompt_hash, result, None)
        return ModelTurn(message.get("content") if isinstance(message.get("content"), str) else None, calls,
                         prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens)

    def _log(self, sent: list[dict[str, Any]], prompt_hash: str, result: ChatResult | None, error: str | None) -> None:
        if self.decisions is None:
            return
        raw = json.dumps(result.raw["choices"][0]["message"]) if result is not None else None
        self.decisions.record(Decision(
            decision_id="dec_" + uuid.uuid4().hex[:20], created_at=self.now(), analyst=f"assistant:{self.id}",
            symbol=LOG_SYMBOL, timeframe=None, input_hash=prompt_hash, prompt_hash=prompt_hash,
            prompt=[{"role": str(m.get("role")), "content": json.dumps(m.get("content"))
                     if not isinstance(m.get("content"), str) else m["content"]} for m in sent],
            model=result.model if result is not None else self.id, raw_response=raw, parsed=None,
            source="llm",  # a failed call is an llm call with its error, as the analyst logs them
            latency_ms=result.latency_ms if result is not None else None,
            prompt_tokens=result.prompt_tokens if result is not None else None,
            completion_tokens=result.completion_tokens if result is not None else None,
            total_tokens=result.total_tokens if result is not None else None,
            cost_usd=cost_usd(self.id, result.prompt_tokens, result.completion_tokens) if result is not None else None,
            error=error, finish_reason=result.finish_reason if result is not None else None,
        ))
