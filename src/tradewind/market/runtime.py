"""Runs a feed into the streamer: warm-up from storage, backfill from the feed, the live loop.

States: ``initializing`` (warming up; the API answers STREAMER_NOT_INITIALIZED), ``running``,
``failed`` (the feed stopped with an error; buffers stay readable through the client fallbacks),
``stopped``. The clock-driven closer finishes candles whose period is over even when no new data
arrives, so a quiet market still gets its "candle closed" events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Literal, cast

from tradewind.domain.clock import Clock, SystemClock
from tradewind.domain.ports import CandleFeed, CandleStore, HistoryFeed
from tradewind.domain.timeframe import Timeframe
from tradewind.domain.bars import bars_from_candles
from tradewind.market.recorder import CandleRecorder
from tradewind.market.streamer import MultiTimeframeStreamer

__all__ = ["StreamerRuntime", "cancel_tasks"]

log = logging.getLogger(__name__)

State = Literal["initializing", "running", "failed", "stopped"]


async def cancel_tasks(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel background tasks, wait for each to end (whatever it raised) and forget them."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    tasks.clear()


class StreamerRuntime:
    def __init__(
        self,
        streamer: MultiTimeframeStreamer,
        feed: CandleFeed,
        *,
        store: CandleStore | None = None,
        recorder: CandleRecorder | None = None,
        clock: Clock | None = None,
        history_seconds: int = 520 * 3600,
        close_grace: float | None = 2.0,
        flush_interval: float = 1.0,
    ) -> None:
        self.streamer = streamer
        self.feed = feed
        self.store = store
        self.recorder = recorder
        self.clock = clock or SystemClock()
        self.history_seconds = history_seconds
        self.close_grace = close_grace
        self.flush_interval = flush_interval
        self.state: State = "initializing"
        self.error: str | None = None
        self.feed_finished = False
        self.started_at: float | None = None
        self.ready_at: float | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe: Callable[[], None] | None = None

    @property
    def running(self) -> bool:
        return self.state == "running"

    async def start(self) -> None:
        """Begin warm-up in the background and return at once, so the API can answer meanwhile."""
        self.started_at = time.time()
        self._tasks.append(asyncio.create_task(self._main(), name="streamer-main"))

    async def wait_finished(self) -> None:
        """Until the feed has played to its end (a replay) or failed; at once if it never started."""
        if self._tasks:
            await asyncio.gather(self._tasks[0], return_exceptions=True)

    async def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while self.state == "initializing":
            if time.monotonic() > deadline:
                raise TimeoutError("streamer did not finish warming up")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        await cancel_tasks(self._tasks)
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self.recorder is not None:
            await asyncio.to_thread(self.recorder.flush)
        if self.state != "failed":
            self.state = "stopped"

    async def _main(self) -> None:
        try:
            await asyncio.to_thread(self.prepare)
        except Exception as exc:
            self._fail(f"warm-up failed: {type(exc).__name__}: {exc}")
            return
        if self.recorder is not None and self.streamer.bus is not None:
            from tradewind.domain.events import CandleClosed

            self._unsubscribe = self.streamer.bus.subscribe(CandleClosed.topic, self.recorder.on_event)
        self.state = "running"
        self.ready_at = time.time()
        self._tasks.append(asyncio.create_task(self._housekeeping(), name="streamer-housekeeping"))
        try:
            await self.feed.run(self.streamer, self.streamer.symbols)
            self.feed_finished = True
            log.info("feed %s finished", self.feed.name)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._fail(f"feed {self.feed.name} stopped: {type(exc).__name__}: {exc}")

    def _fail(self, message: str) -> None:
        log.error(message)
        self.error = message
        self.state = "failed"

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval)
            if self.close_grace is not None:
                self.streamer.close_due(self.clock.now(), self.close_grace)
            if self.recorder is not None and self.recorder.pending:
                await asyncio.to_thread(self.recorder.flush)

    # --- warm-up (runs in a worker thread) ---------------------------------------------------
    def prepare(self) -> None:
        """Warm buffers from storage, then backfill from the feed what storage does not have."""
        streamer = self.streamer
        for symbol in streamer.symbols:
            floors: dict[Timeframe, int] = {}
            for timeframe in streamer.timeframes:
                if self.store is not None:
                    streamer.warm(symbol, timeframe, self.store.latest(symbol, timeframe, streamer.buffer_size))
                floors[timeframe] = streamer.series(symbol, timeframe).floor
            try:
                if self.feed.capabilities.backfills:
                    self._backfill(symbol)
                elif self.store is not None:
                    self._rebuild_forming(symbol)
            except Exception as exc:  # a feed without history still streams live
                log.warning("backfill of %s from %s failed: %s", symbol, self.feed.name, exc)
            if self.recorder is not None:
                for timeframe in streamer.timeframes:
                    fresh = [c for c in streamer.series(symbol, timeframe).closed if c.time >= floors[timeframe]]
                    if fresh:
                        self.recorder.add(symbol, timeframe, fresh)
        if self.recorder is not None:
            self.recorder.flush()

    def _rebuild_forming(self, symbol: str) -> None:
        """Rebuild the forming candles of the longer timeframes from the stored base candles.

        For a feed that does not backfill (a replay restarts from its first row, which is then
        dropped as already seen), this is the only way a restart keeps a partial hour or day.
        """
        streamer = self.streamer
        base, *longer = streamer.timeframes
        if not longer:
            return
        start = min(streamer.series(symbol, tf).floor for tf in longer)
        stored = self.store.since(symbol, base, max(start, 0)) if self.store is not None else []
        if stored:
            streamer.ingest_bars(symbol, base, bars_from_candles(stored), backfill=True)

    def _backfill(self, symbol: str) -> None:
        streamer = self.streamer
        base = streamer.timeframes[0]
        largest = streamer.timeframes[-1]
        now = self.clock.now()
        end = base.bucket(now)
        start = largest.bucket(now - self.history_seconds)
        if self.feed.capabilities.base_history and base is Timeframe.M1:
            feed = cast(HistoryFeed, self.feed)
            start = max(start, min(largest.bucket(streamer.series(symbol, tf).floor) for tf in streamer.timeframes))
            if start < end:
                streamer.ingest_bars(symbol, base, feed.base_history(symbol, start, end), backfill=True)
            return
        for timeframe in reversed(streamer.timeframes):
            series = streamer.series(symbol, timeframe)
            limit = min(streamer.buffer_size, max(1, (int(now) - start) // timeframe.seconds))
            candles = [c for c in self.feed.history(symbol, timeframe, limit, until=now) if c.time >= series.floor]
            series.warm(candles)
        forming_from = largest.bucket(now)
        count = (end - forming_from) // base.seconds
        if count > 0:
            candles = self.feed.history(symbol, base, count, until=now)
            streamer.ingest_bars(symbol, base, bars_from_candles([c for c in candles if c.time >= forming_from]), backfill=True)
