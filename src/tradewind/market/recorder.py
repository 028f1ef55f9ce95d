"""Persists closed candles from the bus in batches, off the event loop.

Candles are grouped per (symbol, timeframe) and written by ``flush`` (the runtime calls it every
second from a worker thread and once more at shutdown), so ingest never waits for the database.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict

from tradewind.domain.candle import Candle
from tradewind.domain.events import CandleClosed
from tradewind.domain.ports import CandleStore
from tradewind.domain.timeframe import Timeframe

__all__ = ["CandleRecorder"]

log = logging.getLogger(__name__)


class CandleRecorder:
    def __init__(self, store: CandleStore) -> None:
        self.store = store
        self._pending: dict[tuple[str, Timeframe], list[Candle]] = defaultdict(list)
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self.saved = 0
        self.errors = 0
        self.last_error: str | None = None

    def on_event(self, event: object) -> None:
        if isinstance(event, CandleClosed):
            self.add(event.symbol, event.timeframe, [event.candle])

    def add(self, symbol: str, timeframe: Timeframe, candles: list[Candle]) -> None:
        with self._lock:
            self._pending[(symbol, timeframe)].extend(candles)

    @property
    def pending(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._pending.values())

    def flush(self) -> int:
        """Write everything pending; on a database error keep it for the next try."""
        with self._flush_lock:
            with self._lock:
                batch, self._pending = self._pending, defaultdict(list)
            written = 0
            for index, ((symbol, timeframe), candles) in enumerate(list(batch.items())):
                try:
                    written += self.store.save(symbol, timeframe, candles)
                except Exception as exc:  # the database may be down; never lose the candles
                    self.errors += 1
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    log.warning("could not persist candles: %s", self.last_error)
                    with self._lock:
                        for key, rest in list(batch.items())[index:]:
                            self._pending[key][:0] = rest
                    break
            self.saved += written
            return written
