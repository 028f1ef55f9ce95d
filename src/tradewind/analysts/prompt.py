"""The prompt: the computed analysis itself, not the words "use ICT", sized to a token budget.

At ``full`` detail, per timeframe the model gets the last candles, every indicator value, the
smart-money structure (last BOS/CHoCH, open fair value gaps, order blocks, liquidity pools and
sweeps, premium/discount, killzone), trend, volatility and volume figures; then the rule-based
analyst's signal and reasoning as a reference it may disagree with; then the answer's JSON schema.
That is 6,000-8,000 tokens for three timeframes: right for a large model, minutes of prompt
processing for a small one on a CPU, and no room left in an 8k context for the answer.

``compact`` keeps the figures an analyst decides on (three candles, the main indicators, the
nearest structure of each kind, the reference without its prose) and describes the answer with a
short template; ``minimal`` gives the shortest timeframe that way and one line of trend for the
others. ``fit_prompt`` takes the most detailed level whose size, counted with the server's own
tokenizer where it has one, fits the budget. Serialisation is deterministic (sorted keys, rounded
numbers), so the same input gives the same prompt and the same cache key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from tradewind.analysts.base import AnalysisRequest
from tradewind.analysts.llm_port import Message
from tradewind.analysts.llm_schema import signal_schema
from tradewind.analysts.rules import TimeframeView
from tradewind.domain.signal import Signal

__all__ = [
    "DETAILS",
    "PROMPT_VERSION",
    "Detail",
    "Prompt",
    "build_messages",
    "estimate_tokens",
    "fit_prompt",
    "prompt_hash",
    "repair_messages",
]

PROMPT_VERSION = "tradewind-signal-v3"
CANDLES_SHOWN = 8
COMPACT_CANDLES = 3
COMPACT_INDICATORS = ("rsi_14", "macd_hist", "adx_14", "atr_14", "ema_9", "ema_21", "ema_50", "bb_lower", "bb_upper",
                      "volume_ratio")

Detail = Literal["full", "compact", "minimal"]
DETAILS: tuple[Detail, ...] = ("full", "compact", "minimal")

CHARS_PER_TOKEN = 2.0
"""Estimate without a tokenizer, on the small side so a prompt estimated to fit does fit: these
number-heavy prompts measured 1.8-2.3 characters a token with SmolLM2's tokenizer (digits one by
one); OpenAI's tokenizers take 3-4, so there the estimate errs towards a shorter prompt."""
MESSAGE_OVERHEAD_TOKENS = 8  # the chat template's role markers, per message

SYSTEM = (
    "You are a disciplined crypto and FX trading analyst. You receive computed multi-timeframe "
    "technical indicators and smart-money (ICT/SMC) structure for one symbol, and a rule-based "
    "analyst's signal as a reference. Decide Long, Short or Neutral for the shortest timeframe given. "
    "Use only the data provided; cite the numbers you rely on in `reasoning`. `confidence` is your "
    "probability that the signal succeeds: for Long/Short that the take-profit is reached before the "
    "stop-loss within about 24 bars of the shortest timeframe, for Neutral that price stays within 0.5%. "
    "Be calibrated: if the evidence is mixed, say Neutral or give a low confidence. Give every level as "
    "a distance from the current price in percent: stop_loss_pct and take_profit_pct are positive (1.5 "
    "means 1.5% away; the stop on the losing side, the target on the winning side), support and "
    "resistance levels in percent below and above the price. Neutral has null stop and target and a "
    "position size of 0. Answer with one JSON object only, matching the schema."
)


