"""What a model call cost, from a table of per-token prices; ``None`` when the price is unknown.

``DEFAULT_PRICES`` holds OpenAI's published list prices (USD per 1M input and output tokens) for a
few well-known models (standard tier, 2025). Prices change and deployments differ, so the table is a
setting: pass your own to ``cost_usd``. A model that is not in the table has no cost, never a
guessed one. That includes local servers (vLLM, Ollama, llama.cpp): they cost 0 only when the
user puts them in the table at ``(0.0, 0.0)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["DEFAULT_PRICES", "Prices", "cost_usd", "price_for"]

Prices = Mapping[str, tuple[float, float]]
"""Model name -> (USD per 1M prompt tokens, USD per 1M completion tokens)."""

DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
}

# A dated or numbered snapshot of a listed model: "gpt-4o-mini-2024-07-18", "gpt-4-0613".
_SNAPSHOT = re.compile(r"-\d[\d-]*")


def price_for(model: str | None, prices: Prices | None = None) -> tuple[float, float] | None:
    """The table entry for ``model``: its exact name, else the longest name it is a snapshot of.

    Only a numeric suffix counts as a snapshot, so ``gpt-4.1-nano`` never borrows the price of
    ``gpt-4.1`` and ``gpt-4o-audio-preview`` never that of ``gpt-4o``.
    """
    if not model:
        return None
    table = DEFAULT_PRICES if prices is None else prices
    exact = table.get(model)
    if exact is not None:
        return exact
    best: str | None = None
    for name in table:
        snapshot = model.startswith(name) and _SNAPSHOT.fullmatch(model[len(name):]) is not None
        if snapshot and (best is None or len(name) > len(best)):
            best = name
    return table[best] if best is not None else None


def cost_usd(
    model: str | None, prompt_tokens: int | None, completion_tokens: int | None, prices: Prices | None = None
) -> float | None:
    """USD cost of one call, or ``None`` when the model has no price or the tokens are unknown.

    ``prices`` defaults to ``DEFAULT_PRICES``.
    """
    if prompt_tokens is None or completion_tokens is None:
        return None
    price = price_for(model, prices)
    if price is None:
        return None
    prompt_price, completion_price = price
    return (prompt_tokens * prompt_price + completion_tokens * completion_price) / 1_000_000
