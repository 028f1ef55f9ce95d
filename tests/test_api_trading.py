"""``/api/*`` (seed 001's trading bot) and ``trading:SYM`` on /ws, over real HTTP and WebSocket.

The server replays real ETH/BTC 5m candles at 6,000x real time (a candle every 0.05 s of wall time)
on its embedded defaults: SQLite, the rule-based analyst, the signal follower, the paper broker. So
a manual entry fills at the next candle's open within a moment, as it would live.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from support.server import serve
from support.waiting import wait_for
from websockets.asyncio.client import connect

from tradewind.api.app import create_app
from tradewind.bootstrap import Container, build_container
from tradewind.domain.errors import ValidationError
from tradewind.settings import Settings

DATA = Path(__file__).parent / "data"
ADMIN = {"Authorization": "Bearer s3cret"}
TRADING_TYPES = {"OrderFilled", "TradeOpened", "PositionUpdate", "TradeClosed", "StatisticsUpdate", "RiskDenied",
                 "ReflectionCreated"}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Container]]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path_factory.mktemp('trading') / 'tw.db'}", feed="replay",
        replay_path=DATA / "ETH_BTC-5m.json", replay_symbol="ETHBTC", replay_timeframe="5m", replay_speed=6000,
        symbols=["ETHBTC"], timeframes=["5m", "15m", "1h"], analysis_timeframes=["15m", "1h"],
        admin_token="s3cret", trading_reflect_every=1,
    )
    container = build_container(settings)
    with serve(create_app(container)) as url:
        wait_for(lambda: container.runtime.feed.played >= 20)  # type: ignore[attr-defined]
        yield url, container


def refused(response: httpx.Response, status: int, field: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["field"] == field, body
    assert len(response.content) < 2000
    return body  # type: ignore[no-any-return]


def test_assets_list_the_default_bot_and_its_dashboard(running: tuple[str, Container]) -> None:
    url, _ = running
    assets = httpx.get(f"{url}/api/assets").json()["assets"]
    assert [a["symbol"] for a in assets] == ["ETHBTC"]
    (asset,) = assets
    assert (asset["strategy"], asset["analyst"], asset["interval_minutes"], asset["timeframe"]) == (
        "signal-follower", "rules", 15, "15m")
    assert asset["status"] in {"running", "paused"}
    assert httpx.get(f"{url}/api/assets/eth-btc").json()["symbol"] == "ETHBTC"  # any spelling of the symbol
    board = httpx.get(f"{url}/api/assets/ETHBTC/dashboard", params={"candles": 50}).json()
    assert set(board) >= {"asset", "price", "candles", "position", "trades", "pnl", "statistics", "latest_signal",
                          "latest_reflection", "risk_events", "portfolio"}
    assert 0 < len(board["candles"]) <= 50 and board["price"] > 0
    assert set(board["pnl"]) == {"realized", "unrealized", "total"}
    wait_for(lambda: httpx.get(f"{url}/api/assets/ETHBTC").json()["cycles"] >= 1)
    board = httpx.get(f"{url}/api/assets/ETHBTC/dashboard").json()
    assert board["latest_signal"]["signal"] in {"Long", "Short", "Neutral"}
    performance = httpx.get(f"{url}/api/performance").json()
    assert "portfolio" in performance and performance["portfolio"]["equity"] > 0


def test_overrides_need_the_admin_token(running: tuple[str, Container]) -> None:
    url, _ = running
    for method, path in (("POST", "pause"), ("POST", "resume"), ("POST", "close"), ("POST", "enter")):
        response = httpx.request(method, f"{url}/api/assets/ETHBTC/{path}", json={"side": "long"})
        assert response.status_code == 403, (path, response.text)
    assert httpx.patch(f"{url}/api/assets/ETHBTC", json={"interval_minutes": 5}).status_code == 403
    assert httpx.get(f"{url}/api/assets/ETHBTC").json()["interval_minutes"] == 15  # nothing changed


def test_pause_resume_and_change_an_asset_while_it_runs(running: tuple[str, Container]) -> None:
    url, _ = running
    assert httpx.post(f"{url}/api/assets/ETHBTC/pause", headers=ADMIN).json()["status"] == "paused"
    assert httpx.post(f"{url}/api/assets/ETHBTC/resume", headers=ADMIN).json()["status"] == "running"
    changed = httpx.patch(f"{url}/api/assets/ETHBTC", headers=ADMIN,
                          json={"interval_minutes": 30, "risk": "conservative"}).json()
    assert (changed["interval_minutes"], changed["risk"]) == (30, "conservative")
    back = httpx.patch(f"{url}/api/assets/ETHBTC", headers=ADMIN, json={"interval_minutes": 15, "risk": "moderate"})
    assert back.json()["interval_minutes"] == 15


@pytest.mark.parametrize(("op", "args", "field"), [
    ("liquidate", {"symbol": "ETHBTC"}, "op"),  # only the named overrides run
    ("pause", {"symbol": "ETHBTC", "everything": True}, "body"),  # arguments the override does not take
    ("enter", {}, "body"),
])
def test_a_forwarded_override_with_a_bad_op_or_arguments_is_a_4xx_and_changes_nothing(
        running: tuple[str, Container], op: str, args: dict[str, Any], field: str) -> None:
    """What another worker forwards (adapters/book_forwarding.py) is checked before anything runs."""
    _, container = running
    assert container.trading is not None
    before = container.trading.asset("ETHBTC")
    with pytest.raises(ValidationError) as refused_here:
        asyncio.run(container.trading.run_forwarded(op, args))
    assert refused_here.value.field == field and len(str(refused_here.value)) < 300
    assert container.trading.asset("ETHBTC")["status"] == before["status"]


@pytest.mark.parametrize(("body", "field"), [
    ({"interval_minutes": 0}, "interval_minutes"),
    ({"interval_minutes": 61}, "interval_minutes"),
    ({"strategy": "no-such-strategy"}, "strategy"),
    ({"strategy": "os.system"}, "strategy"),
    ({"strategy": "antigravity:Anything"}, "strategy"),  # a request never makes the server import a module
    ({"strategy": "sma-cross", "params": {"fast": "ten"}}, "params"),
    ({"strategy": "sma-cross", "params": {"fast": 30, "slow": 10}}, "params"),
    ({"analyst": "oracle"}, "analyst"),
    ({"risk": "yolo"}, "risk"),
    ({"risk_overrides": {"position_size": 1.5}}, "risk_overrides"),
    ({}, "body"),
])
def test_bad_changes_are_a_4xx_naming_the_field_and_change_nothing(running: tuple[str, Container],
                                                                   body: dict[str, Any], field: str) -> None:
    url, _ = running
    before = httpx.get(f"{url}/api/assets/ETHBTC").json()
    response = httpx.patch(f"{url}/api/assets/ETHBTC", headers=ADMIN, json=body)
    assert 400 <= response.status_code < 500, response.text
    assert field in response.json()["field"], response.json()
    after = httpx.get(f"{url}/api/assets/ETHBTC").json()
    assert {k: after[k] for k in ("interval_minutes", "strategy", "params", "analyst", "risk", "risk_overrides")} == {
        k: before[k] for k in ("interval_minutes", "strategy", "params", "analyst", "risk", "risk_overrides")}


def test_unknown_fields_symbols_and_limits_are_refused(running: tuple[str, Container]) -> None:
    url, _ = running
    refused(httpx.patch(f"{url}/api/assets/ETHBTC", headers=ADMIN, json={"colour": "red"}), 422, "colour")
    refused(httpx.get(f"{url}/api/assets/DOGEUSDT"), 404, "symbol")
    refused(httpx.get(f"{url}/api/assets/DOGEUSDT/dashboard"), 404, "symbol")
    refused(httpx.post(f"{url}/api/assets/DOGEUSDT/enter", headers=ADMIN, json={"side": "long"}), 404, "symbol")
    refused(httpx.get(f"{url}/api/trades", params={"limit": 0}), 400, "limit")
    refused(httpx.get(f"{url}/api/trades", params={"limit": 10**6}), 400, "limit")
    refused(httpx.get(f"{url}/api/trades", params={"symbol": "NOPE"}), 404, "symbol")
    refused(httpx.get(f"{url}/api/assets/ETHBTC/dashboard", params={"candles": 501}), 400, "candles")
    refused(httpx.post(f"{url}/api/assets/ETHBTC/enter", headers=ADMIN, json={"side": "sideways"}), 422, "side")
    long_name = "X" * 10_000
    response = httpx.get(f"{url}/api/assets/{long_name}")
    assert 400 <= response.status_code < 500 and len(response.content) < 2000


@pytest.mark.parametrize("size", [0, -0.1, 1.5, 100])
def test_an_entry_size_outside_0_100_percent_is_refused(running: tuple[str, Container], size: float) -> None:
    url, _ = running
    before = httpx.get(f"{url}/api/positions").json()
    refused(httpx.post(f"{url}/api/assets/ETHBTC/enter", headers=ADMIN, json={"side": "long", "size": size}),
            400, "size")
    assert httpx.get(f"{url}/api/positions").json()["portfolio"]["cash"] == before["portfolio"]["cash"]


def test_enter_then_close_by_hand_is_seen_on_the_trading_channel(running: tuple[str, Container]) -> None:
    url, container = running
    httpx.post(f"{url}/api/assets/ETHBTC/close", headers=ADMIN)  # whatever the bot holds
    wait_for(lambda: not httpx.get(f"{url}/api/positions").json()["positions"])
    httpx.post(f"{url}/api/assets/ETHBTC/pause", headers=ADMIN)  # the bot must not trade over the test
    try:
        types = asyncio.run(_enter_and_close(url))
    finally:
        httpx.post(f"{url}/api/assets/ETHBTC/resume", headers=ADMIN)
    assert {"OrderFilled", "TradeOpened", "PositionUpdate", "TradeClosed"} <= types
    trades = httpx.get(f"{url}/api/trades", params={"symbol": "ETHBTC", "limit": 5}).json()["trades"]
    newest = trades[0]
    assert newest["side"] == "long" and newest["exit_reason"] == "manual"
    assert newest["exit_time"] > newest["entry_time"]
    wait_for(lambda: httpx.get(f"{url}/api/reflections", params={"symbol": "ETHBTC"}).json()["reflections"])


async def _enter_and_close(url: str) -> set[str]:
    types: set[str] = set()
    ws_url = url.replace("http://", "ws://") + "/ws"
    async with connect(ws_url, proxy=None) as ws, httpx.AsyncClient(base_url=url, headers=ADMIN) as client:
        await ws.send(orjson.dumps({"type": "subscribe", "channels": ["trading:eth/btc"]}).decode())

        async def until(kind: str) -> None:
            while True:
                message = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
                if message["type"] in TRADING_TYPES:
                    assert message["data"]["symbol"] == "ETHBTC", message
                    types.add(message["type"])
                if message["type"] == kind:
                    return

        await until("subscribed")
        entered = (await client.post("/api/assets/ETHBTC/enter", json={"side": "long", "size": 0.1})).json()
        assert entered["order"]["side"] == "buy", entered
        await until("TradeOpened")
        position = (await client.get("/api/positions")).json()["positions"][0]
        assert position["side"] == "long" and position["stop_loss"] is not None  # every entry has its stop
        await client.post("/api/assets/ETHBTC/close", json={"fraction": 1.0})
        await until("TradeClosed")
    return types


def test_backtests_run_in_the_background_over_stored_candles(running: tuple[str, Container]) -> None:
    url, container = running
    wait_for(lambda: container.recorder.saved >= 150)
    refused(httpx.post(f"{url}/api/backtests", json={"symbol": "DOGEUSDT", "timeframe": "5m"}), 400, "symbol")
    refused(httpx.post(f"{url}/api/backtests", json={"symbol": "ETHBTC", "timeframe": "5m", "from": 1, "to": 2}),
            400, "from")
    refused(httpx.post(f"{url}/api/backtests", json={"symbol": "ETHBTC", "timeframe": "5m", "strategy": "nope"}),
            400, "strategy")
    refused(httpx.post(f"{url}/api/backtests", json={"symbol": "ETHBTC", "timeframe": "5m",
                                                     "strategy": "this:Module"}), 400, "strategy")
    assert "this" not in sys.modules and "antigravity" not in sys.modules
    refused(httpx.post(f"{url}/api/backtests", json={"symbol": "ETHBTC", "timeframe": "5m", "strategy": "sma-cross",
                                                     "params": {"fast": "x"}}), 400, "params.fast")
    refused(httpx.post(f"{url}/api/backtests", json={"symbol": "ETHBTC", "timeframe": "5m", "fee": 2}), 400, "fee")
    started = httpx.post(f"{url}/api/backtests", json={"symbol": "ETHBTC", "timeframe": "5m", "strategy": "sma-cross",
                                                       "params": {"fast": 5, "slow": 20}})
    assert started.status_code == 202, started.text
    location = started.headers["location"]
    done = wait_for(lambda: (body := httpx.get(f"{url}{location}").json())["status"] in {"done", "failed"} and body)
    assert done["status"] == "done", done
    report = done["report"]
    assert set(report) >= {"metrics", "trades", "equity"}
    assert report["metrics"]["trades"] == len(report["trades"])
    assert all(set(t) >= {"side", "entry_time", "entry_price", "exit_time", "exit_price", "size", "pnl", "exit_reason"}
               for t in report["trades"])
    listed = httpx.get(f"{url}/api/backtests").json()["backtests"]
    assert any(job["id"] == done["id"] for job in listed)
    refused(httpx.get(f"{url}/api/backtests/nope"), 404, "id")


def trading_bodies() -> dict[tuple[str, str], dict[str, Any]]:
    """A valid body for every trading route that takes one."""
    first = 1_515_560_100  # the file's first candle
    return {
        ("PATCH", "/api/assets/ETHBTC"): {"interval_minutes": 15, "strategy": "sma-cross", "params": {"fast": 10, "slow": 20},
                                          "analyst": "rules", "risk": "moderate", "risk_overrides": {"position_size": 0.1}},
        ("POST", "/api/assets/ETHBTC/enter"): {"side": "long", "size": 0.05},
        ("POST", "/api/assets/ETHBTC/close"): {"fraction": 1.0},
        ("POST", "/api/backtests"): {"symbol": "ETHBTC", "timeframe": "5m", "strategy": "sma-cross",
                                     "params": {"fast": 5, "slow": 20}, "risk": "none", "cash": 10_000, "fee": 0.001,
                                     "slippage": 0.0, "interval_minutes": 5, "higher": ["1h"], "from": first,
                                     "to": first + 86_400, "warmup": 0},
    }


def test_every_field_of_every_trading_body_survives_hostile_values(running: tuple[str, Container]) -> None:
    """The generated cases of tests/test_hostile_input.py on the trading routes: below 500, a 4xx naming
    a field, a usable connection; the asset's settings stay valid whatever was sent."""
    from test_hostile_input import Client, check_answer, hostile_bodies

    url, container = running
    httpx.post(f"{url}/api/assets/ETHBTC/pause", headers=ADMIN)
    client = Client(url)
    cases = 0
    try:
        for (method, route), body in trading_bodies().items():
            for path, kind, hostile, raw in hostile_bodies(body):
                status, data = client.request(method, route, raw, headers=ADMIN)
                cases += 1
                # the book moves between requests (an entry that filled, a backtest still running), so
                # a refusal may name the state's field rather than the one mutated: only PATCH is exact
                # and a hostile key is an unknown field: the refusal names it (in a short excerpt)
                expect = str(path[0]) if method == "PATCH" and kind == "value" else None
                refuse = hostile.always_invalid and kind == "value" and path[-2:-1] != ("params",)
                check_answer(status, data, where=f"{method} {route} {'.'.join(map(str, path))} ({kind}) = "
                             f"{hostile.name}", expect_field=expect, must_refuse=refuse)
                if status >= 400:
                    assert len(orjson.loads(data)["field"]) <= 200, data[:300]
    finally:
        client.close()
        restored = httpx.patch(f"{url}/api/assets/ETHBTC", headers=ADMIN, json={
            "interval_minutes": 15, "strategy": "signal-follower", "params": {}, "analyst": "rules", "risk": "moderate",
            "risk_overrides": {}})
        assert restored.status_code == 200, restored.text
        httpx.post(f"{url}/api/assets/ETHBTC/close", headers=ADMIN)
        httpx.post(f"{url}/api/assets/ETHBTC/resume", headers=ADMIN)
    assert cases > 500
    asset = httpx.get(f"{url}/api/assets/ETHBTC").json()
    assert asset["strategy"] == "signal-follower" and asset["interval_minutes"] == 15
    assert httpx.get(f"{url}/health").status_code == 200


