"""``rsi-reversion``: buy an oversold market, sell it back when the RSI has recovered.

RSI is TA-Lib's (``analysis.indicators.rsi``); a long opens when RSI crosses below ``oversold`` and
closes when it rises above ``exit``; with ``short=true`` the mirror image trades overbought
markets. A reference strategy: simple, causal, and a contrast to trend following.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from tradewind.analysis.indicators import rsi
from tradewind.domain.errors import ValidationError
from tradewind.domain.orders import OrderIntent
from tradewind.trading.strategy import Param, StrategyContext

__all__ = ["RsiReversion"]


class RsiReversion:
    name = "rsi-reversion"
    uses_signals = False
    params: ClassVar[Mapping[str, Param]] = {
        "period": Param(int, 14, 2, 500, "RSI length"),
        "oversold": Param(float, 30.0, 1.0, 50.0, "a long opens when RSI falls below this"),
        "overbought": Param(float, 70.0, 50.0, 99.0, "a short opens when RSI rises above this (short=true)"),
        "exit": Param(float, 50.0, 1.0, 99.0, "the position closes when RSI crosses back over this"),
        "short": Param(bool, False),
        "size": Param(float, 1.0, 0.0, 1.0, "fraction of equity per position"),
    }

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.period = int(params["period"])
        self.oversold, self.overbought, self.exit = float(params["oversold"]), float(params["overbought"]), float(params["exit"])
        if not self.oversold < self.exit < self.overbought:
            raise ValidationError("oversold < exit < overbought is required", field="params.exit")
        self.short = bool(params["short"])
        self.size = float(params["size"])
        self.lookback = self.period * 10  # enough for Wilder's smoothing to settle

    def decide(self, ctx: StrategyContext) -> OrderIntent | None:
        close = ctx.candles.close
        if close.shape[0] < self.period + 2:
            return None
        values = rsi(close, self.period)
        before, now = float(values[-2]), float(values[-1])
        side = ctx.position.side if ctx.position is not None else None
        if side == "long" and before <= self.exit < now:
            return OrderIntent("exit", reason=f"RSI {now:.1f} back above {self.exit:g}")
        if side == "short" and before >= self.exit > now:
            return OrderIntent("exit", reason=f"RSI {now:.1f} back below {self.exit:g}")
        if side is None and before >= self.oversold > now:
            return OrderIntent("enter", "long", size=self.size, reason=f"RSI {now:.1f} below {self.oversold:g}")
        if side is None and self.short and before <= self.overbought < now:
            return OrderIntent("enter", "short", size=self.size, reason=f"RSI {now:.1f} above {self.overbought:g}")
        return None
