"""The synthetic feed: a realistic market with no network, the default so ``make run`` shows something live.

History and live ticks both come from ``synthetic_prices``, a pure function of (seed, symbol,
time), so they follow one path. Live ticks sit on a quarter-second grid. The history samples of a
minute are a subset of that grid and are emitted unchanged. The other ticks get a little noise and
are clipped to the minute's high/low from history. The ticks' sizes add up to the minute's volume.
So a minute built live from ticks equals the history minute: open, high, low, close, volume (up
to float rounding) and spread.

A live stream asks for a few ticks of the current minute four times a second. Computing them costs
as much as computing the whole minute (its history bars and volume weights are needed either way),
so ``ticks`` computes each symbol's minute once, keeps it, and slices it: being pure, the slice is
the very ticks a direct computation gives. Longer windows (a catch-up after a stall) are computed
directly.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Sequence

import numpy as np

from tradewind.domain.candle import Candle
from tradewind.domain.clock import Clock, SystemClock
from tradewind.domain.errors import ValidationError
from tradewind.domain.ports import CandleSink, FeedCapabilities
from tradewind.domain.symbol import normalize_symbol
from tradewind.domain.timeframe import Timeframe, parse_timeframe
from tradewind.market import synthetic_prices as model
from tradewind.domain.bars import Bars, bars_to_candles, resample

__all__ = ["TICK_STEP", "SyntheticFeed", "Ticks"]

log = logging.getLogger(__name__)

TICK_STEP = 0.25  # seconds between live ticks
_SLOTS = 240  # tick slots per minute
_CHUNK_MINUTES = 14 * 1440  # minutes per history pass: bounds memory on long requests
_MAX_CATCH_UP = 600.0  # seconds of ticks emitted at most after a stall
_TICK_NOISE_SECONDS = 0.75  # off-sample ticks wander about this many seconds' worth of volatility
_S_TICK_PRICE, _S_TICK_SIZE = 1000, 1001
_KEPT_MINUTES = 2  # whole minutes of ticks kept per symbol: the live window spans at most two

Ticks = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""(times, prices, sizes, spreads), the arguments of ``CandleSink.ingest_ticks``."""


