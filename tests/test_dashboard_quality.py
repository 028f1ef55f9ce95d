"""The signal quality page in headless Chromium, against the real service on the synthetic market.

Signals come from the real analysts through the real signal service over past windows of the
stored candles: the rule-based analyst (the container's own) and the LLM analyst answering through
a fake chat client with spread-out confidences, one answer in nine timing out (a fallback to the
rules, which is stored and scored as the rules' signal).
The outcome scorer resolves them against the candles that followed. The page must show, per model
and per analyst, the hit rate and Brier score ``/ai/performance`` answers, one chart point and one
table row per non-empty confidence bin, and say what to wait for when nothing is scored yet.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.browser import Watch
from support.dashboard import dashboard_server
from support.llm_doubles import FakeChat
from support.waiting import wait_for

from tradewind.analysts.llm import LLMAnalyst
from tradewind.analysts.llm_port import Message
from tradewind.bootstrap import Container
from tradewind.domain import Timeframe
from tradewind.domain.bars import bars_from_candles
from tradewind.domain.errors import LLMError
from tradewind.signals.requests import build_request
from tradewind.signals.service import SignalService

CONFIDENCES = (0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95)


def answers() -> Any:
    count = itertools.count()

    def answer(messages: list[Message]) -> str:
        n = next(count)
        if n % 9 == 8:
            raise LLMError("no answer in 30 s", kind="timeout")
        return json.dumps({
            "signal": "Long" if n % 2 else "Short", "confidence": CONFIDENCES[n % len(CONFIDENCES)],
            "reasoning": "fake model", "strategy_scores": {"RSI Strategy": 0.6},
            "market_analysis": {"trend_direction": "Sideways", "trend_strength": 0.3, "support_levels_pct": [2.0],
                                "resistance_levels_pct": [3.0], "volatility_level": "Medium", "volume_analysis": "n/a"},
            "risk_assessment": {"overall_risk": "Medium", "technical_risk": 0.5, "market_risk": 0.5,
                                "recommended_position_size": 0.05, "stop_loss_pct": 1.0, "take_profit_pct": 1.5},
        })

    return answer


def request_at(container: Container, symbol: str, end: int, timeframes: tuple[Timeframe, ...]) -> Any:
    candles = {tf.value: bars_from_candles(container.candles.between(symbol, tf, end - 200 * tf.seconds, end, limit=200))
               for tf in timeframes}
    return build_request(symbol=symbol, timeframe_data=candles, timestamp_ms=end * 1000)


def seed(container: Container) -> None:
    """Rules and LLM signals on 5m windows from 20 h to 3 h ago: every horizon (2 h) has passed."""
    llm = SignalService(analyst=LLMAnalyst(FakeChat(answers()), decisions=container.decisions, clock=container.clock),
                        store=container.signals.store, clock=container.clock, cache_ttl_seconds=0)
    now = int(container.clock.now()) // 300 * 300
    for symbol in ("BTCUSDT", "ETHUSDT"):
        for end in range(now - 20 * 3600, now - 3 * 3600, 1800):
            request = request_at(container, symbol, end, (Timeframe.M5, Timeframe.M15))
            for service in (container.signals, llm):
                service.analyze(request, use_cache=False)
    container.scorer.resolve_open()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Container]]:
    with dashboard_server(tmp_path_factory.mktemp("quality"), trading=False) as (url, container):
        wait_for(lambda: container.candles.count("ETHUSDT", Timeframe.M15) > 50, timeout=20)
        seed(container)
        yield url, container


def performance(url: str) -> dict[str, Any]:
    response = httpx.get(f"{url}/ai/performance", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def open_quality(tab: Any, url: str, route: str = "quality") -> None:
    tab.goto(f"{url}/dashboard/#/{route}")
    tab.wait_for_selector(".q-group svg.reliability, .q-compare-card .empty", timeout=15_000)


def shown_figure(tab: Any, scope: str, name: str) -> float | None:
    """A figure as the page shows it (percentages back to fractions); None for a dash."""
    text = tab.text_content(f"{scope} [data-figure={name}]").strip()
    if text == "–":
        return None
    return float(text.rstrip("%").replace(",", "")) / (100 if text.endswith("%") else 1)


def no_sideways_scroll(tab: Any) -> None:
    width, inner = tab.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, (width, inner)


def test_every_seeded_signal_is_scored_and_split_by_model(served: tuple[str, Container]) -> None:
    url, _ = served
    report = performance(url)
    assert report["resolved"] == report["predictions_made"] > 50 and report["open"] == 0
    assert set(report["by_model"]) == {"rules", "gpt-4o-mini"}
    assert set(report["by_analyst"]) == {"rules", "llm:gpt-4o-mini"}
    # the LLM analyst's fallbacks are the rules' signals (stored under the rules' name), never the model's
    fallbacks = report["by_source"]["rules_fallback"]["predictions_made"]
    rules_own = report["by_source"]["rules"]["predictions_made"]
    assert fallbacks > 0 and report["by_model"]["rules"]["predictions_made"] == rules_own + fallbacks
    assert report["by_model"]["rules"] == report["by_analyst"]["rules"]
    assert report["by_model"]["gpt-4o-mini"] == report["by_analyst"]["llm:gpt-4o-mini"]
    assert report["by_model"]["gpt-4o-mini"]["predictions_made"] == report["by_source"]["llm"]["predictions_made"]


@pytest.mark.parametrize(("route", "split"), [("quality", "by_model"), ("quality?by=analyst", "by_analyst")])
def test_each_group_shows_the_api_figures_and_one_point_per_filled_bin(
        served: tuple[str, Container], page: tuple[Any, Watch], route: str, split: str) -> None:
    url, _ = served
    tab, watch = page
    open_quality(tab, url, route)
    report = performance(url)
    groups = report[split]
    assert tab.eval_on_selector_all(".q-compare tbody tr", "rows => rows.map(r => r.dataset.group)") == sorted(
        groups, key=lambda name: (name != "rules", name))  # the rules first, the baseline
    assert tab.eval_on_selector_all(".q-group", "cards => cards.map(c => c.dataset.group)") == sorted(
        groups, key=lambda name: (name != "rules", name))
    for name, figures in groups.items():
        for scope in (f".q-compare tr[data-group='{name}']", f".q-group[data-group='{name}']"):
            assert shown_figure(tab, scope, "hit_rate") == pytest.approx(figures["success_rate"], abs=0.0005 + 1e-9)  # half the last digit shown
            assert shown_figure(tab, scope, "brier") == pytest.approx(figures["brier_score"], abs=0.0005 + 1e-9)  # half the last digit shown
            assert shown_figure(tab, scope, "resolved") == figures["resolved"]
        filled = [b for b in figures["reliability"] if b["count"]]
        card = f".q-group[data-group='{name}']"
        points = tab.eval_on_selector_all(f"{card} svg circle.point", "ps => ps.map(p => [p.dataset.bucket, +p.dataset.count])")
        assert sorted(points) == sorted([b["bucket"], b["count"]] for b in filled) and len(points) >= 2
        assert tab.locator(f"{card} svg line.diagonal").count() == 1
        assert tab.locator(f"{card} svg rect.count").count() == len(filled)
        rows = tab.eval_on_selector_all(f"{card} .table-wrap tbody tr", "rs => rs.map(r => r.cells[0].textContent)")
        assert rows == [b["bucket"] for b in filled]  # the chart's bins as a table too
        labelled = tab.get_attribute(f"{card} svg.reliability", "aria-labelledby") or ""
        assert tab.text_content(f"#{labelled.split()[0]}").startswith("Reliability of")
    overall = ".card:has(h2:text-is('All signals'))"
    assert shown_figure(tab, overall, "hit_rate") == pytest.approx(report["success_rate"], abs=0.0005 + 1e-9)  # half the last digit shown
    assert shown_figure(tab, overall, "brier") == pytest.approx(report["brier_score"], abs=0.0005 + 1e-9)  # half the last digit shown
    watch.clean()


def test_the_grouping_switch_is_a_keyboard_reachable_toggle(served: tuple[str, Container], page: tuple[Any, Watch]) -> None:
    url, _ = served
    tab, watch = page
    open_quality(tab, url)
    assert tab.get_attribute("button[data-by=model]", "aria-pressed") == "true"
    tab.focus("button[data-by=analyst]")
    tab.keyboard.press("Enter")
    tab.wait_for_selector(".q-group[data-group='llm:gpt-4o-mini']")
    assert tab.get_attribute("button[data-by=analyst]", "aria-pressed") == "true" and tab.url.endswith("#/quality?by=analyst")
    tab.click("#theme")  # the chart's colours are the theme's variables: nothing to redraw
    stroke = tab.eval_on_selector(".q-group svg line.diagonal", "l => getComputedStyle(l).stroke")
    muted = tab.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--muted').trim()")
    assert stroke.replace(" ", "") == "rgb({},{},{})".format(*(int(muted[i:i + 2], 16) for i in (1, 3, 5)))
    watch.clean()


def test_phone_width_does_not_scroll_sideways(served: tuple[str, Container], page: tuple[Any, Watch]) -> None:
    url, _ = served
    tab, watch = page
    tab.set_viewport_size({"width": 390, "height": 844})
    open_quality(tab, url)
    no_sideways_scroll(tab)
    box = tab.eval_on_selector(".q-group svg.reliability", "s => s.getBoundingClientRect().width")
    assert 200 < box <= 390
    watch.clean()


def test_nothing_scored_yet_says_what_to_wait_for(tmp_path: Path, page: tuple[Any, Watch]) -> None:
    tab, watch = page
    with dashboard_server(tmp_path, trading=False) as (url, container):
        open_quality(tab, url)
        assert "No signals stored yet" in tab.inner_text(".q-compare-card .empty")
        wait_for(lambda: container.candles.count("BTCUSDT", Timeframe.H1) > 20, timeout=20)
        end = int(container.clock.now()) // 3600 * 3600  # the last closed hour: its 1 day horizon is far off
        container.signals.analyze(request_at(container, "BTCUSDT", end, (Timeframe.H1,)), use_cache=False)
        tab.click("button:text-is('Refresh')")
        tab.wait_for_selector(".q-compare-card .empty:has-text('No scored signals yet')")
        text = tab.inner_text(".q-compare-card .empty")
        assert "horizon has passed" in text and "1 of 1 stored signals are waiting" in text
        assert tab.locator(".q-group").count() == 0
        watch.clean()
