"""The language-model port: chat messages in, text out, with what the call cost.

``adapters/openai_client.py`` implements it over the official ``openai`` SDK for any
OpenAI-compatible server (OpenAI, vLLM, llama.cpp, LM Studio, Ollama). Failures raise
``domain.errors.LLMError`` (or ``LLMRateLimited`` when every key is limited), never SDK types.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from tradewind.domain.errors import LLMError

__all__ = ["ChatClient", "ChatResult", "Message", "OfflineChatClient", "ResponseFormat"]

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}
ResponseFormat = Literal["json_schema", "json_object", "text"]


@dataclass(frozen=True)
class ChatResult:
    text: str
    model: str  # as the server reported it
    latency_ms: float
    response_format: ResponseFormat  # what the server accepted
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    raw: dict[str, Any] = field(default_factory=dict)  # the whole response body
    finish_reason: str | None = None  # "stop", or "length" when the output cap cut the answer


class ChatClient(Protocol):
    model: str  # the model asked for

    def complete(
        self,
        messages: Sequence[Message],
        *,
        schema: dict[str, Any] | None = None,
        schema_name: str = "trading_signal",
        max_tokens: int | None = None,
        temperature: float = 0.0,
    ) -> ChatResult:
        """One chat completion. With ``schema`` it asks for JSON-schema output where the server
        supports it, else JSON mode, else plain text (the caller extracts the JSON)."""
        ...

    def status(self) -> dict[str, Any]:
        """Configuration and key-pool state for health checks (never the keys themselves)."""
        ...

    def count_tokens(self, messages: Sequence[Message]) -> int | None:
        """The prompt's size in the model's own tokens where the server can tell (llama.cpp's
        ``/tokenize``), else None: the caller estimates and says so."""
        ...

    def ping(self) -> ChatResult:
        """A tiny live call, capped at a few tokens (health checks)."""
        ...


class OfflineChatClient:
    """A client that never calls out: with ``offline`` analysts it names the model whose logged
    answers are replayed, and any call it is asked to make fails as not configured."""

    def __init__(self, model: str) -> None:
        self.model = model

    def complete(self, messages: Sequence[Message], **_: Any) -> ChatResult:
        raise LLMError(f"offline: no model is called ({self.model})", kind="not_configured")

    def status(self) -> dict[str, Any]:
        return {"model": self.model, "base_url": None, "keys_configured": 0, "keys_available": 0, "offline": True}

    def count_tokens(self, messages: Sequence[Message]) -> int | None:
        return None

    def ping(self) -> ChatResult:
        return self.complete([])
