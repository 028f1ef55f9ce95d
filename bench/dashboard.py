"""The dashboard in headless Chromium: first load of the asset page to its first drawn chart, a closed
candle from the server's bus to the chart, and the asset page's weight.

The service runs in this process on its embedded defaults (SQLite, the default eight symbols on the
synthetic market, rule-based analyst, paper broker), its clock sped up 30x so a one-minute candle
closes every 2 s; the streamer holds 1,000 one-minute candles, all of which the page draws.

- **first chart**: navigation start to the frame after the chart took its 1,000 candles and overlays
  (``performance.now()`` in the page). Baseline, same run: the same browser navigating to a static file.
- **candle to chart**: the bus's ``CandleClosed`` in the server (``time.time()``) to the animation
  frame after the page drew it (``Date.now()``, same machine clock). Baseline, same run: the same
  candle reaching a bare WebSocket client subscribed to the same channel.
- **page weight**: the bodies of every response the asset page loads (uncompressed), the static files
  apart from the API's data.

Goals (issue 11): first chart < 1 s, candle to chart < 250 ms, page < 500 KB. Needs Debian's chromium.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from support.browser import ARGS, CHROMIUM  # noqa: E402
from support.fast_clock import FastClock  # noqa: E402
from support.server import serve  # noqa: E402

from tradewind.api.app import create_app  # noqa: E402
from tradewind.bootstrap import build_container  # noqa: E402
from tradewind.domain.events import CandleClosed  # noqa: E402
from tradewind.settings import Settings  # noqa: E402

SYMBOL = "BTCUSDT"


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def first_chart(browser: Any, url: str, runs: int) -> tuple[list[float], list[float]]:
    charts, blanks = [], []
    for _ in range(runs):
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        tab = context.new_page()
        tab.goto(f"{url}/dashboard/#/asset/{SYMBOL}")
        tab.wait_for_selector("[data-chart-painted]", state="attached", timeout=30_000)
        charts.append(float(tab.get_attribute(".page", "data-chart-painted-at")))
        tab.goto(f"{url}/dashboard/static/css/app.css")
        blanks.append(tab.evaluate("new Promise(r => requestAnimationFrame(() => r(performance.now())))"))
        context.close()
    return charts, blanks


def page_weight(browser: Any, url: str) -> tuple[int, int, int]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = context.new_page()
    sizes: dict[str, int] = {}
    tab.on("requestfinished", lambda r: sizes.__setitem__(r.url, r.sizes()["responseBodySize"]))
    tab.goto(f"{url}/dashboard/#/asset/{SYMBOL}")
    tab.wait_for_selector("[data-chart-painted]", state="attached", timeout=30_000)
    tab.wait_for_timeout(1500)
    context.close()
    static = sum(v for k, v in sizes.items() if "/dashboard" in k)
    return static, sum(sizes.values()) - static, len(sizes)


async def bare_client(url: str, channel: str, arrivals: dict[int, float], stop: threading.Event) -> None:
    from websockets.asyncio.client import connect

    async with connect(url.replace("http", "ws") + "/ws") as socket:
        await socket.send(json.dumps({"type": "subscribe", "channels": [channel]}))
        while not stop.is_set():
            try:
                message = json.loads(await asyncio.wait_for(socket.recv(), 0.5))
            except TimeoutError:
                continue
            if message.get("type") == "CandleClosed":
                arrivals.setdefault(message["data"]["candle"]["time"], time.time())


def candle_to_chart(browser: Any, url: str, container: Any, samples: int) -> tuple[list[float], list[float]]:
    published: dict[int, float] = {}

    def on_candle(event: object) -> None:
        if isinstance(event, CandleClosed) and event.symbol == SYMBOL and event.timeframe.value == "1m":
            published.setdefault(event.candle.time, time.time())

    undo = container.bus.subscribe(CandleClosed.topic, on_candle)
    arrivals: dict[int, float] = {}
    stop = threading.Event()
    client = threading.Thread(target=asyncio.run, args=(bare_client(url, f"candles:{SYMBOL}:1m", arrivals, stop),))
    client.start()
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = context.new_page()
    tab.add_init_script("""window.__drawn = [];
        addEventListener('tradewind:candle-drawn', (e) => requestAnimationFrame(() => __drawn.push([e.detail, Date.now()])));""")
    tab.goto(f"{url}/dashboard/#/asset/{SYMBOL}")
    tab.wait_for_selector("[data-chart-painted]", state="attached", timeout=30_000)
    deadline = time.monotonic() + samples * 4 + 30
    while len(tab.evaluate("__drawn")) < samples and time.monotonic() < deadline:
        tab.wait_for_timeout(500)
    drawn = {int(t): ms / 1000 for t, ms in tab.evaluate("__drawn")}
    context.close()
    stop.set()
    client.join()
    undo()
    chart = [(drawn[t] - published[t]) * 1000 for t in drawn if t in published]
    bare = [(arrivals[t] - published[t]) * 1000 for t in drawn if t in published and t in arrivals]
    return chart, bare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="first loads measured")
    parser.add_argument("--candles", type=int, default=20, help="live candles measured")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"no Chromium at {CHROMIUM}: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as directory:
        settings = Settings(database_url=f"sqlite:///{directory}/tw.db", trading_timeframe="1m",
                            trading_interval_minutes=1)
        container = build_container(settings, clock=FastClock(30.0))
        with serve(create_app(container)) as url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            deadline = time.monotonic() + 300
            while httpx.get(f"{url}/streamer/available").status_code != 200:  # the history backfill
                if time.monotonic() > deadline:
                    raise SystemExit("the streamer did not start")
                time.sleep(0.5)
            view = httpx.get(f"{url}/api/assets/{SYMBOL}/chart", params={"candles": 1000, "timeframe": "1m"}).json()
            print(f"chart view: {len(view['candles'])} candles, {len(view['zones'])} zones, "
                  f"{len(view['markers'])} structure markers, {len(view['signals'])} signals")
            first_chart(browser, url, 1)  # warm: the server's first chart view compiles the SMC detectors
            charts, blanks = first_chart(browser, url, args.runs)
            print(f"first load of the asset page to the first drawn chart (1,000 candles), {args.runs} runs: "
                  f"p50 {statistics.median(charts):.0f} ms, worst {max(charts):.0f} ms (goal < 1000 ms); "
                  f"baseline, a static file: p50 {statistics.median(blanks):.0f} ms "
                  f"(x{statistics.median(charts) / statistics.median(blanks):.1f})")
            chart, bare = candle_to_chart(browser, url, container, args.candles)
            if chart:
                print(f"closed candle on the server to the chart, {len(chart)} candles: p50 {statistics.median(chart):.1f} ms, "
                      f"p95 {p(chart, 0.95):.1f} ms (goal < 250 ms); baseline, a bare WebSocket client: "
                      f"p50 {statistics.median(bare):.1f} ms, p95 {p(bare, 0.95):.1f} ms")
            else:
                print("closed candle on the server to the chart: null (no candle was drawn)")
            static, data, requests = page_weight(browser, url)
            print(f"asset page weight, uncompressed: {static / 1024:.0f} KB of static files (goal < 500 KB) "
                  f"+ {data / 1024:.0f} KB of API data, {requests} requests")
            browser.close()


if __name__ == "__main__":
    main()
