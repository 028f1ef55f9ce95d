"""Replay of stored history (CSV or Freqtrade JSON) at real speed, a multiple of it, or flat out.

With a ``SimClock`` the replay is the clock: after each candle it advances simulated time to
that candle's close, which runs every timed loop due by then (the trading cycles, the periodic
analysis) to completion before the next candle. So whatever the speed, a server on a replay and
a backtest over the same file see the same candles at the same simulated times.

Rows the file's checks reject are skipped and reported (``report``); a file that cannot be read
at all stops the feed with a ``FeedError`` that names the position, and the service keeps running.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

from tradewind.domain.candle import Candle
from tradewind.domain.clock import SimClock
from tradewind.domain.errors import FeedError, SymbolNotFound, TradewindError
from tradewind.domain.ports import CandleSink, FeedCapabilities
from tradewind.domain.symbol import normalize_symbol
from tradewind.domain.timeframe import Timeframe
from tradewind.domain.bars import bars_from_candles, bars_to_candles, resample
from tradewind.market.candle_file import CandleFileReport, read_candle_file

__all__ = ["ReplayFeed"]

log = logging.getLogger(__name__)


class ReplayFeed:
    """Plays one file's candles for one symbol, in order, as closed base candles."""

    name = "replay"
    # the file is the stream (preloading it would replay nothing), and its times are the file's
    capabilities = FeedCapabilities(backfills=False, wall_clock=False)

    def __init__(self, path: Path, *, symbol: str, timeframe: Timeframe = Timeframe.M1, speed: float = 0.0,
                 clock: SimClock | None = None, start: float | None = None, end: float | None = None) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0 (0 = as fast as possible)")
        self.clock = clock
        self.start = start  # play candles opening at or after this time (None: from the first)
        self.end = end  # and closing at or before this one (None: to the last)
        self.path = Path(path)
        self.symbol = normalize_symbol(symbol)
        self.timeframe = timeframe
        self.speed = speed
        self.report: CandleFileReport | None = None
        self.played = 0

    @classmethod
    def from_candles(cls, candles: Sequence[Candle], *, symbol: str, timeframe: Timeframe, speed: float = 0.0,
                     clock: SimClock | None = None, start: float | None = None,
                     end: float | None = None) -> ReplayFeed:
        """A replay of candles already in memory (read from the database, say) rather than a file."""
        feed = cls(Path("<stored>"), symbol=symbol, timeframe=timeframe, speed=speed, clock=clock, start=start, end=end)
        feed.report = CandleFileReport(list(candles), [], len(candles))
        return feed

    def load(self) -> CandleFileReport:
        if self.report is None:
            try:
                self.report = read_candle_file(self.path, timeframe=self.timeframe)
            except TradewindError as exc:
                raise FeedError(f"cannot replay {self.path}: {exc}") from exc
            except OSError as exc:
                raise FeedError(f"cannot replay {self.path}: {exc.strerror or exc}") from exc
            if self.report.rejected:
                first = self.report.rejected[0]
                log.warning(
                    "replay %s: %d of %d rows rejected (first: line %d, %s)",
                    self.path, len(self.report.rejected), self.report.rows, first.line, first.reason,
                )
        return self.report

    def history(self, symbol: str, timeframe: Timeframe, limit: int, *, until: float | None = None) -> list[Candle]:
        if normalize_symbol(symbol) != self.symbol:
            raise SymbolNotFound(f"replay feed has no symbol {symbol!r} (it plays {self.symbol})")
        candles = self.load().candles
        if until is not None:
            candles = [c for c in candles if c.time + self.timeframe.seconds <= until]
        if timeframe is not self.timeframe:
            if timeframe.seconds < self.timeframe.seconds or timeframe.seconds % self.timeframe.seconds:
                return []
            bars, complete = resample(bars_from_candles(candles), timeframe.seconds, source_seconds=self.timeframe.seconds)
            candles = [c for c, done in zip(bars_to_candles(bars), complete.tolist()) if done]
        return candles[-limit:] if limit > 0 else []

    def candles(self) -> list[Candle]:
        """The candles this replay plays, within ``start`` and ``end``."""
        candles = self.load().candles
        step = self.timeframe.seconds
        if self.start is not None or self.end is not None:
            lo = float("-inf") if self.start is None else self.start
            hi = float("inf") if self.end is None else self.end
            candles = [c for c in candles if c.time >= lo and c.time + step <= hi]
        return candles

    async def run(self, sink: CandleSink, symbols: Sequence[str]) -> None:
        candles = await asyncio.to_thread(self.candles)
        step = self.timeframe.seconds
        previous: int | None = None
        if self.clock is not None and candles and self.clock.now() < candles[0].time:
            self.clock.set(candles[0].time)  # history starts here: the loops' first wake is at its start, not 1970
        for index, candle in enumerate(candles):
            if self.speed > 0 and previous is not None:  # pacing against the wall, not a timed loop
                await asyncio.sleep((candle.time - previous) / self.speed)
            elif index % 500 == 0:
                await asyncio.sleep(0)
            sink.ingest_candle(self.symbol, self.timeframe, candle)
            previous = candle.time
            self.played += 1
            if self.clock is not None:
                await self.clock.advance_to(candle.time + step)
