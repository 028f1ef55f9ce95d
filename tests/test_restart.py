"""A restart mid-position resumes cash, positions and open stops exactly (SQLite and PostgreSQL).

The kernel ``serve`` runs (``build_kernel``: streamer, engine, paper broker, portfolio) replays the
first part of real candles (tests/data/ETH_BTC-5m.json) on a simulated clock into SQL stores and
stops; its database engine is disposed. A fresh kernel on the same database (new clock, feed,
broker, portfolio and stores) resumes: ``Kernel.start`` restores the book, the asset settings
changed while running and the open orders at the broker, and the streamer warms up from the stored
candles. What it resumes with must be exactly what the first kernel stopped with, and the trades of
the two parts together must be those of one uninterrupted run over all the candles on the same
kind of database.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from tradewind.analysts.rules import RulesAnalyst
from tradewind.domain.bus import InProcessBus
from tradewind.domain.candle import Candle
from tradewind.domain.clock import SimClock
from tradewind.domain.events import CandleClosed, PositionChanged
from tradewind.domain.orders import Order, Position, Trade
from tradewind.domain.timeframe import Timeframe
from tradewind.market.candle_file import read_candle_file
from tradewind.market.feeds.replay import ReplayFeed
from tradewind.storage.candles import SqlCandleStore
from tradewind.storage.db import create_engine_for
from tradewind.storage.migrate import upgrade_database
from tradewind.storage.signals import SqlSignalStore
from tradewind.storage.tables import Base
from tradewind.storage.trading import SqlTradingStore
from tradewind.trading.backtest import play
from tradewind.trading.kernel import Kernel, KernelConfig, Stores, build_kernel
from tradewind.trading.paper import PaperBroker
from tradewind.trading.portfolio import PortfolioSnapshot
from tradewind.trading.records import AssetConfig
from tradewind.trading.risk import risk_profile

M5 = Timeframe.M5
SYMBOL = "ETHBTC"
CASH = 10_000.0
CANDLES = read_candle_file(Path(__file__).parent / "data" / "ETH_BTC-5m.json", timeframe=M5).candles[:120]
# moderate risk: every entry gets a stop-loss and a take-profit, held by the paper broker
ASSET = AssetConfig(SYMBOL, M5, 5, "sma-cross", {"fast": 10, "slow": 20}, "rules", "moderate")
# changed while running (as PATCH /trading/assets would): a restart must keep them, or it trades otherwise
CHANGES: dict[str, Any] = {"params": {"fast": 5, "slow": 12, "short": True},
                           "risk_overrides": {"trailing_stop_pct": 0.025, "default_target_pct": 0.025}}


def kernel(engine: Engine, candles: Sequence[Candle], *, start: float) -> Kernel:
    """A kernel replaying ``candles`` from ``start`` with every store on ``engine``."""
    clock = SimClock(start)
    config = KernelConfig(symbols=[SYMBOL], timeframes=[M5], assets=[ASSET], analysis_timeframes=[M5],
                          cache_ttl_seconds=0, score_every_seconds=None, cash=CASH,
                          portfolio_risk=risk_profile("moderate"), fail_fast=True)
    stores = Stores(signals=SqlSignalStore(engine), trading=SqlTradingStore(engine), candles=SqlCandleStore(engine))
    feed = ReplayFeed.from_candles(candles, symbol=SYMBOL, timeframe=M5, clock=clock)
    return build_kernel(config, clock=clock, feed=feed, broker=PaperBroker(cash=CASH, fee_rate=0.001), stores=stores,
                        bus=InProcessBus(strict=True), analysts={"rules": RulesAnalyst()})


def trades(k: Kernel) -> list[Trade]:
    return k.stores.trading.trades(limit=10_000)[::-1]


def equity(k: Kernel) -> list[tuple[float, float]]:
    return k.stores.trading.equity_curve(limit=100_000)


def at_broker(k: Kernel) -> list[tuple[Any, ...]]:
    """The broker's open orders, all but the parent link (see the test)."""
    return [(o.client_order_id, o.symbol, o.side, o.quantity, o.type, o.price, o.reason)
            for o in k.broker.open_orders()]


