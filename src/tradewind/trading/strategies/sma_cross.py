"""``sma-cross``: long when the fast simple moving average crosses above the slow one.

A cross is strict, as traders and backtesting.py define it: the fast average was below the slow
one at the previous close and is above it at this one. A cross up goes long (reversing a short);
a cross down closes the long, and with ``short=true`` goes short instead (a reversal).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from tradewind.domain.bars import Bars
from tradewind.domain.errors import ValidationError
from tradewind.domain.orders import OrderIntent
from tradewind.trading.strategy import ArraySignals, Param, StrategyContext

__all__ = ["SmaCross", "sma"]


def sma(values: np.ndarray, length: int) -> np.ndarray:
    """The simple moving average, NaN until ``length`` values exist (causal: value i uses i-length+1..i).

    Each value is the mean of its own window, not a running sum: a running sum carries rounding
    from the whole history, so a cross decided on a short window and on the full array could
    disagree when the two averages all but touch. This way both paths compute identical values.
    """
    out = np.full(values.shape[0], np.nan)
    if values.shape[0] >= length:
        windows = np.lib.stride_tricks.sliding_window_view(np.asarray(values, dtype=np.float64), length)
        out[length - 1:] = windows.mean(axis=1)
    return out


class SmaCross:
    name = "sma-cross"
    uses_signals = False
    params: ClassVar[Mapping[str, Param]] = {
        "fast": Param(int, 10, 1, 10_000, "fast average length, in candles"),
        "slow": Param(int, 20, 2, 10_000, "slow average length, in candles"),
        "short": Param(bool, False, description="a cross down also opens a short"),
        "size": Param(float, 1.0, 0.0, 1.0, "fraction of equity per position (risk may cap it)"),
    }

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.fast, self.slow = int(params["fast"]), int(params["slow"])
        if self.fast >= self.slow:
            raise ValidationError(f"fast ({self.fast}) must be shorter than slow ({self.slow})", field="params.fast")
        self.short = bool(params["short"])
        self.size = float(params["size"])
        self.lookback = self.slow + 1  # candles a decision reads

    def _cross(self, close: np.ndarray) -> int:
        """+1 for a cross up at the last value, -1 for a cross down, 0 for none."""
        window = close[-(self.slow + 1):]
        if window.shape[0] < self.slow + 1:
            return 0
        fast, slow = sma(window, self.fast)[-2:], sma(window, self.slow)[-2:]
        if fast[0] < slow[0] and fast[1] > slow[1]:
            return 1
        if fast[0] > slow[0] and fast[1] < slow[1]:
            return -1
        return 0

    def decide(self, ctx: StrategyContext) -> OrderIntent | None:
        cross = self._cross(ctx.candles.close)
        side = ctx.position.side if ctx.position is not None else None
        if cross > 0 and side != "long":
            return OrderIntent("enter", "long", size=self.size, reason=f"SMA {self.fast} crossed above SMA {self.slow}")
        if cross < 0 and self.short and side != "short":
            return OrderIntent("enter", "short", size=self.size, reason=f"SMA {self.fast} crossed below SMA {self.slow}")
        if cross < 0 and side == "long":
            return OrderIntent("exit", reason=f"SMA {self.fast} crossed below SMA {self.slow}")
        return None

    def signals(self, bars: Bars) -> ArraySignals:
        """The same decisions over a whole history: crosses found from the two averages at once."""
        close = bars.close
        fast, slow = sma(close, self.fast), sma(close, self.slow)
        up = np.zeros(close.shape[0], dtype=bool)
        down = np.zeros(close.shape[0], dtype=bool)
        with np.errstate(invalid="ignore"):
            up[1:] = (fast[:-1] < slow[:-1]) & (fast[1:] > slow[1:])
            down[1:] = (fast[:-1] > slow[:-1]) & (fast[1:] < slow[1:])
        enter = np.where(up, 1, np.where(down & self.short, -1, 0)).astype(np.int8)
        # only a long-only cross down closes without reversing; every other cross is an entry (a
        # reversal when the position is the other way), and a cross toward the side held changes
        # nothing, as in ``decide``
        return ArraySignals(enter=enter, exit=down & (not self.short))
