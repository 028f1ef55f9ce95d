"""``SpendLimit``: a cap on what an analyst's model calls may cost, checked before every call.

Checking after a call can only notice that the cap was passed. Here a call is made only when the
money already spent plus the call's worst case stays within the cap: its prompt tokens (counted
by the server's tokenizer, else a conservative two characters a token) and the full output cap,
at the model's price. Since the output cap bounds what a call can cost, the measured total never
passes the cap. A model with no price cannot be bounded, so a capped run refuses to call it.
"""

from __future__ import annotations

from dataclasses import dataclass

from tradewind.analysts.pricing import Prices, cost_usd
from tradewind.domain.errors import TradewindError

__all__ = ["SpendLimit", "SpendLimitReached"]

COUNT_MARGIN_TOKENS = 16  # what a server may add to our count (template or BOS tokens)
CONSERVATIVE_CHARS_PER_TOKEN = 2.0


class SpendLimitReached(TradewindError):
    """The next model call could pass the spend cap; nothing was called."""

    code = "SPEND_LIMIT_REACHED"


@dataclass(frozen=True)
class SpendLimit:
    max_usd: float

    def check(self, *, model: str, spent_usd: float, prompt_tokens: int | None, prompt_chars: int,
              max_tokens: int, prices: Prices | None) -> None:
        """Raise ``SpendLimitReached`` unless a call of this size surely stays within the cap."""
        worst_prompt = (prompt_tokens + COUNT_MARGIN_TOKENS if prompt_tokens is not None
                        else int(prompt_chars / CONSERVATIVE_CHARS_PER_TOKEN) + COUNT_MARGIN_TOKENS)
        worst = cost_usd(model, worst_prompt, max_tokens, prices)
        if worst is None:
            raise SpendLimitReached(f"{model} has no price, so a call cannot be kept under ${self.max_usd:.4f}")
        if spent_usd + worst > self.max_usd:
            raise SpendLimitReached(
                f"the next call could cost up to ${worst:.4f} ({worst_prompt} prompt + {max_tokens} completion "
                f"tokens) with ${spent_usd:.4f} spent: over the ${self.max_usd:.4f} cap"
            )
