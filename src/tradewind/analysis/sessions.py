"""ICT killzones: the hours around the London and New York opens, labelled per bar from UTC time.

Windows are fixed in UTC and half-open, tested on the bar's *open* time:

- London: 07:00-10:00 UTC (label 1),
- New York: 12:00-15:00 UTC (label 2).

These are the usual 02:00-05:00 and 07:00-10:00 New York-time windows when New York is on
standard time (EST, UTC-5). Daylight saving is ignored: from March to November the traditional
windows start one hour earlier in UTC (06:00 and 11:00); pass other windows to ``killzones`` to
follow them. A bar longer than a window is labelled by its open time only.
"""

from __future__ import annotations

import numpy as np

__all__ = ["KILLZONE_NAMES", "LONDON", "NEW_YORK", "killzones"]

LONDON = (7 * 3600, 10 * 3600)
"""London killzone as (start, end) seconds after 00:00 UTC."""
NEW_YORK = (12 * 3600, 15 * 3600)
"""New York killzone as (start, end) seconds after 00:00 UTC."""
KILLZONE_NAMES: dict[int, str] = {1: "London", 2: "New York"}


def killzones(
    time: np.ndarray, *, london: tuple[int, int] = LONDON, new_york: tuple[int, int] = NEW_YORK
) -> np.ndarray:
    """Label each bar by the killzone its open time (epoch seconds, UTC) falls in: int8 0, 1 or 2."""
    seconds = np.asarray(time, dtype=np.int64) % 86_400
    out = np.zeros(seconds.shape[0], dtype=np.int8)
    out[(seconds >= london[0]) & (seconds < london[1])] = 1
    out[(seconds >= new_york[0]) & (seconds < new_york[1])] = 2
    return out
