"""The live cycle on the paper broker: from a closed candle to a stored fill and a /ws message.

The kernel is built in process as ``serve`` would run it on paper, with ``trading.kernel.build_kernel``
(``bootstrap.build_container`` did not wire the trading engine when this was written): a SimClock, a
ReplayFeed (a few candles to warm the streamer), the PaperBroker (fee 0.1%), ``SqlTradingStore``
on a temporary SQLite file (migrated to the newest schema), the InProcessBus, and a BroadcastHub
bridged by ``api.ws.bridge`` with one client subscribed to ``signals`` and ``trading:{SYMBOL}``,
whose queue is read. One asset, on the defaults (moderate risk: each entry gets a stop and a
target at the broker), paused so that only the orders placed here trade.

Each cycle places a market order by hand (an entry when flat, an exit when long, as the API's
manual override does; not timed), then publishes the ``CandleClosed`` that fills it, and times:

- to ``OrderFilled`` on the bus: the fill applied to the book and stored (``record_fill`` and the
  order's status written), announced;
- to the /ws message queued for the client (stamped by the hub's clock, here ``perf_counter``),
  when the bridge maps trading events to the hub; when it does not, that is said and the
  ``OrderFilled`` figure stands in;
- to the end of the publish: everything the candle sets off (for an exit also the trade
  statistics from the stored trades, and every fifth trade a reflection; the equity point).

Goal: p50 under 5 ms. Baseline in the same run: the same cycles on ``MemoryTradingStore``, so the
cost of the database writes is visible. The two stores alternate in rounds, each on a new kernel.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from tradewind.adapters.broadcast import SIGNALS, BroadcastHub, Subscriber, trading_channel
from tradewind.analysts.rules import RulesAnalyst
from tradewind.api.ws import bridge
from tradewind.bootstrap import Container
from tradewind.domain.bus import InProcessBus
from tradewind.domain.candle import Candle
from tradewind.domain.clock import SimClock
from tradewind.domain.events import CandleClosed, OrderFilled
from tradewind.domain.timeframe import Timeframe
from tradewind.market.feeds.replay import ReplayFeed
from tradewind.signals.records import MemorySignalStore
from tradewind.storage.db import create_engine_for
from tradewind.storage.migrate import upgrade_database
from tradewind.storage.trading import SqlTradingStore
from tradewind.trading.kernel import Kernel, KernelConfig, Stores, build_kernel
from tradewind.trading.paper import PaperBroker
from tradewind.trading.records import AssetConfig, MemoryTradingStore, TradingStore

SYMBOL = "ETHBTC"
T0 = 1_704_067_200
PRICE = 0.05
WARM = 30  # one-minute candles the replay plays before the cycles


class PerfClock:
    """The hub's clock: ``perf_counter``, so a message's ``queued_at`` compares with the bench's stamps."""

    def now(self) -> float:
        return time.perf_counter()

    async def sleep_until(self, when: float) -> None:
        await asyncio.sleep(max(0.0, when - time.perf_counter()))

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


def flat(t: int, price: float) -> Candle:
    return Candle(t, price, price, price, price, 1.0)


@dataclasses.dataclass
class Cycle:
    kind: str  # entry or exit
    fill: float  # seconds from the publish to OrderFilled
    ws: float | None  # to the /ws message queued (None: no message)
    ws_type: str | None
    end: float  # to the end of the publish


async def build(store: TradingStore) -> tuple[Kernel, BroadcastHub, Subscriber, list[float], Any]:
    clock = SimClock(T0)
    feed = ReplayFeed.from_candles([flat(T0 + 60 * i, PRICE) for i in range(WARM)], symbol=SYMBOL,
                                   timeframe=Timeframe.M1, clock=clock)
    config = KernelConfig(symbols=[SYMBOL], timeframes=[Timeframe.M1, Timeframe.M15, Timeframe.H1, Timeframe.H4],
                          assets=[AssetConfig(SYMBOL, paused=True)], score_every_seconds=None)
    bus = InProcessBus()
    kernel = build_kernel(config, clock=clock, feed=feed, broker=PaperBroker(cash=config.cash, fee_rate=0.001),
                          stores=Stores(signals=MemorySignalStore(), trading=store), bus=bus,
                          analysts={"rules": RulesAnalyst()})
    hub = BroadcastHub(clock=PerfClock())
    hub.bind(asyncio.get_running_loop())
    unbridge = bridge(bus, hub)
    client = hub.connect([SIGNALS, trading_channel(SYMBOL)])
    await kernel.start()
    await kernel.runtime.wait_finished()
    assert kernel.runtime.running and kernel.engine is not None, kernel.runtime.error
    filled: list[float] = []
    bus.subscribe(OrderFilled.topic, lambda event: filled.append(time.perf_counter()))  # after the engine and bridge
    return kernel, hub, client, filled, unbridge


