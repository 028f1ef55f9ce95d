"""The synthetic market's price model: a pure function of (seed, symbol, time).

There is no state and no random walk from a start date. Every random number is hashed
(splitmix64) from (seed, symbol, stream, lattice index), so any window can be computed directly, a
restart continues the same path, several processes agree, and history and the live stream follow
one path.

    log price = log(base) + slow(t) + vol(t) * (mid(t) + fine(t))

- ``fine``: value noise on 12 s, 36 s, 1.8 min and 5.4 min lattices, with fat-tailed (Tukey-h)
  lattice values. Each octave holds a value for the first 70% of a cell and then moves linearly
  to the next value.
- ``mid``: value noise on 16 min to 22 h lattices. Each octave holds for 60% of a cell and then
  moves along a smoothstep. Holding and then moving keeps increments close to independent. The
  amplitudes grow as sqrt(spacing), so ``fine`` and ``mid`` add up to a Brownian-like path at the
  symbol's daily volatility, at every scale from one minute to one day.
- ``vol``: the volatility regime. It is lognormal slow noise (about 1.7 days and 7 hours) times
  the intraday session cycle, so there are calm and volatile stretches (about 3x apart).
- ``slow``: a 2.7-day octave plus a trend. Each one-day block gets a drift. The drift is strong
  while a 9-day regime noise is far from zero (a trend, in its sign's direction) and only a small
  random drift otherwise (a range). A mean-reverting filter (0.94 per day, 96 taps) sums the
  drifts into a level. ``slow`` is the identity near zero and bends smoothly (tanh) towards -0.55
  and +0.3 in log terms. A year then stays within about -50% .. +60% of the base.

Everything from ``mid`` up is evaluated at whole minutes and interpolated linearly inside the
minute. That interpolation is part of the definition, so the model stays exact and pure. Only
``fine`` is evaluated per sample. This keeps 250k one-minute candles (3M samples) well under a
second.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from tradewind.domain.symbol import normalize_symbol

__all__ = [
    "SymbolProfile",
    "hash_normals",
    "prices_at",
    "session_activity",
    "spreads_at",
    "stream_key",
    "symbol_profile",
    "volatility_at",
    "volumes_for",
]

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_DAY = 86400.0
_MINUTE = 60.0
_CHUNK = 1 << 15  # samples per pass: keeps the per-sample arrays in cache

_FINE = (12.0, 36.0, 108.0, 324.0)  # lattice spacings, seconds
_MID = (972.0, 2916.0, 8748.0, 26244.0, 78732.0)
_SLOW = 236196.0
_AMPLITUDE = 0.44  # octave std = _AMPLITUDE * sigma * sqrt(spacing); calibrated on realised volatility
_RAMP_FINE = 0.3  # share of a cell over which an octave moves to its next value
_RAMP = 0.4
_TAIL_H = 0.12  # Tukey-h tail weight of the fine lattice values
_VOL = ((147000.0, 0.8), (25000.0, 0.6))  # volatility-regime octaves: (spacing, weight)
_VOL_ETA = 0.5
_TREND_BLOCK = _DAY
_TREND_GATE = 9 * _DAY  # lattice of the trend/range regime noise
_TREND_THRESHOLD = 0.55  # |regime| below this: ranging
_TREND_UNIT = 0.028  # daily log drift of a unit trend, the same for every symbol so levels stay bounded
_TREND_DRIFT = 2.2  # daily drift, in units, per unit of regime beyond the threshold
_TREND_NOISE = 0.3  # random daily drift, in units
_TREND_PHI = 0.94  # daily mean reversion of the trend level
_TREND_TAPS = 96
_CLIP_UP = 0.3  # soft bounds of ``slow`` in log terms: a year stays within about -50% .. +60%
_CLIP_DOWN = 0.55

# Stream numbers: one independent hash stream per use.
_S_FINE, _S_MID, _S_SLOW, _S_TREND, _S_VOL, _S_SPREAD, _S_VOLUME = 0, 10, 20, 30, 40, 50, 60


@dataclass(frozen=True, slots=True)
class SymbolProfile:
    """What makes a symbol look like itself: its level, tick, lot, volatility, liquidity and spread."""

    base_price: float
    price_decimals: int
    daily_vol: float
    quote_volume_per_day: float
    volume_decimals: int
    spread_bps: float

    @property
    def tick(self) -> float:
        return 10.0**-self.price_decimals


_PROFILES: dict[str, SymbolProfile] = {
    "BTCUSDT": SymbolProfile(65000.0, 2, 0.028, 1.5e9, 5, 1.0),
    "ETHUSDT": SymbolProfile(3400.0, 2, 0.035, 7.0e8, 4, 1.2),
    "BNBUSDT": SymbolProfile(590.0, 2, 0.030, 8.0e7, 3, 2.0),
    "SOLUSDT": SymbolProfile(150.0, 2, 0.048, 2.5e8, 2, 2.0),
    "ADAUSDT": SymbolProfile(0.45, 4, 0.042, 3.0e7, 1, 3.0),
    "DOTUSDT": SymbolProfile(6.5, 3, 0.045, 1.5e7, 2, 3.0),
    "XRPUSDT": SymbolProfile(0.55, 4, 0.040, 6.0e7, 1, 2.5),
    "LINKUSDT": SymbolProfile(15.0, 3, 0.048, 2.5e7, 2, 3.0),
}


@lru_cache(maxsize=1024)
def symbol_profile(symbol: str) -> SymbolProfile:
    """Return the profile of a known symbol, or a deterministic one derived from the name."""
    name = normalize_symbol(symbol)
    known = _PROFILES.get(name)
    if known is not None:
        return known
    u = (_splitmix(_symbol_hash(name) ^ 0x5EED) >> 11) * 2.0**-53
    level = 10.0 ** (-1.0 + 4.0 * u)  # 0.1 .. 1000, log-uniform
    magnitude = math.floor(math.log10(level))
    return SymbolProfile(
        base_price=round(level, 2 - magnitude),  # three significant digits
        price_decimals=min(8, max(0, 4 - magnitude)),
        daily_vol=0.045,
        quote_volume_per_day=2.0e7,
        volume_decimals=min(6, max(0, magnitude + 1)),
        spread_bps=3.0,
    )


def prices_at(seed: int, symbol: str, times: np.ndarray) -> np.ndarray:
    """Return model prices at ``times`` (float64 epoch seconds, any shape), rounded to the tick."""
    profile = symbol_profile(symbol)
    sigma = profile.daily_vol / math.sqrt(_DAY)  # per sqrt(second)
    t = np.ascontiguousarray(times, dtype=np.float64)
    prices = np.empty(t.shape, dtype=np.float64)
    if t.size == 0:
        return prices
    flat_t, flat_p = t.reshape(-1), prices.reshape(-1)
    knots = _knot_minutes(flat_t)
    level, vol = _minute_knots(seed, symbol, knots * _MINUTE, sigma)
    level += math.log(profile.base_price)
    dense = int(knots[-1] - knots[0]) + 1 == knots.size
    for lo in range(0, flat_t.size, _CHUNK):  # every value is elementwise, so chunks change nothing
        chunk = flat_t[lo : lo + _CHUNK]
        log_price = _interpolate_knots(chunk, knots, dense, level, vol, seed, symbol, sigma)
        np.exp(log_price, out=log_price)
        flat_p[lo : lo + _CHUNK] = np.round(log_price, profile.price_decimals)
    return prices


def volatility_at(seed: int, symbol: str, times: np.ndarray) -> np.ndarray:
    """Return the volatility multiplier at ``times``: regime times session cycle, about 1 on average."""
    t = np.asarray(times, dtype=np.float64)
    return _vol_regime(stream_key(seed, symbol, _S_VOL), t) * session_activity(t) ** 0.35


def session_activity(times: np.ndarray) -> np.ndarray:
    """Return the activity cycle, mean 1: busiest in the London and New York sessions, quieter at weekends."""
    t = np.asarray(times, dtype=np.float64)
    hour = np.mod(t, _DAY) / 3600.0
    weekday = np.floor_divide(t, _DAY).astype(np.int64) % 7  # 1970-01-01 was a Thursday: 2, 3 = Sat, Sun
    activity = 0.55 + 0.3 * _bump(hour, 2.0, 3.0) + 0.45 * _bump(hour, 9.5, 2.5) + 0.75 * _bump(hour, 15.5, 2.5)
    return activity * np.where((weekday == 2) | (weekday == 3), 0.7, 1.0) * (1.0 / 0.875)


def spreads_at(seed: int, symbol: str, times: np.ndarray, prices: np.ndarray) -> np.ndarray:
    """Return the ask-bid spread in price units: a few basis points, wider when volatile, at least a tick."""
    profile = symbol_profile(symbol)
    t = np.asarray(times, dtype=np.float64)
    minute = np.floor(t / _MINUTE).astype(np.int64)
    noise = np.exp(0.25 * hash_normals(stream_key(seed, symbol, _S_SPREAD), minute))
    bps = profile.spread_bps * volatility_at(seed, symbol, t) ** 0.8 * noise
    ticks = np.maximum(1.0, np.round(np.asarray(prices) * bps * 1e-4 / profile.tick))
    return np.round(ticks * profile.tick, profile.price_decimals)


def volumes_for(
    seed: int, symbol: str, minute_times: np.ndarray, closes: np.ndarray, ranges: np.ndarray
) -> np.ndarray:
    """Return one-minute volumes in base units, rounded to the lot.

    Volume follows the session cycle, has lognormal noise and grows with the minute's log high/low
    ``ranges`` relative to an ordinary range for the symbol, so busy minutes are the moving ones.
    """
    profile = symbol_profile(symbol)
    t = np.asarray(minute_times, dtype=np.float64)
    ordinary = 1.2 * profile.daily_vol * math.sqrt(_MINUTE / _DAY)
    surprise = 0.4 + 0.6 * np.asarray(ranges) / ordinary
    minute = np.floor(t / _MINUTE).astype(np.int64)
    noise = np.exp(0.4 * hash_normals(stream_key(seed, symbol, _S_VOLUME), minute) - 0.08)
    notional = profile.quote_volume_per_day / 1440.0 * session_activity(t) * surprise * noise
    lot = 10.0**-profile.volume_decimals
    return np.maximum(lot, np.round(notional / np.asarray(closes), profile.volume_decimals))


# --- hashing ---------------------------------------------------------------------------------


def _splitmix(x: int) -> int:
    z = (x + _GOLDEN) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


@lru_cache(maxsize=1024)
def _symbol_hash(name: str) -> int:
    """A stable 64-bit hash of a symbol (Python's ``hash()`` is salted per process)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")


@lru_cache(maxsize=8192)
def stream_key(seed: int, symbol: str, stream: int) -> int:
    """Return the key of an independent hash stream of (seed, normalised symbol, stream number)."""
    return _splitmix(_splitmix(_splitmix(seed & _MASK) ^ _symbol_hash(normalize_symbol(symbol))) ^ stream)


def _hash(key: int, index: np.ndarray) -> np.ndarray:
    """Output number ``index`` of the splitmix64 stream ``key``, in wrapping uint64."""
    z = index.astype(np.uint64) * np.uint64(_GOLDEN)
    z += np.uint64((key + _GOLDEN) & _MASK)
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z


def hash_normals(key: int, index: np.ndarray) -> np.ndarray:
    """Return one standard normal per integer ``index`` (Box-Muller on the two halves of the hash)."""
    h = _hash(key, np.asarray(index, dtype=np.int64))
    u1 = ((h >> np.uint64(32)).astype(np.float64) + 0.5) * 2.0**-32
    u2 = (h & np.uint64(0xFFFFFFFF)).astype(np.float64) * 2.0**-32
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def _lattice_values(key: int, index: np.ndarray, tail: float) -> np.ndarray:
    z = hash_normals(key, index)
    if tail:
        z *= np.exp(0.5 * tail * z * z) * (1.0 - 2.0 * tail) ** 0.75  # Tukey h, unit variance
    return z


def _phase(key: int) -> float:
    """The stream's lattice offset, in cells, so that octaves and symbols never line up."""
    return (key >> 11) * 2.0**-53


# --- value noise -----------------------------------------------------------------------------


def _noise(key: int, t: np.ndarray, spacing: float, *, ramp: float = 1.0) -> np.ndarray:
    """Value noise with unit lattice variance at ``spacing`` seconds; a smoothstep over the last ``ramp`` of a cell."""
    u = t * (1.0 / spacing) + _phase(key)
    cell = np.floor(u)
    frac = u - cell
    index = cell.astype(np.int64)
    lo, hi = int(index.min()), int(index.max()) + 1
    if hi - lo <= 4 * index.size + 64:
        values = _lattice_values(key, np.arange(lo, hi + 1, dtype=np.int64), 0.0)
        a, b = values[index - lo], values[index - lo + 1]
    else:
        a, b = _lattice_values(key, index, 0.0), _lattice_values(key, index + 1, 0.0)
    if ramp < 1.0:
        frac = np.clip((frac - (1.0 - ramp)) * (1.0 / ramp), 0.0, 1.0)
    frac = frac * frac * (3.0 - 2.0 * frac)
    b -= a
    b *= frac
    b += a
    return b


def _add_fine_noise(out: np.ndarray, key: int, t: np.ndarray, spacing: float, amplitude: float) -> None:
    """``out += amplitude * noise`` with linear ramps and fat-tailed values: the per-sample hot loop."""
    inverse, phase = 1.0 / spacing, _phase(key)
    u = np.multiply(t, inverse)
    u += phase
    cell = np.floor(u)
    u -= cell
    u -= 1.0 - _RAMP_FINE
    u *= 1.0 / _RAMP_FINE
    np.clip(u, 0.0, 1.0, out=u)
    index = cell.astype(np.int64)
    lo = int(np.floor(t.min() * inverse + phase))  # the cell is monotone in t
    hi = int(np.floor(t.max() * inverse + phase)) + 1
    if hi - lo <= 4 * t.size + 64:
        values = amplitude * _lattice_values(key, np.arange(lo, hi + 1, dtype=np.int64), _TAIL_H)
        index -= lo
        a = np.take(values, index)
        step = np.take(np.diff(values), index)
    else:
        a = amplitude * _lattice_values(key, index, _TAIL_H)
        step = amplitude * _lattice_values(key, index + 1, _TAIL_H)
        step -= a
    step *= u
    out += a
    out += step


def _bump(hour: np.ndarray, centre: float, width: float) -> np.ndarray:
    d = np.mod(hour - centre + 12.0, 24.0) - 12.0
    return np.exp(-0.5 * (d / width) ** 2)


# --- the model -------------------------------------------------------------------------------


def _vol_regime(key: int, t: np.ndarray) -> np.ndarray:
    n = np.zeros_like(t)
    for i, (spacing, weight) in enumerate(_VOL):
        n += weight * _noise(_splitmix(key ^ i), t, spacing)
    variance = 0.743 * sum(w * w for _, w in _VOL)  # smoothstep value noise keeps 74% of the lattice variance
    return np.exp(_VOL_ETA * n - _VOL_ETA**2 * variance)


def _trend(key: int, t: np.ndarray) -> np.ndarray:
    """Return the trend level: a mean-reverting sum of per-block drifts, linear inside a block."""
    u = t * (1.0 / _TREND_BLOCK) + _phase(key)
    cell = np.floor(u)
    first = int(cell.min()) - _TREND_TAPS + 1
    blocks = np.arange(first, int(cell.max()) + 2, dtype=np.int64)
    regime = _noise(_splitmix(key ^ 1), blocks * _TREND_BLOCK, _TREND_GATE)
    excess = np.sign(regime) * np.maximum(np.abs(regime) - _TREND_THRESHOLD, 0.0)
    drift = _TREND_UNIT * (_TREND_DRIFT * excess + _TREND_NOISE * hash_normals(_splitmix(key ^ 2), blocks))
    out = blocks.size - _TREND_TAPS + 1
    level = np.zeros(out)
    for j in range(_TREND_TAPS):  # fixed summation order: a block's level never depends on the window
        level += _TREND_PHI**j * drift[_TREND_TAPS - 1 - j : _TREND_TAPS - 1 - j + out]
    at = cell.astype(np.int64) - (first + _TREND_TAPS - 1)
    return level[at] + (level[at + 1] - level[at]) * (u - cell)


def _minute_knots(seed: int, symbol: str, t: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Return everything from ``mid`` up at whole-minute times ``t``: (slow + vol * mid, vol)."""
    vol = volatility_at(seed, symbol, t)
    mid = np.zeros_like(t)
    for i, spacing in enumerate(_MID):
        amplitude = _AMPLITUDE * sigma * math.sqrt(spacing)
        mid += amplitude * _noise(stream_key(seed, symbol, _S_MID + i), t, spacing, ramp=_RAMP)
    slow = _trend(stream_key(seed, symbol, _S_TREND), t)
    amplitude = _AMPLITUDE * sigma * math.sqrt(_SLOW)
    slow += amplitude * _noise(stream_key(seed, symbol, _S_SLOW), t, _SLOW, ramp=_RAMP)
    return _soft_clip(slow, _CLIP_UP, _CLIP_DOWN) + vol * mid, vol


def _soft_clip(x: np.ndarray, up: float, down: float) -> np.ndarray:
    """Squash ``x`` smoothly into (-down, up): the identity up to half a bound, then a tanh to the bound."""
    bound = np.where(x > 0.0, up, down)
    knee = 0.5 * bound
    over = np.maximum(np.abs(x) - knee, 0.0)
    return x - np.sign(x) * (over - knee * np.tanh(over / knee))


def _knot_minutes(t: np.ndarray) -> np.ndarray:
    """Return the sorted minute indices whose knots ``t`` needs: a dense range, or only those used when sparse."""
    lo = int(np.floor(t.min() * (1.0 / _MINUTE)))
    hi = int(np.floor(t.max() * (1.0 / _MINUTE))) + 1
    if hi - lo <= 2 * t.size + 64:
        return np.arange(lo, hi + 1, dtype=np.int64)
    minute = np.floor(t * (1.0 / _MINUTE)).astype(np.int64)
    return np.unique(np.concatenate((minute, minute + 1)))


def _interpolate_knots(
    t: np.ndarray,
    knots: np.ndarray,
    dense: bool,
    level: np.ndarray,
    vol: np.ndarray,
    seed: int,
    symbol: str,
    sigma: float,
) -> np.ndarray:
    """Return the log price for one chunk: knots interpolated inside the minute, plus vol * fine."""
    scaled = t * (1.0 / _MINUTE)
    minute = np.floor(scaled)
    weight = scaled - minute
    at = minute.astype(np.int64)
    if dense:
        at -= knots[0]
    else:
        at = np.searchsorted(knots, at)
    after = at + 1
    fine = np.zeros_like(t)
    for i, spacing in enumerate(_FINE):
        amplitude = _AMPLITUDE * sigma * math.sqrt(spacing)
        _add_fine_noise(fine, stream_key(seed, symbol, _S_FINE + i), t, spacing, amplitude)
    vol_t = np.take(vol, after)
    vol_a = np.take(vol, at)
    vol_t -= vol_a
    vol_t *= weight
    vol_t += vol_a
    fine *= vol_t
    log_price = np.take(level, after)
    level_a = np.take(level, at)
    log_price -= level_a
    log_price *= weight
    log_price += level_a
    log_price += fine
    return log_price
