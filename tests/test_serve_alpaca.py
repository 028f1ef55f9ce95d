"""``serve`` with ``TRADEWIND_BROKER=alpaca``: the trading API's orders reach a fake Alpaca paper
account over real HTTP (real alpaca-py) and its fills come back into the book; a live endpoint
without both confirmations refuses to start with one line."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fakes.alpaca_trading import API_KEY, SECRET_KEY, FakeAlpacaTrading
from support.server import serve
from support.waiting import wait_for
from test_cli import tradewind

from tradewind.api.app import create_app
from tradewind.bootstrap import build_container
from tradewind.settings import Settings

pytest.importorskip("alpaca")

DATA = Path(__file__).parent / "data"
ADMIN = {"Authorization": "Bearer s3cret"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def fake() -> Iterator[FakeAlpacaTrading]:
    with FakeAlpacaTrading().running() as server:
        server.set_price("ETH/BTC", 0.0984)
        yield server  # type: ignore[misc]


def test_orders_from_the_api_go_to_alpaca_and_its_fills_make_the_position(tmp_path: Path,
                                                                          fake: FakeAlpacaTrading) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'tw.db'}", feed="replay", replay_path=DATA / "ETH_BTC-5m.json",
        replay_symbol="ETHBTC", replay_timeframe="5m", replay_speed=3000, symbols=["ETHBTC"],
        timeframes=["5m", "15m", "1h"], analysis_timeframes=["15m", "1h"], admin_token="s3cret",
        broker="alpaca", alpaca_api_key=API_KEY, alpaca_secret_key=SECRET_KEY, alpaca_trading_url=fake.url,
        # levels far away, so the position stays open until the test closes it
        trading_assets=[{"symbol": "ETHBTC", "risk_overrides": {"default_stop_pct": 0.5, "default_target_pct": 0.9}}],
    )
    container = build_container(settings)
    assert container.broker.remote
    with serve(create_app(container)) as url:
        httpx.post(f"{url}/api/assets/ETHBTC/pause", headers=ADMIN)  # only the orders sent by hand
        wait_for(lambda: container.runtime.feed.played >= 5)  # type: ignore[attr-defined]
        entered = httpx.post(f"{url}/api/assets/ETHBTC/enter", headers=ADMIN, json={"side": "long", "size": 0.1},
                             timeout=10)
        assert entered.status_code == 200, entered.text
        client_id = entered.json()["order"]["client_order_id"]
        placed = fake.placed(client_id)
        assert len(placed) == 1 and placed[0].side == "buy" and placed[0].symbol == "ETH/BTC"
        position = wait_for(lambda: httpx.get(f"{url}/api/positions").json()["positions"])[0]
        assert position["side"] == "long" and position["entry_price"] == pytest.approx(0.0984)
        assert position["quantity"] == pytest.approx(placed[0].qty)
        closed = httpx.post(f"{url}/api/assets/ETHBTC/close", headers=ADMIN, timeout=10)
        assert closed.status_code == 200, closed.text
        wait_for(lambda: not httpx.get(f"{url}/api/positions").json()["positions"])
        trade = httpx.get(f"{url}/api/trades").json()["trades"][0]
        assert trade["side"] == "long" and trade["exit_reason"] == "manual"
        sells = [o for o in fake.placed() if o.side == "sell"]
        assert sells and sells[-1].client_order_id == closed.json()["order"]["client_order_id"]


def test_a_live_endpoint_without_both_confirmations_refuses_to_start_in_one_line(tmp_path: Path,
                                                                                 fake: FakeAlpacaTrading) -> None:
    env = {"TRADEWIND_BROKER": "alpaca", "TRADEWIND_ALPACA_API_KEY": API_KEY, "TRADEWIND_ALPACA_SECRET_KEY": SECRET_KEY,
           "TRADEWIND_ALPACA_PAPER": "false", "TRADEWIND_ALPACA_TRADING_URL": fake.url, "TRADEWIND_LIVE_TRADING": "true",
           "TRADEWIND_PORT": str(free_port())}
    result = tradewind("serve", tmp_path=tmp_path, env=env)  # the flag alone is not enough
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "TRADEWIND_LIVE_TRADING_CONFIRM" in lines[0], result.stderr
    assert SECRET_KEY not in result.stderr and not fake.placed()