def shape(orders: Sequence[Order]) -> list[tuple[Any, ...]]:
    """Orders as two runs can compare them: ids are random, so a parent is named by its place in
    the list (or None)."""
    ids = [o.client_order_id for o in orders]
    return [(o.symbol, o.side, o.quantity, o.type, o.created_at, o.price, o.reason,
             ids.index(o.parent_id) if o.parent_id in ids else o.parent_id is not None) for o in orders]


def without_prices(snapshot: PortfolioSnapshot) -> PortfolioSnapshot:
    # The last prices are stored with the book (at a fill, a new day, peak or best price), not at
    # every candle's mark: a restored book may hold an older price until the next candle marks it.
    return dataclasses.replace(snapshot, prices={})


async def replay(url: str, candles: Sequence[Candle], *, watch: bool = False) -> tuple[Kernel, list[Trade], list[Any]]:
    """Play ``candles`` from the first on a fresh kernel (the settings changed as it starts) and stop:
    the kernel, the stored trades and, with ``watch``, the book's position and the broker's open
    orders after each candle and the cycle after it."""
    engine = create_engine_for(url)
    try:
        k = kernel(engine, candles, start=candles[0].time)
        after: list[tuple[Position | None, list[Order]]] = []

        def arrived(event: object) -> None:  # subscribed first: the state before the engine sees this candle
            if (watch and isinstance(event, CandleClosed) and event.timeframe is M5
                    and event.candle.time > candles[0].time):
                after.append((k.portfolio.positions.get(SYMBOL), k.broker.open_orders()))

        k.bus.subscribe(CandleClosed.topic, arrived)
        await k.start()
        try:
            k.engine.update(SYMBOL, **CHANGES)
            await play(k)
        finally:
            await k.stop()
        after.append((k.portfolio.positions.get(SYMBOL), k.broker.open_orders()))
        return k, trades(k), after
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Reference:
    """The uninterrupted run."""

    trades: list[Trade]
    equity: list[tuple[float, float]]
    end: PortfolioSnapshot
    after: list[tuple[Position | None, list[Order]]]  # after each candle (and its cycle)


_REFERENCES: dict[str, Reference] = {}


async def reference_run(url: str) -> Reference:
    """One run over all the candles on ``url``, emptied again afterwards; once per kind of database
    (a fresh one of a kind gives the same run)."""
    kind = make_url(url).get_backend_name()
    if kind not in _REFERENCES:
        k, done, after = await replay(url, CANDLES, watch=True)
        _REFERENCES[kind] = Reference(done, equity(k), k.portfolio.snapshot(), after)
        engine = create_engine_for(url)
        try:
            with engine.begin() as connection:
                for table in reversed(Base.metadata.sorted_tables):
                    connection.execute(table.delete())
        finally:
            engine.dispose()
    return _REFERENCES[kind]


def moment(reference: Reference, when: str) -> int:
    """The first candle after which the uninterrupted run was in the state ``when`` names:

    - ``trailed``: in a position whose trailing stop has moved its stop order at the broker;
    - ``best-moved``: in a position whose best price has moved, its stop not (yet);
    - ``entry``: flat, an entry sent and waiting for the next open;
    - ``reversal``: in a position, its exit and the opposite entry both waiting for the next open.
    """
    for i, (position, orders) in enumerate(reference.after[:-10]):  # and candles left to play after it
        markets = [o for o in orders if o.type == "market"]
        if when in ("entry", "reversal"):
            if len(markets) == (1 if when == "entry" else 2) and (position is None) is (when == "entry"):
                return i
            continue
        if position is None or markets or position.best_price is None or position.trail_distance is None:
            continue
        sign = -1 if position.side == "long" else 1
        trailed = position.stop_loss == position.best_price + sign * position.trail_distance
        if trailed if when == "trailed" else (not trailed and position.best_price != position.entry_price):
            return i
    raise AssertionError(f"the reference run is never in the state {when!r}")


