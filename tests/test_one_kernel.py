"""One kernel: the server on a replay feed at a high speed multiple and ``tradewind backtest`` over
the same real candles make identical trades (DESIGN.md, "One kernel").

The server runs as ``serve`` does (the composition root, SQLite, the HTTP API, analyses in worker
threads, the replay pacing itself against the wall at a million times real time); the backtest is
the CLI's own code path. Only the clock's owner and the stores differ, so every trade must agree to
the candle and the price. The backtest closes what is still open at the last candle (as
backtesting.py does); the server keeps it open, so that one trade is compared as an open position.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.server import serve

from tradewind.api.app import create_app
from tradewind.bootstrap import build_container
from tradewind.settings import Settings
from tradewind.trading.backtest import BacktestSpec, run_backtest_sync
from tradewind.analysts.rules import RulesAnalyst
from tradewind.domain import Timeframe
from tradewind.market.candle_file import read_candle_file

DATA = Path(__file__).parent / "data"
SOURCE = DATA / "ETH_BTC-5m.json"  # 5,760 real Binance ETH/BTC 5m candles (tests/data/README.md)
CANDLES = 4000  # the first 14 days: 36 trades, in less time than all 20 days
KEYS = ("side", "entry_time", "entry_price", "exit_time", "exit_price", "exit_reason")


def backtest(path: Path) -> dict[str, Any]:
    """``tradewind backtest --data FILE --symbol ETHBTC --timeframe 5m --trade-timeframe 15m --higher 1h,4h
    --strategy signal-follower --risk moderate --fee 0.001 --slippage 0.0005 --interval 15``, in process."""
    spec = BacktestSpec(symbol="ETHBTC", timeframe=Timeframe.M5, trade_timeframe=Timeframe.M15,
                        higher=(Timeframe.H1, Timeframe.H4), strategy="signal-follower", risk="moderate",
                        fee=0.001, slippage=0.0005, interval_minutes=15)
    candles = read_candle_file(path, timeframe=Timeframe.M5).candles
    rules = RulesAnalyst()
    report = run_backtest_sync(spec, candles, analysts={"rules": rules}, market_view=rules)
    return report


def same(a: float | None, b: float | None) -> bool:
    return a is None and b is None or (a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9))


def test_the_server_on_a_replay_and_the_backtest_make_the_same_trades(tmp_path: Path) -> None:
    path = tmp_path / "ETH_BTC-5m.json"
    path.write_text(json.dumps(json.loads(SOURCE.read_text())[:CANDLES]))
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'tw.db'}", feed="replay", replay_path=path, replay_symbol="ETHBTC",
        replay_timeframe="5m", replay_speed=1_000_000, symbols=["ETHBTC"], timeframes=["5m", "15m", "1h", "4h"],
        analysis_timeframes=["15m", "1h", "4h"], trading_timeframe="15m", trading_interval_minutes=15,
        trading_strategy="signal-follower", trading_risk="moderate", trading_fee=0.001, trading_slippage=0.0005,
        analysis_interval_minutes=0,
    )
    container = build_container(settings)
    with serve(create_app(container)) as url:
        deadline = time.monotonic() + 120
        while not container.runtime.feed_finished:
            assert time.monotonic() < deadline, "the replay did not finish"
            time.sleep(0.05)
        served = httpx.get(f"{url}/api/trades", params={"limit": 1000}).json()
        positions = httpx.get(f"{url}/api/positions").json()
    expected = backtest(path)
    served_trades = sorted(served["trades"], key=lambda t: t["entry_time"])
    closed_by_the_end = [t for t in expected["trades"] if t["exit_reason"] == "end"]
    assert len(closed_by_the_end) <= 1
    finished = [t for t in expected["trades"] if t["exit_reason"] != "end"]
    assert len(finished) >= 20, "too few trades to compare: the test would prove little"
    assert len(served_trades) == len(finished)
    for got, want in zip(served_trades, finished):
        assert got["side"] == want["side"] and got["exit_reason"] == want["exit_reason"], (got, want)
        for key in ("entry_time", "entry_price", "exit_time", "exit_price", "pnl"):
            assert same(got[key], want[key]), (key, got, want)
    open_positions = positions["positions"]
    if closed_by_the_end:  # what the backtest closed at the end is the server's open position
        (last,) = closed_by_the_end
        assert len(open_positions) == 1
        assert open_positions[0]["side"] == last["side"]
        assert same(open_positions[0]["entry_price"], last["entry_price"])
    else:
        assert open_positions == []
    json.dumps(served)  # plain JSON all the way