async def run(store: TradingStore, cycles: int) -> list[Cycle]:
    kernel, hub, client, filled, unbridge = await build(store)
    engine = kernel.engine
    assert engine is not None
    out: list[Cycle] = []
    t = T0 + 60 * WARM
    try:
        for i in range(cycles):
            long = SYMBOL in engine.portfolio.positions
            order = engine.close(SYMBOL) if long else engine.enter(SYMBOL, "long")
            assert order is not None
            # entries fill at PRICE, exits 0.3% higher: each trade wins, so no loss limit or cooldown steps in
            candle = flat(t, PRICE * 1.003 if long else PRICE)
            t += 60
            drain(client)  # what the order placing queued, if anything
            filled.clear()
            start = time.perf_counter()
            kernel.bus.publish(CandleClosed.topic, CandleClosed(SYMBOL, Timeframe.M1, candle))
            end = time.perf_counter()
            assert len(filled) == 1, f"cycle {i}: {len(filled)} fills"
            first = next((item for item in drain(client) if not item.reply and item.queued_at >= start), None)
            ws_type = orjson.loads(first.text).get("type") if first is not None else None
            out.append(Cycle("exit" if long else "entry", filled[0] - start,
                             None if first is None else first.queued_at - start, ws_type, end - start))
    finally:
        unbridge()
        await kernel.stop()
    return out


def drain(client: Subscriber) -> list[Any]:
    """Take what is queued for ``client``, as its writer would (``Subscriber.deliver``'s accounting)."""
    items = []
    while not client._outbox.empty():
        item = client._outbox.get_nowait()
        if item.reply:
            client._reply_room.release()
        else:
            client._backlog -= 1
        items.append(item)
    return items


def quantiles(values: list[float]) -> str:
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return f"p50 {pick(0.5):6.3f}  p99 {pick(0.99):6.3f}"


async def main_async(args: argparse.Namespace) -> None:
    wired = {f.name for f in dataclasses.fields(Container)} & {"kernel", "trading", "trading_engine"}
    print(f"bootstrap.Container wires a trading kernel: {'yes (' + ', '.join(sorted(wired)) + ')' if wired else 'no'}; "
          "this bench builds its own with build_kernel, as serve's parts but on a SimClock and a replay, so that "
          "each candle is the bench's to publish")
    results: dict[str, list[Cycle]] = {"sqlite": [], "memory": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            url = f"sqlite:///{Path(tmp) / f'live{r}.db'}"
            upgrade_database(url)
            db = create_engine_for(url)
            try:
                results["sqlite"] += (await run(SqlTradingStore(db), args.cycles))[args.skip:]
            finally:
                db.dispose()
            results["memory"] += (await run(MemoryTradingStore(), args.cycles))[args.skip:]
    sql, memory = results["sqlite"], results["memory"]
    types = {c.ws_type for c in sql if c.ws_type}
    mapped = all(c.ws is not None for c in sql)
    print(f"{args.rounds} rounds x {args.cycles} cycles per store (the first {args.skip} of each round dropped); "
          f"latencies in ms from the CandleClosed publish")
    if mapped:
        print(f"/ws: the bridge queues {', '.join(sorted(types))} for the client on every fill")
    else:
        print("/ws: the bridge does NOT map trading events to the hub yet (no message queued on a fill): "
              "the OrderFilled event on the bus stands in for the /ws message")
    print(f"{'store':<8} {'cycles':<7} {'to OrderFilled (stored)':>26} {'to /ws queued':>26} {'to end of publish':>26}")
    for name, cycles in (("sqlite", sql), ("memory", memory)):
        for kind in ("all", "entry", "exit"):
            part = [c for c in cycles if kind == "all" or c.kind == kind]
            ws = quantiles([c.ws for c in part if c.ws is not None]) if mapped else "-"
            print(f"{name:<8} {kind:<7} {quantiles([c.fill for c in part]):>26} {ws:>26} "
                  f"{quantiles([c.end for c in part]):>26}")
    key = (lambda c: c.ws) if mapped else (lambda c: c.fill)
    p50 = statistics.median(key(c) for c in sql) * 1000  # type: ignore[type-var]
    base = statistics.median(key(c) for c in memory) * 1000  # type: ignore[type-var]
    what = "/ws message queued" if mapped else "OrderFilled on the bus (stored)"
    print(f"p50 to {what}: SQLite {p50:.3f} ms, memory store {base:.3f} ms: the database writes cost "
          f"{p50 - base:.3f} ms ({p50 / base:.1f}x)")
    print(f"goal p50 < 5 ms (SQLite): {'met' if p50 < 5 else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=200, help="cycles per round and store")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip", type=int, default=10, help="first cycles of a round not counted (warm-up)")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