def assert_resumed_as_stopped(stopped: Kernel, resumed: Kernel) -> None:
    assert stopped.engine is not None and resumed.engine is not None
    before, after = stopped.portfolio, resumed.portfolio
    assert after.cash == before.cash and after.realized_pnl == before.realized_pnl and after.fees == before.fees
    assert after.positions == before.positions  # side, quantity, entry price and time, stop, target, trail, best price
    assert without_prices(after.snapshot()) == without_prices(before.snapshot())
    config = resumed.engine.assets[SYMBOL].config
    assert config == stopped.engine.assets[SYMBOL].config
    assert config == dataclasses.replace(ASSET, **CHANGES)
    assert resumed.engine.assets[SYMBOL].profile == stopped.engine.assets[SYMBOL].profile
    assert at_broker(resumed) == at_broker(stopped)
    assert resumed.engine.assets[SYMBOL].protective == stopped.engine.assets[SYMBOL].protective
    assert resumed.broker.positions() == stopped.broker.positions()
    assert resumed.broker.cash == stopped.broker.cash  # type: ignore[attr-defined]


@pytest.mark.parametrize("when", ["trailed", "best-moved", "entry", "reversal"])
async def test_a_restart_resumes_cash_positions_and_open_stops_exactly(database_url: str, when: str) -> None:
    upgrade_database(database_url)
    reference = await reference_run(database_url)
    assert len(reference.trades) >= 8 and {t.side for t in reference.trades} == {"long", "short"}
    assert {t.exit_reason for t in reference.trades} == {"signal", "stop_loss", "take_profit"}
    last = moment(reference, when)

    # the first part: the candles up to ``last`` and the cycle after it; then a fresh kernel resumes
    stopped, so_far, _ = await replay(database_url, CANDLES[: last + 1])
    assert so_far == [t for t in reference.trades if t.exit_time <= CANDLES[last].time]
    position, waiting = reference.after[last]
    assert stopped.portfolio.positions.get(SYMBOL) == position
    assert shape(stopped.broker.open_orders()) == shape(waiting)  # the same moment as in the uninterrupted run
    waiting = stopped.broker.open_orders()
    engine = create_engine_for(database_url)
    try:
        resumed = kernel(engine, CANDLES[last + 1:], start=stopped.clock.now())
        opened: list[Position | None] = []
        resumed.bus.subscribe(PositionChanged.topic, lambda event: opened.append(getattr(event, "position", None)))
        await resumed.start()  # restores; the replay plays nothing before the next wait on the clock
        try:
            assert_resumed_as_stopped(stopped, resumed)
            entries = [o for o in waiting if o.type == "market" and o.reason.startswith("SMA")]
            if position is not None and not entries:  # its entry has filled: stop and target are active at once
                assert position.stop_loss is not None and position.take_profit is not None
                assert sorted((o.type, o.price, o.parent_id) for o in resumed.broker.open_orders()) == [
                    ("limit", position.take_profit, None), ("stop", position.stop_loss, None)]
            else:  # the entry (and the exit) are resubmitted as they were; stop and target still wait for the entry
                assert len(entries) == 1
                assert sorted((o.type, o.parent_id) for o in waiting if o.type != "market") == [
                    ("limit", entries[0].client_order_id), ("stop", entries[0].client_order_id)]
                if when == "reversal":  # the exit first, then the entry, as the uninterrupted run sent them
                    assert [(o.type, o.reason) for o in waiting[:2]] == [("market", "signal"),
                                                                         ("market", entries[0].reason)]
                assert [(o.client_order_id, o.parent_id) for o in resumed.broker.open_orders()] == [
                    (o.client_order_id, o.parent_id) for o in waiting]
            await play(resumed)
        finally:
            await resumed.stop()
        # the two parts together: what the uninterrupted run did, trade for trade and mark for mark
        assert trades(resumed) == reference.trades
        assert equity(resumed) == reference.equity
        assert resumed.portfolio.snapshot() == reference.end
    finally:
        engine.dispose()
    if entries:  # the resumed entry filled at the next open with the levels risk gave it before the restart
        first = next(p for p in opened if p is not None and p.entry_time == CANDLES[last + 1].time)
        levels = {o.type: o.price for o in waiting}
        assert (first.quantity, first.stop_loss, first.take_profit) == (entries[0].quantity, levels["stop"],
                                                                         levels["limit"])