class SyntheticFeed:
    """A deterministic market for any symbol: ``history`` for any window, and live ticks from ``run``."""

    name = "synthetic"
    capabilities = FeedCapabilities(base_history=True)

    def __init__(
        self,
        seed: int = 7,
        *,
        tick_interval: float = 0.25,
        clock: Clock | None = None,
        ticks_per_minute_history: int = 12,
    ) -> None:
        if not 2 <= ticks_per_minute_history <= _SLOTS:
            raise ValidationError(
                f"ticks_per_minute_history must be between 2 and {_SLOTS}, got {ticks_per_minute_history}",
                field="ticks_per_minute_history",
            )
        if not tick_interval > 0:
            raise ValidationError(f"tick_interval must be positive, got {tick_interval}", field="tick_interval")
        self.seed = seed
        self.tick_interval = tick_interval
        self.clock: Clock = clock if clock is not None else SystemClock()
        # History samples of a minute: evenly spread slots from the first to the last of the live grid.
        slots = np.round(np.linspace(0, _SLOTS - 1, ticks_per_minute_history)).astype(np.int64)
        self._sample_slots = slots
        self._offsets = slots * TICK_STEP
        self._sample_of_slot = np.full(_SLOTS, -1, dtype=np.int64)
        self._sample_of_slot[slots] = np.arange(slots.size)
        self._minutes: dict[str, dict[int, Ticks]] = {}  # symbol -> minute index -> its 240 ticks

    def base_history(self, symbol: str, start: int, end: int) -> Bars:
        """Return the one-minute candles that open in [start, end). Both bounds are multiples of 60."""
        symbol = normalize_symbol(symbol)
        for name, value in (("start", start), ("end", end)):
            if int(value) != value or int(value) % 60:
                raise ValidationError(f"{name} must be a whole multiple of 60 seconds, got {value!r}", field=name)
        if end < start:
            raise ValidationError(f"end {end} is before start {start}", field="end")
        parts = [
            self._minute_bars(symbol, np.arange(lo, min(lo + _CHUNK_MINUTES * 60, end), 60, dtype=np.int64))[0]
            for lo in range(int(start), int(end), _CHUNK_MINUTES * 60)
        ]
        if not parts:
            return _empty_bars()
        return parts[0] if len(parts) == 1 else Bars(*(np.concatenate(cols) for cols in zip(*parts)))

    def history_bars(
        self, symbol: str, timeframe: Timeframe | str, limit: int, *, until: float | None = None
    ) -> Bars:
        """Return the last ``limit`` closed candles of ``timeframe`` ending at or before ``until`` (default: now).

        They are resampled from ``base_history``, so every timeframe aggregates the same minutes.
        """
        tf = parse_timeframe(timeframe)
        if limit <= 0:
            return _empty_bars()
        now = self.clock.now() if until is None else float(until)
        seconds = tf.seconds
        end = math.floor(now / seconds) * seconds
        start = end - int(limit) * seconds
        step = max(1, _CHUNK_MINUTES * 60 // seconds) * seconds  # chunks hold whole candles
        parts = []
        for lo in range(start, end, step):
            minutes = self.base_history(symbol, lo, min(lo + step, end))
            parts.append(minutes if seconds == 60 else resample(minutes, seconds, source_seconds=60)[0])
        return parts[0] if len(parts) == 1 else Bars(*(np.concatenate(cols) for cols in zip(*parts)))

    def history(
        self, symbol: str, timeframe: Timeframe, limit: int, *, until: float | None = None
    ) -> list[Candle]:
        """Return up to ``limit`` closed candles ending at or before ``until`` (default: now), oldest first."""
        return bars_to_candles(self.history_bars(symbol, timeframe, limit, until=until))

    def ticks(self, symbol: str, start: float, end: float) -> Ticks:
        """Return the live ticks with start <= time < end. Pure: the same window always gives the same ticks."""
        symbol = normalize_symbol(symbol)
        first = math.ceil(start / TICK_STEP)
        last = math.ceil(end / TICK_STEP)  # exclusive
        if first < last and (last - 1) // _SLOTS - first // _SLOTS < _KEPT_MINUTES:
            return self._from_minutes(symbol, first, last)
        return self._slot_ticks(symbol, first, last)

    def _from_minutes(self, symbol: str, first: int, last: int) -> Ticks:
        """Slots [first, last) cut from the kept whole minutes (computed on first use)."""
        kept = self._minutes.setdefault(symbol, {})
        parts = []
        for minute in range(first // _SLOTS, (last - 1) // _SLOTS + 1):
            whole = kept.get(minute)
            if whole is None:
                whole = kept[minute] = self._slot_ticks(symbol, minute * _SLOTS, (minute + 1) * _SLOTS)
                for old in sorted(kept)[:-_KEPT_MINUTES]:  # the newest minutes stay: bounded, whatever is asked
                    kept.pop(old, None)
            lo = max(first - minute * _SLOTS, 0)
            hi = min(last - minute * _SLOTS, _SLOTS)
            parts.append(tuple(column[lo:hi] for column in whole))
        if len(parts) == 1:
            return tuple(column.copy() for column in parts[0])  # type: ignore[return-value]
        return tuple(np.concatenate(columns) for columns in zip(*parts))  # type: ignore[return-value]

    def _slot_ticks(self, symbol: str, first: int, last: int) -> Ticks:
        """The ticks of grid slots [first, last), computed from the model."""
        slot = np.arange(first, max(first, last), dtype=np.int64)
        if slot.size == 0:
            empty = np.empty(0)
            return empty, empty, empty, empty
        times = slot * TICK_STEP
        minute = np.floor_divide(slot, _SLOTS)
        m0 = int(minute[0])
        bars, samples = self._minute_bars(symbol, np.arange(m0, int(minute[-1]) + 1, dtype=np.int64) * 60)
        row = minute - m0
        in_minute = slot - minute * _SLOTS
        sample = self._sample_of_slot[in_minute]
        # Off-sample ticks: the model price with a little noise, kept inside the history minute's range.
        profile = model.symbol_profile(symbol)
        wander = profile.daily_vol * math.sqrt(_TICK_NOISE_SECONDS / 86400.0)
        noise = wander * model.volatility_at(self.seed, symbol, times)
        noise *= model.hash_normals(model.stream_key(self.seed, symbol, _S_TICK_PRICE), slot)
        prices = model.prices_at(self.seed, symbol, times) * np.exp(noise)
        prices = np.round(np.clip(prices, bars.low[row], bars.high[row]), profile.price_decimals)
        on_sample = sample >= 0
        prices[on_sample] = samples[row[on_sample], sample[on_sample]]
        # Sizes: the minute's volume shared out over its 240 slots by lognormal weights.
        all_slots = (m0 * _SLOTS + np.arange(bars.time.size * _SLOTS, dtype=np.int64)).reshape(-1, _SLOTS)
        weights = np.exp(0.8 * model.hash_normals(model.stream_key(self.seed, symbol, _S_TICK_SIZE), all_slots))
        weights /= weights.sum(axis=1, keepdims=True)
        sizes = bars.volume[row] * weights[row, in_minute]
        spreads = model.spreads_at(self.seed, symbol, times, prices)
        return times, prices, sizes, spreads

    async def run(self, sink: CandleSink, symbols: Sequence[str]) -> None:
        """Push the ticks of each elapsed ``tick_interval`` into ``sink`` until cancelled. It never raises.

        It starts at the current minute's open, so the first live candle is complete. After a stall
        it catches up at most ``_MAX_CATCH_UP`` seconds, starting from a minute's open. A batch the
        sink rejects is logged and dropped, and the stream goes on.
        """
        names: list[str] = []
        for symbol in symbols:
            try:
                names.append(normalize_symbol(symbol))
            except ValueError as exc:
                log.warning("synthetic feed skips symbol %r: %s", symbol, exc)
        cursor: float | None = None
        last_logged = -math.inf
        while True:
            try:
                now = self.clock.now()
                end = (math.floor(now / TICK_STEP) + 1) * TICK_STEP  # includes a tick at exactly now
                if cursor is None or end < cursor - 60.0:  # first pass, or the clock went back
                    cursor = math.floor(now / 60.0) * 60.0
                elif end - cursor > _MAX_CATCH_UP:  # a stall: skip ahead to a minute's open
                    cursor = math.ceil((end - _MAX_CATCH_UP) / 60.0) * 60.0
                if end > cursor:
                    for symbol in names:
                        try:
                            batch = self.ticks(symbol, cursor, end)
                            if batch[0].size:
                                sink.ingest_ticks(symbol, *batch)
                        except Exception:  # a broken sink must not stop the market
                            if time.monotonic() - last_logged >= 60.0:
                                last_logged = time.monotonic()
                                log.exception("synthetic feed: ticks for %s were not delivered", symbol)
                    cursor = end
            except Exception:  # a broken clock neither
                if time.monotonic() - last_logged >= 60.0:
                    last_logged = time.monotonic()
                    log.exception("synthetic feed: reading the clock failed")
            await asyncio.sleep(self.tick_interval)

    def _minute_bars(self, symbol: str, minute_times: np.ndarray) -> tuple[Bars, np.ndarray]:
        """Return the one-minute bars opening at ``minute_times`` and their (minutes, samples) price matrix."""
        if minute_times.size == 0:
            return _empty_bars(), np.empty((0, self._offsets.size))
        times = minute_times.astype(np.float64)[:, None] + self._offsets[None, :]
        samples = model.prices_at(self.seed, symbol, times)
        high = samples[:, 0].copy()
        low = samples[:, 0].copy()
        for j in range(1, samples.shape[1]):  # column by column: faster than max(axis=1) on narrow rows
            np.maximum(high, samples[:, j], out=high)
            np.minimum(low, samples[:, j], out=low)
        close = samples[:, -1].copy()
        volume = model.volumes_for(self.seed, symbol, minute_times, close, np.log(high / low))
        spread = model.spreads_at(self.seed, symbol, times[:, -1], close)
        return Bars(minute_times.astype(np.int64), samples[:, 0].copy(), high, low, close, volume, spread), samples


def _empty_bars() -> Bars:
    return Bars(np.empty(0, dtype=np.int64), *(np.empty(0) for _ in range(6)))
