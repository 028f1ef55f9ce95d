"""Bus events as bytes and back, so they can cross processes (the Redis bus).

Every event is a frozen dataclass of the domain (``domain/events.py``) built from other domain
dataclasses (``Signal``, ``Fill``, ``Position``, ``Trade``, ``Candle``), enums (``Timeframe``),
tuples and JSON values. They are encoded with orjson as tagged objects: a dataclass as
``{"__dc__": name, ...fields}``, a tuple as ``{"__tuple__": [...]}``, an enum as
``{"__enum__": name, "value": ...}``; decoding rebuilds the very same objects (``==``). Only
classes registered here are rebuilt, so a message can never name an arbitrary class to construct.
NumPy scalars and arrays (an analyst's ``extras``) become plain numbers and lists.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any

import orjson

from tradewind.domain import events
from tradewind.domain.candle import Candle
from tradewind.domain.orders import Fill, Order, Position, Trade
from tradewind.domain.signal import MarketAnalysis, RiskAssessment, Signal
from tradewind.domain.timeframe import Timeframe

__all__ = ["CodecError", "decode", "encode", "rebuild"]

_CLASSES: dict[str, type] = {
    cls.__name__: cls
    for cls in (events.CandleClosed, events.SignalCreated, events.OrderFilled, events.PositionChanged,
                events.TradeClosed, events.RiskDenied, events.DrawdownAlert, events.ReflectionCreated,
                events.StatisticsUpdated, events.OrderSubmitted, Candle, Fill, Order, Position, Trade, Signal,
                MarketAnalysis, RiskAssessment)
}
_ENUMS: dict[str, type[enum.Enum]] = {"Timeframe": Timeframe}


class CodecError(ValueError):
    """The bytes are not an encoded event of a known class."""


def encode(value: object) -> bytes:
    try:
        return orjson.dumps(_tag(value), option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
    except TypeError as exc:  # orjson.JSONEncodeError is one
        raise CodecError(f"not serialisable: {exc}") from exc


def decode(data: bytes | str) -> Any:
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise CodecError(f"not JSON: {exc}") from exc
    return rebuild(raw)


def _tag(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if type(value).__name__ not in _CLASSES:
            raise CodecError(f"{type(value).__name__} is not an event class the bus carries")
        body = {f.name: _tag(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
        return {"__dc__": type(value).__name__, **body}
    if isinstance(value, enum.Enum):
        return {"__enum__": type(value).__name__, "value": value.value}
    if isinstance(value, tuple):
        return {"__tuple__": [_tag(v) for v in value]}
    if isinstance(value, list):
        return [_tag(v) for v in value]
    if isinstance(value, Mapping):
        return {k.value if isinstance(k, enum.Enum) else k: _tag(v) for k, v in value.items()}
    return value  # str, numbers, None, numpy (orjson serialises them)


def rebuild(value: object) -> object:
    if isinstance(value, list):
        return [rebuild(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__dc__" in value:
        name = value["__dc__"]
        cls = _CLASSES.get(name) if isinstance(name, str) else None
        if cls is None:
            raise CodecError(f"unknown event class {str(name)[:40]!r}")
        try:
            return cls(**{k: rebuild(v) for k, v in value.items() if k != "__dc__"})
        except TypeError as exc:
            raise CodecError(f"bad {name}: {exc}") from exc
    if "__enum__" in value:
        kind = _ENUMS.get(value["__enum__"]) if isinstance(value["__enum__"], str) else None
        if kind is None:
            raise CodecError(f"unknown enum {str(value['__enum__'])[:40]!r}")
        try:
            return kind(value.get("value"))
        except ValueError as exc:
            raise CodecError(str(exc)) from exc
    if "__tuple__" in value and len(value) == 1:
        items = value["__tuple__"]
        return tuple(rebuild(v) for v in items) if isinstance(items, list) else ()
    return {k: rebuild(v) for k, v in value.items()}
