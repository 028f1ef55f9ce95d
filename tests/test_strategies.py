"""Strategies: declared parameters, loading by name or dotted path, and the reference strategies'
decisions on constructed inputs; sma-cross's array signals make the decisions its per-candle path makes."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tradewind.domain.bars import Bars
from tradewind.domain.errors import ValidationError
from tradewind.domain.orders import OrderIntent, Position
from tradewind.domain.signal import MarketAnalysis, RiskAssessment, Signal
from tradewind.trading.strategies import BUILTIN, RsiReversion, SignalFollower, SmaCross
from tradewind.trading.strategies.sma_cross import sma
from tradewind.trading.strategy import Param, Strategy, StrategyContext, load_strategy, parse_params

T = 1_700_000_000 // 60 * 60


def bars(closes: list[float] | np.ndarray) -> Bars:
    close = np.asarray(closes, dtype=np.float64)
    n = close.shape[0]
    return Bars(T + 60 * np.arange(n, dtype=np.int64), close.copy(), close + 1, close - 1, close.copy(), np.ones(n),
                np.full(n, np.nan))


def position(side: str) -> Position:
    return Position("BTCUSDT", side, 1.0, 100.0, T)  # type: ignore[arg-type]


def ctx(closes: list[float] | np.ndarray | Bars, side: str | None = None, signal: Signal | None = None) -> StrategyContext:
    candles = closes if isinstance(closes, Bars) else bars(closes)
    return StrategyContext("BTCUSDT", float(T + 60 * len(candles)), candles, position(side) if side else None, signal, {})


def signal(direction: str, confidence: float = 0.8, *, stop: float | None = None, target: float | None = None,
           size: float = 0.5) -> Signal:
    market = MarketAnalysis("Sideways", 0.5, (), (), "Low", "")
    return Signal("BTCUSDT", direction, confidence, "because", {}, market,  # type: ignore[arg-type]
                  RiskAssessment("Low", 0.2, 0.2, size, stop, target), T * 1000)


def load(name: str, params: dict[str, object] | None = None) -> Strategy:
    return load_strategy(name, params, builtins=BUILTIN)


# --- parameters and loading ----------------------------------------------------------------------
def field_of(name: str, params: object) -> str | None:
    with pytest.raises(ValidationError) as error:
        load(name, params)  # type: ignore[arg-type]
    return error.value.field


def test_parameters_are_checked_and_name_the_field() -> None:
    assert field_of("sma-cross", {"fastest": 3}) == "params.fastest"
    assert field_of("sma-cross", {"fast": "three"}) == "params.fast"
    assert field_of("sma-cross", {"fast": 0}) == "params.fast"  # out of range
    assert field_of("sma-cross", {"slow": 20_000}) == "params.slow"
    assert field_of("sma-cross", {"fast": 2.5}) == "params.fast"  # not a whole number
    assert field_of("sma-cross", {"fast": True}) == "params.fast"  # a bool is no number
    assert field_of("sma-cross", {"short": "maybe"}) == "params.short"
    assert field_of("sma-cross", {"short": 1}) == "params.short"
    assert field_of("sma-cross", {"size": float("nan")}) == "params.size"
    assert field_of("sma-cross", {"fast": 30, "slow": 20}) == "params.fast"  # checked together
    assert field_of("rsi-reversion", {"oversold": 45, "exit": 40}) == "params.exit"
    assert field_of("signal-follower", {"min_confidence": 1.5}) == "params.min_confidence"
    with pytest.raises(ValidationError, match="whole number"):
        load("sma-cross", {"fast": 2.5})
    with pytest.raises(ValidationError, match=r"known: fast, short, size, slow"):
        load("sma-cross", {"fastest": 3})


def test_parameters_in_their_written_forms_are_read() -> None:
    strategy = load("sma-cross", {"fast": "5", "slow": 8.0, "short": "Yes", "size": "0.5"})
    assert isinstance(strategy, SmaCross)
    assert (strategy.fast, strategy.slow, strategy.short, strategy.size) == (5, 8, True, 0.5)
    assert load("sma-cross", {"short": "false"}).short is False  # type: ignore[attr-defined]
    assert parse_params(SmaCross.params, None) == {"fast": 10, "slow": 20, "short": False, "size": 1.0}


def test_one_sided_bounds_and_out_of_range_numbers_are_a_validation_error() -> None:
    declared = {"depth": Param(int, 5, minimum=1), "cap": Param(float, 1.0, maximum=2.0)}
    assert parse_params(declared, {"depth": 7, "cap": -3}) == {"depth": 7, "cap": -3.0}
    for given, field in (({"depth": 0}, "params.depth"), ({"cap": 3}, "params.cap"),
                         ({"depth": float("inf")}, "params.depth"), ({"cap": 10**400}, "params.cap")):
        with pytest.raises(ValidationError) as error:
            parse_params(declared, given)
        assert error.value.field == field
    with pytest.raises(ValidationError) as error:
        parse_params(declared, ["depth"])  # type: ignore[arg-type]
    assert error.value.field == "params"


def test_strategy_names_are_checked() -> None:
    assert field_of("macd-magic", None) == "strategy"
    assert field_of("", None) == "strategy"
    assert field_of("x" * 300, None) == "strategy"
    assert field_of("no_such_module_xyz:Thing", None) == "strategy"
    assert field_of("tradewind.trading.strategy:Nothing", None) == "strategy"
    assert field_of("tradewind.trading.strategy:Param", None) == "strategy"  # loads, but is no strategy


def test_a_user_strategy_loads_by_dotted_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_strats_tw.py").write_text(textwrap.dedent("""
        from tradewind.domain.orders import OrderIntent
        from tradewind.trading.strategy import Param

        class AlwaysLong:
            name = "always-long"
            uses_signals = False
            params = {"size": Param(float, 0.5, 0.0, 1.0)}

            def __init__(self, params):
                self.size = params["size"]
                self.lookback = 1

            def decide(self, ctx):
                return None if ctx.position else OrderIntent("enter", "long", size=self.size)
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "my_strats_tw", raising=False)
    strategy = load("my_strats_tw:AlwaysLong", {"size": "0.25"})
    assert strategy.name == "always-long" and strategy.decide(ctx([1.0])) == OrderIntent("enter", "long", size=0.25)
    assert strategy.decide(ctx([1.0], "long")) is None
    assert field_of("my_strats_tw:AlwaysLong", {"size": 2}) == "params.size"
    assert field_of("my_strats_tw:Missing", None) == "strategy"
    assert field_of("my_strats_tw", None) == "strategy"  # no class named


