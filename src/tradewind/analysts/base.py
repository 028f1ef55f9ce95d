"""The analyst port: multi-timeframe candles in, a ``Signal`` out.

The rule-based analyst and (later) the LLM analyst implement it; the API, the periodic job, the
``evaluate`` command and backtests call it. An analyst sees only the candles it is given, all
closed, so it cannot look ahead.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from tradewind.domain.bars import Bars
from tradewind.domain.signal import STRATEGIES, Signal
from tradewind.domain.timeframe import Timeframe

__all__ = ["AnalysisRequest", "Analyst", "MarketView", "RiskLevel", "request_hash"]

RiskLevel = Literal["Conservative", "Moderate", "Aggressive"]


@dataclass(frozen=True)
class AnalysisRequest:
    """What an analyst gets: candles per timeframe (oldest first) and the caller's context."""

    symbol: str
    candles: dict[Timeframe, Bars]
    timestamp_ms: int
    current_price: float | None = None
    selected_strategies: tuple[str, ...] = STRATEGIES
    risk_level: RiskLevel = "Moderate"
    market_condition_hint: str | None = None
    extras: dict[str, object] = field(default_factory=dict)


class Analyst(Protocol):
    name: str

    def analyze(self, request: AnalysisRequest) -> Signal: ...


class MarketView(Protocol):
    """The seed's market-condition and strategy-recommendation answers for a request."""

    def market_condition(self, request: AnalysisRequest) -> dict[str, Any]: ...

    def strategy_recommendations(self, request: AnalysisRequest) -> list[dict[str, Any]]: ...


def request_hash(request: AnalysisRequest) -> str:
    """A stable hash of everything an analyst sees, so identical inputs are recognised."""
    digest = hashlib.sha256()
    digest.update(request.symbol.encode())
    for timeframe in sorted(request.candles, key=lambda tf: tf.seconds):
        bars = request.candles[timeframe]
        digest.update(timeframe.value.encode())
        for column in bars:  # a contiguous column is hashed in place, with no copy
            digest.update(column.data if column.flags.c_contiguous else column.tobytes())
    digest.update(repr((request.current_price, request.selected_strategies, request.risk_level)).encode())
    return digest.hexdigest()
