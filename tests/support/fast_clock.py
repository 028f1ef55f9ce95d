"""A wall clock that runs ``speed`` times faster: a synthetic market whose minutes last seconds.

Everything that waits on it (the feed's candles, each asset's trading cycle, the periodic analysis)
keeps its real order and proportions, only sooner; a browser test sees candles, signals and trades
arrive live without waiting real minutes.
"""

from __future__ import annotations

import asyncio
import time


class FastClock:
    def __init__(self, speed: float, *, start: float | None = None) -> None:
        self.speed = float(speed)
        self._wall0 = time.time()
        self._start = self._wall0 if start is None else float(start)

    def now(self) -> float:
        return self._start + (time.time() - self._wall0) * self.speed

    async def sleep_until(self, when: float) -> None:
        await asyncio.sleep(max(0.0, (when - self.now()) / self.speed))

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)