# --- sma-cross -----------------------------------------------------------------------------------
FALLING_THEN_UP = [10.0, 9.0, 8.0, 7.0, 12.0]  # fast(2) below slow(4) at 7, above it at 12


def test_sma_cross_goes_long_on_a_strict_cross_up_and_closes_on_a_cross_down() -> None:
    long_only = load("sma-cross", {"fast": 2, "slow": 4})
    assert long_only.lookback == 5
    enter = long_only.decide(ctx(FALLING_THEN_UP))
    assert enter is not None and (enter.action, enter.side, enter.size) == ("enter", "long", 1.0)
    assert long_only.decide(ctx(FALLING_THEN_UP, "long")) is None  # already long
    assert long_only.decide(ctx(FALLING_THEN_UP[:-1])) is None  # no cross yet
    assert long_only.decide(ctx(FALLING_THEN_UP[1:])) is None  # too few candles to see one
    rising_then_down = [7.0, 8.0, 9.0, 10.0, 5.0]
    assert long_only.decide(ctx(rising_then_down)) is None  # long only: a cross down while flat does nothing
    exit_ = long_only.decide(ctx(rising_then_down, "long"))
    assert exit_ is not None and exit_.action == "exit"
    # touching is no cross: the averages equal at the previous close
    touching = [10.0, 10.0, 10.0, 10.0, 12.0]
    assert long_only.decide(ctx(touching)) is None


