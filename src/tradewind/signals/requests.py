"""Turning a caller's candles and context into an ``AnalysisRequest``, or a 4xx naming the field.

Fields are named by what they are (``candles.1h[7].high``, ``strategies``, ``risk_level``); each
door names them as its callers know them (the API: the seed's ``timeframe_data.1h[7].high``).

The rules: known timeframe keys, at least one and at most ``max_candles`` candles per timeframe,
every candle finite and consistent (``domain.bars.check_bars``), timestamps strictly increasing,
a ``current_price`` within ``max_price_deviation`` of the last close, known strategy names and
risk level. Nothing is analysed or stored when one fails.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from tradewind.analysts.base import AnalysisRequest, RiskLevel
from tradewind.domain.bars import Bars, check_bars
from tradewind.domain.epoch import MAX_EPOCH_MS, check_epoch_ms
from tradewind.domain.errors import InvalidCandle, ValidationError
from tradewind.domain.excerpt import excerpt
from tradewind.domain.signal import STRATEGIES
from tradewind.domain.symbol import normalize_symbol
from tradewind.domain.timeframe import Timeframe, parse_timeframe

__all__ = ["RISK_LEVELS", "bars_from_rows", "build_request", "check_strategies"]

RISK_LEVELS: tuple[RiskLevel, ...] = ("Conservative", "Moderate", "Aggressive")


def bars_from_rows(rows: Sequence[Sequence[float]] | np.ndarray, *, field: str = "candles") -> Bars:
    """Rows of ``(timestamp_ms, open, high, low, close, volume)`` as Bars (time in seconds).

    A timestamp past the year 9999 is refused here, before the conversion to int64 could wrap it.
    """
    array = np.asarray(rows, dtype=np.float64).reshape(-1, 6)
    times_ms = array[:, 0]
    late = np.flatnonzero(~(times_ms <= MAX_EPOCH_MS))
    if late.size:
        i = int(late[0])
        raise InvalidCandle(
            f"{field}[{i}].timestamp must be epoch milliseconds before the year 10000, got {excerpt(times_ms[i])}",
            field=f"{field}[{i}].timestamp", row=i,
        )
    return Bars(
        (times_ms // 1000).astype(np.int64), array[:, 1].copy(), array[:, 2].copy(), array[:, 3].copy(),
        array[:, 4].copy(), array[:, 5].copy(), np.full(array.shape[0], np.nan),
    )


def check_strategies(names: Sequence[str] | None, *, field: str) -> tuple[str, ...]:
    if names is None:
        return STRATEGIES
    for index, name in enumerate(names):
        if name not in STRATEGIES:
            raise ValidationError(
                f"unknown strategy {excerpt(name)}: use one of {', '.join(STRATEGIES)}", field=f"{field}[{index}]"
            )
    if not names:
        raise ValidationError("name at least one strategy, or leave the field out", field=field)
    return tuple(dict.fromkeys(names))


def build_request(
    *,
    symbol: str,
    timeframe_data: Mapping[str, Sequence[Sequence[float]] | np.ndarray | Bars],
    timestamp_ms: int,
    current_price: float | None = None,
    selected_strategies: Sequence[str] | None = None,
    risk_level: str | None = None,
    market_condition: str | None = None,
    max_candles: int = 5000,
    max_price_deviation: float = 0.2,
) -> AnalysisRequest:
    canonical = normalize_symbol(symbol)
    check_epoch_ms(timestamp_ms, field="timestamp")
    if not timeframe_data:
        raise ValidationError("candles must hold at least one timeframe", field="candles")
    candles: dict[Timeframe, Bars] = {}
    for key, rows in timeframe_data.items():
        field = f"candles.{key}"
        timeframe = parse_timeframe(key, field=field)
        if timeframe in candles:
            raise ValidationError(f"timeframe {timeframe.value} is given twice", field=field)
        if len(rows) > max_candles:
            raise ValidationError(f"at most {max_candles} candles per timeframe, got {len(rows)}", field=field)
        bars = rows if isinstance(rows, Bars) else bars_from_rows(rows, field=field)
        check_bars(bars, field=field)
        candles[timeframe] = bars
    if current_price is not None:
        primary = candles[min(candles, key=lambda tf: tf.seconds)]
        last = float(primary.close[-1])
        if not np.isfinite(current_price) or current_price <= 0:
            raise ValidationError(
                f"current_price must be a positive number, got {excerpt(current_price)}", field="current_price"
            )
        if abs(current_price / last - 1) > max_price_deviation:
            raise ValidationError(
                f"current_price {current_price} is {abs(current_price / last - 1):.0%} from the last close {last}"
                f" (allowed {max_price_deviation:.0%})",
                field="current_price",
            )
    strategies = check_strategies(selected_strategies, field="strategies")
    if risk_level is not None and risk_level not in RISK_LEVELS:
        raise ValidationError(f"risk_level must be one of {', '.join(RISK_LEVELS)}", field="risk_level")
    return AnalysisRequest(
        symbol=canonical,
        candles=candles,
        timestamp_ms=timestamp_ms,
        current_price=current_price,
        selected_strategies=strategies,
        risk_level=risk_level or "Moderate",  # type: ignore[arg-type]
        market_condition_hint=market_condition,
    )
