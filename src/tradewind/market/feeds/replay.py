"""Replay of stored history (CSV or Freqtrade JSON) at real speed, a multiple of it, or flat out.

Rows the file's checks reject are skipped and reported (``report``); a file that cannot be read
at all stops the feed with a ``FeedError`` that names the position, and the service keeps running.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

from tradewind.domain.candle import Candle
from tradewind.domain.errors import FeedError, SymbolNotFound, TradewindError
from tradewind.domain.ports import CandleSink
from tradewind.domain.symbol import normalize_symbol
from tradewind.domain.timeframe import Timeframe
from tradewind.domain.bars import bars_from_candles, bars_to_candles, resample
from tradewind.market.candle_file import CandleFileReport, read_candle_file

__all__ = ["ReplayFeed"]

log = logging.getLogger(__name__)


class ReplayFeed:
    """Plays one file's candles for one symbol, in order, as closed base candles."""

    name = "replay"
    backfills = False  # the file is the stream; preloading it would replay nothing

    def __init__(self, path: Path, *, symbol: str, timeframe: Timeframe = Timeframe.M1, speed: float = 0.0) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0 (0 = as fast as possible)")
        self.path = Path(path)
        self.symbol = normalize_symbol(symbol)
        self.timeframe = timeframe
        self.speed = speed
        self.report: CandleFileReport | None = None
        self.played = 0

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

    async def run(self, sink: CandleSink, symbols: Sequence[str]) -> None:
        candles = await asyncio.to_thread(lambda: self.load().candles)
        previous: int | None = None
        for index, candle in enumerate(candles):
            if self.speed > 0 and previous is not None:
                await asyncio.sleep((candle.time - previous) / self.speed)
            elif index % 500 == 0:
                await asyncio.sleep(0)
            sink.ingest_candle(self.symbol, self.timeframe, candle)
            previous = candle.time
            self.played += 1
