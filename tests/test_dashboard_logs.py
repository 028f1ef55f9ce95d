"""The AI logs page in headless Chromium, against the real service on the synthetic market.

The log is filled by the real LLM analyst (its prompts, parse, repair round, fallback and cost)
on two models answering through a fake chat client, over past windows of the stored candles, plus
one assistant call with markup in it. The page must show exactly what ``/api/ai-logs`` answers
for the same filters: typing an asset, picking a model, searching and a time window narrow the
rows shown; a row opens to its prompt and raw answer as text; the totals add up the rows; the
exports download files that parse and hold the filtered rows; a bad window shows the API's error;
an empty log says why it is empty; a phone-width screen does not scroll sideways.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.browser import Watch
from support.dashboard import dashboard_server
from support.llm_doubles import FakeChat
from support.waiting import wait_for

from tradewind.analysts.decisions import Decision
from tradewind.analysts.llm import LLMAnalyst
from tradewind.analysts.llm_port import Message
from tradewind.bootstrap import Container
from tradewind.domain import Timeframe
from tradewind.domain.bars import bars_from_candles
from tradewind.domain.errors import LLMError
from tradewind.signals.requests import build_request
from tradewind.signals.service import SignalService

MODELS = ("gpt-4o-mini", "llama3.1:8b")
SYMBOLS = ("BTCUSDT", "ETHUSDT")
WINDOWS = 5  # per symbol and model, an hour apart
SWEEP = "Liquidity sweep below the Asian low"
HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


class Stamp:
    """The analyst's clock: each decision is dated at the end of the window it analysed."""

    def __init__(self) -> None:
        self.at = 0.0

    def now(self) -> float:
        return self.at


def answers() -> Any:
    """A fake model: every seventh answer is not JSON (a repair follows), every eleventh times out."""
    count = itertools.count()

    def answer(messages: list[Message]) -> str:
        n = next(count)
        if n % 11 == 10:
            raise LLMError("no answer in 30 s", kind="timeout")
        if n % 7 == 6 and "unusable" not in messages[-1]["content"]:
            return "I think the market looks bullish."
        reasoning = SWEEP if n % 3 == 0 else "Range-bound between the session highs and lows"
        return json.dumps({
            "signal": ("Long", "Short", "Neutral")[n % 3], "confidence": round(0.4 + (n % 6) * 0.1, 2),
            "reasoning": reasoning, "strategy_scores": {"RSI Strategy": 0.6},
            "market_analysis": {"trend_direction": "Sideways", "trend_strength": 0.3, "support_levels_pct": [2.0],
                                "resistance_levels_pct": [3.0], "volatility_level": "Medium", "volume_analysis": "n/a"},
            "risk_assessment": {"overall_risk": "Medium", "technical_risk": 0.5, "market_risk": 0.5,
                                "recommended_position_size": 0.0 if n % 3 == 2 else 0.05,
                                "stop_loss_pct": None if n % 3 == 2 else 1.0,
                                "take_profit_pct": None if n % 3 == 2 else 2.0},
        })

    return answer


def seed(container: Container) -> None:
    stamp = Stamp()
    answer = answers()
    services = [SignalService(analyst=LLMAnalyst(FakeChat(answer, model=model), decisions=container.decisions, clock=stamp),
                              store=container.signals.store, clock=stamp, cache_ttl_seconds=0) for model in MODELS]
    now = int(container.clock.now()) // 3600 * 3600
    for symbol in SYMBOLS:
        for k in range(WINDOWS):
            end = now - (12 - 2 * k) * 3600
            candles = {tf.value: bars_from_candles(container.candles.between(symbol, tf, end - 200 * tf.seconds, end, limit=200))
                       for tf in (Timeframe.M5, Timeframe.M15)}
            request = build_request(symbol=symbol, timeframe_data=candles, timestamp_ms=end * 1000)
            for offset, service in enumerate(services):
                stamp.at = end + 60 * offset
                service.analyze(request, use_cache=False)
    container.decisions.record(Decision(  # an assistant's upstream call, whose text is markup
        decision_id="dec_hostile", created_at=datetime.fromtimestamp(now - 3600, timezone.utc),
        analyst="assistant:gpt-4o-mini", symbol="ASSISTANT", timeframe=None, input_hash="ab" * 32, prompt_hash="ab" * 32,
        prompt=[{"role": "user", "content": HOSTILE}], model="gpt-4o-mini", raw_response=HOSTILE, parsed=None, source="llm",
        latency_ms=321.0, prompt_tokens=12, completion_tokens=30, total_tokens=42, cost_usd=0.0000198, error=None,
    ))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Container]]:
    with dashboard_server(tmp_path_factory.mktemp("logs"), trading=False) as (url, container):
        wait_for(lambda: container.candles.count("ETHUSDT", Timeframe.M15) > 50, timeout=20)
        seed(container)
        yield url, container


