"""The prompt: the computed analysis itself, not the words "use ICT".

Per timeframe the model gets the last candles, every indicator value, the smart-money structure
(last BOS/CHoCH, open fair value gaps, order blocks, liquidity pools and sweeps, premium/discount,
killzone), trend, volatility and volume figures; then the rule-based analyst's signal as a
reference it may disagree with; then the answer schema. Serialisation is deterministic (sorted
keys, rounded numbers), so the same input gives the same prompt and the same cache key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import orjson

from tradewind.analysts.base import AnalysisRequest
from tradewind.analysts.llm_port import Message
from tradewind.analysts.llm_schema import SIGNAL_SCHEMA
from tradewind.analysts.rules import TimeframeView
from tradewind.domain.signal import Signal

__all__ = ["PROMPT_VERSION", "build_messages", "prompt_hash", "repair_messages"]

PROMPT_VERSION = "tradewind-signal-v1"
CANDLES_SHOWN = 8

SYSTEM = (
    "You are a disciplined crypto and FX trading analyst. You receive computed multi-timeframe "
    "technical indicators and smart-money (ICT/SMC) structure for one symbol, and a rule-based "
    "analyst's signal as a reference. Decide Long, Short or Neutral for the shortest timeframe given. "
    "Use only the data provided; cite the numbers you rely on in `reasoning`. `confidence` is your "
    "probability that the signal succeeds: for Long/Short that the take-profit is reached before the "
    "stop-loss within about 24 bars of the shortest timeframe, for Neutral that price stays within 0.5%. "
    "Be calibrated: if the evidence is mixed, say Neutral or give a low confidence. A Long needs "
    "stop_loss < current price < take_profit, a Short the reverse; Neutral has null levels and a "
    "position size of 0. Answer with one JSON object only, matching the schema."
)


def _dumps(value: object) -> str:
    """Compact JSON with sorted keys (orjson: the prompt is built on every analysis)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str).decode()


_SCHEMA_TEXT = _dumps(SIGNAL_SCHEMA)


def _round(value: object) -> object:
    if isinstance(value, float):
        return float(f"{value:.8g}")
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_round(v) for v in value]
    return value


def _timeframe_block(view: TimeframeView) -> dict[str, Any]:
    bars = view.bars
    shown = min(CANDLES_SHOWN, len(bars))
    candles = [
        [int(bars.time[i]), float(bars.open[i]), float(bars.high[i]), float(bars.low[i]), float(bars.close[i]),
         float(bars.volume[i])]
        for i in range(len(bars) - shown, len(bars))
    ]
    structure = view.structure
    return {
        "candles_total": len(bars),
        "last_candles_[time,open,high,low,close,volume]": candles,
        "indicators": {k: v for k, v in view.indicators.values.items()},
        "indicators_missing_(needs_candles)": dict(view.indicators.missing),
        "trend": {"score_-1..1": view.trend.score, "strength_0..1": view.trend.strength, "momentum_5_bars": view.trend.momentum},
        "volatility": {"atr": view.volatility.atr, "atr_pct": view.volatility.atr_pct,
                       "vs_recent_true_range": view.volatility.relative, "level": view.volatility.level},
        "volume": {"ratio_to_20_bar_average": view.volume.ratio, "up_candle_share": view.volume.up_share},
        "structure": {
            "trend": structure.trend,
            "last_break": structure.last_event,
            "recent_swing_highs_[time,price]": structure.swing_highs,
            "recent_swing_lows_[time,price]": structure.swing_lows,
            "open_fair_value_gaps": structure.open_fvgs,
            "order_blocks": structure.order_blocks,
            "liquidity_pools": structure.liquidity_pools,
            "recent_sweeps": structure.recent_sweeps,
            "zone": structure.zone,
            "equilibrium": structure.equilibrium,
            "range": [structure.range_low, structure.range_high],
            "killzone": structure.killzone,
        },
        "strategy_votes_-1..1": {name: vote for name, (vote, _) in view.strategies.items()},
    }


def build_messages(request: AnalysisRequest, views: Sequence[TimeframeView], reference: Signal) -> list[Message]:
    entry = request.current_price or float(views[0].bars.close[-1])
    data = {
        "symbol": request.symbol,
        "current_price": entry,
        "analysis_time_ms": request.timestamp_ms,
        "risk_level": request.risk_level,
        "strategies_to_score": list(request.selected_strategies),
        "timeframes": {view.timeframe.value: _timeframe_block(view) for view in views},
        "reference_rule_based_signal": {
            "signal": reference.signal,
            "confidence": reference.confidence,
            "stop_loss": reference.risk_assessment.stop_loss_suggestion,
            "take_profit": reference.risk_assessment.take_profit_suggestion,
            "support_levels": list(reference.market_analysis.support_levels),
            "resistance_levels": list(reference.market_analysis.resistance_levels),
            "reasoning": reference.reasoning,
        },
    }
    user = f"Market data ({PROMPT_VERSION}):\n{_dumps(_round(data))}\n\nAnswer schema (JSON Schema):\n{_SCHEMA_TEXT}"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def repair_messages(messages: Sequence[Message], answer: str, problem: str) -> list[Message]:
    """One repair round: show the model its answer and what is wrong with it."""
    return [
        *messages,
        {"role": "assistant", "content": answer[:8000]},
        {"role": "user", "content": f"That answer is unusable: {problem}. Reply again with only the corrected JSON object."},
    ]


def prompt_hash(model: str, messages: Sequence[Message]) -> str:
    """The cache key: the same model asked the same thing gives the same answer again."""
    return hashlib.sha256(_dumps([model, list(messages)]).encode()).hexdigest()
