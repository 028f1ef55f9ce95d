"""The dashboard's backtests page in headless Chromium, against the real service on the synthetic
market (its closed candles recorded as they close) plus real ETH/BTC 5m candles imported through the
import service ``tradewind data import`` runs.

The form offers what is stored (imported candles included); a started backtest shows its progress
then its report, whose figures, curves and trades are the ones GET /api/backtests/{id} returns; a
bad value gets the server's 400 message beside the field it names; two reports compare side by
side with the better figure marked; a phone-width screen does not scroll sideways.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.browser import Watch, no_sideways_scroll, phone_page
from support.dashboard import dashboard_server
from support.waiting import wait_for

from tradewind.bootstrap import Container
from tradewind.domain import Timeframe
from tradewind.storage.candle_import import import_into_database

DATA = Path(__file__).parent / "data"
DASH = "\u2013"
# a figure's better side, as the page marks it (trading.analytics: fractions, ratios, money)
HIGHER = {"total_return", "cagr", "final_equity", "peak_equity", "total_pnl", "sharpe_ratio", "sortino_ratio",
          "calmar_ratio", "win_rate", "profit_factor", "expectancy", "average_win", "average_loss", "average_return",
          "best_return", "worst_return"}
LOWER = {"max_drawdown", "longest_drawdown", "total_fees"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Container]]:
    directory = tmp_path_factory.mktemp("backtests")
    with dashboard_server(directory) as (url, container):
        summary = import_into_database(f"sqlite:///{directory / 'tw.db'}", DATA / "ETH_BTC-5m.json", symbol="ETHBTC",
                                       timeframe=Timeframe.M5)
        assert summary.imported == 5760
        wait_for(lambda: {"BTCUSDT", "ETHUSDT", "ETHBTC"} <= {p["symbol"] for p in options(url)["stored"]}, timeout=15)
        yield url, container


def options(url: str) -> dict[str, Any]:
    return httpx.get(f"{url}/api/backtests/options").json()


def finished(url: str, body: dict[str, Any]) -> dict[str, Any]:
    """Start a backtest over the API and wait for its report."""
    started = httpx.post(f"{url}/api/backtests", json=body)
    assert started.status_code == 202, started.text
    job_id = started.json()["id"]
    return wait_for(lambda: (job := httpx.get(f"{url}/api/backtests/{job_id}").json())["status"] == "done" and job,
                    timeout=20)


def open_backtests(tab: Any, url: str, route: str = "backtests") -> None:
    tab.goto(f"{url}/dashboard/#/{route}")
    tab.wait_for_selector(".bt-form button[type=submit]", timeout=15_000)


def shown_figures(tab: Any, scope: str) -> dict[str, Any]:
    """Each figure's raw value as the page holds it (data-value: the API's JSON, null included)."""
    pairs = tab.eval_on_selector_all(f"{scope} [data-metric][data-value]", "els => els.map(e => [e.dataset.metric, e.dataset.value])")
    return {key: json.loads(value) for key, value in pairs}


ACCENT_PIXELS = """box => {
    const accent = getComputedStyle(document.documentElement).getPropertyValue('--accent').trim();
    const [r, g, b] = [1, 3, 5].map(i => parseInt(accent.slice(i, i + 2), 16));
    let count = 0;
    for (const c of box.querySelectorAll('canvas')) {
        if (!c.width || !c.height) continue;
        const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 0; i < data.length; i += 4) {
            if (Math.abs(data[i] - r) + Math.abs(data[i + 1] - g) + Math.abs(data[i + 2] - b) < 30 && data[i + 3] > 200) count++;
        }
    }
    return count;
}"""


BACKGROUND_IS_PANEL = """box => {
    const panel = getComputedStyle(document.documentElement).getPropertyValue('--panel').trim();
    const want = [1, 3, 5].map(i => parseInt(panel.slice(i, i + 2), 16));
    const pane = [...box.querySelectorAll('canvas')].sort((a, b) => b.width * b.height - a.width * a.height)[0];
    const got = [...pane.getContext('2d').getImageData(3, 3, 1, 1).data.slice(0, 3)];
    return got.every((v, i) => Math.abs(v - want[i]) <= 2) ? true : [got, want];
}"""


def test_the_form_offers_the_stored_candles_imported_ones_included(served: tuple[str, Container],
                                                                   page: tuple[Any, Watch]) -> None:
    url, container = served
    tab, watch = page
    open_backtests(tab, url)
    stored = {(p["symbol"], p["timeframe"]): p["candles"] for p in options(url)["stored"]}
    assert stored[("ETHBTC", "5m")] == 5760 == container.candles.count("ETHBTC", Timeframe.M5)
    assert stored[("BTCUSDT", "1m")] >= 1000  # the synthetic market's history, recorded as it closed
    symbols = tab.eval_on_selector_all("#bt-symbol option", "os => os.map(o => o.value)")
    assert symbols == sorted({s for s, _ in stored})
    assert tab.input_value("#bt-symbol") == "ETHBTC"  # the most candles: the default
    assert tab.inner_text("#bt-timeframe option:checked") == "5m · 5,760 candles"
    assert "5,760 stored candles, 2018-01-10 04:55:00Z to 2018-01-30 04:50:00Z" in tab.inner_text(".bt-form")
    tab.select_option("#bt-symbol", "BTCUSDT")
    assert tab.eval_on_selector_all("#bt-timeframe option", "os => os.map(o => o.value)") == ["1m", "5m", "15m", "1h"]
    # each strategy's declared parameters become its fields; the analyst only matters to signal traders
    assert tab.eval_on_selector_all(".bt-params [data-param]", "els => els.map(e => e.dataset.param)") == [
        "fast", "slow", "short", "size"]
    assert tab.is_disabled("#bt-analyst")
    tab.select_option("#bt-strategy", "signal-follower")
    assert tab.eval_on_selector_all(".bt-params [data-param]", "els => els.map(e => e.dataset.param)") == [
        "min_confidence", "close_on_neutral", "size"]
    assert not tab.is_disabled("#bt-analyst")
    watch.clean()


def test_with_nothing_stored_the_form_says_how_to_store_candles(served: tuple[str, Container],
                                                                page: tuple[Any, Watch]) -> None:
    url, _ = served
    tab, watch = page

    def nothing_stored(route: Any) -> None:
        real = route.fetch()
        route.fulfill(response=real, json={**real.json(), "stored": []})

    tab.route("**/api/backtests/options", nothing_stored)
    tab.goto(f"{url}/dashboard/#/backtests")
    tab.wait_for_selector("#bt-form .empty")
    text = tab.inner_text("#bt-form")
    assert "No candles are stored yet" in text and "tradewind data import" in text
    assert tab.locator(".bt-form button").count() == 0
    watch.clean()


def test_a_started_backtest_shows_its_progress_then_its_report(served: tuple[str, Container],
                                                               page: tuple[Any, Watch]) -> None:
    url, _ = served
    tab, watch = page
    open_backtests(tab, url)
    tab.select_option("#bt-symbol", "BTCUSDT")
    tab.select_option("#bt-timeframe", "1m")
    tab.select_option("#bt-strategy", "signal-follower")  # the analyst at every candle: the kernel path, not instant
    tab.evaluate("""() => {
        window.__statuses = [];
        const box = document.getElementById('bt-job');
        new MutationObserver(() => {
            const s = box.dataset.status, n = document.querySelector('.bt-progress-note');
            if (s && window.__statuses.at(-1)?.[0] !== s) window.__statuses.push([s, n ? n.textContent : '']);
        }).observe(box, {attributes: true, subtree: true, childList: true, characterData: true});
    }""")
    tab.click(".bt-form button[type=submit]")
    tab.wait_for_selector("#bt-job[data-status=done] .bt-metrics", timeout=20_000)
    statuses = tab.evaluate("window.__statuses")
    assert [s for s, _ in statuses][-1] == "done" and len(statuses) >= 2, statuses
    assert statuses[0][0] in ("queued", "running") and "candles" in statuses[0][1], statuses
    job_id = tab.evaluate("location.hash").rsplit("/", 1)[1]
    job = httpx.get(f"{url}/api/backtests/{job_id}").json()
    report, metrics = job["report"], job["report"]["metrics"]
    assert job["spec"]["strategy"] == "signal-follower" and job["spec"]["symbol"] == "BTCUSDT"
    assert tab.get_attribute("#bt-job progress", "value") == str(job["progress"]["total"])
    # the figures are the report's, nulls included (an en dash, never 0)
    figures = shown_figures(tab, "#bt-job")
    assert len(figures) == 28 and set(figures) <= set(metrics), figures
    assert all(figures[key] == metrics[key] for key in figures), figures
    missing = [key for key, value in figures.items() if value is None]
    assert "cagr" in missing  # under a day of candles: no CAGR
    for key in missing:
        assert tab.inner_text(f"#bt-job [data-metric={key}] dd") == DASH
    total = metrics["total_return"]
    sign = "+" if total > 0 else "\u2212" if total < 0 else ""
    assert tab.inner_text("#bt-job [data-metric=total_return] dd") == f"{sign}{abs(total) * 100:.2f}%"
    assert tab.inner_text("#bt-job [data-metric=trades] dd") == f"{metrics['trades']:,}"
    # the trades, one row each, and the curves drawn from the report's points
    rows = tab.locator("#bt-job .bt-trades tbody tr").count()
    assert rows == len(report["trades"]) == metrics["trades"] and rows > 0
    assert tab.inner_text(".bt-trades tbody tr:first-child td:nth-child(2)") == report["trades"][0]["side"]
    finite = [p for p in report["equity"] if p[1] is not None]
    assert int(tab.get_attribute("#bt-job .bt-equity", "data-points")) == len({int(t) for t, _ in finite}) > 100
    assert int(tab.get_attribute("#bt-job .bt-drawdown", "data-points")) > 100
    assert tab.eval_on_selector("#bt-job .bt-equity", ACCENT_PIXELS) > 100  # the equity line is on the canvas
    assert tab.locator("#bt-job .bt-equity a[href*='tradingview']").count() == 1  # the licence's attribution
    # the charts take the theme's colours, and the other theme's when it is switched
    assert tab.eval_on_selector("#bt-job .bt-equity", BACKGROUND_IS_PANEL) is True
    tab.click("#theme")
    wait_for(lambda: tab.eval_on_selector("#bt-job .bt-equity", BACKGROUND_IS_PANEL) is True, timeout=5)
    # the list shows it done; a reload of its address shows the same report
    tab.wait_for_selector(f"#bt-list input[data-job={job_id}]:not([disabled])")
    tab.reload()
    tab.wait_for_selector("#bt-job[data-status=done] .bt-metrics")
    assert shown_figures(tab, "#bt-job") == figures
    watch.clean()


def test_leaving_the_page_stops_the_polling(served: tuple[str, Container], page: tuple[Any, Watch]) -> None:
    url, _ = served
    tab, watch = page
    polls: list[str] = []
    tab.on("request", lambda r: polls.append(r.url) if "/api/backtests/bt_" in r.url else None)
    open_backtests(tab, url)
    tab.select_option("#bt-strategy", "signal-follower")  # 5,760 candles through the kernel: seconds, not instant
    tab.click(".bt-form button[type=submit]")
    tab.wait_for_selector("#bt-job[data-status]")
    tab.wait_for_event("request", lambda r: "/api/backtests/bt_" in r.url, timeout=5_000)  # it polls while it runs
    job_id = polls[0].rsplit("/", 1)[1]
    tab.evaluate("location.hash = '#/assistant'")
    tab.wait_for_selector(".chat-log[data-ready]", state="attached")
    seen = len(polls)
    tab.wait_for_timeout(1_500)  # three poll intervals (Playwright's wait: its events are still recorded)
    assert len(polls) == seen, polls
    assert httpx.get(f"{url}/api/backtests/{job_id}").json()["status"] in ("queued", "running")  # not because it ended
    watch.failed = [f for f in watch.failed if not (job_id in f and "ERR_ABORTED" in f)]  # a poll in flight, cut short
    watch.clean()


def test_a_bad_value_shows_the_servers_400_beside_its_field(served: tuple[str, Container],
                                                            page: tuple[Any, Watch]) -> None:
    url, _ = served
    tab, watch = page
    watch.allowed_statuses.add(400)
    open_backtests(tab, url)
    for field, selector, value in (("cash", "#bt-cash", "-5"), ("params.fast", "#bt-params-fast", "50")):
        body = {"symbol": "ETHBTC", "timeframe": "5m", "strategy": "sma-cross", "params": {}, "risk": "none",
                "cash": 10000, "fee": 0.001, "slippage": 0}
        if field == "cash":
            body["cash"] = -5
        else:
            body["params"] = {"fast": 50, "slow": 20, "short": False, "size": 1}
        expected = httpx.post(f"{url}/api/backtests", json=body)
        assert expected.status_code == 400 and expected.json()["field"] == field, expected.text
        tab.fill(selector, value)
        tab.click(".bt-form button[type=submit]")
        error = tab.wait_for_selector(f"{selector}-error:not([hidden])")
        assert error.inner_text() == expected.json()["detail"]
        assert tab.get_attribute(selector, "aria-invalid") == "true"
        assert tab.evaluate("document.activeElement.id") == selector[1:]  # the keyboard lands on it
        tab.fill(selector, "10000" if field == "cash" else "10")
    assert tab.locator(".bt-field-error:not([hidden])").count() == 1  # each try clears the last one's message
    assert tab.locator("#bt-job").is_hidden()  # nothing started
    watch.clean()


def test_two_reports_side_by_side_with_the_better_figure_marked(served: tuple[str, Container],
                                                                page: tuple[Any, Watch]) -> None:
    url, _ = served
    tab, watch = page
    a = finished(url, {"symbol": "ETHBTC", "timeframe": "5m", "strategy": "sma-cross"})
    b = finished(url, {"symbol": "ETHBTC", "timeframe": "5m", "strategy": "rsi-reversion", "params": {"short": True}})
    open_backtests(tab, url)
    assert tab.is_disabled(".controls button:has-text('Compare selected')")
    tab.check(f"#bt-list input[data-job={a['id']}]")
    tab.check(f"#bt-list input[data-job={b['id']}]")
    tab.click(".controls button:has-text('Compare selected (2)')")
    tab.wait_for_selector(".bt-compare-table")
    assert tab.evaluate("location.hash") == f"#/backtests?compare={a['id']},{b['id']}"
    pairs = tab.eval_on_selector_all(".bt-compare-table tbody tr", """rows => rows.map(r => [r.dataset.metric,
        [...r.querySelectorAll('td')].map(td => [JSON.parse(td.dataset.value), td.classList.contains('bt-better')])])""")
    assert len(pairs) == 28
    marked = 0
    for key, ((value_a, better_a), (value_b, better_b)) in pairs:
        assert (value_a, value_b) == (a["report"]["metrics"][key], b["report"]["metrics"][key]), key
        want_a = want_b = False
        if None not in (value_a, value_b) and value_a != value_b and key in HIGHER | LOWER:
            want_a = (value_a > value_b) == (key in HIGHER)
            want_b = not want_a
        assert (better_a, better_b) == (want_a, want_b), (key, value_a, value_b)
        marked += want_a or want_b
    assert marked >= 10
    assert [int(n) for n in tab.eval_on_selector_all("#bt-compare .chart", "cs => cs.map(c => c.dataset.points)")] == [
        len(a["report"]["equity"]), len(b["report"]["equity"])]
    tab.reload()  # the address opens the same comparison
    tab.wait_for_selector(".bt-compare-table")
    assert tab.locator(".bt-compare-table tbody tr").count() == len(pairs)
    watch.clean()


def test_phone_width_does_not_scroll_sideways(served: tuple[str, Container], browser: Any) -> None:
    url, _ = served
    done = finished(url, {"symbol": "BTCUSDT", "timeframe": "1m", "strategy": "sma-cross"})
    other = finished(url, {"symbol": "ETHBTC", "timeframe": "5m", "strategy": "sma-cross", "params": {"fast": 5}})
    with phone_page(browser) as (tab, watch):
        for route, ready in ((f"backtests/{done['id']}", "#bt-job[data-status=done] .bt-metrics"),
                             (f"backtests?compare={done['id']},{other['id']}", ".bt-compare-table")):
            tab.goto(f"{url}/dashboard/#/{route}")
            tab.wait_for_selector(ready, timeout=15_000)
            tab.wait_for_timeout(200)  # the charts size themselves to the narrow column
            no_sideways_scroll(tab, route)
        watch.clean()
