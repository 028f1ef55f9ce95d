"""Candle timeframes, named either the exchange way (``1m``, ``1h``) or the MetaTrader way (``M1``, ``H1``).

A ``Timeframe`` is one duration; the name a caller used is kept beside it (``TimeframeName``)
so that answers come back in the form that was asked.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from tradewind.domain.errors import InvalidTimeframe
from tradewind.domain.excerpt import excerpt

__all__ = ["MAX_TIMEFRAME_INPUT", "TIMEFRAME_PATTERN", "Timeframe", "TimeframeName", "parse_timeframe",
           "parse_timeframe_name"]

MAX_TIMEFRAME_INPUT = 16
"""Longest timeframe text looked at; anything longer is refused before it is parsed or cached."""

_VALUE_SECONDS = {"1m": 60, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "4h": 14400, "1d": 86400}


class Timeframe(enum.Enum):
    """A candle duration aligned to UTC boundaries; ``value`` is the canonical exchange-style name."""

    M1 = "1m"
    M5 = "5m"
    M15 = "15m"
    M30 = "30m"
    H1 = "1h"
    H4 = "4h"
    D1 = "1d"

    def __init__(self, value: str) -> None:
        # a plain attribute, not a property over a dict: it is read several times per candle
        self.seconds: int = _VALUE_SECONDS[value]

    @property
    def mt_name(self) -> str:
        """The MetaTrader name (``M1``, ``H4``, ``D1``)."""
        return self.name

    def bucket(self, ts: float) -> int:
        """Open time (epoch seconds) of the candle that contains ``ts``; days start at 00:00 UTC."""
        sec = self.seconds
        return int(ts // sec) * sec

    def __lt__(self, other: Timeframe) -> bool:
        return self.seconds < other.seconds

    def __str__(self) -> str:
        return self.value


_SECONDS: dict[Timeframe, int] = {tf: tf.seconds for tf in Timeframe}

_BY_NAME: dict[str, tuple[Timeframe, bool]] = {}
for _tf in Timeframe:
    _BY_NAME[_tf.value.lower()] = (_tf, False)
    _BY_NAME[_tf.name.lower()] = (_tf, True)


@dataclass(frozen=True, slots=True)
class TimeframeName:
    """A timeframe plus the naming family the caller used (MetaTrader or exchange)."""

    timeframe: Timeframe
    metatrader: bool

    def __str__(self) -> str:
        return self.timeframe.mt_name if self.metatrader else self.timeframe.value


def _any_case(name: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in name)


TIMEFRAME_PATTERN = r"^\s*(?:" + "|".join(_any_case(name) for name in sorted(_BY_NAME)) + r")\s*$"
"""What ``parse_timeframe_name`` accepts, as a regular expression (for the OpenAPI document)."""


def parse_timeframe_name(text: str, *, field: str = "timeframe") -> TimeframeName:
    """Parse ``1m``/``M1``/``h4``... case-insensitively, remembering which family was used."""
    known = _PARSED.get(text) if isinstance(text, str) else None
    if known is not None:
        return known
    short = isinstance(text, str) and len(text) <= MAX_TIMEFRAME_INPUT
    found = _BY_NAME.get(text.strip().lower()) if short else None
    if found is None:
        allowed = ", ".join(tf.value for tf in Timeframe) + " or " + ", ".join(tf.name for tf in Timeframe)
        raise InvalidTimeframe(f"invalid timeframe {excerpt(text)}: use one of {allowed}", field=field)
    name = TimeframeName(*found)
    if len(_PARSED) < 1024:
        _PARSED[text] = name
    return name


_PARSED: dict[str, TimeframeName] = {}


def parse_timeframe(text: str | Timeframe, *, field: str = "timeframe") -> Timeframe:
    """Parse a timeframe name in either family into a ``Timeframe``."""
    if isinstance(text, Timeframe):
        return text
    return parse_timeframe_name(text, field=field).timeframe
