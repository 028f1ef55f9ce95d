"""The dashboard's shell, overview and asset pages in headless Chromium, against the real service on
the synthetic market (sped up 30x: a one-minute candle every 2 s, a trading cycle every 2 s).

Each page loads with no console error and no failed request; the chart draws the candles and the
analyst's overlays; a candle, a signal and a trade arrive over /ws with no reload; pause and
resume go through the admin token dialog and change the state shown; a phone-width screen does not
scroll sideways. The chart view's figures are checked against the analysis functions themselves.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from support.browser import Watch, no_sideways_scroll, phone_page
from support.dashboard import ADMIN_TOKEN, dashboard_server
from support.waiting import wait_for

from tradewind.analysis.indicators import compute_indicators
from tradewind.bootstrap import Container
from tradewind.domain import Timeframe
from tradewind.domain.bars import bars_from_candles
from tradewind.domain.candle import Candle

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Container]]:
    # the bot's losing streaks (a cooldown, the daily loss limit) must not refuse the tests' manual entries
    calm = {"cooldown_losses": 0, "daily_loss_limit": 1.0, "max_drawdown": 1.0}
    assets = [{"symbol": symbol, "risk_overrides": calm} for symbol in ("BTCUSDT", "ETHUSDT")]
    with dashboard_server(tmp_path_factory.mktemp("dashboard"), trading_timeframe="1m", trading_interval_minutes=1,
                          trading_assets=assets) as (url, container):
        wait_for(lambda: all(a["cycles"] >= 1 for a in httpx.get(f"{url}/api/assets").json()["assets"]), timeout=30)
        yield url, container


def open_page(tab: Any, url: str, route: str, ready: str) -> None:
    tab.goto(f"{url}/dashboard/#/{route}")
    tab.wait_for_selector(ready, state="attached", timeout=15_000)


# --- over HTTP -------------------------------------------------------------------------------------
def test_a_browser_at_the_root_is_sent_to_the_dashboard_and_api_clients_keep_the_json(served: tuple[str, Container]) -> None:
    url, _ = served
    browser_visit = httpx.get(f"{url}/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert browser_visit.status_code == 303 and browser_visit.headers["location"] == "/dashboard/"
    for accept in (None, "application/json", "*/*", "application/json, text/html"):
        response = httpx.get(f"{url}/", headers={"Accept": accept} if accept else {})
        assert response.status_code == 200 and response.json()["service"] == "tradewind", accept
        assert response.json()["endpoints"]["dashboard"].startswith("GET /dashboard")
    page_response = httpx.get(f"{url}/dashboard/")
    assert page_response.status_code == 200 and "text/html" in page_response.headers["content-type"]
    for response in (page_response, httpx.get(f"{url}/dashboard/static/js/app.js")):
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "default-src 'self'" in policy
        assert response.headers["x-content-type-options"] == "nosniff"
    licence = httpx.get(f"{url}/dashboard/static/vendor/lightweight-charts/NOTICE")
    assert licence.status_code == 200 and "TradingView" in licence.text
    assert httpx.get(f"{url}/dashboard/static/../../settings.py").status_code == 404
    assert httpx.get(f"{url}/dashboard/static/js/%2e%2e/%2e%2e/routes.py").status_code == 404


def test_the_chart_view_draws_what_the_analyst_computed(served: tuple[str, Container]) -> None:
    url, container = served

    def chart() -> dict:
        return httpx.get(f"{url}/api/assets/BTCUSDT/chart", params={"timeframe": "1m", "candles": 300}).json()

    wait_for(lambda: chart()["signals"], timeout=30)  # a cycle counts before its signal is stored
    view = chart()
    assert view["symbol"] == "BTCUSDT" and view["timeframe"] == "1m"
    candles = view["candles"]
    assert len(candles) == 300 and all(a["time"] < b["time"] for a, b in zip(candles, candles[1:]))
    closed = [c for c in candles if c["closed"]]
    same = bars_from_candles([Candle(**c) for c in closed])  # the very candles the view drew
    expected = compute_indicators(same)
    for name in ("ema_21", "bb_upper"):
        line = view["lines"][name]
        finite = np.isfinite(expected[name])
        assert [p["time"] for p in line] == same.time[finite].tolist() and len(line) > 200
        assert np.allclose([p["value"] for p in line], expected[name][finite])
    assert container.streamer.candles("BTCUSDT", Timeframe.M1, 1)[0].time >= candles[-1]["time"]
    for zone in view["zones"]:
        assert zone["kind"] in {"fvg", "order_block"} and zone["direction"] in {"bullish", "bearish"}
        assert zone["top"] >= zone["bottom"] and (zone["end"] is None or zone["end"] >= zone["start"])
    kinds = {m["kind"] for m in view["markers"]}
    assert {"swing_high", "swing_low"} <= kinds and kinds & {"bos", "choch"}
    assert view["signals"] and all(s["signal"] in {"Long", "Short", "Neutral"} for s in view["signals"])
    assert all(s["time"] >= candles[0]["time"] for s in view["signals"])
    # bad input: named, never a 500
    for params, field in (({"timeframe": "4h"}, "timeframe"), ({"timeframe": "x" * 40}, "timeframe"),
                          ({"candles": 0}, "candles"), ({"candles": 10**9}, "candles")):
        response = httpx.get(f"{url}/api/assets/BTCUSDT/chart", params=params)
        assert response.status_code == 400 and response.json()["field"] == field, response.text
    assert httpx.get(f"{url}/api/assets/NOPEUSDT/chart").status_code == 404


# --- in the browser --------------------------------------------------------------------------------
def test_the_overview_shows_every_asset_and_the_book_live(served: tuple[str, Container], page: tuple[Any, Watch]) -> None:
    url, _ = served
    tab, watch = page
    tab.goto(f"{url}/")  # a browser at the root lands on the dashboard
    tab.wait_for_selector(".asset-card [data-role=signal].badge", timeout=15_000)
    assert tab.url.endswith("/dashboard/")
    tab.wait_for_selector("#connection[data-state=open]")
    symbols = tab.eval_on_selector_all(".asset-card", "cards => cards.map(c => c.dataset.symbol)")
    assert symbols == ["BTCUSDT", "ETHUSDT"]
    api = {a["symbol"]: a for a in httpx.get(f"{url}/api/assets").json()["assets"]}
    for symbol in symbols:
        text = tab.inner_text(f".asset-card[data-symbol={symbol}]")
        assert api[symbol]["status"] in text and api[symbol]["strategy"] in text
    equity = tab.inner_text(".stats div:has(dt:text-is('Equity')) dd")
    assert re.fullmatch(r"\$\d{1,3}(,\d{3})*\.\d{2}", equity), equity  # currency, as a trader reads it
    shown = float(equity[1:].replace(",", ""))
    assert abs(shown - httpx.get(f"{url}/api/positions").json()["portfolio"]["equity"]) < 0.02 * shown
    before = tab.inner_text(".asset-card[data-symbol=BTCUSDT] [data-role=price]")
    wait_for(lambda: tab.inner_text(".asset-card[data-symbol=BTCUSDT] [data-role=price]") != before, timeout=15)
    watch.clean()


def test_the_asset_chart_draws_candles_and_takes_live_candles_signals_and_trades(
        served: tuple[str, Container], page: tuple[Any, Watch]) -> None:
    url, _ = served
    tab, watch = page
    open_page(tab, url, "asset/btc-usdt", "[data-chart-painted]")  # any spelling of the symbol
    assert tab.inner_text("h1").startswith("BTCUSDT")
    assert int(tab.get_attribute(".page", "data-chart-ready")) == 1000
    painted = tab.evaluate("""() => {
        const canvases = [...document.querySelectorAll('#chart canvas')];
        const colours = new Set();
        for (const c of canvases) {
            if (!c.width || !c.height) continue;
            const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            for (let i = 0; i < data.length; i += 4 * 97) colours.add(`${data[i]},${data[i+1]},${data[i+2]}`);
        }
        return colours.size;
    }""")
    assert painted > 20, painted  # candles, lines and boxes, not a blank canvas
    note = tab.inner_text("#chart-note")
    assert "1000 candles of 1m" in note and "zones" in note
    # live: a closed candle, a signal and (through the API's manual entry) a trade, with no reload
    tab.evaluate("window.__loaded = true")
    first = int(tab.get_attribute(".page", "data-last-candle") or 0)
    wait_for(lambda: int(tab.get_attribute(".page", "data-last-candle") or 0) > first, timeout=15)
    wait_for(lambda: tab.get_attribute(".page", "data-last-signal"), timeout=15)
    httpx.post(f"{url}/api/assets/BTCUSDT/pause", headers=ADMIN)  # the bot itself may hold a position: let it
    httpx.post(f"{url}/api/assets/BTCUSDT/close", json={"fraction": 1}, headers=ADMIN)  # stand aside and start flat
    wait_for(lambda: not [p for p in httpx.get(f"{url}/api/positions").json()["positions"] if p["symbol"] == "BTCUSDT"],
             timeout=10)
    response = httpx.post(f"{url}/api/assets/BTCUSDT/enter", json={"side": "long", "size": 0.1}, headers=ADMIN)
    assert response.status_code == 200, response.text
    wait_for(lambda: tab.get_attribute(".page", "data-last-fill"), timeout=15)
    wait_for(lambda: "long" in tab.inner_text("#position"), timeout=10)
    position = httpx.get(f"{url}/api/positions").json()["positions"]
    assert [p["side"] for p in position if p["symbol"] == "BTCUSDT"] == ["long"]
    assert tab.evaluate("window.__loaded") is True  # the same document all along
    # the timeframe switch redraws from the 5m buffer
    tab.click("button[aria-pressed=false]:has-text('5m')")
    wait_for(lambda: "candles of 5m" in tab.inner_text("#chart-note"), timeout=10)
    httpx.post(f"{url}/api/assets/BTCUSDT/close", json={"fraction": 1}, headers=ADMIN)
    httpx.post(f"{url}/api/assets/BTCUSDT/resume", headers=ADMIN)
    watch.clean()


def test_pause_then_resume_asks_for_the_token_once_and_changes_the_state_shown(
        served: tuple[str, Container], page: tuple[Any, Watch]) -> None:
    url, _ = served
    tab, watch = page
    watch.allowed_statuses.add(403)  # the first try, before the token is given, is refused as it must be
    open_page(tab, url, "asset/ETHUSDT", "#pause")
    tab.click("#pause")
    tab.wait_for_selector("#token-dialog[open]")
    tab.fill("#token-input", ADMIN_TOKEN)
    tab.click("#token-dialog button[value=ok]")
    tab.wait_for_selector("#asset-status.paused")
    assert httpx.get(f"{url}/api/assets/ETHUSDT").json()["paused"] is True
    tab.click("#resume")  # the token is kept for the session: no dialog this time
    tab.wait_for_selector("#asset-status.running")
    assert not tab.is_visible("#token-dialog")
    assert httpx.get(f"{url}/api/assets/ETHUSDT").json()["paused"] is False
    tab.select_option("#interval", "5")
    wait_for(lambda: httpx.get(f"{url}/api/assets/ETHUSDT").json()["interval_minutes"] == 5, timeout=5)
    httpx.patch(f"{url}/api/assets/ETHUSDT", json={"interval_minutes": 1}, headers=ADMIN)
    watch.clean()


def test_errors_are_shown_and_the_theme_is_kept(served: tuple[str, Container], page: tuple[Any, Watch]) -> None:
    url, _ = served
    tab, watch = page
    watch.allowed_statuses.add(404)
    open_page(tab, url, "asset/NOPEUSDT", ".error")
    assert "NOPEUSDT" in tab.inner_text("#errors") and "[404]" in tab.inner_text("#errors")
    theme = tab.get_attribute("html", "data-theme")
    tab.click("#theme")
    flipped = tab.get_attribute("html", "data-theme")
    assert flipped != theme and flipped in {"light", "dark"}
    tab.reload()
    tab.wait_for_selector("#connection")
    assert tab.get_attribute("html", "data-theme") == flipped
    watch.failed = [f for f in watch.failed if "NOPEUSDT" not in f]
    watch.clean()


def test_phone_width_does_not_scroll_sideways(served: tuple[str, Container], browser: Any) -> None:
    url, _ = served
    with phone_page(browser) as (tab, watch):
        for route, ready in (("overview", ".asset-card"), ("asset/BTCUSDT", "[data-chart-painted]")):
            open_page(tab, url, route, ready)
            no_sideways_scroll(tab, route)
        tab.keyboard.press("Tab")  # the first stop is the skip link, then the pages
        assert tab.evaluate("document.activeElement.className") == "skip"
        watch.clean()


def test_with_trading_off_the_overview_says_so(tmp_path: Any, page: tuple[Any, Watch]) -> None:
    tab, watch = page
    watch.allowed_statuses.add(503)  # /api/assets answers 503 when no engine runs: the page reads it
    with dashboard_server(tmp_path, trading=False) as (url, _):
        open_page(tab, url, "overview", ".empty")
        assert "TRADEWIND_TRADING" in tab.inner_text(".page")
        assert not tab.inner_text("#errors")
    watch.clean()
