"""The polling loop shared by the REST feeds (ccxt, Alpaca): fetch, validate, push, back off.

A venue adapter supplies one coroutine, "rows of this symbol from this time on", and a way to
read a rate-limit hint from its errors; this module owns everything else, so the two feeds keep
one definition of which candles are closed, what a failure costs and what ``stats`` counts.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from email.utils import parsedate_to_datetime

from tradewind.domain.candle import Candle, check_candle
from tradewind.domain.clock import Clock
from tradewind.domain.errors import FeedError
from tradewind.domain.ports import CandleSink
from tradewind.domain.timeframe import Timeframe

__all__ = [
    "LAST_ROW_GRACE",
    "Backoff",
    "FeedStats",
    "FetchRows",
    "parse_candles",
    "parse_retry_after",
    "poll_candles",
]

log = logging.getLogger(__name__)

LAST_ROW_GRACE = 2.0
"""Seconds past its end before the newest candle of an answer counts as closed."""

FetchRows = Callable[[str, int], Awaitable[Sequence[object]]]
"""``(venue_symbol, since_epoch_seconds) -> raw rows``, oldest first."""


@dataclass(slots=True)
class FeedStats:
    """What a live feed has done so far; read by health checks and tests.

    ``candles`` counts closed candles pushed, ``partials`` snapshots of forming ones;
    ``last_ok_time`` is the clock time of the last successful poll.
    """

    polls: int = 0
    candles: int = 0
    partials: int = 0
    errors: int = 0
    last_error: str | None = None
    last_ok_time: float | None = None
    error_kinds: dict[str, int] = field(default_factory=dict)

    def record_error(self, exc: BaseException) -> None:
        kind = type(exc).__name__
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1
        self.last_error = f"{kind}: {exc}"[:500]

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class Backoff:
    """Exponential delay after consecutive failures, capped; a server's Retry-After wins."""

    def __init__(self, base: float, cap: float) -> None:
        self.base = max(base, 0.001)
        self.cap = max(cap, self.base)
        self.failures = 0

    def failure(self, retry_after: float | None = None) -> float:
        self.failures += 1
        delay = min(self.cap, self.base * 2 ** min(self.failures, 30))
        if retry_after is not None:
            delay = max(retry_after, self.base)  # the server knows; neither shorten nor stretch it
        return delay

    def success(self) -> None:
        self.failures = 0


def parse_retry_after(value: object, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date), or None."""
    if value is None:
        return None
    text = str(value).strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(text).timestamp() - (time.time() if now is None else now)
        except (TypeError, ValueError, IndexError):
            return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def parse_candles(
    rows: Sequence[object], to_fields: Callable[[object], Sequence[object]], *, source: str
) -> tuple[list[Candle], FeedError | None]:
    """Validate raw rows in order; return the valid prefix and the error at the first bad row.

    ``to_fields`` maps one raw row to ``(time_s, open, high, low, close, volume)`` and may raise
    on a malformed shape; that becomes a ``FeedError`` naming the row, never a bare TypeError.
    """
    candles: list[Candle] = []
    for index, raw in enumerate(rows):
        try:
            candles.append(check_candle(*to_fields(raw), row=index))
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
            shown = repr(raw)
            shown = shown if len(shown) <= 200 else shown[:197] + "..."
            return candles, FeedError(f"{source}: malformed candle at row {index} {shown}: {exc}")
    return candles, None


@dataclass(slots=True)
class _Cursor:
    last_closed: int | None = None
    forming: Candle | None = None


async def poll_candles(
    *,
    sink: CandleSink,
    symbols: Mapping[str, str],
    timeframe: Timeframe,
    fetch: FetchRows,
    to_fields: Callable[[object], Sequence[object]],
    clock: Clock,
    poll_seconds: float,
    max_backoff: float,
    stats: FeedStats,
    retry_after: Callable[[BaseException], float | None],
    source: str,
) -> None:
    """Poll every symbol (tradewind name -> venue name) forever; only cancellation ends it.

    Each round asks for candles from the last closed one onwards, pushes newly closed candles
    with ``closed=True`` and the forming one with ``closed=False`` when it changed. A candle is
    closed when its period had ended when the request was sent (the newest row of an answer
    only ``LAST_ROW_GRACE`` seconds later, as the venue's clock may lag ours): a candle marked
    closed is never revised, so doubt keeps it forming one more poll. A failure ends the round, is counted and logged, and the
    next round waits an exponentially growing delay, or what the server's Retry-After asks.
    """
    cursors = {symbol: _Cursor() for symbol in symbols}
    backoff = Backoff(poll_seconds, max_backoff)
    step = timeframe.seconds
    while True:
        delay = poll_seconds
        for symbol, venue in symbols.items():
            cursor = cursors[symbol]
            stats.polls += 1
            try:
                asked = clock.now()
                since = cursor.last_closed + step if cursor.last_closed is not None else timeframe.bucket(asked) - step
                rows = await fetch(venue, since)
                candles, error = parse_candles(rows, to_fields, source=f"{source} {venue}")
                _push(sink, symbol, timeframe, candles, asked, cursor, stats)
                if error is not None:
                    raise error
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a live feed outlives every failure
                stats.record_error(exc)
                delay = backoff.failure(retry_after(exc))
                log.warning("%s: poll of %s failed (%s); next try in %.2fs", source, venue, stats.last_error, delay)
                break
            stats.last_ok_time = clock.now()
        else:
            backoff.success()
        await asyncio.sleep(delay)


def _push(
    sink: CandleSink,
    symbol: str,
    timeframe: Timeframe,
    candles: list[Candle],
    asked: float,
    cursor: _Cursor,
    stats: FeedStats,
) -> None:
    step = timeframe.seconds
    newest = max((c.time for c in candles), default=None)
    for candle in sorted(candles, key=lambda c: c.time):
        if cursor.last_closed is not None and candle.time <= cursor.last_closed:
            continue
        grace = LAST_ROW_GRACE if candle.time == newest else 0.0
        if candle.time + step + grace <= asked:
            sink.ingest_candle(symbol, timeframe, candle)
            cursor.last_closed = candle.time
            cursor.forming = None
            stats.candles += 1
        else:
            snapshot = replace(candle, closed=False)
            if snapshot != cursor.forming:
                sink.ingest_candle(symbol, timeframe, snapshot)
                cursor.forming = snapshot
                stats.partials += 1
