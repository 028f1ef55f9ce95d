"""Domain: the vocabulary of tradewind (candles, timeframes, symbols, clocks, ports, errors)."""

from tradewind.domain.candle import Candle, check_candle
from tradewind.domain.clock import Clock, SimClock, SystemClock
from tradewind.domain.events import CandleClosed
from tradewind.domain.symbol import normalize_symbol
from tradewind.domain.timeframe import Timeframe, TimeframeName, parse_timeframe, parse_timeframe_name

__all__ = [
    "Candle",
    "CandleClosed",
    "Clock",
    "SimClock",
    "SystemClock",
    "Timeframe",
    "TimeframeName",
    "check_candle",
    "normalize_symbol",
    "parse_timeframe",
    "parse_timeframe_name",
]
