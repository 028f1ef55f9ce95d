"""``GET /metrics`` over real HTTP: each figure made by the real thing it counts (requests, an LLM call
to a fake OpenAI-compatible server through the SDK, the engine's orders, fills and a risk denial, a
WebSocket client, a closed candle on a wall-clock feed), with labels bounded whatever callers send."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fakes.openai_server import FakeOpenAI
from prometheus_client.parser import text_string_to_metric_families
from support.llm_answers import signal_answer
from support.server import serve
from support.waiting import wait_for
from websockets.asyncio.client import connect

from tradewind.api.app import create_app
from tradewind.api.metrics import OTHER, Bounded
from tradewind.bootstrap import Container, build_container
from tradewind.domain.candle import Candle
from tradewind.domain.events import CandleClosed
from tradewind.domain.timeframe import Timeframe
from tradewind.settings import Settings

DATA = Path(__file__).parent / "data"
ROWS = json.loads((DATA / "ETH_BTC-5m.json").read_text())
KEYS = ("timestamp", "open", "high", "low", "close", "volume")
ADMIN = {"Authorization": "Bearer s3cret"}


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics`` by (name, sorted labels)."""
    response = httpx.get(f"{url}/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels`` (0 when there are none)."""
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls))


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Container]]:
    with FakeOpenAI(signal_answer, model="gpt-4o-mini").running() as fake:
        settings = Settings(
            database_url=f"sqlite:///{tmp_path_factory.mktemp('metrics') / 'tw.db'}", feed="replay",
            replay_path=DATA / "ETH_BTC-5m.json", replay_symbol="ETHBTC", replay_timeframe="5m", replay_speed=6000,
            symbols=["ETHBTC"], timeframes=["5m", "15m", "1h"], analysis_timeframes=["15m", "1h"],
            admin_token="s3cret", analyst="llm", trading_analyst="rules", llm_base_url=fake.base_url,
            llm_model="gpt-4o-mini", llm_api_keys=["sk-test"], analysis_cache_seconds=0,
        )
        container = build_container(settings)
        with serve(create_app(container)) as url:
            wait_for(lambda: container.runtime.feed.played >= 20)  # type: ignore[attr-defined]
            yield url, container


def test_requests_are_timed_by_route_template_and_status_class(running: tuple[str, Container]) -> None:
    url, _ = running
    before = scrape(url)
    for path in ("/api/assets/ETHBTC", "/api/assets/eth-btc", "/made/up/1", "/made/up/2?x=1"):
        httpx.get(f"{url}{path}")
    after = scrape(url)
    name = "tradewind_http_request_duration_seconds_count"
    assert value(after, name, route="/api/assets/{symbol}", status="2xx") - value(
        before, name, route="/api/assets/{symbol}", status="2xx") == 2
    assert value(after, name, route="<unmatched>", status="4xx") - value(before, name, route="<unmatched>") == 2
    labels = {v for (_, ls) in after for _, v in ls}
    assert not any("ETHBTC" in v or "eth-btc" in v or "made" in v for v in labels)  # no raw path is a label
    assert value(after, "tradewind_http_request_duration_seconds_sum", route="/api/assets/{symbol}") > 0


