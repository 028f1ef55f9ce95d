"""The strategy interface: closed candles, the position and the clock in, an ``OrderIntent`` out.

A strategy sees nothing else (no broker, no database, no wall clock), so the same class runs
live, on paper and in a backtest, and cannot look ahead: ``candles`` are the closed candles of its
timeframe up to ``time``, read-only. A strategy that trades an analyst's signals sets
``uses_signals``; the engine then asks the analyst at each cycle and passes the signal.

A strategy may also declare its entries and exits over whole arrays (``signals``), from causal
indicators only; the backtester then runs it at array speed, and the per-candle path must give the
same trades (a test holds it to that). Parameters are declared with their type and range, so a
wrong one is a 4xx naming ``params.<name>``; a user strategy is a small class loaded by dotted
path (``my_package.module:MyStrategy``).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from tradewind.domain.bars import Bars
from tradewind.domain.errors import ValidationError
from tradewind.domain.excerpt import excerpt
from tradewind.domain.orders import OrderIntent, Position
from tradewind.domain.signal import Signal

__all__ = ["ArraySignals", "Param", "Strategy", "StrategyContext", "StrategyFactory", "load_strategy", "parse_params"]


@dataclass(frozen=True, slots=True)
class StrategyContext:
    """What a strategy may see at one decision."""

    symbol: str
    time: float  # now: the close time of the newest candle
    candles: Bars  # closed candles of the strategy's timeframe, oldest first, read-only
    position: Position | None
    signal: Signal | None  # the analyst's signal for this cycle (``uses_signals``), else None
    params: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ArraySignals:
    """A strategy's decisions over a whole history: at bar ``i``, ``enter[i]`` is +1 (long), -1
    (short) or 0, and ``exit[i]`` True closes the position; each array holds causal values only."""

    enter: np.ndarray
    exit: np.ndarray


@dataclass(frozen=True, slots=True)
class Param:
    """One declared parameter: its type, default and bounds."""

    kind: type
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""

    def parse(self, name: str, value: object) -> Any:
        field = f"params.{name}"
        if self.kind is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
                return value.strip().lower() in ("true", "1", "yes")
            raise ValidationError(f"{name} must be true or false, got {excerpt(value)}", field=field)
        try:
            if isinstance(value, bool):
                raise ValueError
            number = self.kind(value)
        except (TypeError, ValueError, OverflowError):
            raise ValidationError(f"{name} must be {self.kind.__name__}, got {excerpt(value)}", field=field) from None
        if self.kind is int and isinstance(value, float) and not value.is_integer():
            raise ValidationError(f"{name} must be a whole number, got {excerpt(value)}", field=field)
        if isinstance(number, float) and not math.isfinite(number):
            raise ValidationError(f"{name} must be finite, got {excerpt(value)}", field=field)
        if (self.minimum is not None and number < self.minimum) or (self.maximum is not None and number > self.maximum):
            if self.minimum is None:
                bounds = f"at most {self.maximum:g}"
            elif self.maximum is None:
                bounds = f"at least {self.minimum:g}"
            else:
                bounds = f"within {self.minimum:g}..{self.maximum:g}"
            raise ValidationError(f"{name} must be {bounds}, got {excerpt(number)}", field=field)
        return number


@runtime_checkable
class Strategy(Protocol):
    name: str
    uses_signals: bool
    lookback: int  # how many closed candles a decision reads (the engine fetches no more)

    def decide(self, ctx: StrategyContext) -> OrderIntent | None:
        """The intent for this decision, or None to do nothing."""
        ...


StrategyFactory = Callable[[Mapping[str, Any]], Strategy]


class _Declared(Protocol):
    params: ClassVar[Mapping[str, Param]]


def parse_params(declared: Mapping[str, Param], given: Mapping[str, object] | None) -> dict[str, Any]:
    """``given`` checked against ``declared`` (unknown names, types, ranges), defaults filled in."""
    if given is not None and not isinstance(given, Mapping):
        raise ValidationError(f"params must be an object of names to values, got {excerpt(given)}", field="params")
    given = dict(given or {})
    unknown = sorted(set(given) - set(declared))
    if unknown:
        known = ", ".join(sorted(declared)) or "none"
        raise ValidationError(f"unknown parameter {excerpt(unknown[0])} (known: {known})",
                              field=f"params.{str(unknown[0])[:40]}")
    return {name: param.parse(name, given[name]) if name in given else param.default
            for name, param in declared.items()}


def load_strategy(name: str, params: Mapping[str, object] | None, *,
                  builtins: Mapping[str, type[Any]], paths: Collection[str] | None = None) -> Strategy:
    """A strategy by its built-in name (``sma-cross``) or dotted path (``pkg.module:Class``).

    ``paths`` lists the dotted paths allowed (None: any, for a trusted caller such as the CLI or
    the settings): a request must not make the server import a module of its choosing."""
    if not isinstance(name, str) or not name or len(name) > 200:
        raise ValidationError(f"strategy must be a name or a dotted path, got {excerpt(name)}", field="strategy")
    cls = builtins.get(name)
    if cls is None:
        module_name, sep, attribute = name.partition(":")
        if not sep or not module_name or not attribute:
            raise ValidationError(f"unknown strategy {excerpt(name)}: use one of {', '.join(sorted(builtins))} "
                                  "or a dotted path module:Class", field="strategy")
        if paths is not None and name not in paths:
            raise ValidationError(f"strategy {excerpt(name)} is not allowed here: use one of "
                                  f"{', '.join(sorted(builtins))} or a path listed in TRADEWIND_TRADING_STRATEGY_PATHS",
                                  field="strategy")
        try:
            cls = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as exc:
            raise ValidationError(f"cannot load strategy {excerpt(name)}: {type(exc).__name__}", field="strategy") from None
    if not isinstance(cls, type):
        raise ValidationError(f"{excerpt(name)} is not a strategy class", field="strategy")
    declared: Mapping[str, Param] = getattr(cls, "params", {})
    if not isinstance(declared, Mapping):
        declared = {}
    parsed = parse_params(declared, params)
    try:
        strategy = cls(parsed)
    except TypeError as exc:  # not a strategy's constructor (a class that is no strategy, or a broken one)
        raise ValidationError(f"{excerpt(name)} cannot be built as a strategy: {type(exc).__name__}",
                              field="strategy") from None
    if not isinstance(strategy, Strategy):
        raise ValidationError(f"{excerpt(name)} is not a strategy (needs name, uses_signals, lookback and decide)",
                              field="strategy")
    return strategy
