"""One symbol's candles on one timeframe: a ring buffer of closed candles plus the forming one.

Every closed candle is also kept pre-serialised to JSON, and the joined tail and the forming
candle's JSON are cached until the next change, so the HTTP API answers a repeated request by
concatenating bytes instead of re-encoding the same candles every time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np
import orjson

from tradewind.domain.candle import Candle
from tradewind.domain.timeframe import Timeframe
from tradewind.domain.bars import Bars
from tradewind.market.columns import ColumnRing

__all__ = ["CandleSeries", "encode_candle"]

OnClose = Callable[[Timeframe, Candle], None]


def encode_candle(candle: Candle) -> bytes:
    """The candle's JSON, exactly its size: orjson's own result keeps a 4 KiB buffer behind its ~130
    bytes, which over the 56,000 candles an idle default service holds was 150 MB of resident memory."""
    return memoryview(orjson.dumps(candle.to_dict())).tobytes()


class CandleSeries:
    """Ring buffer for one (symbol, timeframe); the forming candle is kept in plain attributes.

    The forming candle has two parts so that both feeds of ticks and feeds of candle snapshots
    fit: the aggregate of what is final (``_time.._spread``) and ``_snap``, the latest snapshot of
    a still-forming source candle, which later snapshots replace instead of adding to.
    """

    __slots__ = (
        "_close", "_end", "_first", "_forming_json", "_high", "_joined", "_last", "_low", "_open", "_snap", "_spread",
        "_time", "_volume", "closed", "columns", "encoded", "floor", "on_close", "seconds", "timeframe",
    )

    def __init__(self, timeframe: Timeframe, size: int, on_close: OnClose) -> None:
        self.timeframe = timeframe
        self.seconds = timeframe.seconds
        self.closed: deque[Candle] = deque(maxlen=size)
        self.encoded: deque[bytes] = deque(maxlen=size)
        self.columns = ColumnRing(size)  # the same closed candles as arrays, for analysis
        self.on_close = on_close
        self.floor = -1  # earliest open time still accepted; older data is dropped
        self._time = -1  # open time of the forming candle, -1 when none
        self._end = -1  # its end (``_time + seconds``), -1 when none
        self._open = self._high = self._low = self._close = self._volume = 0.0
        self._spread: float | None = None
        self._first = self._last = 0.0  # times of the first and last tick seen in the candle
        self._snap: Candle | None = None
        self._forming_json: bytes | None = None  # cache; None whenever the forming candle changes
        self._joined: dict[int, bytes] = {}  # cache of joined closed tails by length; cleared on close

    # --- reading -----------------------------------------------------------------------------
    @property
    def forming_time(self) -> int:
        return self._time

    def forming(self) -> Candle | None:
        if self._time < 0:
            return None
        return self._merged(closed=False)

    def tail(self, limit: int) -> list[Candle]:
        """The newest ``limit`` candles, oldest first; the forming one last, flagged."""
        forming = self.forming()
        take = limit - 1 if forming is not None else limit
        out = list(self._last_n(self.closed, take))
        if forming is not None and limit > 0:
            out.append(forming)
        return out

    def tail_json(self, limit: int) -> tuple[bytes, int]:
        """``tail(limit)`` as the inside of a JSON array (no brackets), and how many candles it holds."""
        forming = self._forming_bytes()
        take = limit - 1 if forming is not None else limit
        take = min(max(take, 0), len(self.encoded))
        joined = self._joined.get(take)
        if joined is None:
            joined = b",".join(self._last_n(self.encoded, take))
            if len(self._joined) > 8:
                self._joined.clear()
            self._joined[take] = joined
        if forming is None or limit <= 0:
            return joined, take
        return (joined + b"," + forming if take else forming), take + 1

    def _forming_bytes(self) -> bytes | None:
        if self._time < 0:
            return None
        cached = self._forming_json
        if cached is None:
            cached = self._forming_json = encode_candle(self._merged(closed=False))
        return cached

    def __len__(self) -> int:
        return len(self.closed) + (self._time >= 0)

    @staticmethod
    def _last_n(items: deque, n: int) -> list:
        if n <= 0:
            return []
        size = len(items)
        if n >= size:
            return list(items)
        return [items[i] for i in range(size - n, size)]

    # --- ticks -------------------------------------------------------------------------------
    def tick(self, ts: float, price: float, size: float, spread: float | None) -> None:
        """Apply one tick already known not to be older than the base timeframe's forming candle."""
        self._forming_json = None
        if not self._time <= ts < self._end:  # not inside the forming candle: the rare case
            start = int(ts // self.seconds) * self.seconds
            if start < self._time or start < self.floor:
                return  # the streamer drops these before; kept so a series never reopens the past
            if self._time >= 0:
                self._finish()
            self._start(start, price, price, price, price, size, spread, ts, ts)
            return
        if ts >= self._last:
            self._close = price
            self._last = ts
            if spread is not None:
                self._spread = spread
        elif ts < self._first:
            self._open = price
            self._first = ts
        if price > self._high:
            self._high = price
        elif price < self._low:
            self._low = price
        self._volume += size

    def ticks(self, t: np.ndarray, p: np.ndarray, v: np.ndarray, s: np.ndarray | None) -> None:
        """Apply a time-sorted batch of ticks, vectorised per candle instead of per tick."""
        n = t.shape[0]
        if n == 1:  # a live feed's usual batch: a dozen numpy calls cost more than the tick itself
            self.tick(float(t[0]), float(p[0]), float(v[0]), float(s[0]) if s is not None else None)
            return
        self._forming_json = None
        start = (t // self.seconds).astype(np.int64) * self.seconds
        cuts = np.flatnonzero(start[1:] != start[:-1]) + 1
        firsts = np.concatenate((np.zeros(1, dtype=np.intp), cuts))
        lasts = np.concatenate((cuts, np.array([n], dtype=np.intp))) - 1
        highs = np.maximum.reduceat(p, firsts).tolist()
        lows = np.minimum.reduceat(p, firsts).tolist()
        vols = np.add.reduceat(v, firsts).tolist()
        starts = start[firsts].tolist()
        opens = p[firsts].tolist()
        closes = p[lasts].tolist()
        t_first = t[firsts].tolist()
        t_last = t[lasts].tolist()
        spreads = s[lasts].tolist() if s is not None else None
        for g, candle_start in enumerate(starts):
            spread = spreads[g] if spreads is not None else None
            if candle_start == self._time:
                if highs[g] > self._high:
                    self._high = highs[g]
                if lows[g] < self._low:
                    self._low = lows[g]
                self._volume += vols[g]
                self._close = closes[g]
                self._last = t_last[g]
                if spread is not None:
                    self._spread = spread
                continue
            if self._time >= 0:
                self._finish()
            self._start(candle_start, opens[g], highs[g], lows[g], closes[g], vols[g], spread, t_first[g], t_last[g])

    # --- candles -----------------------------------------------------------------------------
    def candle(self, candle: Candle, source_seconds: int) -> None:
        """Merge a source candle (same or shorter timeframe); a forming one is a snapshot."""
        start = (candle.time // self.seconds) * self.seconds
        if start < self._time or start < self.floor:
            return
        self._forming_json = None
        if start > self._time:
            self._begin(start)
        if candle.closed:
            if self._snap is not None and self._snap.time <= candle.time:
                self._snap = None
            self._absorb(candle)
            if candle.time + source_seconds == start + self.seconds:
                self._finish()
        else:
            self._snap = candle

    def bars(self, bars: Bars, complete: np.ndarray) -> None:
        """Merge pre-aggregated closed bars of this timeframe (``complete`` marks finished ones)."""
        self._forming_json = None
        for i, (t, o, h, l, c, v, s) in enumerate(zip(*(column.tolist() for column in bars))):
            if t < self._time or t < self.floor:
                continue
            if t > self._time:
                self._begin(t)
            self._absorb(Candle(t, o, h, l, c, v, None if s != s else s))
            if complete[i]:
                self._finish()

    def warm(self, candles: list[Candle]) -> None:
        """Fill the buffer with stored closed candles (oldest first) before any live data."""
        for candle in candles:
            closed = candle.as_closed()
            self.closed.append(closed)
            self.encoded.append(encode_candle(closed))
            self.columns.append(closed)
        self._joined.clear()
        if candles:
            self.floor = max(self.floor, candles[-1].time + self.seconds)

    def close_due(self, now: float, grace: float) -> bool:
        """Close the forming candle if its period ended more than ``grace`` seconds ago."""
        if self._time >= 0 and self._time + self.seconds + grace <= now:
            self._finish()
            return True
        return False

    # --- internals ---------------------------------------------------------------------------
    def _begin(self, start: int) -> None:
        """Close the forming candle and open an empty one at ``start`` for candle input."""
        if self._time >= 0:
            self._finish()
        self._time = start
        self._end = start + self.seconds
        self._snap = None
        self._volume = 0.0
        self._open = -1.0  # marks "no final part yet"

    def _start(self, start: int, o: float, h: float, l: float, c: float, v: float,
               spread: float | None, first: float, last: float) -> None:
        self._time = start
        self._end = start + self.seconds
        self._open, self._high, self._low, self._close, self._volume = o, h, l, c, v
        self._spread = spread
        self._first, self._last = first, last
        self._snap = None

    def _absorb(self, candle: Candle) -> None:
        if self._open < 0:
            self._open, self._high, self._low = candle.open, candle.high, candle.low
            self._volume = candle.volume
        else:
            if candle.high > self._high:
                self._high = candle.high
            if candle.low < self._low:
                self._low = candle.low
            self._volume += candle.volume
        self._close = candle.close
        if candle.spread is not None:
            self._spread = candle.spread

    def _merged(self, *, closed: bool) -> Candle:
        snap = self._snap
        if self._open < 0:  # only a snapshot so far
            assert snap is not None
            return Candle(self._time, snap.open, snap.high, snap.low, snap.close, snap.volume, snap.spread, closed)
        if snap is None:
            return Candle(self._time, self._open, self._high, self._low, self._close, self._volume, self._spread, closed)
        return Candle(
            self._time, self._open, max(self._high, snap.high), min(self._low, snap.low), snap.close,
            self._volume + snap.volume, snap.spread if snap.spread is not None else self._spread, closed,
        )

    def _finish(self) -> None:
        self._forming_json = None
        if self._open < 0 and self._snap is None:
            self._time = -1
            self._end = -1
            return
        candle = self._merged(closed=True)
        self.closed.append(candle)
        self.encoded.append(encode_candle(candle))
        self.columns.append(candle)
        self._joined.clear()
        self.floor = candle.time + self.seconds
        self._time = -1
        self._end = -1
        self._snap = None
        self.on_close(self.timeframe, candle)
