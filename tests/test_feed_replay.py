"""The replay feed on real candles: pacing, history, bad files."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from support.sink import RecordingSink

from tradewind.domain import Timeframe
from tradewind.domain.errors import FeedError, SymbolNotFound
from tradewind.market.feeds.replay import ReplayFeed

DATA = Path(__file__).parent / "data"


def small_file(tmp_path: Path, rows: int) -> Path:
    path = tmp_path / "eth.json"
    path.write_text(json.dumps(json.loads((DATA / "ETH_BTC-5m.json").read_text())[:rows]))
    return path


async def test_as_fast_as_possible_plays_every_candle_in_order() -> None:
    feed = ReplayFeed(DATA / "ETH_BTC-5m.json", symbol="eth/btc", timeframe=Timeframe.M5)
    sink = RecordingSink()
    await feed.run(sink, ["ETHBTC"])
    assert len(sink.candles) == 5760 == feed.played
    assert {s for s, *_ in sink.candles} == {"ETHBTC"}
    times = [c.time for _, _, c in sink.candles]
    assert times == sorted(times) and all(c.closed for _, _, c in sink.candles)


async def test_speed_is_a_multiple_of_real_time(tmp_path: Path) -> None:
    feed = ReplayFeed(small_file(tmp_path, 4), symbol="ETHBTC", timeframe=Timeframe.M5, speed=3000)  # 300 s -> 0.1 s
    sink = RecordingSink()
    start = time.monotonic()
    await feed.run(sink, ["ETHBTC"])
    elapsed = time.monotonic() - start
    assert 0.28 <= elapsed < 1.5
    gaps = np.diff(sink.arrivals)
    assert all(g >= 0.09 for g in gaps)


def test_history_aggregates_and_respects_until() -> None:
    feed = ReplayFeed(DATA / "ETH_BTC-5m.json", symbol="ETHBTC", timeframe=Timeframe.M5)
    hourly = feed.history("ETHBTC", Timeframe.H1, 10)
    assert len(hourly) == 10 and all(c.time % 3600 == 0 for c in hourly)
    five = [c for c in feed.history("ETHBTC", Timeframe.M5, 5760) if hourly[-1].time <= c.time < hourly[-1].time + 3600]
    assert hourly[-1].high == max(c.high for c in five) and hourly[-1].open == five[0].open
    until = hourly[5].time
    assert feed.history("ETHBTC", Timeframe.H1, 3, until=until)[-1].time == hourly[4].time
    assert feed.history("ETHBTC", Timeframe.M1, 3) == []  # cannot make 1m out of 5m
    with pytest.raises(SymbolNotFound):
        feed.history("BTCUSDT", Timeframe.H1, 3)


async def test_bad_rows_are_skipped_and_reported_unreadable_file_fails(tmp_path: Path) -> None:
    rows = json.loads((DATA / "ETH_BTC-5m.json").read_text())[:10]
    rows[2][5] = -3
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(rows))
    feed = ReplayFeed(path, symbol="ETHBTC", timeframe=Timeframe.M5)
    sink = RecordingSink()
    await feed.run(sink, ["ETHBTC"])
    assert len(sink.candles) == 9
    assert feed.report is not None and [(r.line, r.field) for r in feed.report.rejected] == [(3, "volume")]
    truncated = tmp_path / "cut.json"
    truncated.write_text(path.read_text()[:100])
    with pytest.raises(FeedError, match="cut.json"):
        await ReplayFeed(truncated, symbol="ETHBTC").run(sink, ["ETHBTC"])
    with pytest.raises(ValueError):
        ReplayFeed(path, symbol="ETHBTC", speed=-1)
