"""Test doubles for the LLM port and the decision log (the httpx ``MockTransport`` idea)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from tradewind.analysts.decisions import Decision
from tradewind.analysts.llm_port import ChatResult, Message


class FakeChat:
    """A ChatClient whose answers come from ``handler(messages) -> str`` (or it raises).

    ``tokenizer`` plays the server's token counter (None: the server has none); ``finish_reason``
    is what every answer reports ("length" plays an answer cut by the output cap).
    """

    def __init__(self, handler: Callable[[list[Message]], str], *, model: str = "gpt-4o-mini",
                 tokenizer: Callable[[list[Message]], int] | None = None, finish_reason: str = "stop") -> None:
        self.handler = handler
        self.model = model
        self.tokenizer = tokenizer
        self.finish_reason = finish_reason
        self.calls: list[list[Message]] = []
        self.max_tokens: list[int | None] = []
        self.schemas: list[dict[str, Any] | None] = []

    def complete(self, messages: Sequence[Message], *, schema: dict[str, Any] | None = None,
                 schema_name: str = "trading_signal", max_tokens: int | None = None,
                 temperature: float = 0.0) -> ChatResult:
        self.calls.append(list(messages))
        self.max_tokens.append(max_tokens)
        self.schemas.append(schema)
        text = self.handler(list(messages))
        return ChatResult(text=text, model=self.model, latency_ms=12.5, response_format="json_schema",
                          prompt_tokens=1000, completion_tokens=200, total_tokens=1200, raw={"id": "chatcmpl-x"},
                          finish_reason=self.finish_reason)

    def count_tokens(self, messages: Sequence[Message]) -> int | None:
        return None if self.tokenizer is None else self.tokenizer(list(messages))

    def ping(self) -> ChatResult:
        return self.complete([{"role": "user", "content": "Reply with SUCCESS"}], max_tokens=8)

    def status(self) -> dict[str, Any]:
        return {"model": self.model, "keys_configured": 1, "keys_available": 1}


class MemoryDecisionLog:
    def __init__(self) -> None:
        self.decisions: list[Decision] = []

    def record(self, decision: Decision) -> None:
        self.decisions.append(decision)

    def cached(self, model: str, prompt_hash: str) -> Decision | None:
        firsts = {d.decision_id for d in self.decisions if d.model == model and d.prompt_hash == prompt_hash}
        for decision in reversed(self.decisions):
            asked = decision.prompt_hash == prompt_hash or decision.parent_id in firsts
            if decision.model == model and asked and decision.parsed and not decision.error:
                return decision
        return None

    def replay(self, model: str, input_hash: str) -> tuple[str, dict[str, Any], str] | None:
        for decision in reversed(self.decisions):
            if decision.model == model and decision.input_hash == input_hash and decision.parsed and not decision.error:
                return decision.decision_id, decision.parsed, decision.source
        return None

    def query(self, *, symbol: str | None = None, since: datetime | None = None, limit: int = 100) -> list[Decision]:
        return list(reversed(self.decisions))[:limit]

    def iterate(self, *, symbol: str | None = None, since: datetime | None = None) -> Iterator[Decision]:
        return iter(self.decisions)

    def usage(self) -> dict[str, Any]:
        return {}
