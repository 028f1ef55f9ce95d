"""Standard technical indicators: one typed layer over TA-Lib, so nothing here re-implements one.

Three ways in, one set of numbers (the tests check they agree bit for bit):

- ``compute_indicators(bars)``: whole series, NaN during warm-up (charts, backtests);
- ``latest_indicators(bars)``: the last closed bar only (each analysis), ``None`` not NaN;
- ``IndicatorStream``: live, O(1) per closed candle, on TA-Lib 0.8's stateful stream handles.

Why ``latest_indicators`` runs TA-Lib over the whole history instead of a tail window: TA-Lib
seeds EMA, RSI, ATR, ADX and MACD at the first bar, so they depend on all of it, and its SMA,
BBANDS and STOCH smoothing keep a running sum whose rounding depends on where the input starts
(a 20-bar tail gives an SMA a few ulps off). Over 500 candles a full pass costs microseconds.

TA-Lib's global settings (unstable periods, compatibility) are left at their defaults; changing
them would change every value here, and ``MIN_CANDLES`` is read once at import.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

# TA-Lib imports pandas and polars, when installed, only to accept their Series; we pass ndarrays
# (and call the unwrapped functions below). Hidden for the length of this import, pandas no longer
# costs an idle server 41 MB resident; a process that imported it before keeps talib's wrappers.
_HIDDEN = [name for name in ("pandas", "polars") if name not in sys.modules]
sys.modules.update(dict.fromkeys(_HIDDEN))  # None: "import pandas" fails as if it were not installed
try:
    import talib
    from talib import abstract
    from talib import stream as ta_stream
finally:
    for _name in _HIDDEN:
        if sys.modules.get(_name, ...) is None:
            del sys.modules[_name]

from tradewind.domain.bars import Bars  # noqa: E402
from tradewind.domain.errors import InvalidCandle  # noqa: E402

__all__ = [
    "INDICATORS",
    "MIN_CANDLES",
    "IndicatorSnapshot",
    "IndicatorStream",
    "compute_indicators",
    "latest_indicators",
    "rsi",
]

_BAR = ("open", "high", "low", "close", "volume")
_USED = ("high", "low", "close", "volume")  # no indicator here reads the open


@dataclass(frozen=True)
class _Spec:
    """One TA-Lib call and the indicator names its outputs get, in TA-Lib's output order."""

    function: str
    params: Mapping[str, int | float]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    args: tuple[int | float, ...] = field(init=False)  # params, positionally: cheaper than keywords
    batch: Callable[..., Any] = field(init=False, repr=False)
    stream: Callable[..., Any] = field(init=False, repr=False)
    need: int = field(init=False)

    def __post_init__(self) -> None:
        described = abstract.Function(self.function, **self.params)
        set_ = partial(object.__setattr__, self)
        set_("args", tuple(described.parameters.values()))  # in TA-Lib's own parameter order
        batch = getattr(talib, self.function)
        # With pandas or polars importable, talib wraps each function in a Python layer that
        # looks for Series among the arguments; we pass only ndarrays, so call the Cython one.
        set_("batch", getattr(batch, "__wrapped__", batch))
        set_("stream", getattr(ta_stream, self.function))
        set_("need", int(described.lookback) + 1)

    def call(self, inputs: Mapping[str, Any]) -> tuple[Any, ...]:
        """The batch call on ``inputs`` (column name -> array), outputs as a tuple."""
        return _as_tuple(self.batch(*[inputs[name] for name in self.inputs], *self.args))

    def open(self, inputs: Mapping[str, Any]) -> Any:
        """A stream handle on the whole of ``inputs``; ``talib.InsufficientHistory`` when too short."""
        return self.stream(*[inputs[name] for name in self.inputs], *self.args)


