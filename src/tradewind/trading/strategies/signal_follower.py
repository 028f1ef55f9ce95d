"""``signal-follower``: trade the analyst's signals with their own stop-loss and take-profit.

A Long or Short signal at least ``min_confidence`` sure opens that side when flat (the signal's
levels become the position's stop and target; risk fills in defaults where a signal has none and
sizes the position); an opposite signal closes the position; a Neutral one keeps it, or closes it
with ``close_on_neutral=true``. The size asked for is the analyst's recommended position size
scaled by ``size``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from tradewind.domain.orders import OrderIntent
from tradewind.trading.strategy import Param, StrategyContext

__all__ = ["SignalFollower"]


class SignalFollower:
    name = "signal-follower"
    uses_signals = True
    params: ClassVar[Mapping[str, Param]] = {
        "min_confidence": Param(float, 0.0, 0.0, 1.0, "signals less sure than this are ignored"),
        "close_on_neutral": Param(bool, False, description="a Neutral signal closes the position"),
        "size": Param(float, 1.0, 0.0, 1.0, "scales the analyst's recommended position size"),
    }

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.min_confidence = float(params["min_confidence"])
        self.close_on_neutral = bool(params["close_on_neutral"])
        self.size = float(params["size"])
        self.lookback = 1  # the analyst reads the candles; the strategy only the signal

    def decide(self, ctx: StrategyContext) -> OrderIntent | None:
        signal = ctx.signal
        if signal is None:
            return None
        side = ctx.position.side if ctx.position is not None else None
        wanted = {"Long": "long", "Short": "short"}.get(signal.signal)
        if wanted is None:
            return OrderIntent("exit", reason="neutral signal") if side and self.close_on_neutral else None
        if side is not None and side != wanted:
            return OrderIntent("exit", reason=f"{signal.signal} signal against the {side} position")
        if side is None and signal.confidence >= self.min_confidence:
            risk = signal.risk_assessment
            return OrderIntent(
                "enter", wanted, size=risk.recommended_position_size * self.size, stop_loss=risk.stop_loss_suggestion,  # type: ignore[arg-type]
                take_profit=risk.take_profit_suggestion,
                reason=f"{signal.signal} signal, confidence {signal.confidence:.2f} ({signal.analyst})",
            )
        return None
