"""A traded asset: its settings checked as a whole, and what the engine keeps of it while it runs."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tradewind.domain.errors import ValidationError
from tradewind.domain.excerpt import excerpt
from tradewind.domain.symbol import normalize_symbol
from tradewind.trading.records import AssetConfig
from tradewind.trading.risk import RiskProfile, risk_profile
from tradewind.trading.strategies import BUILTIN
from tradewind.trading.strategy import Strategy, load_strategy

__all__ = ["MAX_INTERVAL_MINUTES", "AssetState", "check_asset"]

MAX_INTERVAL_MINUTES = 60


def check_asset(config: AssetConfig, *, analysts: Sequence[str] = ("rules",),
                strategy_paths: Collection[str] | None = None) -> tuple[Strategy, RiskProfile]:
    """An asset's settings checked as a whole (symbol, interval, strategy and its params, analyst, risk)."""
    normalize_symbol(config.symbol)
    interval = config.interval_minutes
    if isinstance(interval, bool) or not isinstance(interval, int) or not 1 <= interval <= MAX_INTERVAL_MINUTES:
        raise ValidationError(f"interval_minutes must be a whole number of minutes within 1..{MAX_INTERVAL_MINUTES}, "
                              f"got {excerpt(interval)}", field="interval_minutes")
    if config.analyst not in analysts:
        raise ValidationError(f"unknown analyst {excerpt(config.analyst)}: use one of {', '.join(analysts)}",
                              field="analyst")
    strategy = load_strategy(config.strategy, config.params, builtins=BUILTIN, paths=strategy_paths)
    return strategy, risk_profile(config.risk, config.risk_overrides)


@dataclass
class AssetState:
    config: AssetConfig
    strategy: Strategy
    profile: RiskProfile
    last_decided: int | None = None  # open time of the newest candle decided on
    latest_signal: Mapping[str, Any] | None = None
    cycles: int = 0
    last_cycle: float | None = None
    next_cycle: float | None = None
    last_error: str | None = None
    closed: int = 0  # candles of its timeframe closed since the engine started
    protective: list[str] = field(default_factory=list)  # live stop and target orders at the broker
    task: asyncio.Task[None] | None = None