_C = ("close",)
_HLC = ("high", "low", "close")
_SMA = 0  # TA-Lib MA_Type.SMA
_SPECS: tuple[_Spec, ...] = (
    _Spec("SMA", {"timeperiod": 20}, _C, ("sma_20",)),
    _Spec("SMA", {"timeperiod": 50}, _C, ("sma_50",)),
    _Spec("EMA", {"timeperiod": 9}, _C, ("ema_9",)),
    _Spec("EMA", {"timeperiod": 12}, _C, ("ema_12",)),
    _Spec("EMA", {"timeperiod": 21}, _C, ("ema_21",)),
    _Spec("EMA", {"timeperiod": 26}, _C, ("ema_26",)),
    _Spec("EMA", {"timeperiod": 50}, _C, ("ema_50",)),
    _Spec("RSI", {"timeperiod": 14}, _C, ("rsi_14",)),
    _Spec(
        "STOCH",
        {"fastk_period": 14, "slowk_period": 3, "slowk_matype": _SMA, "slowd_period": 3, "slowd_matype": _SMA},
        _HLC,
        ("stoch_k", "stoch_d"),
    ),
    _Spec("MACD", {"fastperiod": 12, "slowperiod": 26, "signalperiod": 9}, _C, ("macd", "macd_signal", "macd_hist")),
    _Spec(
        "BBANDS",
        {"timeperiod": 20, "nbdevup": 2.0, "nbdevdn": 2.0, "matype": _SMA},
        _C,
        ("bb_upper", "bb_middle", "bb_lower"),
    ),
    _Spec("ATR", {"timeperiod": 14}, _HLC, ("atr_14",)),
    _Spec("ADX", {"timeperiod": 14}, _HLC, ("adx_14",)),
    _Spec("SMA", {"timeperiod": 20}, ("volume",), ("volume_sma_20",)),
)
_GROUPS = tuple(dict.fromkeys(spec.inputs for spec in _SPECS))  # the distinct input tuples
_RATIO = "volume_ratio"  # last volume / volume_sma_20: derived, not a TA-Lib call
_RATIO_BASE = "volume_sma_20"

INDICATORS: tuple[str, ...] = tuple(name for spec in _SPECS for name in spec.outputs) + (_RATIO,)
MIN_CANDLES: dict[str, int] = {name: spec.need for spec in _SPECS for name in spec.outputs}
MIN_CANDLES[_RATIO] = MIN_CANDLES[_RATIO_BASE]


@dataclass(frozen=True)
class IndicatorSnapshot:
    """Indicator values at one bar; ``None`` (never NaN) where a value is undefined.

    ``missing`` holds, for every ``None`` value, the candles that indicator needs. It is above
    ``candles`` during warm-up; otherwise the value is undefined for another reason (a
    ``volume_ratio`` over zero average volume).
    """

    values: dict[str, float | None]
    missing: dict[str, int]
    candles: int

    def __getitem__(self, name: str) -> float | None:
        return self.values[name]


def rsi(close: np.ndarray, period: int) -> np.ndarray:
    """TA-Lib's RSI of any ``period`` (Wilder's smoothing), NaN during its warm-up."""
    return talib.RSI(np.ascontiguousarray(close, dtype=np.float64), timeperiod=int(period))  # type: ignore[no-any-return]


def compute_indicators(bars: Bars) -> dict[str, np.ndarray]:
    """Every indicator over the whole of ``bars``: float64 arrays aligned with it, NaN in warm-up."""
    n = len(bars)
    columns = _columns(bars)
    out: dict[str, np.ndarray] = {}
    for spec in _SPECS:
        if n < spec.need:  # TA-Lib would answer all-NaN; skip the call
            out.update((name, np.full(n, np.nan)) for name in spec.outputs)
            continue
        out.update(zip(spec.outputs, spec.call(columns)))
    base = out[_RATIO_BASE]
    ratio = np.full(n, np.nan)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        np.divide(columns["volume"], base, out=ratio, where=base > 0)
    ratio[~np.isfinite(ratio)] = np.nan
    out[_RATIO] = ratio
    return out


def latest_indicators(bars: Bars) -> IndicatorSnapshot:
    """The indicators at the last bar of ``bars``, equal to the last row of ``compute_indicators``.

    Skips the TA-Lib calls that cannot have a value yet, and builds no derived arrays.
    """
    n = len(bars)
    raw: dict[str, float] = {}
    if n:
        columns = _columns(bars)
        arrays = {group: tuple(columns[name] for name in group) for group in _GROUPS}
        for spec in _SPECS:  # the hot path: one plain TA-Lib call per function, nothing more
            if n < spec.need:
                continue
            result = spec.batch(*arrays[spec.inputs], *spec.args)
            if isinstance(result, tuple):
                for name, out in zip(spec.outputs, result):
                    raw[name] = out.item(-1)
            else:
                raw[spec.outputs[0]] = result.item(-1)
        return _snapshot(raw, columns["volume"].item(-1), n)
    return _snapshot(raw, math.nan, 0)


