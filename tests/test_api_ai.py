"""The AI-service seed's endpoints over real HTTP, on real ETH/BTC candles and a real database."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.server import serve

from tradewind.api.app import create_app
from tradewind.bootstrap import Container, build_container
from tradewind.settings import Settings

DATA = Path(__file__).parent / "data"
ROWS = json.loads((DATA / "ETH_BTC-5m.json").read_text())
KEYS = ("timestamp", "open", "high", "low", "close", "volume")


def candles(rows: list[list[float]]) -> list[dict[str, float]]:
    return [dict(zip(KEYS, row)) for row in rows]


def payload(end: int = 400, **extra: Any) -> dict[str, Any]:
    """The seed's request: 5m candles plus the hours built from them, as a client would send."""
    five = ROWS[end - 300:end]
    hours: dict[int, list[float]] = {}
    for t, o, h, lo, c, v in ROWS[:end]:
        key = t // 3_600_000 * 3_600_000
        bar = hours.setdefault(key, [key, o, h, lo, c, 0.0])
        bar[2], bar[3], bar[4], bar[5] = max(bar[2], h), min(bar[3], lo), c, bar[5] + v
    hourly = list(hours.values())[:-1]  # the last hour may still be forming
    body = {
        "symbol": "ETHBTC",
        "timeframe_data": {"5m": candles(five), "1h": candles(hourly[-100:])},
        "current_price": five[-1][4],
        "volume_24h": 1234.5,
        "timestamp": five[-1][0] + 300_000,
        "strategy_context": {"selected_strategies": ["RSI Strategy", "MACD Strategy", "Bollinger Bands Strategy"],
                             "market_condition": "Trending", "risk_level": "Moderate", "user_preferences": {},
                             "technical_indicators": {}},
    }
    body.update(extra)
    return body


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Container]]:
    """The service replaying the same real 5m candles, so stored signals can be scored against them."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path_factory.mktemp('ai') / 'tw.db'}", feed="replay",
        replay_path=DATA / "ETH_BTC-5m.json", replay_symbol="ETHBTC", replay_timeframe="5m", symbols=["ETHBTC"],
        timeframes=["5m", "1h", "4h"], analysis_timeframes=["5m", "1h", "4h"], analysis_max_candles=1000,
        admin_token="s3cret", trading=False,  # the AI seed's routes alone; trading has its own tests
    )
    container = build_container(settings)
    with serve(create_app(container)) as url:
        deadline = time.monotonic() + 30
        while not (container.runtime.feed_finished and container.recorder.pending == 0):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        yield url, container


def stored_count(url: str) -> int:
    return int(httpx.get(f"{url}/ai/storage/stats").json()["total_analyses"])


def test_analyze_answers_the_seed_shape_stores_it_and_caches(running: tuple[str, Container]) -> None:
    url, container = running
    httpx.post(f"{url}/ai/storage/clear", headers={"Authorization": "Bearer s3cret"})
    response = httpx.post(f"{url}/ai/analyze", json=payload(), timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"signal", "confidence", "reasoning", "strategy_scores", "market_analysis", "risk_assessment",
                         "timestamp", "signal_id"}
    assert set(body["market_analysis"]) == {"trend_direction", "trend_strength", "support_levels", "resistance_levels",
                                            "volatility_level", "volume_analysis"}
    assert set(body["risk_assessment"]) == {"overall_risk", "technical_risk", "market_risk", "recommended_position_size",
                                            "stop_loss_suggestion", "take_profit_suggestion"}
    assert set(body["strategy_scores"]) == {"RSI Strategy", "MACD Strategy", "Bollinger Bands Strategy"}
    assert body["timeframe"] == "5m" and body["cached"] is False and not body["reasoning"].startswith("[RECENT]")
    again = httpx.post(f"{url}/ai/analyze", json=payload(), timeout=10).json()  # the same input: the seed's cache
    assert again["reasoning"] == "[RECENT] " + body["reasoning"] and again["signal_id"] == body["signal_id"]
    assert stored_count(url) == 1
    later = httpx.post(f"{url}/ai/analyze", json=payload(end=420), timeout=10).json()  # other candles: a new analysis
    assert later["cached"] is False and later["signal_id"] != body["signal_id"]
    assert stored_count(url) == 2
    stats = httpx.get(f"{url}/ai/storage/stats").json()
    assert stats["symbol_breakdown"][0]["symbol"] == "ETHBTC" and stats["collection_name"] == "ai_analysis_results"
    detail = httpx.get(f"{url}/ai/signals/{body['signal_id']}").json()
    assert detail["signal"] == body["signal"] and detail["outcome"] is None and detail["feedback"] == []


def test_a_symbol_alone_uses_the_streamers_candles(running: tuple[str, Container]) -> None:
    url, _ = running
    httpx.post(f"{url}/ai/storage/clear", headers={"Authorization": "Bearer s3cret"})
    body = httpx.post(f"{url}/ai/analyze", json={"symbol": "eth/btc"}, timeout=10).json()
    assert body["symbol"] == "ETHBTC" and "5m (score" in body["reasoning"] and "4h (score" in body["reasoning"]
    unknown = httpx.post(f"{url}/ai/analyze", json={"symbol": "DOGEUSDT"})
    assert unknown.status_code == 404 and unknown.json()["error_code"] == "SYMBOL_NOT_FOUND"


def _bad(mutate) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    body = payload(end=900)
    mutate(body)
    return body


def _set(tf: str, i: int, key: str, value: object):  # type: ignore[no-untyped-def]
    return lambda b: b["timeframe_data"][tf][i].__setitem__(key, value)


BAD = [
    ("nan", _set("5m", 5, "close", math.nan), 400, "timeframe_data.5m[5].close"),
    ("inf", _set("5m", 6, "high", math.inf), 400, "timeframe_data.5m[6].high"),
    ("high below low", _set("5m", 7, "high", 0.01), 400, "timeframe_data.5m[7].high"),
    ("negative price", _set("1h", 3, "low", -1.0), 400, "timeframe_data.1h[3].low"),
    ("negative volume", _set("5m", 9, "volume", -5.0), 400, "timeframe_data.5m[9].volume"),
    ("duplicate time", lambda b: b["timeframe_data"]["5m"][11].__setitem__("timestamp", b["timeframe_data"]["5m"][10]["timestamp"]), 400, "timeframe_data.5m[11].timestamp"),
    ("unsorted", lambda b: b["timeframe_data"]["5m"].reverse(), 400, "timeframe_data.5m[1].timestamp"),
    ("negative time", _set("1h", 0, "timestamp", -3_600_000), 400, "timeframe_data.1h[0].timestamp"),
    ("unknown timeframe", lambda b: b["timeframe_data"].__setitem__("2h", b["timeframe_data"].pop("1h")), 400, "timeframe_data.2h"),
    ("empty series", lambda b: b["timeframe_data"].__setitem__("1h", []), 400, "timeframe_data.1h"),
    ("too many candles", lambda b: b["timeframe_data"].__setitem__("5m", candles(ROWS[:1001])), 400, "timeframe_data.5m"),
    ("far current price", lambda b: b.__setitem__("current_price", b["current_price"] * 1.5), 400, "current_price"),
    ("unknown strategy", lambda b: b["strategy_context"]["selected_strategies"].append("Astrology Strategy"), 400, "strategy_context.selected_strategies[3]"),
    ("bad risk level", lambda b: b["strategy_context"].__setitem__("risk_level", "YOLO"), 400, "strategy_context.risk_level"),
    ("wrong type", _set("5m", 2, "open", "cheap"), 422, "timeframe_data.5m[2].open"),
    ("missing field", lambda b: b["timeframe_data"]["5m"][4].pop("close"), 422, "timeframe_data.5m[4].close"),
    ("no symbol", lambda b: b.pop("symbol"), 422, "symbol"),
]


@pytest.mark.parametrize(("name", "mutate", "status", "field"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_a_4xx_naming_the_field_and_nothing_is_stored(
    running: tuple[str, Container], name: str, mutate, status: int, field: str  # type: ignore[no-untyped-def]
) -> None:
    url, container = running
    before = stored_count(url)
    container.signals._recent.clear()  # a cached answer must not hide the validation
    response = httpx.post(f"{url}/ai/analyze", content=json.dumps(_bad(mutate)),
                          headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    body = response.json()
    assert body["field"] == field and body["detail"] and body["error_code"]
    assert stored_count(url) == before


def test_market_condition_strategies_and_info(running: tuple[str, Container]) -> None:
    url, _ = running
    condition = httpx.post(f"{url}/ai/market-condition", json={k: v for k, v in payload().items() if k != "strategy_context"}).json()
    assert set(condition) == {"condition_type", "confidence", "characteristics", "recommended_strategies", "market_phase"}
    ranked = httpx.post(f"{url}/ai/strategy-recommendations", json={**payload(), "available_strategies": ["RSI Strategy", "Volume Strategy"]}).json()
    assert [r["strategy_name"] for r in ranked] and {r["strategy_name"] for r in ranked} == {"RSI Strategy", "Volume Strategy"}
    bad = httpx.post(f"{url}/ai/strategy-recommendations", json={**payload(), "available_strategies": ["Tea Leaves"]})
    assert bad.status_code == 400 and bad.json()["field"] == "available_strategies[0]"
    assert httpx.get(f"{url}/ai/strategies").json() == ["RSI Strategy", "MACD Strategy", "Volume Strategy", "Bollinger Bands Strategy"]
    info = httpx.get(f"{url}/ai/info").json()
    assert info["model_version"] == "rules" and info["supported_symbols"] == ["ETHBTC"] and info["last_trained"] is None


def test_outcomes_feedback_and_performance(running: tuple[str, Container]) -> None:
    url, container = running
    httpx.post(f"{url}/ai/storage/clear", headers={"Authorization": "Bearer s3cret"})
    empty = httpx.get(f"{url}/ai/performance").json()
    assert empty["predictions_made"] == 0 and empty["overall_accuracy"] is None and empty["brier_score"] is None
    ids = []
    for end in (600, 1400, 2200, 3000):  # signals in the past: the replayed candles that followed are stored
        container.signals._recent.clear()
        ids.append(httpx.post(f"{url}/ai/analyze", json=payload(end=end), timeout=10).json()["signal_id"])
    report = httpx.get(f"{url}/ai/performance").json()
    assert report["predictions_made"] == 4 and report["resolved"] == 4 and report["open"] == 0
    assert 0 <= report["overall_accuracy"] <= 1 and 0 <= report["brier_score"] <= 1
    assert report["by_analyst"]["rules"]["resolved"] == 4 and report["by_symbol"]["ETHBTC"]["resolved"] == 4
    assert sum(bucket["count"] for bucket in report["reliability"]) == 4
    detail = httpx.get(f"{url}/ai/signals/{ids[0]}").json()
    assert detail["outcome"]["status"] in ("take_profit", "stop_loss", "horizon")
    fb = httpx.post(f"{url}/ai/feedback", json={"signal_id": ids[0], "symbol": "ETHBTC", "predicted_signal": detail["signal"],
                                                "actual_outcome": "PROFIT", "profit_loss": 50.0, "confidence_was_accurate": True,
                                                "feedback_notes": "good timing", "timestamp": 1697234567000})
    assert fb.status_code == 200 and fb.json()["message"] == "Feedback received successfully"
    shown = httpx.get(f"{url}/ai/signals/{ids[0]}").json()
    assert shown["feedback"][0]["feedback_notes"] == "good timing" and shown["outcome"] == detail["outcome"]
    missing = httpx.post(f"{url}/ai/feedback", json={"signal_id": "sig_nope", "symbol": "ETHBTC", "predicted_signal": "Long",
                                                     "actual_outcome": "LOSS"})
    assert missing.status_code == 404
    wrong = httpx.post(f"{url}/ai/feedback", json={"signal_id": ids[0], "symbol": "ETHBTC", "predicted_signal": "Up",
                                                   "actual_outcome": "LOSS"})
    assert wrong.status_code == 422 and wrong.json()["field"] == "predicted_signal"


def test_clearing_storage_needs_the_admin_credential(running: tuple[str, Container]) -> None:
    url, container = running
    container.signals._recent.clear()
    httpx.post(f"{url}/ai/analyze", json=payload(), timeout=10)
    assert stored_count(url) >= 1
    denied = httpx.post(f"{url}/ai/storage/clear")
    assert denied.status_code == 403 and denied.json()["error_code"] == "FORBIDDEN"
    assert stored_count(url) >= 1
    cleared = httpx.post(f"{url}/ai/storage/clear", headers={"Authorization": "Bearer s3cret"}).json()
    assert cleared["cleared_analyses"] >= 1 and cleared["message"] == "Storage cleared successfully"
    assert stored_count(url) == 0