def _dumps(value: object) -> str:
    """Compact JSON with sorted keys (orjson: the prompt is built on every analysis)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str).decode()


def _round(value: object, digits: int = 8) -> object:
    kind = type(value)
    if kind is float:
        return float(format(value, f".{digits}g"))  # type: ignore[arg-type]
    if kind is dict:
        return {k: _round(v, digits) for k, v in value.items()}  # type: ignore[attr-defined]
    if kind is list or kind is tuple:
        return [_round(v, digits) for v in value]  # type: ignore[attr-defined]
    if isinstance(value, float):  # numpy floats
        return float(format(value, f".{digits}g"))
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


def _first(items: Sequence[Any] | None, count: int = 1) -> list[Any]:
    return list(items or [])[:count]


def _compact_block(view: TimeframeView) -> dict[str, Any]:
    bars = view.bars
    shown = min(COMPACT_CANDLES, len(bars))
    structure = view.structure
    values = view.indicators.values
    return {
        "last_candles_[open,high,low,close]": [
            [float(bars.open[i]), float(bars.high[i]), float(bars.low[i]), float(bars.close[i])]
            for i in range(len(bars) - shown, len(bars))
        ],
        "indicators": {name: values[name] for name in COMPACT_INDICATORS if values.get(name) is not None},
        "trend_score_-1..1": view.trend.score,
        "volatility": view.volatility.level,
        "structure": {
            "trend": structure.trend,
            "last_break": None if structure.last_event is None else {
                k: structure.last_event.get(k) for k in ("type", "direction", "level", "bars_ago")
            },
            "zone": structure.zone,
            "range": [structure.range_low, structure.range_high],
            "latest_fair_value_gap": _first(structure.open_fvgs),
            "latest_order_block": _first(structure.order_blocks),
            "latest_liquidity_pool": _first(structure.liquidity_pools),
        },
        "strategy_votes_-1..1": {name: vote for name, (vote, _) in view.strategies.items()},
    }


def _minimal_block(view: TimeframeView) -> dict[str, Any]:
    return {"trend_score_-1..1": view.trend.score, "structure_trend": view.structure.trend,
            "rsi_14": view.indicators.values.get("rsi_14")}


def _template(strategies: Sequence[str]) -> str:
    """The answer described in one line: what a small model follows better than a JSON schema."""
    scores = ", ".join(f'"{name}": 0..1' for name in strategies)
    return (
        '{"signal": "Long"|"Short"|"Neutral", "confidence": 0..1, "reasoning": "two or three sentences citing '
        f'the numbers", "strategy_scores": {{{scores}}}, "market_analysis": {{"trend_direction": '
        '"Bullish"|"Bearish"|"Sideways", "trend_strength": 0..1, "support_levels_pct": [percent below the price], '
        '"resistance_levels_pct": [percent above it], "volatility_level": "Low"|"Medium"|"High", '
        '"volume_analysis": "a few words"}, "risk_assessment": {"overall_risk": "Low"|"Medium"|"High", '
        '"technical_risk": 0..1, "market_risk": 0..1, "recommended_position_size": 0..1, "stop_loss_pct": '
        'percent or null, "take_profit_pct": percent or null}}'
    )


def build_messages(
    request: AnalysisRequest, views: Sequence[TimeframeView], reference: Signal, *, detail: Detail = "full"
) -> list[Message]:
    """The messages at one level of detail (see the module docstring)."""
    if detail == "full":
        return _full(request, views, reference)
    entry = request.current_price or float(views[0].bars.close[-1])
    timeframes = {
        view.timeframe.value: _compact_block(view) if detail == "compact" or i == 0 else _minimal_block(view)
        for i, view in enumerate(views)
    }
    data = {
        "symbol": request.symbol,
        "current_price": entry,
        "risk_level": request.risk_level,
        "timeframes_shortest_first": timeframes,
        "reference_rule_based_signal": _reference(reference, entry, levels=3, reasoning=False),
    }
    user = (f"Market data ({PROMPT_VERSION}/{detail}):\n{_dumps(_round(data, 6))}\n\n"
            f"Answer with one JSON object of this form:\n{_template(request.selected_strategies)}")
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def _pct(level: float, entry: float) -> float:
    return abs(level / entry - 1) * 100


def _reference(reference: Signal, entry: float, *, levels: int | None, reasoning: bool) -> dict[str, Any]:
    """The rule-based signal, its levels as distances in percent like the answer's."""
    risk, market = reference.risk_assessment, reference.market_analysis
    stop, take = risk.stop_loss_suggestion, risk.take_profit_suggestion
    shown: dict[str, Any] = {
        "signal": reference.signal,
        "confidence": reference.confidence,
        "stop_loss_pct": None if stop is None else _pct(stop, entry),
        "take_profit_pct": None if take is None else _pct(take, entry),
        "support_levels_pct": [_pct(p, entry) for p in list(market.support_levels)[:levels]],
        "resistance_levels_pct": [_pct(p, entry) for p in list(market.resistance_levels)[:levels]],
    }
    if reasoning:
        shown["reasoning"] = reference.reasoning
    return shown


