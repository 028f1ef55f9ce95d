"""The multi-timeframe streamer: ticks or base candles in, candles on every timeframe out.

Each symbol has one ``CandleSeries`` per configured timeframe. A tick updates all of them at once;
a base candle (from an exchange or a replay) feeds the timeframes that are whole multiples of it.
Closed candles go to the event bus as ``CandleClosed``. Data older than the forming candle of the
smallest timeframe is dropped and counted, never merged into the past.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from tradewind.domain.candle import Candle
from tradewind.domain.clock import Clock, SystemClock
from tradewind.domain.errors import InvalidTimeframe, SymbolNotFound
from tradewind.domain.events import CandleClosed
from tradewind.domain.ports import EventBus
from tradewind.domain.symbol import normalize_symbol
from tradewind.domain.timeframe import Timeframe
from tradewind.domain.bars import Bars, resample
from tradewind.market.series import CandleSeries

__all__ = ["MultiTimeframeStreamer", "StreamerMetrics"]


@dataclass(slots=True)
class StreamerMetrics:
    """Counters shown by ``/streamer/status``; every figure is counted, none estimated."""

    ticks_received: int = 0
    ticks_late_applied: int = 0
    ticks_dropped_old: int = 0
    candles_received: int = 0
    candles_dropped_old: int = 0
    candles_backfilled: int = 0
    candles_closed: dict[str, int] = field(default_factory=dict)
    last_data_time: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "ticks_received": self.ticks_received,
            "ticks_late_applied": self.ticks_late_applied,
            "ticks_dropped_old": self.ticks_dropped_old,
            "candles_received": self.candles_received,
            "candles_dropped_old": self.candles_dropped_old,
            "candles_backfilled": self.candles_backfilled,
            "candles_closed": dict(self.candles_closed),
            "last_data_time": dict(self.last_data_time),
        }


class MultiTimeframeStreamer:
    """Aggregates market data for many symbols into fixed-size buffers on every timeframe."""

    def __init__(
        self,
        symbols: Iterable[str],
        timeframes: Iterable[Timeframe],
        *,
        buffer_size: int = 1000,
        bus: EventBus | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.timeframes: tuple[Timeframe, ...] = tuple(sorted(set(timeframes), key=lambda tf: tf.seconds))
        if not self.timeframes:
            raise ValueError("at least one timeframe is required")
        self.buffer_size = buffer_size
        self.bus = bus
        self.clock = clock or SystemClock()
        self.metrics = StreamerMetrics(candles_closed={tf.value: 0 for tf in self.timeframes})
        self._publishing = True
        self._series: dict[str, dict[Timeframe, CandleSeries]] = {}
        self._chains: dict[str, tuple[CandleSeries, ...]] = {}  # the same series, shortest timeframe first
        self._target_cache: dict[tuple[str, Timeframe], list[CandleSeries]] = {}
        self._last_tick: dict[str, float] = {}
        for symbol in symbols:
            self.add_symbol(symbol)

    # --- set-up ------------------------------------------------------------------------------
    def add_symbol(self, symbol: str) -> str:
        symbol = normalize_symbol(symbol)
        if symbol not in self._series:
            self._series[symbol] = {
                tf: CandleSeries(tf, self.buffer_size, self._closer(symbol)) for tf in self.timeframes
            }
            self._chains[symbol] = tuple(self._series[symbol].values())
        return symbol

    def _closer(self, symbol: str):  # type: ignore[no-untyped-def]
        def on_close(timeframe: Timeframe, candle: Candle) -> None:
            if not self._publishing:
                self.metrics.candles_backfilled += 1
                return
            self.metrics.candles_closed[timeframe.value] += 1
            if self.bus is not None:
                self.bus.publish(CandleClosed.topic, CandleClosed(symbol, timeframe, candle))

        return on_close

    @property
    def symbols(self) -> list[str]:
        return list(self._series)

    def available(self) -> dict[str, list[Timeframe]]:
        return {symbol: list(self.timeframes) for symbol in self._series}

    # --- reading -----------------------------------------------------------------------------
    def series(self, symbol: str, timeframe: Timeframe) -> CandleSeries:
        by_tf = self._series.get(symbol)
        if by_tf is None:
            by_tf = self._series.get(normalize_symbol(symbol))
            if by_tf is None:
                raise SymbolNotFound(f"symbol {symbol!r} is not streamed", )
        found = by_tf.get(timeframe)
        if found is None:
            configured = ", ".join(tf.value for tf in self.timeframes)
            raise InvalidTimeframe(
                f"timeframe {timeframe.value} is not streamed (configured: {configured})", field="timeframe"
            )
        return found

    def candles(self, symbol: str, timeframe: Timeframe, limit: int) -> list[Candle]:
        """The newest ``limit`` candles, oldest first; the forming one last with ``closed=False``."""
        return self.series(symbol, timeframe).tail(limit)

    def buffer_counts(self) -> dict[str, dict[str, int]]:
        return {sym: {tf.value: len(s) for tf, s in by_tf.items()} for sym, by_tf in self._series.items()}

    # --- ticks -------------------------------------------------------------------------------
    def ingest_tick(self, symbol: str, ts: float, price: float, size: float, spread: float | None = None) -> None:
        """One trade or quote; the per-tick path for feeds that deliver them one by one."""
        series = self._chains.get(symbol)
        if series is None:
            raise SymbolNotFound(f"symbol {symbol!r} is not streamed")
        base = series[0]
        metrics = self.metrics
        metrics.ticks_received += 1
        if ts < base.forming_time or (base.forming_time < 0 and ts < base.floor):
            metrics.ticks_dropped_old += 1
            return
        if ts < self._last_tick.get(symbol, 0.0):
            metrics.ticks_late_applied += 1
        else:
            self._last_tick[symbol] = ts
            metrics.last_data_time[symbol] = ts
        for s in series:
            s.tick(ts, price, size, spread)

    def ingest_ticks(
        self,
        symbol: str,
        times: np.ndarray,
        prices: np.ndarray,
        sizes: np.ndarray,
        spreads: np.ndarray | None = None,
    ) -> None:
        """A batch of ticks; time-ordered batches are aggregated vectorised, others tick by tick."""
        series = self._series.get(symbol)
        if series is None:
            raise SymbolNotFound(f"symbol {symbol!r} is not streamed")
        n = int(times.shape[0])
        if n == 0:
            return
        last = self._last_tick.get(symbol, 0.0)
        if n > 1 and not bool(np.all(times[1:] >= times[:-1])) or float(times[0]) < last:
            spread_list = spreads.tolist() if spreads is not None else [None] * n
            for ts, price, size, spread in zip(times.tolist(), prices.tolist(), sizes.tolist(), spread_list):
                self.ingest_tick(symbol, ts, price, size, spread)
            return
        base = series[self.timeframes[0]]
        accept_from = base.forming_time if base.forming_time >= 0 else base.floor
        skip = int(np.searchsorted(times, accept_from, side="left")) if float(times[0]) < accept_from else 0
        self.metrics.ticks_received += n
        if skip:
            self.metrics.ticks_dropped_old += skip
            if skip == n:
                return
            times, prices, sizes = times[skip:], prices[skip:], sizes[skip:]
            spreads = spreads[skip:] if spreads is not None else None
        for s in series.values():
            s.ticks(times, prices, sizes, spreads)
        last_ts = float(times[-1])
        self._last_tick[symbol] = last_ts
        self.metrics.last_data_time[symbol] = last_ts

    # --- candles -----------------------------------------------------------------------------
    def _targets(self, symbol: str, timeframe: Timeframe) -> list[CandleSeries]:
        """The series a ``timeframe`` candle of ``symbol`` feeds (its own and every multiple), kept:
        asked for on every candle."""
        key = (symbol, timeframe)
        targets = self._target_cache.get(key)
        if targets is None:
            series = self._series.get(symbol)
            if series is None:
                raise SymbolNotFound(f"symbol {symbol!r} is not streamed")
            targets = [s for tf, s in series.items()
                       if tf.seconds >= timeframe.seconds and tf.seconds % timeframe.seconds == 0]
            self._target_cache[key] = targets
        return targets

    def ingest_candle(self, symbol: str, timeframe: Timeframe, candle: Candle) -> None:
        """A base candle from a feed; ``closed=False`` marks a snapshot of a forming one."""
        targets = self._targets(symbol, timeframe)
        self.metrics.candles_received += 1
        if not targets:
            return
        base = targets[0]
        oldest_open = base.forming_time if base.forming_time >= 0 else base.floor
        if base.timeframe is timeframe and candle.time < oldest_open:
            self.metrics.candles_dropped_old += 1
            return
        for s in targets:
            s.candle(candle, timeframe.seconds)
        self.metrics.last_data_time[symbol] = float(candle.time + timeframe.seconds)

    def ingest_bars(self, symbol: str, timeframe: Timeframe, bars: Bars, *, backfill: bool = False) -> None:
        """Closed base candles in time order, aggregated vectorised into every longer timeframe.

        With ``backfill`` the bars fill history: each series keeps only what is newer than what it
        holds, and no events are published (the caller persists the result in bulk).
        """
        targets = self._targets(symbol, timeframe)
        if len(bars) == 0 or not targets:
            return
        if not backfill:
            base = targets[0]
            oldest_open = base.forming_time if base.forming_time >= 0 else base.floor
            skip = int(np.searchsorted(bars.time, oldest_open, side="left"))
            self.metrics.candles_received += len(bars)
            self.metrics.candles_dropped_old += skip
            bars = bars.slice(skip)
            if len(bars) == 0:
                return
        self._publishing = not backfill
        try:
            for s in targets:
                if s.timeframe is timeframe:
                    s.bars(bars, np.ones(len(bars), dtype=bool))
                else:
                    aggregated, complete = resample(bars, s.seconds, source_seconds=timeframe.seconds)
                    s.bars(aggregated, complete)
        finally:
            self._publishing = True
        last = int(bars.time[-1]) + timeframe.seconds
        self.metrics.last_data_time[symbol] = float(max(last, self.metrics.last_data_time.get(symbol, 0.0)))

    def warm(self, symbol: str, timeframe: Timeframe, candles: Sequence[Candle]) -> None:
        """Load stored closed candles into a buffer (at start-up, before live data)."""
        self.series(symbol, timeframe).warm(list(candles))

    def close_due(self, now: float | None = None, grace: float = 2.0) -> int:
        """Close every forming candle whose period ended ``grace`` seconds ago; returns how many."""
        now = self.clock.now() if now is None else now
        closed = 0
        for by_tf in self._series.values():
            for s in by_tf.values():
                closed += s.close_due(now, grace)
        return closed