def test_hostile_path_and_query_values_of_every_trading_route(running: tuple[str, Container]) -> None:
    from test_hostile_input import PATH_VALUES, Client, check_answer

    url, _ = running
    client = Client(url)
    templates = [
        ("GET", "/api/assets/{v}"), ("GET", "/api/assets/{v}/dashboard"), ("GET", "/api/assets/ETHBTC/dashboard?candles={v}"),
        ("GET", "/api/assets/ETHBTC/dashboard?trades={v}"), ("GET", "/api/trades?symbol={v}"), ("GET", "/api/trades?limit={v}"),
        ("GET", "/api/risk-events?symbol={v}"), ("GET", "/api/reflections?limit={v}"), ("GET", "/api/backtests/{v}"),
        ("POST", "/api/assets/{v}/pause"), ("POST", "/api/assets/{v}/resume"), ("POST", "/api/assets/{v}/close"),
    ]
    try:
        for method, template in templates:
            for value in PATH_VALUES:
                path = template.format(v=value)
                status, data = client.request(method, path, b"" if method == "POST" else None, headers=ADMIN)
                check_answer(status, data, where=f"{method} {path[:80]}", expect_field=None, must_refuse=True)
    finally:
        client.close()
    assert httpx.get(f"{url}/api/assets").json()["assets"][0]["symbol"] == "ETHBTC"