@dataclass(frozen=True)
class Prompt:
    """The messages sent, the level of detail chosen and what the prompt measured against the budget."""

    messages: list[Message]
    detail: Detail
    tokens: int  # counted by the server's tokenizer, else estimated
    counted: bool  # True when ``tokens`` is the server's own count
    budget: int | None  # None: no budget, the full prompt


def estimate_tokens(messages: Sequence[Message]) -> int:
    """A prompt's size without a tokenizer (see ``CHARS_PER_TOKEN``)."""
    chars = sum(len(m["content"]) for m in messages)
    return int(chars / CHARS_PER_TOKEN) + MESSAGE_OVERHEAD_TOKENS * len(messages)


def fit_prompt(
    request: AnalysisRequest,
    views: Sequence[TimeframeView],
    reference: Signal,
    *,
    budget: int | None,
    count: Callable[[list[Message]], int | None] = lambda _: None,
) -> Prompt:
    """The most detailed prompt within ``budget`` tokens (``minimal`` when nothing fits; None: ``full``).

    Levels are tried from the least detailed up, stopping at the first that does not fit: each
    level holds the one below it, so nothing more detailed can fit either, and with a small budget
    the full prompt (the costliest to build and to count) is never built.
    """
    if budget is None:
        messages = build_messages(request, views, reference, detail="full")
        counted = count(messages)
        return Prompt(messages, "full", counted if counted is not None else estimate_tokens(messages),
                      counted is not None, None)
    chosen: Prompt | None = None
    for detail in reversed(DETAILS):
        messages = build_messages(request, views, reference, detail=detail)
        counted = count(messages)
        tokens = counted if counted is not None else estimate_tokens(messages)
        prompt = Prompt(messages, detail, tokens, counted is not None, budget)
        if chosen is not None and tokens > budget:
            break
        chosen = prompt  # the smallest level is kept even when it does not fit
        if tokens > budget:
            break
    assert chosen is not None
    return chosen


def _full(request: AnalysisRequest, views: Sequence[TimeframeView], reference: Signal) -> list[Message]:
    entry = request.current_price or float(views[0].bars.close[-1])
    data = {
        "symbol": request.symbol,
        "current_price": entry,
        "analysis_time_ms": request.timestamp_ms,
        "risk_level": request.risk_level,
        "strategies_to_score": list(request.selected_strategies),
        "timeframes": {view.timeframe.value: _timeframe_block(view) for view in views},
        "reference_rule_based_signal": _reference(reference, entry, levels=None, reasoning=True),
    }
    schema = _dumps(signal_schema(request.selected_strategies))
    user = f"Market data ({PROMPT_VERSION}/full):\n{_dumps(_round(data))}\n\nAnswer schema (JSON Schema):\n{schema}"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


REPAIR_ANSWER_CHARS = 3000


def repair_messages(request: AnalysisRequest, entry: float, answer: str, problem: str) -> list[Message]:
    """One repair round with only what it needs: the rules, the price, the answer and what is wrong.

    Not the market data again: resending the whole prompt plus the first answer is what overflowed
    a small model's context. The answer is cut at ``REPAIR_ANSWER_CHARS`` (an answer cut by the
    output cap is mostly repeated text).
    """
    shown = answer if len(answer) <= REPAIR_ANSWER_CHARS else answer[:REPAIR_ANSWER_CHARS] + " ...(cut)"
    user = (
        f"Your previous answer for {request.symbol} (current price {entry:.8g}) is unusable: {problem}.\n"
        f"Your answer was:\n{shown}\n\n"
        f"Reply with only the corrected JSON object, of this form:\n{_template(request.selected_strategies)}"
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def prompt_hash(model: str, messages: Sequence[Message]) -> str:
    """The cache key: the same model asked the same thing gives the same answer again."""
    return hashlib.sha256(_dumps([model, list(messages)]).encode()).hexdigest()