class IndicatorStream:
    """Live, incremental indicators on TA-Lib 0.8's stream handles (``talib.stream.X``).

    A handle is opened on the whole history, as the batch call sees it, and then fed one closed
    candle at a time; its values are bit-identical to ``compute_indicators`` on the same candles.
    Until an indicator has enough candles to open its handle, the candles are kept and the
    handle is opened as soon as it can be. One owner: not safe to share across threads.
    """

    def __init__(self, bars: Bars) -> None:
        columns = _columns(bars)
        self._candles = len(bars)
        self._handles: list[Any | None] = [None] * len(_SPECS)
        self._history: dict[str, list[float]] | None = None
        raw: dict[str, float] = {}
        for index, spec in enumerate(_SPECS):
            raw.update(self._open(index, spec, columns))
        if not all(self._handles):
            self._history = {name: columns[name].tolist() for name in _USED}
        volume = float(columns["volume"][-1]) if self._candles else math.nan
        self._snapshot = _snapshot(raw, volume, self._candles)

    @property
    def snapshot(self) -> IndicatorSnapshot:
        """The values at the last closed candle (after ``__init__`` or the latest ``update``)."""
        return self._snapshot

    def update(self, o: float, h: float, l: float, c: float, v: float) -> IndicatorSnapshot:
        """Advance by one newly closed candle; a non-finite value raises and changes nothing."""
        bar = _check_bar(o, h, l, c, v)
        inputs = {group: tuple(bar[name] for name in group) for group in _GROUPS}
        raw: dict[str, float] = {}
        for index, spec in enumerate(_SPECS):
            handle = self._handles[index]
            if handle is not None:
                result = handle.update(*inputs[spec.inputs])
                raw.update(zip(spec.outputs, _as_tuple(result)))
        self._candles += 1
        if self._history is not None:
            for name, column in self._history.items():
                column.append(bar[name])
            columns = {name: np.array(column) for name, column in self._history.items()}
            for index, spec in enumerate(_SPECS):
                if self._handles[index] is None:
                    raw.update(self._open(index, spec, columns))
            if all(self._handles):
                self._history = None  # every handle carries its own state from here on
        self._snapshot = _snapshot(raw, bar["volume"], self._candles)
        return self._snapshot

    def peek(self, o: float, h: float, l: float, c: float, v: float) -> IndicatorSnapshot:
        """The values if the forming candle closed as given now (``candles`` counts it); commits nothing."""
        bar = _check_bar(o, h, l, c, v)
        inputs = {group: tuple(bar[name] for name in group) for group in _GROUPS}
        raw: dict[str, float] = {}
        columns: dict[str, np.ndarray] | None = None
        for index, spec in enumerate(_SPECS):
            handle = self._handles[index]
            if handle is not None:
                result = handle.peek(*inputs[spec.inputs])
            else:
                if self._history is None or self._candles + 1 < spec.need:
                    continue
                if columns is None:
                    columns = {name: np.array([*column, bar[name]]) for name, column in self._history.items()}
                try:  # a throwaway handle on history + this candle: the value update would give
                    result = spec.open(columns).value
                except talib.InsufficientHistory:
                    continue
            raw.update(zip(spec.outputs, _as_tuple(result)))
        return _snapshot(raw, bar["volume"], self._candles + 1)

    def _open(self, index: int, spec: _Spec, columns: Mapping[str, np.ndarray]) -> dict[str, float]:
        """Open ``spec``'s handle on the whole history when it is long enough; its current values."""
        if len(columns["close"]) < spec.need:
            return {}
        try:
            handle = spec.open(columns)
        except talib.InsufficientHistory:  # a seeding that wants more than the lookback: retry later
            return {}
        self._handles[index] = handle
        return dict(zip(spec.outputs, _as_tuple(handle.value)))


def _columns(bars: Bars) -> dict[str, np.ndarray]:
    """The columns TA-Lib reads, as the contiguous float64 it requires (no copy when they are)."""
    return {name: np.ascontiguousarray(getattr(bars, name), dtype=np.float64) for name in _USED}


def _as_tuple(result: Any) -> tuple[Any, ...]:
    """TA-Lib answers a multi-output function with a tuple, a single-output one with a bare value."""
    return result if isinstance(result, tuple) else (result,)


def _check_bar(o: float, h: float, l: float, c: float, v: float) -> dict[str, float]:
    """Reject a non-finite candle before any handle moves, so the handles never drift apart."""
    bar = dict(zip(_BAR, (float(o), float(h), float(l), float(c), float(v))))
    for name, value in bar.items():
        if not math.isfinite(value):
            raise InvalidCandle(f"{name} must be finite, got {value!r}", field=name)
    return bar


def _snapshot(raw: Mapping[str, float], volume: float, candles: int) -> IndicatorSnapshot:
    """Turn raw TA-Lib values (absent or NaN = no value) into a snapshot with ``missing`` filled."""
    values: dict[str, float | None] = {}
    missing: dict[str, int] = {}
    for name in INDICATORS:
        if name == _RATIO:
            base = values[_RATIO_BASE]
            value = volume / base if base is not None and base > 0 else math.nan
        else:
            value = raw.get(name, math.nan)
        if math.isfinite(value):
            values[name] = value
        else:
            values[name] = None
            missing[name] = MIN_CANDLES[name]
    return IndicatorSnapshot(values, missing, candles)
