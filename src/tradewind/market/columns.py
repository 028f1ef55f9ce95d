"""The closed candles of a series as numpy columns, so analysis reads arrays, not Candle objects.

A ring of ``size`` rows laid out in twice that space: appends go to the end and, when it is full,
the newest ``size`` rows move back to the front in one block copy. So the newest ``n`` rows are
always contiguous and reading them is one slice copy, whatever the ring's age (converting 500
``Candle`` objects to arrays per analysis cost more than the analysis).
"""

from __future__ import annotations

import numpy as np

from tradewind.domain.bars import Bars
from tradewind.domain.candle import Candle

__all__ = ["ColumnRing"]


class ColumnRing:
    __slots__ = ("_end", "_time", "_values", "size")

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self._time = np.empty(2 * self.size, dtype=np.int64)
        self._values = np.empty((6, 2 * self.size), dtype=np.float64)  # open, high, low, close, volume, spread
        self._end = 0

    def __len__(self) -> int:
        return min(self._end, self.size)

    def append(self, candle: Candle) -> None:
        if self._end == 2 * self.size:
            keep = self.size
            self._time[:keep] = self._time[self._end - keep:self._end]
            self._values[:, :keep] = self._values[:, self._end - keep:self._end]
            self._end = keep
        end = self._end
        self._time[end] = candle.time
        values = self._values
        values[0, end] = candle.open
        values[1, end] = candle.high
        values[2, end] = candle.low
        values[3, end] = candle.close
        values[4, end] = candle.volume
        values[5, end] = np.nan if candle.spread is None else candle.spread
        self._end = end + 1

    def tail(self, limit: int) -> Bars:
        """The newest ``limit`` rows, oldest first, as read-only copies (the ring moves on; they do not)."""
        take = max(0, min(limit, len(self)))
        start = self._end - take
        time = self._time[start:self._end].copy()
        block = self._values[:, start:self._end].copy()
        columns = [time, *block]
        for column in columns:
            column.flags.writeable = False
        return Bars(*columns)