def test_sma_cross_with_short_reverses_on_each_cross() -> None:
    both = load("sma-cross", {"fast": 2, "slow": 4, "short": True, "size": 0.4})
    down = both.decide(ctx([7.0, 8.0, 9.0, 10.0, 5.0], "long"))
    assert down is not None and (down.action, down.side, down.size) == ("enter", "short", 0.4)
    assert both.decide(ctx([7.0, 8.0, 9.0, 10.0, 5.0], "short")) is None
    up = both.decide(ctx(FALLING_THEN_UP, "short"))
    assert up is not None and (up.action, up.side) == ("enter", "long")


def test_sma_is_causal_and_nan_during_warm_up() -> None:
    values = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert np.allclose(sma(values, 3)[2:], [2.0, 3.0, 4.0]) and np.isnan(sma(values, 3)[:2]).all()
    assert np.isnan(sma(values[:2], 3)).all()
    longer = np.append(values, 100.0)
    assert np.array_equal(sma(longer, 3)[:5], sma(values, 3), equal_nan=True)


def _array_actions(strategy: SmaCross, candles: Bars) -> list[tuple[bool, str | None]]:
    """Each bar's (leave, enter side) as the array backtest reads ``signals()``, following the position."""
    signals = strategy.signals(candles)
    side: str | None = None
    actions = []
    for i in range(len(candles)):
        want = int(signals.enter[i])
        wanted = "long" if want > 0 else "short" if want < 0 else None
        leave = side is not None and (bool(signals.exit[i]) or (wanted is not None and wanted != side))
        enter = wanted if wanted is not None and wanted != side else None
        actions.append((leave, enter))
        side = enter if enter is not None else None if leave else side
    return actions


def _decided_actions(strategy: SmaCross, candles: Bars) -> list[tuple[bool, str | None]]:
    """The same from ``decide`` on each growing prefix, as the engine runs it."""
    side: str | None = None
    actions = []
    for i in range(len(candles)):
        intent = strategy.decide(ctx(candles.slice(0, i + 1), side))
        if intent is None:
            action: tuple[bool, str | None] = (False, None)
        elif intent.action == "exit":
            action = (True, None)
        else:
            action = (side is not None, intent.side)
        actions.append(action)
        side = action[1] if action[1] is not None else None if action[0] else side
    return actions


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(st.sampled_from([-2, -1, 0, 0, 1, 2]), min_size=2, max_size=70),
    fast=st.integers(1, 4), gap=st.integers(1, 4), short=st.booleans(),
)
# the averages cross up, touch, part without a cross, then cross up again while long (and the mirror
# image while short): ``decide`` holds, so the array signals must not close the position there
@example(steps=[-2, -2, 0, 0, 1, -2, 2, -1], fast=2, gap=2, short=False)
@example(steps=[0, 1, -1, 0, 1, -1], fast=1, gap=1, short=True)
def test_sma_cross_array_signals_make_the_per_candle_decisions(steps: list[int], fast: int, gap: int,
                                                               short: bool) -> None:
    # whole-number steps with flat stretches: the averages often touch, where a strict cross is subtle
    closes = 100.0 + np.cumsum(steps, dtype=np.float64)
    strategy = SmaCross({"fast": fast, "slow": fast + gap, "short": short, "size": 1.0})
    candles = bars(closes)
    assert _array_actions(strategy, candles) == _decided_actions(strategy, candles)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.9, 1.1), min_size=2, max_size=60))
def test_sma_cross_array_signals_agree_on_random_walks(moves: list[float]) -> None:
    closes = 100.0 * np.cumprod(moves)
    strategy = SmaCross({"fast": 3, "slow": 7, "short": True, "size": 1.0})
    candles = bars(closes)
    assert _array_actions(strategy, candles) == _decided_actions(strategy, candles)


