"""Ports: the few interfaces the core needs from the outside world.

Each is a small Protocol; adapters implement them and ``bootstrap.py`` wires one in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from tradewind.domain.bars import Bars
from tradewind.domain.candle import Candle
from tradewind.domain.orders import Account, Fill, Order
from tradewind.domain.timeframe import Timeframe

__all__ = ["Broker", "CandleFeed", "CandleSink", "CandleStore", "EventBus", "FeedCapabilities", "HistoryFeed"]


class CandleSink(Protocol):
    """Where a feed pushes market data: the streamer."""

    def ingest_ticks(
        self,
        symbol: str,
        times: np.ndarray,
        prices: np.ndarray,
        sizes: np.ndarray,
        spreads: np.ndarray | None = None,
    ) -> None:
        """Trades or quotes, times in epoch seconds, in time order."""
        ...

    def ingest_candle(self, symbol: str, timeframe: Timeframe, candle: Candle) -> None:
        """A base candle; ``candle.closed`` False means a snapshot of a still-forming one."""
        ...


@dataclass(frozen=True, slots=True)
class FeedCapabilities:
    """What a feed can do, declared as data so the runtime never probes for attributes.

    ``backfills``: history before the live data can be fetched (a replay's file *is* its stream);
    ``base_history``: any window of one-minute history can be computed at once (``HistoryFeed``);
    ``wall_clock``: its candles' times are the wall clock's, so candles may close by the clock (a
    replay's are the file's); ``poll_seconds``: a polling feed's interval, which a candle waits
    for before it closes by the clock; ``stats``: it reports ``stats.as_dict()`` (polls, errors).
    """

    backfills: bool = True
    base_history: bool = False
    wall_clock: bool = True
    poll_seconds: float | None = None
    stats: bool = False


class CandleFeed(Protocol):
    """A source of market data: synthetic, replayed history, an exchange or a broker."""

    name: str
    capabilities: FeedCapabilities

    def history(self, symbol: str, timeframe: Timeframe, limit: int, *, until: float | None = None) -> list[Candle]:
        """Up to ``limit`` closed candles ending before ``until`` (default: now), oldest first."""
        ...

    async def run(self, sink: CandleSink, symbols: Sequence[str]) -> None:
        """Push live data into ``sink`` until cancelled."""
        ...


class HistoryFeed(CandleFeed, Protocol):
    """A feed with ``capabilities.base_history``: any window of one-minute bars, computed at once."""

    def base_history(self, symbol: str, start: int, end: int) -> Bars: ...


class CandleStore(Protocol):
    """Persistence of closed candles."""

    def save(self, symbol: str, timeframe: Timeframe, candles: Sequence[Candle]) -> int:
        """Store candles idempotently; return how many were new."""
        ...

    def latest(self, symbol: str, timeframe: Timeframe, limit: int) -> list[Candle]:
        """The newest ``limit`` stored candles, oldest first."""
        ...

    def since(self, symbol: str, timeframe: Timeframe, start_time: int) -> list[Candle]:
        """Stored candles opening at or after ``start_time``, oldest first."""
        ...


class EventBus(Protocol):
    def publish(self, topic: str, event: object) -> None: ...

    def subscribe(self, topic: str, handler: Callable[[object], None]) -> Callable[[], None]:
        """Call ``handler`` for every event on ``topic``; returns an unsubscribe function."""
        ...


class Broker(Protocol):
    """Where orders go: the paper broker (simulated fills), Alpaca's paper account, ...

    ``protective_orders`` is a capability: True when the broker holds ``stop`` and ``limit`` orders
    itself and fills them from the market (the paper broker does, from each candle's range); when
    False the engine watches the levels on every closed candle and sends a market order instead.
    ``remote`` says every call goes over the network (Alpaca): the engine runs them in a worker
    thread, one operation at a time.
    ``submit`` raises ``OrderRejected`` with the broker's reason; a second submission of the same
    ``client_order_id`` is ignored, so a retry never doubles an order.
    """

    name: str
    protective_orders: bool
    remote: bool  # every call crosses the network and blocks: the engine makes them off the event loop

    def submit(self, order: Order) -> None: ...

    def cancel(self, client_order_id: str) -> None: ...

    def on_candle(self, symbol: str, candle: Candle) -> list[Fill]:
        """The fills up to the close of ``candle`` (a closed base candle of ``symbol``): the paper
        broker fills pending market orders at its open and stops and limits from its range; a venue
        reports the fills it made since the last call."""
        ...

    def account(self, prices: Mapping[str, float]) -> Account: ...

    def positions(self) -> dict[str, float]:
        """The broker's own view, symbol -> signed quantity (short negative), to reconcile with."""
        ...

    def open_orders(self) -> list[Order]: ...
