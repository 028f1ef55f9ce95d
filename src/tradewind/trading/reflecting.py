"""When an asset's analyst reflects, and where the review goes.

After every ``every`` closed trades of an asset its analyst's reflector reviews them; a model's
review (``Reflector.slow``) runs through ``blocking``, off the event loop, so it never holds up a
fill. Each review is stored and announced as ``ReflectionCreated``. The count since the last
review is rebuilt from the store at a restart, so the cadence carries on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

from tradewind.domain.clock import Clock
from tradewind.domain.events import ReflectionCreated
from tradewind.domain.orders import Trade
from tradewind.domain.ports import EventBus
from tradewind.trading.records import Reflection, TradingStore
from tradewind.trading.reflections import Reflector, RulesReflector

__all__ = ["Reflecting"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class Reflecting:
    def __init__(self, *, store: TradingStore, bus: EventBus, clock: Clock,
                 blocking: Callable[[Callable[[], T]], Awaitable[T]], reflectors: Mapping[str, Reflector] | None,
                 every: int) -> None:
        self.store, self.bus, self.clock, self.blocking = store, bus, clock, blocking
        self.every = every  # 0: never
        self.reflectors = dict(reflectors or {})  # by analyst name; the rules review for the others
        self._rules = RulesReflector()
        self._pending: set[asyncio.Future[Reflection]] = set()
        self._since: dict[str, int] = {}  # closed trades since the symbol's last review

    def since(self, symbol: str) -> int:
        return self._since.get(symbol, 0)

    def resume(self, symbol: str) -> None:
        """Count the stored trades of ``symbol`` closed after its latest review (or all, below the cadence)."""
        if not self.every:
            return
        trades = self.store.trades(symbol=symbol, limit=self.every)  # newest first
        latest = self.store.reflections(symbol=symbol, limit=1)
        after = latest[0].time if latest else float("-inf")
        self._since[symbol] = sum(1 for trade in trades if trade.exit_time > after) % self.every

    def closed(self, symbol: str, analyst: str, trades: Sequence[Trade]) -> None:
        """A trade of ``symbol`` closed; ``trades`` are its stored trades, newest first."""
        self._since[symbol] = self.since(symbol) + 1
        if not self.every or self._since[symbol] < self.every:
            return
        self._since[symbol] = 0
        reflector = self.reflectors.get(analyst) or self._rules
        recent, now = list(trades[: self.every])[::-1], self.clock.now()
        if not reflector.slow:
            self._done(reflector.reflect(symbol, recent, time=now))
            return
        task = asyncio.ensure_future(self.blocking(lambda: reflector.reflect(symbol, recent, time=now)))
        self._pending.add(task)
        task.add_done_callback(self._landed)

    async def drain(self) -> None:
        """Let the reviews still being written land."""
        await asyncio.gather(*self._pending, return_exceptions=True)

    def _landed(self, task: asyncio.Future[Reflection]) -> None:
        self._pending.discard(task)
        if task.cancelled():
            return
        if task.exception() is not None:
            log.error("a reflection failed: %s", task.exception())
            return
        self._done(task.result())

    def _done(self, reflection: Reflection) -> None:
        self.store.record_reflection(reflection)
        self.bus.publish(ReflectionCreated.topic, ReflectionCreated(reflection.symbol, {
            "symbol": reflection.symbol, "time": reflection.time, "analyst": reflection.analyst,
            "text": reflection.text, "stats": dict(reflection.stats), "trades": reflection.trades,
        }))
