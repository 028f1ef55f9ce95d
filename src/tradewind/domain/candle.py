"""The OHLCV candle and the rules every candle must keep."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from tradewind.domain.epoch import MAX_EPOCH_SECONDS
from tradewind.domain.errors import InvalidCandle
from tradewind.domain.excerpt import excerpt

__all__ = ["Candle", "check_candle"]


@dataclass(frozen=True, slots=True)
class Candle:
    """One OHLCV bar; ``time`` is its open time in UTC epoch seconds.

    ``spread`` is the ask-bid spread at the candle's last quote (``None`` when the feed gives no
    quotes); ``closed`` is False only for the forming candle of a live buffer.
    """

    time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    spread: float | None = None
    closed: bool = True

    def as_closed(self) -> Candle:
        return self if self.closed else replace(self, closed=True)

    def to_dict(self) -> dict[str, object]:
        return {
            "time": self.time,
            "open": self.open,
            "high": self.high,
            "low": self.low,
            "close": self.close,
            "volume": self.volume,
            "spread": self.spread,
            "closed": self.closed,
        }


def check_candle(
    time: object,
    open: object,
    high: object,
    low: object,
    close: object,
    volume: object,
    spread: object = None,
    *,
    row: int | None = None,
) -> Candle:
    """Build a ``Candle`` from raw values, or raise ``InvalidCandle`` naming the field and the row."""
    where = f"row {row}: " if row is not None else ""
    if isinstance(time, bool) or not isinstance(time, (int, float)) or not math.isfinite(time):
        raise InvalidCandle(f"{where}time must be a finite number, got {excerpt(time)}", field="time", row=row)
    if time < 0 or time != int(time):
        raise InvalidCandle(f"{where}time must be whole non-negative seconds, got {excerpt(time)}", field="time", row=row)
    if time > MAX_EPOCH_SECONDS:
        raise InvalidCandle(f"{where}time must be before the year 10000, got {excerpt(time)}", field="time", row=row)
    values: dict[str, float] = {}
    for name, value in (("open", open), ("high", high), ("low", low), ("close", close), ("volume", volume)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidCandle(f"{where}{name} must be a number, got {excerpt(value)}", field=name, row=row)
        number = float(value)
        if not math.isfinite(number):
            raise InvalidCandle(f"{where}{name} must be finite, got {value!r}", field=name, row=row)
        if number < 0:
            raise InvalidCandle(f"{where}{name} must not be negative, got {value!r}", field=name, row=row)
        values[name] = number
    if values["open"] <= 0 or values["close"] <= 0 or values["low"] <= 0:
        bad = next(n for n in ("open", "close", "low") if values[n] <= 0)
        raise InvalidCandle(f"{where}{bad} must be positive, got {values[bad]!r}", field=bad, row=row)
    if values["high"] < values["low"]:
        raise InvalidCandle(
            f"{where}high {values['high']!r} is below low {values['low']!r}", field="high", row=row
        )
    if values["high"] < max(values["open"], values["close"]):
        raise InvalidCandle(f"{where}high {values['high']!r} is below open or close", field="high", row=row)
    if values["low"] > min(values["open"], values["close"]):
        raise InvalidCandle(f"{where}low {values['low']!r} is above open or close", field="low", row=row)
    spread_value: float | None = None
    if spread is not None:
        if isinstance(spread, bool) or not isinstance(spread, (int, float)) or not math.isfinite(spread) or spread < 0:
            raise InvalidCandle(
                f"{where}spread must be a finite non-negative number, got {excerpt(spread)}", field="spread", row=row
            )
        spread_value = float(spread)
    return Candle(int(time), values["open"], values["high"], values["low"], values["close"], values["volume"], spread_value)
