"""The rule-based analyst on real ETH/BTC candles: valid, explainable, deterministic, symmetric."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from tradewind.analysis.indicators import latest_indicators
from tradewind.analysts.base import AnalysisRequest
from tradewind.analysts.rules import MAX_POSITION, RulesAnalyst
from tradewind.domain import Timeframe
from tradewind.domain.bars import Bars, resample
from tradewind.signals.requests import bars_from_rows

DATA = Path(__file__).parent / "data"
FIVE = bars_from_rows(json.loads((DATA / "ETH_BTC-5m.json").read_text()))


def request_at(end: int, *, strategies: tuple[str, ...] | None = None, risk: str = "Moderate", bars: Bars = FIVE) -> AnalysisRequest:
    prefix = bars.slice(0, end)
    hourly, done_h = resample(prefix, 3600, source_seconds=300)
    four, done_4 = resample(prefix, 14400, source_seconds=300)
    candles = {
        Timeframe.M5: prefix.slice(-500),
        Timeframe.H1: Bars(*(c[done_h] for c in hourly)),
        Timeframe.H4: Bars(*(c[done_4] for c in four)),
    }
    extra = {"selected_strategies": strategies} if strategies else {}
    return AnalysisRequest(symbol="ETHBTC", candles=candles, timestamp_ms=int(prefix.time[-1] + 300) * 1000,
                           risk_level=risk, **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize("end", [700, 1500, 2600, 3900, 5000, 5760])
def test_signals_are_valid_and_levels_make_sense(end: int) -> None:
    request = request_at(end)
    signal = RulesAnalyst().analyze(request)
    entry = float(FIVE.close[end - 1])
    assert signal.signal in ("Long", "Short", "Neutral") and 0 <= signal.confidence <= 1
    assert set(signal.strategy_scores) == {"RSI Strategy", "MACD Strategy", "Volume Strategy", "Bollinger Bands Strategy"}
    assert all(0 <= v <= 1 for v in signal.strategy_scores.values())
    market, risk = signal.market_analysis, signal.risk_assessment
    assert all(s < entry for s in market.support_levels) and all(r > entry for r in market.resistance_levels)
    assert list(market.support_levels) == sorted(market.support_levels, reverse=True)  # nearest first
    assert list(market.resistance_levels) == sorted(market.resistance_levels)
    assert market.volatility_level in ("Low", "Medium", "High") and 0 <= market.trend_strength <= 1
    if signal.signal == "Long":
        assert risk.stop_loss_suggestion < entry < risk.take_profit_suggestion
    elif signal.signal == "Short":
        assert risk.take_profit_suggestion < entry < risk.stop_loss_suggestion
    else:
        assert risk.stop_loss_suggestion is None and risk.take_profit_suggestion is None
        assert risk.recommended_position_size == 0
    assert 0 <= risk.recommended_position_size <= MAX_POSITION["Moderate"]
    assert signal.timestamp == request.timestamp_ms and signal.analyst == "rules"


def test_reasoning_cites_the_numbers_it_used() -> None:
    request = request_at(3000)
    signal = RulesAnalyst().analyze(request)
    five = latest_indicators(request.candles[Timeframe.M5])
    assert f"RSI 14 {five['rsi_14']:.1f}" in signal.reasoning
    assert f"ADX {five['adx_14']:.4g}" in signal.reasoning
    for tf in ("5m (score", "1h (score", "4h (score"):
        assert tf in signal.reasoning
    score = signal.extras["score"]
    assert f"Weighted score {score:+.2f}" in signal.reasoning and signal.signal in signal.reasoning.split("->")[-1]


def test_deterministic_and_strategy_selection() -> None:
    analyst = RulesAnalyst()
    a, b = analyst.analyze(request_at(4000)), analyst.analyze(request_at(4000))
    assert a == b
    only = analyst.analyze(request_at(4000, strategies=("RSI Strategy", "MACD Strategy")))
    assert set(only.strategy_scores) == {"RSI Strategy", "MACD Strategy"}
    assert "Bollinger" not in only.reasoning.split("structure:")[0]


def test_risk_level_scales_the_position() -> None:
    analyst = RulesAnalyst()
    for end in range(600, 5760, 97):
        sized = {risk: analyst.analyze(request_at(end, risk=risk)).risk_assessment.recommended_position_size
                 for risk in ("Conservative", "Moderate", "Aggressive")}
        if sized["Moderate"]:
            assert sized["Conservative"] <= sized["Moderate"] <= sized["Aggressive"]
            assert sized["Conservative"] < sized["Aggressive"]
            return
    pytest.fail("no directional signal found to size")


def test_few_candles_say_so_instead_of_failing() -> None:
    short = FIVE.slice(0, 12)
    request = AnalysisRequest(symbol="ETHBTC", candles={Timeframe.M5: short}, timestamp_ms=1)
    signal = RulesAnalyst().analyze(request)
    assert "Too few candles (12)" in signal.reasoning and "EMA 50 needs 50 candles" in signal.reasoning
    one = AnalysisRequest(symbol="ETHBTC", candles={Timeframe.M5: FIVE.slice(0, 1)}, timestamp_ms=1)
    assert RulesAnalyst().analyze(one).signal == "Neutral"


def mirrored(bars: Bars) -> Bars:
    """Price reflected around a constant: an uptrend becomes the same downtrend."""
    pivot = float(bars.high.max() + bars.low.min())
    return Bars(bars.time, pivot - bars.open, pivot - bars.low, pivot - bars.high, pivot - bars.close, bars.volume, bars.spread)


def test_a_mirrored_market_gets_the_mirrored_view() -> None:
    """Rules have no built-in bias: reflecting prices flips every directional vote."""
    analyst = RulesAnalyst()
    flipped = {"Long": "Short", "Short": "Long", "Neutral": "Neutral"}
    agree = 0
    cuts = list(range(800, 5760, 250))
    for end in cuts:
        up = analyst.analyze(request_at(end))
        down = analyst.analyze(request_at(end, bars=mirrored(FIVE)))
        agree += flipped[up.signal] == down.signal
        assert up.market_analysis.trend_direction != "Bullish" or down.market_analysis.trend_direction != "Bullish"
    # ties (a close exactly on an average, equal swing highs) can break the symmetry at a cut or two
    assert agree >= len(cuts) - 2


def test_market_condition_and_recommendations_have_the_seed_shape() -> None:
    analyst = RulesAnalyst()
    request = request_at(5760)
    condition = analyst.market_condition(request)
    assert condition["condition_type"] in ("Trending Up", "Trending Down", "Sideways")
    assert condition["market_phase"] in ("Active Trading", "Consolidation", "Breakout")
    assert 0 <= condition["confidence"] <= 1 and condition["characteristics"]
    change = float(re.search(r"price change ([+-][\d.]+)%", condition["characteristics"][0]).group(1)) / 100
    assert (condition["condition_type"] == "Trending Up") == (change > 0.05)
    ranked = analyst.strategy_recommendations(request)
    assert [r["suitability_score"] for r in ranked] == sorted((r["suitability_score"] for r in ranked), reverse=True)
    for item in ranked:
        assert set(item) == {"strategy_name", "suitability_score", "reasoning", "recommended_config"}
        assert item["recommended_config"] == {"enabled": item["suitability_score"] >= 0.5, "weight": item["suitability_score"]}
    assert np.isfinite([r["suitability_score"] for r in ranked]).all()


def test_a_remembered_view_is_the_one_its_candles_give_and_any_change_recomputes_it() -> None:
    cached, fresh = RulesAnalyst(), RulesAnalyst(cached_views=0)
    window = FIVE.slice(1000, 1500)
    first = cached.view(Timeframe.M5, window, ("RSI Strategy",))
    assert cached.view(Timeframe.M5, window.slice(0), ("RSI Strategy",)) is first  # same content: kept
    assert first == fresh.view(Timeframe.M5, window, ("RSI Strategy",))
    changed = Bars(*(column.copy() for column in window))
    changed.close[-1] *= 1.01  # one candle of the 500
    other = cached.view(Timeframe.M5, changed, ("RSI Strategy",))
    assert other is not first and other.indicators == fresh.view(Timeframe.M5, changed, ("RSI Strategy",)).indicators
    assert cached.view(Timeframe.M5, window, ("MACD Strategy",)) is not first  # other strategies: another view
    for end in range(600, 600 + 80):  # a bounded memory: the oldest go first
        cached.view(Timeframe.M5, FIVE.slice(end - 300, end), ())
    assert len(cached._cache) == 64
    assert cached.analyze(request_at(1200)) == fresh.analyze(request_at(1200))
