"""Screenshots of every dashboard page for README.md (docs/screenshots/), taken from a real run.

The service runs here on the synthetic market (sped up 30x so trades happen within seconds), with
the LLM analyst on BTCUSDT answered by the fake OpenAI-compatible server of the tests (so the AI
logs and the signal-quality page have rows); the bot trades, a backtest runs over the recorded
candles, and the assistant answers a question with a tool. Then headless Chromium (Debian's
``chromium``) visits each page at 1280x800 and once at phone width.

    .venv/bin/python scripts/dashboard_screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from fakes.openai_server import FakeOpenAI  # noqa: E402
from support.browser import ARGS, CHROMIUM  # noqa: E402
from support.dashboard import ADMIN_TOKEN, dashboard_server  # noqa: E402
from support.llm_answers import signal_answer  # noqa: E402

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PAGES = (("overview", "overview", ".asset-card [data-role=signal]"),
         ("asset", "asset/BTCUSDT", "[data-chart-painted]"),
         ("logs", "logs", ".page"), ("quality", "quality", ".page"))


def wait(predicate: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for the service")
        time.sleep(0.2)
    return value


def activity(url: str) -> str | None:
    """A few minutes of trading, a backtest and a chat, through the service's own API."""
    for symbol, side in (("BTCUSDT", "long"), ("ETHUSDT", "short")):
        httpx.post(f"{url}/api/assets/{symbol}/enter", json={"side": side, "size": 0.2}, headers=ADMIN)
    time.sleep(8)
    httpx.post(f"{url}/api/assets/ETHUSDT/close", json={"fraction": 1}, headers=ADMIN)
    wait(lambda: httpx.get(f"{url}/api/trades").json()["trades"])
    job = httpx.post(f"{url}/api/backtests", json={"symbol": "BTCUSDT", "timeframe": "1m", "strategy": "sma-cross"},
                     headers=ADMIN)
    if job.status_code != 202:
        return None
    job_id = job.json()["id"]
    wait(lambda: httpx.get(f"{url}/api/backtests/{job_id}").json()["status"] in {"done", "failed"})
    return str(job_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as directory, FakeOpenAI(signal_answer, model="gpt-4o-mini").running() as llm:
        assets = [{"symbol": "BTCUSDT", "analyst": "llm", "timeframe": "1m", "interval_minutes": 1},
                  {"symbol": "ETHUSDT", "timeframe": "1m", "interval_minutes": 1}]
        with dashboard_server(Path(directory), trading_assets=assets, llm_base_url=llm.base_url, llm_model="gpt-4o-mini",
                              llm_api_keys=["sk-screenshot"], analysis_cache_seconds=0) as (url, container), \
                sync_playwright() as playwright:
            wait(lambda: all(a["cycles"] >= 2 for a in httpx.get(f"{url}/api/assets").json()["assets"]))
            job_id = activity(url)
            time.sleep(20)  # at 30x, ten minutes of market: the early signals' horizons pass
            container.scorer.resolve_open()
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for theme, viewport, suffix in (("light", {"width": 1280, "height": 800}, ""),):
                context = browser.new_context(viewport=viewport, color_scheme=theme)
                tab = context.new_page()
                for name, route, ready in PAGES:
                    tab.goto(f"{url}/dashboard/#/{route}")
                    tab.wait_for_selector(ready, state="attached", timeout=30_000)
                    tab.wait_for_timeout(1500)
                    tab.screenshot(path=str(args.out / f"{name}{suffix}.png"))
                tab.goto(f"{url}/dashboard/#/backtests/{job_id}" if job_id else f"{url}/dashboard/#/backtests")
                tab.wait_for_selector("#bt-job[data-status=done] .bt-metrics" if job_id else ".bt-form", timeout=30_000)
                tab.wait_for_timeout(1000)
                tab.screenshot(path=str(args.out / f"backtests{suffix}.png"), full_page=True)
                tab.goto(f"{url}/dashboard/#/assistant")
                tab.wait_for_selector(".chat-log[data-ready]", state="attached", timeout=30_000)
                tab.fill("#chat-input", "What is the price of BTCUSDT, and the signal?")
                tab.press("#chat-input", "Enter")
                tab.wait_for_selector(".chat-msg[data-role=assistant][data-message]", timeout=30_000)
                tab.wait_for_timeout(500)
                tab.screenshot(path=str(args.out / f"assistant{suffix}.png"))
                context.close()
            context = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme="dark")
            tab = context.new_page()
            tab.goto(f"{url}/dashboard/#/asset/BTCUSDT")
            tab.wait_for_selector("[data-chart-painted]", state="attached", timeout=30_000)
            tab.wait_for_timeout(1500)
            tab.screenshot(path=str(args.out / "asset-dark.png"))
            context.close()
            context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
            tab = context.new_page()
            tab.goto(f"{url}/dashboard/#/overview")
            tab.wait_for_selector(".asset-card", timeout=30_000)
            tab.wait_for_timeout(1000)
            tab.screenshot(path=str(args.out / "overview-phone.png"))
            context.close()
            browser.close()
    print(f"screenshots in {args.out}")


if __name__ == "__main__":
    main()
