"""The built-in rule-based analyst: deterministic, explainable, and measured like any other.

Per timeframe it reads TA-Lib indicators, smart-money structure and the market condition, turns
each into a vote in [-1, 1] (bullish positive), and weighs them: trend 0.35, structure 0.20,
the selected strategies 0.45 between them; longer timeframes weigh more (1, 1.5, 2 for three).
The signal is Long or Short when the weighted score passes +-0.15, else Neutral. Confidence is
the hit rate measured for signals of that class and strength on real history
(``analysts.calibration``), so a Long at 0.36 means about a third of such Longs reached their
target first; ``/ai/performance`` keeps measuring it. The reasoning cites the numbers and
structure each vote came from.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from tradewind.analysis.indicators import MIN_CANDLES, IndicatorSnapshot, latest_indicators
from tradewind.analysis.market import (
    Trend,
    Volatility,
    VolumeView,
    clamp,
    cluster_levels,
    market_condition,
    trend_of,
    volatility_of,
    volume_of,
)
from tradewind.analysis.means import mean, weighted_mean
from tradewind.analysis.structure import StructureSummary, summarize_structure
from tradewind.analysts.base import AnalysisRequest
from tradewind.analysts.calibration import DEFAULT_CALIBRATION, Calibration
from tradewind.domain.bars import Bars
from tradewind.domain.signal import MarketAnalysis, RiskAssessment, Signal
from tradewind.domain.timeframe import Timeframe

__all__ = ["RulesAnalyst", "TimeframeView", "view_timeframe"]

THRESHOLD = 0.15
WEIGHTS = {"trend": 0.35, "structure": 0.20, "strategies": 0.45}
RISK_PER_TRADE = {"Conservative": 0.005, "Moderate": 0.01, "Aggressive": 0.02}
MAX_POSITION = {"Conservative": 0.05, "Moderate": 0.10, "Aggressive": 0.20}
_LABELS = {
    "sma_20": "SMA 20", "sma_50": "SMA 50", "ema_9": "EMA 9", "ema_12": "EMA 12", "ema_21": "EMA 21",
    "ema_26": "EMA 26", "ema_50": "EMA 50", "rsi_14": "RSI 14", "stoch_k": "Stochastic %K",
    "stoch_d": "Stochastic %D", "macd": "MACD", "macd_signal": "MACD signal", "macd_hist": "MACD histogram",
    "bb_upper": "Bollinger upper", "bb_middle": "Bollinger middle", "bb_lower": "Bollinger lower",
    "atr_14": "ATR 14", "adx_14": "ADX 14", "volume_sma_20": "volume SMA 20", "volume_ratio": "volume ratio",
}


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.2f}"
    if magnitude >= 1:
        return f"{value:.4g}" if magnitude < 100 else f"{value:.2f}"
    return f"{value:.6g}"


@dataclass(frozen=True)
class TimeframeView:
    """Everything the analyst derived for one timeframe, with the votes and their reasons."""

    timeframe: Timeframe
    bars: Bars
    indicators: IndicatorSnapshot
    structure: StructureSummary
    trend: Trend
    volatility: Volatility
    volume: VolumeView
    strategies: dict[str, tuple[float, str]]  # name -> (vote in [-1, 1], reason)
    structure_vote: tuple[float, str]


def _rsi_vote(ind: IndicatorSnapshot) -> tuple[float, str]:
    rsi = ind["rsi_14"]
    if rsi is None:
        return 0.0, f"RSI 14 needs {MIN_CANDLES['rsi_14']} candles"
    vote = clamp((50 - rsi) / 20, -1, 1) if (rsi < 40 or rsi > 60) else 0.0
    state = "oversold" if rsi < 30 else "overbought" if rsi > 70 else "weak" if rsi < 40 else "strong" if rsi > 60 else "neutral"
    return vote, f"RSI 14 {rsi:.1f} ({state})"


def _macd_vote(ind: IndicatorSnapshot) -> tuple[float, str]:
    hist, macd, signal, atr = ind["macd_hist"], ind["macd"], ind["macd_signal"], ind["atr_14"]
    if hist is None or macd is None or signal is None:
        return 0.0, f"MACD needs {MIN_CANDLES['macd_hist']} candles"
    scale = 0.1 * atr if atr else abs(macd) or 1.0
    vote = clamp(hist / scale, -1, 1)
    side = "above" if macd > signal else "below"
    return vote, f"MACD {_fmt(macd)} {side} its signal {_fmt(signal)} (histogram {_fmt(hist)})"


def _bollinger_vote(bars: Bars, ind: IndicatorSnapshot) -> tuple[float, str]:
    upper, lower = ind["bb_upper"], ind["bb_lower"]
    if upper is None or lower is None or upper <= lower:
        return 0.0, f"Bollinger Bands need {MIN_CANDLES['bb_upper']} candles"
    close = float(bars.close[-1])
    percent_b = (close - lower) / (upper - lower)
    vote = clamp(1 - 2 * percent_b, -1, 1)
    if abs(vote) < 0.4:
        vote = 0.0
    return vote, f"close at %B {percent_b:.2f} between {_fmt(lower)} and {_fmt(upper)}"


def _volume_vote(bars: Bars, view: VolumeView) -> tuple[float, str]:
    if view.ratio is None or len(bars) < 6:
        return 0.0, "volume needs 20 candles"
    direction = float(np.sign(bars.close[-1] - bars.close[-6]))
    vote = direction * clamp(view.ratio - 1, 0, 1)
    if view.up_share is not None:
        vote = 0.5 * vote + 0.5 * clamp((view.up_share - 0.5) * 4, -1, 1)
    return vote, view.description


def _structure_vote(bars: Bars, summary: StructureSummary) -> tuple[float, str]:
    parts: list[str] = []
    vote = 0.0
    event = summary.last_event
    if event is not None:
        sign = 1.0 if event["direction"] == "bullish" else -1.0
        fresh = 1.0 if event["bars_ago"] <= 10 else 0.6
        vote += sign * (0.6 if event["type"] == "CHoCH" else 0.5) * fresh
        parts.append(f"{event['direction']} {event['type']} at {_fmt(event['level'])} {event['bars_ago']} bars ago")
    if summary.zone in ("premium", "discount"):
        vote += -0.2 if summary.zone == "premium" else 0.2
        parts.append(f"price in {summary.zone} of the {_fmt(summary.range_low)}-{_fmt(summary.range_high)} range"
                     f" (equilibrium {_fmt(summary.equilibrium)})")
    close = float(bars.close[-1])
    if summary.open_fvgs:
        gap = summary.open_fvgs[0]
        below = gap["top"] <= close
        parts.append(f"nearest open {gap['direction']} FVG {_fmt(gap['bottom'])}-{_fmt(gap['top'])}"
                     f" {'below' if below else 'above'} price")
    if summary.recent_sweeps:
        sweep = summary.recent_sweeps[-1]
        side = str(sweep.get("side", ""))
        vote += 0.2 if side.startswith("sell") else -0.2 if side.startswith("buy") else 0.0
        parts.append(f"{side} liquidity swept at {_fmt(sweep.get('level'))}")
    return clamp(vote, -1, 1), "; ".join(parts) if parts else "no confirmed structure yet"


def view_timeframe(timeframe: Timeframe, bars: Bars, strategies: tuple[str, ...]) -> TimeframeView:
    ind = latest_indicators(bars)
    structure = summarize_structure(bars)
    trend = trend_of(bars, ind)
    volatility = volatility_of(bars, ind)
    volume = volume_of(bars, ind)
    votes = {
        "RSI Strategy": _rsi_vote(ind),
        "MACD Strategy": _macd_vote(ind),
        "Bollinger Bands Strategy": _bollinger_vote(bars, ind),
        "Volume Strategy": _volume_vote(bars, volume),
    }
    chosen = {name: votes[name] for name in strategies if name in votes}
    return TimeframeView(timeframe, bars, ind, structure, trend, volatility, volume, chosen, _structure_vote(bars, structure))


class RulesAnalyst:
    """The embedded default analyst; also answers market condition and strategy suitability.

    It reads at most ``window`` recent candles per timeframe: enough for every indicator to settle
    (the longest, EMA 50 and ADX 14, converge well within it) and a bounded cost per analysis, so a
    bar-by-bar replay over years stays linear.
    """

    name = "rules"

    def __init__(self, *, window: int = 500, calibration: Calibration = DEFAULT_CALIBRATION,
                 cached_views: int = 64) -> None:
        self.window = window
        self.calibration = calibration
        # A 15m analysis with 1h and 4h sees the same 4h candles sixteen times in a row: their view
        # (indicators, structure) is kept, keyed by the candles' content, so it is computed once.
        self._cache: OrderedDict[tuple[Any, ...], TimeframeView] = OrderedDict()
        self._cache_size = cached_views
        self._lock = threading.Lock()

    def views(self, request: AnalysisRequest) -> list[TimeframeView]:
        ordered = sorted(request.candles, key=lambda tf: tf.seconds)
        return [self.view(tf, request.candles[tf].slice(-self.window), request.selected_strategies) for tf in ordered]

    def view(self, timeframe: Timeframe, bars: Bars, strategies: tuple[str, ...]) -> TimeframeView:
        """``view_timeframe``, remembered for the last ``cached_views`` distinct inputs."""
        if self._cache_size <= 0:
            return view_timeframe(timeframe, bars, strategies)
        # Python's bytes hash is SipHash with a per-process random key: 64 bits no input can aim at,
        # four times cheaper than blake2b over the ~28 KB of a 500-candle window
        key = (timeframe, tuple(strategies), len(bars), hash(b"".join(column.tobytes() for column in bars)))
        with self._lock:
            view = self._cache.get(key)
            if view is not None:
                self._cache.move_to_end(key)
                return view
        view = view_timeframe(timeframe, bars, strategies)
        with self._lock:
            self._cache[key] = view
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return view

    # --- the signal ----------------------------------------------------------------------------
    def analyze(self, request: AnalysisRequest) -> Signal:
        return self.decide(request, self.views(request))

    def decide(self, request: AnalysisRequest, views: list[TimeframeView]) -> Signal:
        """The signal from views already computed (the LLM analyst shares them)."""
        weights = [0.5 * k + 0.5 for k in range(1, len(views) + 1)]  # 1, 1.5, 2, ...
        tf_scores = np.array([self._score(v) for v in views])
        score = weighted_mean(tf_scores.tolist(), weights)
        agreement = mean((np.sign(tf_scores) == np.sign(score)).tolist()) if score != 0 else 1.0
        direction = "Long" if score > THRESHOLD else "Short" if score < -THRESHOLD else "Neutral"
        confidence = self.calibration.probability(direction, abs(score))
        primary = views[0]
        close = float(primary.bars.close[-1])
        entry = request.current_price or close
        levels = self._levels(views, entry)
        stop, take = self._stops(direction, entry, primary, levels)
        strategy_scores = self._strategy_scores(views, weights)
        market_risk = clamp(((primary.volatility.relative or 1.0) - 0.6) / 1.2, 0, 1)
        technical_risk = clamp(1 - abs(score) * agreement, 0, 1)
        overall = (technical_risk + market_risk) / 2
        size = self._position_size(direction, entry, stop, request.risk_level)
        longest = views[-1]
        trend_direction = "Bullish" if longest.trend.score > 0.3 else "Bearish" if longest.trend.score < -0.3 else "Sideways"
        reasoning = self._reasoning(views, tf_scores, score, direction, levels, stop, take, entry, confidence,
                                    self.calibration.source.split(" (")[0])
        return Signal(
            symbol=request.symbol,
            signal=direction,  # type: ignore[arg-type]
            confidence=round(clamp(confidence, 0.0, 1.0), 4),
            reasoning=reasoning,
            strategy_scores=strategy_scores,
            market_analysis=MarketAnalysis(
                trend_direction=trend_direction,  # type: ignore[arg-type]
                trend_strength=round(clamp(abs(longest.trend.score) * (0.5 + 0.5 * longest.trend.strength), 0, 1), 4),
                support_levels=levels[0],
                resistance_levels=levels[1],
                volatility_level=primary.volatility.level,
                volume_analysis=f"{primary.timeframe.value}: {primary.volume.description}",
            ),
            risk_assessment=RiskAssessment(
                overall_risk="Low" if overall < 0.35 else "High" if overall > 0.65 else "Medium",
                technical_risk=round(technical_risk, 4),
                market_risk=round(market_risk, 4),
                recommended_position_size=round(size, 4),
                stop_loss_suggestion=stop,
                take_profit_suggestion=take,
            ),
            timestamp=request.timestamp_ms,
            analyst=self.name,
            timeframe=primary.timeframe.value,
            entry_price=entry,
            extras={"score": round(score, 4), "timeframe_scores": {v.timeframe.value: round(float(s), 4) for v, s in zip(views, tf_scores)}},
        )

    @staticmethod
    def _score(view: TimeframeView) -> float:
        strategies = [vote for vote, _ in view.strategies.values()]
        strategy = mean(strategies) if strategies else 0.0
        trend = view.trend.score * (0.5 + 0.5 * view.trend.strength)
        return WEIGHTS["trend"] * trend + WEIGHTS["structure"] * view.structure_vote[0] + WEIGHTS["strategies"] * strategy

    @staticmethod
    def _strategy_scores(views: list[TimeframeView], weights: list[float]) -> dict[str, float]:
        """Each strategy's bullishness in [0, 1] (0.5 neutral), weighted across timeframes."""
        names = list(views[0].strategies)
        return {
            name: round((1 + weighted_mean([v.strategies[name][0] for v in views], weights)) / 2, 4)
            for name in names
        }

    @staticmethod
    def _levels(views: list[TimeframeView], close: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
        prices: list[float] = []
        for view in views:
            prices += [p for _, p in view.structure.swing_highs] + [p for _, p in view.structure.swing_lows]
            prices += [pool["level"] for pool in view.structure.liquidity_pools]
        atr = views[0].volatility.atr or close * 0.002
        levels = cluster_levels(prices, close, tolerance=0.5 * atr)
        return tuple(round(p, 10) for p in levels.support), tuple(round(p, 10) for p in levels.resistance)

    @staticmethod
    def _stops(direction: str, entry: float, primary: TimeframeView,
               levels: tuple[tuple[float, ...], tuple[float, ...]]) -> tuple[float | None, float | None]:
        """Stop beyond the nearest structure level within 3 ATR (else 1.5 ATR); target at the
        next level if it pays at least 1.5x the risk, else at 2x the risk."""
        if direction == "Neutral":
            return None, None
        atr = primary.volatility.atr or entry * 0.01
        supports, resistances = levels
        if direction == "Long":
            near = [s for s in supports if entry - s <= 3 * atr]
            stop = (near[0] - 0.25 * atr) if near else entry - 1.5 * atr
            risk = entry - stop
            targets = [r for r in resistances if r - entry >= 1.5 * risk]
            take = targets[0] if targets else entry + 2 * risk
        else:
            near = [r for r in resistances if r - entry <= 3 * atr]
            stop = (near[0] + 0.25 * atr) if near else entry + 1.5 * atr
            risk = stop - entry
            targets = [s for s in supports if entry - s >= 1.5 * risk]
            take = targets[0] if targets else entry - 2 * risk
        return float(stop), float(max(take, entry * 1e-6))

    @staticmethod
    def _position_size(direction: str, entry: float, stop: float | None, risk_level: str) -> float:
        """The fraction of equity that risks ``RISK_PER_TRADE`` at the stop, capped per risk level."""
        if direction == "Neutral" or stop is None or stop == entry:
            return 0.0
        risk_share = abs(entry - stop) / entry
        return float(min(MAX_POSITION[risk_level], RISK_PER_TRADE[risk_level] / risk_share))

    @staticmethod
    def _reasoning(views: list[TimeframeView], tf_scores: np.ndarray, score: float, direction: str,
                   levels: tuple[tuple[float, ...], tuple[float, ...]], stop: float | None, take: float | None,
                   entry: float, confidence: float, calibration: str) -> str:
        lines = []
        for view, tf_score in zip(views, tf_scores):
            t = view.trend
            trend = (f"EMA 9/21/50 {_fmt(t.ema_fast)}/{_fmt(t.ema_mid)}/{_fmt(t.ema_slow)}, ADX {_fmt(t.adx)}"
                     f" (trend vote {t.score:+.2f})")
            strategies = "; ".join(reason for _, reason in view.strategies.values())
            missing = [f"{_LABELS[name]} needs {need} candles" for name, need in view.indicators.missing.items()
                       if name in ("sma_50", "ema_50", "adx_14", "macd_hist", "rsi_14")]
            note = f" Too few candles ({view.indicators.candles}): {', '.join(missing)}." if missing else ""
            lines.append(
                f"{view.timeframe.value} (score {tf_score:+.2f}): {trend}; {strategies}; structure: "
                f"{view.structure_vote[1]}; ATR {_fmt(view.volatility.atr)} ({view.volatility.level} volatility).{note}"
            )
        support, resistance = levels
        decision = f"Weighted score {score:+.2f} (threshold +-{THRESHOLD}) -> {direction}."
        decision += f" Confidence {confidence:.2f}: the measured hit rate of such signals ({calibration})."
        if stop is not None and take is not None:
            decision += f" Entry {_fmt(entry)}, stop {_fmt(stop)}, target {_fmt(take)}."
        decision += f" Support {', '.join(map(_fmt, support)) or 'none found'}; resistance {', '.join(map(_fmt, resistance)) or 'none found'}."
        return " ".join(lines) + " " + decision

    # --- the seed's other two questions --------------------------------------------------------
    def market_condition(self, request: AnalysisRequest) -> dict[str, Any]:
        views = self.views(request)
        longest = views[-1]
        broke = longest.structure.last_event is not None and longest.structure.last_event["bars_ago"] <= 3
        condition, change, phase = market_condition(longest.bars, longest.indicators, longest.volatility, broke_structure=broke)
        characteristics = [
            f"{longest.timeframe.value} price change {change:+.2%} over the last {min(50, len(longest.bars))} candles",
            f"ADX {_fmt(longest.trend.adx)} ({'trending' if (longest.trend.adx or 0) >= 25 else 'weak trend'})",
            f"{longest.volatility.level} volatility (ATR {_fmt(longest.volatility.atr)})",
            longest.volume.description,
        ]
        if longest.structure.last_event is not None:
            event = longest.structure.last_event
            characteristics.append(f"last {event['direction']} {event['type']} {event['bars_ago']} bars ago")
        ranked = self.strategy_recommendations(request, views=views)
        confidence = clamp(abs(change) / (2 * 0.05), 0, 1) if condition != "Sideways" else float(
            clamp(1 - abs(change) / 0.05, 0, 1))
        return {
            "condition_type": condition,
            "confidence": round(0.5 + 0.5 * confidence, 4),
            "characteristics": characteristics,
            "recommended_strategies": [r["strategy_name"] for r in ranked if r["suitability_score"] >= 0.5][:3],
            "market_phase": phase,
        }

    def strategy_recommendations(self, request: AnalysisRequest, *, views: list[TimeframeView] | None = None) -> list[dict[str, Any]]:
        """How well each strategy suits the market now: trend followers (MACD, Volume) in trends
        (ADX), mean reversion (RSI, Bollinger) in ranges; ranked best first."""
        views = views or self.views(request)
        longest = views[-1]
        adx = longest.trend.adx or 0.0
        trending = clamp((adx - 15) / 20, 0, 1)
        low_vol = 1.0 if longest.volatility.level == "Low" else 0.5 if longest.volatility.level == "Medium" else 0.2
        fit = {
            "MACD Strategy": (0.4 + 0.5 * trending, f"ADX {_fmt(adx)}: trend following {'suits' if trending > 0.5 else 'struggles in'} this market"),
            "Volume Strategy": (0.4 + 0.3 * trending + 0.2 * min(1.0, longest.volume.ratio or 0.0),
                                f"{longest.volume.description}"),
            "RSI Strategy": (0.35 + 0.5 * (1 - trending), f"ADX {_fmt(adx)}: mean reversion {'suits' if trending < 0.5 else 'fights'} this market"),
            "Bollinger Bands Strategy": (0.3 + 0.4 * (1 - trending) + 0.2 * low_vol,
                                         f"{longest.volatility.level} volatility, band width {_fmt(longest.volatility.bb_width_pct)}"),
        }
        out = []
        for name in request.selected_strategies:
            score, why = fit[name]
            score = round(clamp(score, 0, 1), 4)
            out.append({
                "strategy_name": name,
                "suitability_score": score,
                "reasoning": f"{name} for {request.symbol} on {longest.timeframe.value}: {why}.",
                "recommended_config": {"enabled": score >= 0.5, "weight": score},
            })
        return sorted(out, key=lambda item: item["suitability_score"], reverse=True)