def api(url: str, path: str = "/api/ai-logs", **params: Any) -> Any:
    response = httpx.get(f"{url}{path}", params={"limit": 1000, **params} if path == "/api/ai-logs" else params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json() if "csv" not in path else response.text


def open_logs(tab: Any, url: str, route: str = "logs") -> None:
    tab.goto(f"{url}/dashboard/#/{route}")
    tab.wait_for_selector(".logs-row, .logs-list .empty", timeout=15_000)


def shown(tab: Any) -> list[str]:
    return tab.eval_on_selector_all(".logs-row", "rows => rows.map(r => r.dataset.decision)")


def apply(tab: Any, before: list[str]) -> list[str]:
    """Apply the typed filters; the rows shown once they changed."""
    tab.click(".logs-filters button[type=submit]")
    wait_for(lambda: shown(tab) != before, timeout=10)
    return shown(tab)


def no_sideways_scroll(tab: Any) -> None:
    width, inner = tab.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, (width, inner)


def test_the_log_holds_what_the_analysts_logged(served: tuple[str, Container]) -> None:
    url, _ = served
    rows = api(url)
    assert {r["model"] for r in rows} == set(MODELS) and {r["symbol"] for r in rows} == {*SYMBOLS, "ASSISTANT"}
    sources = {r["source"] for r in rows}
    assert {"llm", "llm_repaired", "rules_fallback"} <= sources  # a repair round and a timeout happened
    assert any(r["attempt"] == 2 and r["parent_id"] and r["parsed"] for r in rows) and any(r["error"] for r in rows)
    assert any(SWEEP in (r["raw_response"] or "") for r in rows)


def test_filters_narrow_the_rows_to_what_the_api_answers(served: tuple[str, Container], page: tuple[Any, Watch]) -> None:
    url, _ = served
    tab, watch = page
    open_logs(tab, url)
    everything = api(url)
    assert shown(tab) == [r["decision_id"] for r in everything[:100]]
    # an asset, typed in any spelling
    tab.fill("#logs-symbol", "eth/usdt")
    eth = apply(tab, shown(tab))
    expected = [r["decision_id"] for r in api(url, symbol="ETHUSDT")]
    assert eth == expected and 0 < len(eth) < len(everything)
    assert set(tab.eval_on_selector_all(".logs-row td[data-label=Asset]", "cells => cells.map(c => c.textContent)")) == {"ETHUSDT"}
    assert "symbol=eth%2Fusdt" in tab.url or "symbol=eth/usdt" in tab.url  # the address keeps the filters
    # and a model picked from the usage's list
    options = tab.eval_on_selector_all("#logs-model option", "os => os.map(o => o.value)")
    assert options == ["", *sorted(MODELS)]
    tab.select_option("#logs-model", "llama3.1:8b")
    llama = apply(tab, eth)
    assert llama == [r["decision_id"] for r in api(url, symbol="ETHUSDT", model="llama3.1:8b")] and 0 < len(llama) < len(eth)
    # a text search, any case, over prompts and answers
    tab.fill("#logs-q", SWEEP.upper()[:15])
    swept = apply(tab, llama)
    expected = [r["decision_id"] for r in api(url, symbol="ETHUSDT", model="llama3.1:8b", q=SWEEP[:15])]
    assert swept == expected and 0 < len(swept) < len(llama)
    # a time window (UTC; "to" excludes its own minute)
    tab.click(".logs-filters button[type=reset]")
    wait_for(lambda: len(shown(tab)) == len(everything), timeout=10)
    ordered = sorted(datetime.fromisoformat(r["created_at"]) for r in everything)
    since, until = ordered[5], ordered[-5]
    tab.fill("#logs-since", since.strftime("%Y-%m-%dT%H:%M:%S"))
    tab.fill("#logs-until", until.strftime("%Y-%m-%dT%H:%M:%S"))
    window = apply(tab, shown(tab))
    expected = [r["decision_id"] for r in api(url, since=since.isoformat(), until=until.isoformat())]
    assert window == expected and len(window) == len([t for t in ordered if since <= t < until])
    # the limit
    tab.click(".logs-filters button[type=reset]")
    wait_for(lambda: len(shown(tab)) == len(everything), timeout=10)
    tab.fill("#logs-limit", "3")
    assert apply(tab, shown(tab)) == [r["decision_id"] for r in everything[:3]]
    assert "The limit of 3 cut the list" in tab.inner_text(".logs-totals")
    tab.fill("#logs-symbol", "SOLUSDT")
    tab.fill("#logs-limit", "100")
    tab.click(".logs-filters button[type=submit]")
    tab.wait_for_selector(".logs-list .empty")
    assert "No decision matches these filters" in tab.inner_text(".logs-list")
    watch.clean()


def test_a_row_opens_to_its_prompt_and_answer_as_text_and_the_totals_add_up(
        served: tuple[str, Container], page: tuple[Any, Watch]) -> None:
    url, _ = served
    tab, watch = page
    open_logs(tab, url, "logs?model=gpt-4o-mini")
    rows = api(url, model="gpt-4o-mini")
    assert shown(tab) == [r["decision_id"] for r in rows]
    totals = tab.inner_text(".logs-totals")
    assert f"{sum(r['total_tokens'] or 0 for r in rows):,}" in totals and f"{len(rows)}" in totals
    assert tab.eval_on_selector("#logs-model", "s => s.value") == "gpt-4o-mini"  # the address's filter, shown
    repaired = next(r for r in rows if r["attempt"] == 2 and r["parsed"])  # a repair that worked
    toggle = f".logs-row[data-decision={repaired['decision_id']}] .logs-toggle"
    tab.focus(toggle)
    tab.keyboard.press("Enter")  # a real button: the keyboard opens it
    detail = f"[data-detail={repaired['decision_id']}]"
    tab.wait_for_selector(f"{detail}:not([hidden]) pre[data-role=raw]")
    assert tab.get_attribute(toggle, "aria-expanded") == "true"
    prompts = tab.eval_on_selector_all(f"{detail} pre[data-role=prompt]", "ps => ps.map(p => p.textContent)")
    assert prompts == [m["content"] for m in repaired["prompt"]]
    assert tab.text_content(f"{detail} pre[data-role=raw]") == repaired["raw_response"]
    assert json.loads(tab.text_content(f"{detail} pre[data-role=parsed]") or "") == repaired["parsed"]
    assert repaired["parent_id"] in tab.inner_text(detail)
    row = tab.inner_text(f".logs-row[data-decision={repaired['decision_id']}]")
    assert "1,000 / 200 / 1,200" in row  # prompt / completion / total tokens
    assert f"{int(repaired['latency_ms'] + 0.5)} ms" in row and f"${repaired['cost_usd']:.6f}".rstrip("0") in row
    # what a model answered is shown as text, never run as markup
    tab.select_option("#logs-model", "")
    tab.fill("#logs-q", "onerror")
    assert apply(tab, shown(tab)) == ["dec_hostile"]
    tab.click(".logs-row[data-decision=dec_hostile] .logs-toggle")
    tab.wait_for_selector("[data-detail=dec_hostile] pre[data-role=raw]")
    assert tab.text_content("[data-detail=dec_hostile] pre[data-role=raw]") == HOSTILE
    assert tab.evaluate("window.__pwned") is None and tab.query_selector("[data-detail=dec_hostile] img") is None
    tab.click(".logs-row[data-decision=dec_hostile] .logs-toggle")
    assert tab.is_hidden("[data-detail=dec_hostile]")
    usage = api(url, "/api/ai-logs/usage")
    usage_text = tab.inner_text(".logs-summary")
    for model in usage["by_model"]:
        assert model["model"] in usage_text and f"{model['calls']:,}" in usage_text
    watch.clean()


def test_exports_download_the_filtered_rows_as_json_and_csv(served: tuple[str, Container], page: tuple[Any, Watch]) -> None:
    url, _ = served
    tab, watch = page
    open_logs(tab, url)
    tab.fill("#logs-symbol", "BTCUSDT")
    tab.select_option("#logs-model", "gpt-4o-mini")
    apply(tab, shown(tab))
    expected = list(reversed(shown(tab)))  # exports run oldest first
    assert expected == [r["decision_id"] for r in reversed(api(url, symbol="BTCUSDT", model="gpt-4o-mini"))]
    with tab.expect_download() as got:
        tab.click(".logs-export[data-format=json]")
    download = got.value
    assert download.suggested_filename.startswith("ai-logs-") and download.suggested_filename.endswith(".json")
    rows = json.loads(Path(download.path()).read_text())
    assert [r["decision_id"] for r in rows] == expected
    assert {(r["symbol"], r["model"]) for r in rows} == {("BTCUSDT", "gpt-4o-mini")}
    with tab.expect_download() as got:
        tab.click(".logs-export[data-format=csv]")
    text = Path(got.value.path()).read_text(encoding="utf-8")
    records = list(csv.DictReader(io.StringIO(text)))
    assert [r["decision_id"] for r in records] == expected
    assert {(r["symbol"], r["model"]) for r in records} == {("BTCUSDT", "gpt-4o-mini")}
    assert [int(r["total_tokens"]) if r["total_tokens"] else None for r in records] == [r["total_tokens"] for r in rows]
    watch.clean()


def test_a_bad_window_shows_the_api_error_naming_the_field(served: tuple[str, Container], page: tuple[Any, Watch]) -> None:
    url, _ = served
    tab, watch = page
    watch.allowed_statuses.add(400)  # provoked: the API must refuse it, and the page must say so
    open_logs(tab, url)
    tab.fill("#logs-since", "2026-11-21T06:00:00")
    tab.fill("#logs-until", "2026-11-21T05:00:00")
    tab.click(".logs-filters button[type=submit]")
    tab.wait_for_selector("#errors .error")
    error = tab.inner_text("#errors")
    assert "until must be after since" in error and "field: until" in error and "[400]" in error
    assert tab.get_attribute("#logs-until", "aria-invalid") == "true"
    assert "could not be read" in tab.inner_text(".logs-list")
    watch.failed = [f for f in watch.failed if "/api/ai-logs?" not in f]
    watch.clean()


def test_phone_width_does_not_scroll_sideways(served: tuple[str, Container], page: tuple[Any, Watch]) -> None:
    url, _ = served
    tab, watch = page
    tab.set_viewport_size({"width": 390, "height": 844})
    open_logs(tab, url)
    first = shown(tab)[0]
    tab.click(f".logs-row[data-decision={first}] .logs-toggle")
    tab.wait_for_selector(f"[data-detail={first}] pre")
    no_sideways_scroll(tab)
    tab.click("#theme")  # the other theme lays out the same
    no_sideways_scroll(tab)
    watch.clean()


def test_an_empty_log_says_what_to_do(tmp_path: Path, page: tuple[Any, Watch]) -> None:
    tab, watch = page
    with dashboard_server(tmp_path, trading=False) as (url, _):
        open_logs(tab, url)
        text = tab.inner_text(".logs-list .empty")
        assert "No AI decisions logged yet" in text and "rule-based analyst" in text and "TRADEWIND_LLM_BASE_URL" in text
        assert "Calls" in tab.inner_text(".logs-totals") and "No model calls logged yet" in tab.inner_text(".logs-summary")
        watch.clean()
