"""The array-speed backtest of a strategy that declares its signals over whole arrays.

It makes exactly the trades the engine makes candle by candle on the paper broker with the
``none`` risk profile (no stops, no limits but cash), by the same arithmetic in the same order: a
decision at bar ``i`` is sized at ``close[i]`` from the equity marked there, its orders fill at
``open[i + 1]`` (the exit before the entry of a reversal), each fill pays ``fee`` of its value
after ``slippage``, and what is open at the end closes at the last close. Only the bars where a
signal fires cost Python time; the equity curve between them is numpy. A test holds it to the
per-candle path, trade for trade.
"""

from __future__ import annotations

import math

import numpy as np

from tradewind.domain.bars import Bars
from tradewind.domain.errors import ValidationError
from tradewind.domain.orders import PositionSide, Trade
from tradewind.trading.risk import RiskProfile
from tradewind.trading.strategy import ArraySignals

__all__ = ["array_backtest", "array_ready"]


def array_ready(profile: RiskProfile) -> bool:
    """Whether the array path models these limits (only cash: what ``none`` leaves)."""
    return (not profile.require_stops and profile.default_stop_pct == 0 and profile.default_target_pct == 0
            and profile.risk_per_trade is None and profile.trailing_stop_pct is None and profile.max_drawdown >= 1
            and profile.daily_loss_limit >= 1 and profile.cooldown_losses == 0)


def array_backtest(
    symbol: str, bars: Bars, signals: ArraySignals, *, seconds: int, cash: float, fee: float, slippage: float,
    size: float, profile: RiskProfile,
) -> tuple[list[Trade], np.ndarray, np.ndarray]:
    """The trades, the equity curve's times (each candle's close) and values."""
    if not array_ready(profile):
        raise ValidationError("the array path models no stops or loss limits: use the per-candle path", field="risk")
    n = len(bars)
    time, open_, close = bars.time, bars.open, bars.close
    opens = open_.tolist()  # Python floats: the same arithmetic as the engine's
    fires = np.flatnonzero((signals.enter != 0) | signals.exit)
    trades: list[Trade] = []
    cash_now = float(cash)
    side: PositionSide | None = None
    quantity = entry_price = entry_time = entry_fee = 0.0
    # the equity curve, one stretch per holding: cash plus the signed position at each close
    cash_at = np.empty(n)
    held_at = np.zeros(n)
    start = 0

    def fill(price: float, buy: bool, qty: float) -> tuple[float, float]:
        price = price * (1 + slippage) if buy else price * (1 - slippage)
        return price, qty * price * fee

    def close_position(i: int, price: float, at: float, reason: str, slip: bool = True) -> None:
        nonlocal cash_now, side
        assert side is not None
        buy = side == "short"
        if slip:
            price, exit_fee = fill(price, buy, quantity)
        else:
            exit_fee = quantity * price * fee
        signed = quantity if buy else -quantity
        cash_now -= signed * price + exit_fee
        booked_fee = exit_fee * quantity / quantity  # as Portfolio books a close: its share of the fill's fee
        gross = (price - entry_price) * quantity
        pnl = (gross if side == "long" else -gross) - entry_fee - booked_fee
        trades.append(Trade(symbol, side, quantity, entry_time, entry_price, at, price, pnl, entry_fee + booked_fee,
                            reason))
        side = None

    for i in fires.tolist():
        if i >= n - 1:
            break
        want = int(signals.enter[i])
        wanted_side: PositionSide | None = "long" if want > 0 else "short" if want < 0 else None
        leave = side is not None and (bool(signals.exit[i]) or (wanted_side is not None and wanted_side != side))
        enter = wanted_side is not None and wanted_side != side
        if not leave and not enter:
            continue
        # mark the stretch up to this decision's fill, then decide with the equity marked at close[i]
        mark = float(close[i])
        value = quantity * mark if side == "long" else -quantity * mark if side == "short" else 0.0
        equity = cash_now + value
        quantity_in = 0.0
        if enter:
            room_cash = cash_now + value if side is not None else cash_now  # as if the exit had filled
            worth = min(size * profile.position_size * equity, profile.max_exposure_per_asset * equity, room_cash)
            quantity_in = max(0.0, worth / mark) if mark > 0 and math.isfinite(mark) else 0.0
        j = i + 1
        _stretch(cash_at, held_at, start, j, cash_now, side, quantity)
        start = j
        if leave:
            close_position(j, opens[j], float(time[j]), "signal")
        if enter and quantity_in > 0:
            assert wanted_side is not None
            price, entry_fee = fill(opens[j], wanted_side == "long", quantity_in)
            signed = quantity_in if wanted_side == "long" else -quantity_in
            cash_now -= signed * price + entry_fee
            side, quantity, entry_price, entry_time = wanted_side, quantity_in, price, float(time[j])
    _stretch(cash_at, held_at, start, n, cash_now, side, quantity)
    equity = cash_at + held_at * close
    if side is not None:
        close_position(n - 1, float(close[-1]), float(time[-1] + seconds), "end", slip=False)
    return trades, time.astype(np.float64) + seconds, equity


def _stretch(cash_at: np.ndarray, held_at: np.ndarray, start: int, stop: int, cash: float,
             side: PositionSide | None, quantity: float) -> None:
    cash_at[start:stop] = cash
    held_at[start:stop] = quantity if side == "long" else -quantity if side == "short" else 0.0