# --- rsi-reversion -------------------------------------------------------------------------------
def test_rsi_reversion_buys_oversold_and_sells_the_recovery() -> None:
    strategy = load("rsi-reversion", {"period": 3})
    assert isinstance(strategy, RsiReversion) and strategy.lookback == 30
    calm = [100.0, 101.0, 100.0, 101.0, 100.0, 101.0]
    assert strategy.decide(ctx(calm)) is None
    assert strategy.decide(ctx(calm[:4])) is None  # too short for two RSI values
    plunge = [*calm, 90.0]  # RSI falls from about 50 to below 30
    enter = strategy.decide(ctx(plunge))
    assert enter is not None and (enter.action, enter.side, enter.size) == ("enter", "long", 1.0)
    assert "below 30" in enter.reason
    assert strategy.decide(ctx(plunge, "long")) is None  # held while oversold
    recovered = [*plunge, 80.0, 95.0]  # RSI 4.5, then back above 50 at 56.7
    exit_ = strategy.decide(ctx(recovered, "long"))
    assert exit_ is not None and exit_.action == "exit"
    assert strategy.decide(ctx([*calm, 110.0])) is None  # overbought, but long only


def test_rsi_reversion_with_short_trades_overbought_markets() -> None:
    strategy = load("rsi-reversion", {"period": 3, "short": True, "size": 0.3})
    spike = [100.0, 101.0, 100.0, 101.0, 100.0, 101.0, 110.0]
    enter = strategy.decide(ctx(spike))
    assert enter is not None and (enter.side, enter.size) == ("short", 0.3)
    back = [*spike, 120.0, 105.0]  # RSI 97.2, then back below 50 at 42.3
    exit_ = strategy.decide(ctx(back, "short"))
    assert exit_ is not None and exit_.action == "exit"


# --- signal-follower -----------------------------------------------------------------------------
def test_signal_follower_enters_with_the_signal_s_levels_and_exits_on_the_opposite() -> None:
    follower = load("signal-follower", {"size": 0.5})
    assert isinstance(follower, SignalFollower) and follower.uses_signals
    assert follower.decide(ctx([100.0])) is None  # no signal, no decision
    enter = follower.decide(ctx([100.0], signal=signal("Long", stop=95.0, target=110.0, size=0.6)))
    assert enter == OrderIntent("enter", "long", size=pytest.approx(0.3), stop_loss=95.0, take_profit=110.0,  # type: ignore[arg-type]
                                reason="Long signal, confidence 0.80 (rules)")
    short = follower.decide(ctx([100.0], signal=signal("Short")))
    assert short is not None and (short.side, short.stop_loss, short.take_profit) == ("short", None, None)
    assert follower.decide(ctx([100.0], "long", signal("Long"))) is None  # already on that side
    against = follower.decide(ctx([100.0], "long", signal("Short", confidence=0.01)))
    assert against is not None and against.action == "exit"
    assert follower.decide(ctx([100.0], "short", signal("Long"))) == OrderIntent(
        "exit", reason="Long signal against the short position")


def test_signal_follower_neutral_and_confidence() -> None:
    keep = load("signal-follower")
    assert keep.decide(ctx([100.0], "long", signal("Neutral"))) is None
    close = load("signal-follower", {"close_on_neutral": "true"})
    assert close.decide(ctx([100.0], "long", signal("Neutral"))) == OrderIntent("exit", reason="neutral signal")
    assert close.decide(ctx([100.0], None, signal("Neutral"))) is None
    picky = load("signal-follower", {"min_confidence": 0.7})
    assert picky.decide(ctx([100.0], signal=signal("Long", confidence=0.69))) is None
    taken = picky.decide(ctx([100.0], signal=signal("Long", confidence=0.7)))
    assert taken is not None and taken.side == "long"


def test_a_dotted_path_outside_the_allowed_ones_is_refused_before_anything_is_imported(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "tw_side_effect.py").write_text("raise SystemExit('imported')\n")  # importing it would end the test
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValidationError) as refused:
        load_strategy("tw_side_effect:Anything", None, builtins=BUILTIN, paths=frozenset({"pkg.mine:Mine"}))
    assert refused.value.field == "strategy" and "TRADEWIND_TRADING_STRATEGY_PATHS" in str(refused.value)
    assert "tw_side_effect" not in sys.modules
    assert load_strategy("sma-cross", None, builtins=BUILTIN, paths=frozenset()).name == "sma-cross"  # built-ins: always
