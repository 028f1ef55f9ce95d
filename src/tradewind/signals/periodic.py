"""The seed's periodic analysis runner: every tracked symbol, every ``interval`` seconds.

Each run analyses the symbols one after another in a worker thread, from the streamer's closed
candles, bypassing the signal service's cache (a periodic run exists to refresh the signal); the
service stores each signal and announces it (``SignalCreated`` on the bus). A failing symbol is
logged and counted and the next one goes on. The first run starts once the streamer is running;
runs start ``interval`` apart (a run longer than that is followed at once by the next).

With several API workers only the holder of the scheduler lease runs it (``Kernel``), so every
symbol is analysed once per interval, not once per worker: each run's start is reported to
``on_run`` (the lease notes it), and a worker taking over starts ``not_before`` an interval after
the last run anywhere.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from tradewind.domain.clock import Clock, SystemClock
from tradewind.signals.service import SignalService

__all__ = ["PeriodicAnalysis", "disabled_status"]

log = logging.getLogger(__name__)


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, timezone.utc).isoformat()


def _retrieve(future: asyncio.Future[None]) -> None:
    """Mark an abandoned analysis' outcome as seen (it was counted, or we are stopping)."""
    if not future.cancelled():
        future.exception()


def disabled_status() -> dict[str, Any]:
    """``PeriodicAnalysis.status()`` when periodic analysis is off: the same keys, nothing run."""
    return {
        "enabled": False, "interval_minutes": None, "symbol_delay_seconds": None, "last_run": None,
        "last_run_seconds": None, "next_run": None, "in_progress": False, "runs": 0, "skipped_runs": 0,
        "analyses": 0, "errors": 0, "last_error": None,
    }


class PeriodicAnalysis:
    """Runs ``signals`` over ``symbols()`` every ``interval_seconds``; ``status()`` reports it."""

    def __init__(
        self,
        signals: SignalService,
        *,
        symbols: Callable[[], Sequence[str]],
        interval_seconds: float,
        symbol_delay_seconds: float = 0.0,
        ready: Callable[[], bool] | None = None,
        clock: Clock | None = None,
        ready_poll_seconds: float = 0.1,
        stop_grace_seconds: float = 5.0,
        on_run: Callable[[float], None] | None = None,
    ) -> None:
        if interval_seconds <= 0:
            raise ValueError("interval_seconds must be positive (leave the scheduler out to turn it off)")
        self.signals = signals
        self.symbols = symbols
        self.interval_seconds = interval_seconds
        self.symbol_delay_seconds = symbol_delay_seconds
        self.ready = ready or (lambda: True)
        self.clock = clock or SystemClock()
        self.ready_poll_seconds = ready_poll_seconds
        self.stop_grace_seconds = stop_grace_seconds
        self.on_run = on_run  # told each run's start time (the scheduler lease keeps it for a successor)
        self.runs = 0
        self.skipped_runs = 0  # ticks when the streamer was not running
        self.analyses = 0
        self.errors = 0
        self.last_error: str | None = None
        self.last_run: float | None = None  # clock time the last completed run started
        self.last_duration: float | None = None
        self.next_run: float | None = None  # clock time of the next run; None until the streamer runs
        self.in_progress = False

    async def run(self, *, not_before: float | None = None) -> None:
        """The loop: wait for the streamer (and ``not_before``), then run every ``interval`` on the
        clock; cancel it to stop."""
        await self.clock.sleep(0)  # start on the clock (a simulated one runs us only while it advances)
        if not_before is not None and not_before > self.clock.now():
            self.next_run = not_before
            await self.clock.sleep_until(not_before)
        while not self.ready():
            await self.clock.sleep(self.ready_poll_seconds)
        while True:
            started = self.clock.now()
            self.next_run = started + self.interval_seconds
            if self.ready():
                if self.on_run is not None:
                    self.on_run(started)
                await self.run_once()
            else:
                self.skipped_runs += 1
                log.warning("periodic analysis skipped: the streamer is not running")
            await self.clock.sleep_until(self.next_run)

    async def run_once(self) -> int:
        """Analyse every tracked symbol once; returns how many produced a signal."""
        self.in_progress = True
        started_at = self.clock.now()
        started = time.monotonic()
        produced = 0
        try:
            for index, symbol in enumerate(self.symbols()):
                if index and self.symbol_delay_seconds > 0:
                    await self.clock.sleep(self.symbol_delay_seconds)
                if await self._analyze(symbol):
                    produced += 1
        finally:
            self.in_progress = False
        self.runs += 1
        self.last_run = started_at
        self.last_duration = time.monotonic() - started
        return produced

    async def _analyze(self, symbol: str) -> bool:
        work = asyncio.ensure_future(asyncio.to_thread(self._analyze_sync, symbol))
        work.add_done_callback(_retrieve)
        try:
            await asyncio.shield(work)
        except asyncio.CancelledError:
            # stopping: let the analysis in flight finish (briefly) before the database goes away
            await asyncio.wait({work}, timeout=self.stop_grace_seconds)
            raise
        except Exception as exc:  # noqa: BLE001 - one symbol's failure must not stop the run
            self.errors += 1
            self.last_error = f"{symbol}: {type(exc).__name__}: {exc}"
            log.warning("periodic analysis of %s failed: %s", symbol, self.last_error)
            return False
        self.analyses += 1
        return True

    def _analyze_sync(self, symbol: str) -> None:
        request = self.signals.request_from_payload(symbol=symbol, timeframe_data=None)
        self.signals.analyze(request, use_cache=False, origin="periodic", streamed=True)

    def status(self) -> dict[str, Any]:
        return {
            "enabled": True,
            "interval_minutes": round(self.interval_seconds / 60, 6),
            "symbol_delay_seconds": self.symbol_delay_seconds,
            "last_run": _iso(self.last_run),
            "last_run_seconds": None if self.last_duration is None else round(self.last_duration, 3),
            "next_run": _iso(self.next_run),
            "in_progress": self.in_progress,
            "runs": self.runs,
            "skipped_runs": self.skipped_runs,
            "analyses": self.analyses,
            "errors": self.errors,
            "last_error": self.last_error,
        }
