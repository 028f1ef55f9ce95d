"""The reference strategies; ``BUILTIN`` maps their names to their classes."""

from __future__ import annotations

from typing import Any

from tradewind.trading.strategies.rsi_reversion import RsiReversion
from tradewind.trading.strategies.signal_follower import SignalFollower
from tradewind.trading.strategies.sma_cross import SmaCross

__all__ = ["BUILTIN", "RsiReversion", "SignalFollower", "SmaCross"]

BUILTIN: dict[str, type[Any]] = {
    SignalFollower.name: SignalFollower,
    SmaCross.name: SmaCross,
    RsiReversion.name: RsiReversion,
}