def test_an_llm_call_counts_its_tokens_and_cost_as_the_decision_log_has_them(running: tuple[str, Container]) -> None:
    url, container = running
    rows = ROWS[200:400]
    body = {"symbol": "ETHBTC", "timeframe_data": {"5m": [dict(zip(KEYS, r)) for r in rows]},
            "current_price": rows[-1][4]}
    answer = httpx.post(f"{url}/ai/analyze", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    samples = scrape(url)
    (usage,) = [m for m in container.decisions.usage()["by_model"] if m["model"] == "gpt-4o-mini"]
    assert value(samples, "tradewind_llm_calls_total", model="gpt-4o-mini") == usage["calls"] >= 1
    assert value(samples, "tradewind_llm_tokens_total", model="gpt-4o-mini", kind="prompt") == usage["prompt_tokens"]
    assert value(samples, "tradewind_llm_tokens_total", model="gpt-4o-mini",
                 kind="completion") == usage["completion_tokens"]
    assert value(samples, "tradewind_llm_cost_usd_total", model="gpt-4o-mini") == pytest.approx(usage["cost_usd"])
    assert usage["cost_usd"] > 0
    assert value(samples, "tradewind_llm_call_duration_seconds_count", model="gpt-4o-mini") == usage["calls"]
    assert value(samples, "tradewind_signals_total", analyst="llm:gpt-4o-mini", origin="api") >= 1


def test_orders_fills_and_a_risk_denial_are_counted(running: tuple[str, Container]) -> None:
    url, _ = running
    http = httpx.Client(base_url=url, headers=ADMIN, timeout=10)
    http.post("/api/assets/ETHBTC/pause")  # the bot must not trade over the test
    try:
        http.post("/api/assets/ETHBTC/close")  # whatever it holds
        wait_for(lambda: not http.get("/api/positions").json()["positions"])
        before = scrape(url)
        entered = http.post("/api/assets/ETHBTC/enter", json={"side": "long", "size": 0.1})
        assert entered.status_code == 200, entered.text
        wait_for(lambda: http.get("/api/positions").json()["positions"])
        http.post("/api/assets/ETHBTC/close", json={"fraction": 1.0})
        wait_for(lambda: not http.get("/api/positions").json()["positions"])
        assert http.patch("/api/assets/ETHBTC", json={"risk_overrides": {"max_open_positions": 0}}).status_code == 200
        denied = http.post("/api/assets/ETHBTC/enter", json={"side": "long", "size": 0.1})
        assert denied.status_code == 400 and denied.json()["field"] == "risk"
        after = scrape(url)
    finally:
        http.patch("/api/assets/ETHBTC", json={"risk_overrides": {}})
        http.post("/api/assets/ETHBTC/resume")
    diff = {key: after.get(key, 0.0) - before.get(key, 0.0) for key in after}
    assert value(diff, "tradewind_orders_total", side="buy", type="market", status="accepted") == 1
    assert value(diff, "tradewind_orders_total", side="sell", type="market", status="accepted") == 1
    assert value(diff, "tradewind_fills_total", side="buy") == 1
    assert value(diff, "tradewind_fills_total", side="sell", reason="manual") == 1
    assert value(diff, "tradewind_risk_denials_total", reason="max_positions") == 1
    assert value(after, "tradewind_signals_total", analyst="rules", origin="engine") >= 1  # the bot's own cycles


def test_websocket_clients_are_a_live_gauge(running: tuple[str, Container]) -> None:
    url, _ = running
    gauge = "tradewind_websocket_clients"
    assert value(scrape(url), gauge) == 0

    async def connected() -> float:
        async with connect(url.replace("http://", "ws://") + "/ws", proxy=None) as ws:
            await ws.recv()  # the seed's "connection" message: the hub has it now
            return await asyncio.to_thread(lambda: value(scrape(url), gauge))

    assert asyncio.run(connected()) == 1
    wait_for(lambda: value(scrape(url), gauge) == 0)


def test_a_replay_has_no_bus_lag_and_a_wall_clock_feed_measures_it(running: tuple[str, Container],
                                                                    tmp_path: Path) -> None:
    url, _ = running
    assert value(scrape(url), "tradewind_bus_lag_seconds_count") == 0  # history replayed: its age means nothing
    container = build_container(Settings(
        database_url=f"sqlite:///{tmp_path / 'wall.db'}", symbols=["BTCUSDT"], timeframes=["1m"],
        analysis_timeframes=["1m"], history_hours=1, trading=False))
    with serve(create_app(container)) as wall:
        opened = int(time.time()) - 63  # closed 3 s ago
        candle = Candle(opened, 1.0, 1.0, 1.0, 1.0, 1.0)
        container.bus.publish(CandleClosed.topic, CandleClosed("BTCUSDT", Timeframe.M1, candle))
        samples = scrape(wall)
        assert value(samples, "tradewind_bus_lag_seconds_count") == 1
        assert 3 <= value(samples, "tradewind_bus_lag_seconds_sum") < 10
        # a registry per app: the other app's requests are not here
        assert value(samples, "tradewind_http_request_duration_seconds_count", route="/api/assets/{symbol}") == 0


def test_label_values_from_outside_are_bounded() -> None:
    label = Bounded(limit=3)
    assert [label(f"model-{i}") for i in range(5)] == ["model-0", "model-1", "model-2", OTHER, OTHER]
    assert label("model-1") == "model-1"  # a known one stays itself
    assert label("x" * 500) == OTHER and len(Bounded()("y" * 500)) == 64
    assert Bounded()(None) == "unknown"
