"""Time as a port: the system clock live, a simulated one in backtests and tests.

Every timed loop (periodic analysis, outcome scoring, each asset's trading cycle) waits on the
clock it was given, never on ``time`` or ``asyncio.sleep`` directly, so the same objects run on
wall time in ``serve`` and on simulated time in a backtest.

``SimClock`` moves only when its owner (a replay feed, a test) calls ``advance_to``. That wakes the
waiters that are due, in time order, and returns only once every task it woke is waiting on the
clock again or has finished, whatever it awaited meanwhile (a worker thread, the database). So a
backtest is deterministic: everything due at a simulated time has happened before the feed
delivers the next candle, however long it took on the wall clock. A loop run on a clock starts
by waiting on it (``await clock.sleep(0)``), so on a simulated one it runs only inside
``advance_to``.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol

__all__ = ["Clock", "SimClock", "SystemClock"]


class Clock(Protocol):
    def now(self) -> float:
        """Current UTC time in epoch seconds."""
        ...

    async def sleep_until(self, when: float) -> None:
        """Return at ``when`` (at once when it has passed)."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    async def sleep_until(self, when: float) -> None:
        await asyncio.sleep(max(0.0, when - time.time()))

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class SimClock:
    """A clock that moves only when told to; backtests and tests own it (see the module docstring)."""

    def __init__(self, start: float = 0.0, *, quiet_timeout: float = 120.0) -> None:
        self._now = float(start)
        self.quiet_timeout = quiet_timeout  # wall seconds a woken task may take before it sleeps again
        self._timers: list[tuple[float, int, asyncio.Future[None], asyncio.Task[object] | None]] = []
        self._order = itertools.count()
        self._awake: set[asyncio.Task[object]] = set()
        self._quiet: asyncio.Event | None = None

    def now(self) -> float:
        return self._now

    # --- moving it (the owner) -------------------------------------------------------------------
    def set(self, ts: float) -> None:
        """Jump without waking anyone (tests of code that only reads the time)."""
        self._now = float(ts)

    def advance(self, seconds: float) -> None:
        self._now += seconds

    async def advance_to(self, when: float) -> None:
        """Move to ``when``, waking each due waiter in time order and letting it run until it
        waits on the clock again or ends, before the next one (and before returning)."""
        if (not self._timers or self._timers[0][0] > when) and not _runnable(asyncio.get_running_loop()):
            self._now = max(self._now, float(when))  # nobody is due and nothing waits to run: a replay's
            return  # every minute candle would otherwise cost a turn of the event loop for nothing
        await asyncio.sleep(0)  # tasks just started get to their first wait on the clock
        while self._timers and self._timers[0][0] <= when:
            due, _, future, task = heapq.heappop(self._timers)
            if future.done():  # cancelled while waiting
                continue
            self._now = max(self._now, due)
            if task is not None and not task.done():
                self._awake.add(task)
                task.add_done_callback(self._finished)
            future.set_result(None)
            await self._until_quiet()
        self._now = max(self._now, float(when))

    @property
    def next_timer(self) -> float | None:
        """When the earliest waiter is due (None: nobody waits)."""
        while self._timers and self._timers[0][2].done():
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    # --- waiting on it (everyone else) -------------------------------------------------------
    async def sleep_until(self, when: float) -> None:
        """Wait for the owner to advance to ``when``; even a time already passed waits for the next
        ``advance_to``, so simulated work happens only while the owner moves the clock."""
        task = asyncio.current_task()
        if task is not None:
            self._asleep(task)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (float(when), next(self._order), future, task))
        await future

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self._now + max(0.0, seconds))

    # --- quiescence --------------------------------------------------------------------------
    def _asleep(self, task: asyncio.Task[object]) -> None:
        if task in self._awake:
            self._awake.discard(task)
            task.remove_done_callback(self._finished)  # one per wake, or a long-lived loop gathers them for good
            if not self._awake and self._quiet is not None:
                self._quiet.set()

    def _finished(self, task: asyncio.Task[object]) -> None:
        self._asleep(task)

    async def _until_quiet(self) -> None:
        # let the woken task start, then wait for it (and any it woke) to be back on the clock
        await asyncio.sleep(0)
        while self._awake:
            self._quiet = asyncio.Event()
            try:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that comes just
                # after the event is set (CPython gh-86296), and a stop cancels the feed exactly then (it
                # has just cancelled the woken loops): the replay then played on to its end, and the
                # service did not stop.
                async with asyncio.timeout(self.quiet_timeout):
                    await self._quiet.wait()
            except TimeoutError:
                names = ", ".join(sorted(t.get_name() for t in self._awake))
                raise RuntimeError(
                    f"simulated time stalled: {names} did not wait on the clock again within "
                    f"{self.quiet_timeout:g} s of wall time"
                ) from None
            finally:
                self._quiet = None


def _runnable(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether a callback is ready on ``loop`` (a task just started or woken): asyncio's own loop
    keeps them in ``_ready``; any other loop (uvloop) is assumed to have some."""
    ready = getattr(loop, "_ready", None)
    return ready is None or bool(ready)
