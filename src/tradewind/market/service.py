"""The streamer as the API, the client and the CLI see it: checks, queries and status."""

from __future__ import annotations

import time
from typing import NamedTuple

from tradewind.domain.bars import Bars
from tradewind.domain.errors import StreamerNotInitialized, StreamerNotRunning, ValidationError
from tradewind.domain.ports import CandleFeed
from tradewind.domain.symbol import normalize_symbol
from tradewind.domain.timeframe import Timeframe, TimeframeName, parse_timeframe_name
from tradewind.market.runtime import StreamerRuntime
from tradewind.market.series import CandleSeries
from tradewind.market.streamer import MultiTimeframeStreamer

__all__ = ["CandleQuery", "MAX_LIMIT", "StreamerService"]

MAX_LIMIT = 500


class CandleQuery(NamedTuple):
    """A validated request for candles: where to read them and how to name them back."""

    symbol: str
    timeframe: TimeframeName
    limit: int
    series: CandleSeries


def _feed_stats(feed: CandleFeed) -> dict[str, object] | None:
    """What a polling feed reports about itself (polls, errors, last error), when it does."""
    return feed.stats.as_dict() if feed.capabilities.stats else None  # type: ignore[attr-defined,no-any-return]


class StreamerService:
    def __init__(self, streamer: MultiTimeframeStreamer | None, runtime: StreamerRuntime | None) -> None:
        self.streamer = streamer
        self.runtime = runtime

    def require_running(self) -> MultiTimeframeStreamer:
        if self.streamer is None or self.runtime is None or self.runtime.state == "initializing":
            raise StreamerNotInitialized("Streamer not initialized")
        if not self.runtime.running:
            reason = f": {self.runtime.error}" if self.runtime.error else ""
            raise StreamerNotRunning(f"Streamer not running{reason}")
        return self.streamer

    def query(self, symbol: str, timeframe: str, limit: int) -> CandleQuery:
        """Validate a candle request; raises the domain error that names the bad part."""
        streamer = self.require_running()
        name = parse_timeframe_name(timeframe)
        if not 1 <= limit <= MAX_LIMIT:
            raise ValidationError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}", field="limit")
        canonical = normalize_symbol(symbol)
        return CandleQuery(canonical, name, limit, streamer.series(canonical, name.timeframe))

    def closed_bars(self, symbol: str, timeframes: list[Timeframe], limit: int = 500) -> dict[Timeframe, Bars]:
        """The newest ``limit`` closed candles per timeframe, for analysing a streamed symbol."""
        streamer = self.require_running()
        canonical = normalize_symbol(symbol)
        out: dict[Timeframe, Bars] = {}
        for timeframe in timeframes:
            bars = streamer.series(canonical, timeframe).columns.tail(limit)  # read-only: closed candles are final
            if len(bars):
                out[timeframe] = bars
        return out

    def closed_series(self, symbol: str, timeframe: Timeframe, limit: int) -> Bars:
        """The newest ``limit`` closed candles of one timeframe, read-only: what a strategy sees."""
        streamer = self.require_running()
        return streamer.series(normalize_symbol(symbol), timeframe).columns.tail(limit)

    def closed_marker(self, symbol: str, timeframes: list[Timeframe]) -> tuple[int | None, ...]:
        """The open time of the newest closed candle per timeframe: it changes exactly when the
        candles ``closed_bars`` returns change (closed candles are final), at the cost of a lookup."""
        streamer = self.require_running()
        canonical = normalize_symbol(symbol)
        marker: list[int | None] = []
        for timeframe in timeframes:
            closed = streamer.series(canonical, timeframe).closed
            marker.append(closed[len(closed) - 1].time if len(closed) else None)
        return tuple(marker)

    def available(self) -> dict[str, list[str]]:
        streamer = self.require_running()
        return {symbol: [tf.value for tf in tfs] for symbol, tfs in streamer.available().items()}

    def status(self) -> dict[str, object]:
        if self.streamer is None or self.runtime is None:
            raise StreamerNotInitialized("Streamer not initialized")
        runtime = self.runtime
        started = runtime.started_at
        return {
            "running": runtime.running,
            "state": runtime.state,
            "error": runtime.error,
            "feed": runtime.feed.name,
            "feed_finished": runtime.feed_finished,
            "feed_stats": _feed_stats(runtime.feed),
            "symbols": self.streamer.symbols,
            "timeframes": [tf.value for tf in self.streamer.timeframes],
            "buffer_size": self.streamer.buffer_size,
            "uptime_seconds": round(time.time() - started, 3) if started else None,
            "metrics": self.streamer.metrics.as_dict(),
            "persistence": {
                "saved": runtime.recorder.saved if runtime.recorder else None,
                "pending": runtime.recorder.pending if runtime.recorder else None,
                "errors": runtime.recorder.errors if runtime.recorder else None,
                "last_error": runtime.recorder.last_error if runtime.recorder else None,
            },
        }

    def health(self) -> dict[str, object]:
        """Buffer fill and data freshness; raises when the streamer is not serving."""
        streamer = self.require_running()
        now = streamer.clock.now()
        last = streamer.metrics.last_data_time
        return {
            "healthy": True,
            "buffers": streamer.buffer_counts(),
            "last_data_age_seconds": {
                symbol: (round(now - last[symbol], 3) if symbol in last else None) for symbol in streamer.symbols
            },
        }
