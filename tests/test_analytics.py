"""Performance analytics: each figure on a small curve and a few trades worked out by hand, the None
cases, properties checked by hypothesis, and a comparison with backtesting.py's own statistics on its
SmaCross example where the two definitions agree.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradewind.domain.errors import ValidationError
from tradewind.domain.orders import Trade
from tradewind.trading import analytics as an
from tradewind.trading.analytics import (
    MaxDrawdown,
    average_loss,
    average_win,
    best_trade,
    cagr,
    calmar,
    drawdown,
    expectancy,
    exposure,
    infer_periods_per_year,
    longest_drawdown,
    max_drawdown,
    performance,
    period_returns,
    profit_factor,
    sharpe,
    sortino,
    total_return,
    trade_stats,
    trades_per_day,
    win_rate,
    worst_trade,
)

DAY = 86_400.0
YEAR = 365.25 * DAY
T0 = 1_700_000_000.0 - 1_700_000_000.0 % DAY  # a UTC midnight


def days(n: int) -> np.ndarray:
    return T0 + DAY * np.arange(n, dtype=np.float64)


def trade(symbol: str, pnl: float, entry_day: float, exit_day: float, *, price: float = 100.0) -> Trade:
    """A one-unit long trade entered at ``price``; its return is ``pnl / price``."""
    return Trade(symbol, "long", 1.0, T0 + entry_day * DAY, price, T0 + exit_day * DAY, price + pnl, pnl, 0.0,
                 "signal")


# --- the curve, by hand ----------------------------------------------------------------------------

# peak 120 on day 1, trough 60 on day 3, back above 120 on day 5 (130), then down 10% to 117.
CURVE = np.array([100.0, 120.0, 90.0, 60.0, 100.0, 130.0, 117.0])


def test_drawdown_curve_and_the_deepest_drawdown() -> None:
    assert drawdown(CURVE) == pytest.approx([0, 0, 0.25, 0.5, 1 / 6, 0, 0.1])
    assert max_drawdown(days(7), CURVE) == MaxDrawdown(0.5, T0 + DAY, T0 + 3 * DAY, T0 + 5 * DAY)
    assert longest_drawdown(days(7), CURVE) == 4 * DAY  # day 1 to day 5; the open one lasts 1 day
    assert total_return(CURVE) == pytest.approx(0.17)


def test_drawdown_starts_at_the_last_time_at_the_peak_and_may_not_recover() -> None:
    eq = np.array([100.0, 100.0, 80.0, 90.0])
    worst = max_drawdown(days(4), eq)
    assert worst is not None and worst.value == pytest.approx(0.2)
    assert (worst.start, worst.end, worst.recovery) == (T0 + DAY, T0 + 2 * DAY, None)
    assert longest_drawdown(days(4), eq) == 2 * DAY  # still under water at the end: counted to the last time


def test_recovery_at_exactly_the_peak_counts() -> None:
    eq = np.array([100.0, 50.0, 100.0])
    dd = max_drawdown(days(3), eq)
    assert dd is not None and dd.recovery == T0 + 2 * DAY


def test_cagr_and_calmar_over_two_years() -> None:
    times = T0 + np.array([0.0, YEAR, 2 * YEAR])
    eq = np.array([100.0, 50.0, 121.0])  # +21% in two years is 10% a year; 50% drawdown on the way
    assert cagr(times, eq) == pytest.approx(0.10)
    assert calmar(times, eq) == pytest.approx(0.10 / 0.5)
    assert cagr(times, np.array([100.0, 50.0, 0.0])) == -1.0  # everything lost


def test_sharpe_and_sortino_by_hand() -> None:
    # Daily returns +10%, -5%, +10%, -5%: mean 0.025, sample std 0.15 / sqrt(3), downside sqrt(2 * 0.05^2 / 4).
    eq = 100.0 * np.cumprod([1.0, 1.10, 0.95, 1.10, 0.95])
    assert period_returns(eq) == pytest.approx([0.10, -0.05, 0.10, -0.05])
    assert infer_periods_per_year(days(5)) == pytest.approx(365.0)
    assert sharpe(days(5), eq) == pytest.approx(0.025 / (0.15 / math.sqrt(3)) * math.sqrt(365))
    assert sortino(days(5), eq) == pytest.approx(0.025 / (0.05 / math.sqrt(2)) * math.sqrt(365))
    assert sharpe(days(5), eq, periods_per_year=252) == pytest.approx(math.sqrt(3) / 6 * math.sqrt(252))
    hourly = T0 + 3600.0 * np.arange(5)
    assert infer_periods_per_year(hourly) == pytest.approx(365 * 24)
    assert sharpe(hourly, eq) == pytest.approx(math.sqrt(3) / 6 * math.sqrt(365 * 24))


def test_the_period_is_the_median_spacing() -> None:
    times = T0 + np.array([0.0, 1.0, 2.0, 3.0, 10.0]) * DAY  # one gap of a week among daily points
    assert infer_periods_per_year(times) == pytest.approx(365.0)


# --- the curve: None cases -------------------------------------------------------------------------


def test_curve_figures_that_cannot_be_computed_are_none() -> None:
    empty = np.zeros(0)
    assert total_return(empty) is None and max_drawdown(empty, empty) is None
    assert longest_drawdown(empty, empty) is None and cagr(empty, empty) is None
    assert total_return(np.array([0.0, 10.0])) is None  # a return on nothing
    assert cagr(days(2), np.array([0.0, 10.0])) is None
    assert cagr(T0 + np.array([0.0, DAY - 1]), np.array([100.0, 110.0])) is None  # under a day
    assert cagr(days(2), np.array([100.0, -5.0])) is None
    assert cagr(days(2), np.array([1.0, 1e9])) is None  # 1e9x in a day: beyond a float per year
    flat = np.full(5, 100.0)
    assert sharpe(days(5), flat) is None  # zero volatility
    assert sortino(days(4), np.array([100.0, 101.0, 103.0, 104.0])) is None  # no losing period
    assert sharpe(days(2), np.array([100.0, 110.0])) is None  # a single return has no std
    assert sharpe(days(4), np.array([100.0, 0.0, 10.0, 5.0])) is None  # a return from 0
    assert infer_periods_per_year(days(1)) is None
    rising = np.array([100.0, 101.0, 105.0])
    assert max_drawdown(days(3), rising) == MaxDrawdown(0.0, None, None, None)
    assert longest_drawdown(days(3), rising) == 0.0
    assert calmar(T0 + np.array([0.0, YEAR]), np.array([100.0, 110.0])) is None  # no drawdown to divide by


def test_bad_curves_are_rejected() -> None:
    with pytest.raises(ValidationError) as err:
        max_drawdown(days(3), np.array([1.0, 2.0]))
    assert err.value.field == "equity"
    with pytest.raises(ValidationError):
        cagr(T0 + np.array([0.0, 2 * DAY, DAY]), np.array([1.0, 2.0, 3.0]))  # times not increasing
    with pytest.raises(ValidationError):
        total_return(np.array([1.0, np.nan]))
    with pytest.raises(ValidationError) as err:
        sharpe(days(3), np.array([1.0, 2.0, 1.5]), periods_per_year=0)
    assert err.value.field == "periods_per_year"


# --- the trades, by hand ---------------------------------------------------------------------------

TRADES = [
    trade("A", 30.0, 0, 2),
    trade("B", -10.0, 1, 3),  # overlaps A: days 0..3 count once
    trade("A", 20.0, 5, 6),
    trade("B", -20.0, 8, 9),
    trade("A", 0.0, 9, 12),  # break-even, and past the curve's end (day 10): clipped
]


def test_trade_figures_by_hand() -> None:
    pnl = np.array([t.pnl for t in TRADES])
    assert win_rate(pnl) == pytest.approx(2 / 5)  # the break-even trade is no win
    assert profit_factor(pnl) == pytest.approx(50 / 30)
    assert expectancy(pnl) == pytest.approx(20 / 5)
    assert average_win(pnl) == pytest.approx(25.0)
    assert average_loss(pnl) == pytest.approx(-15.0)
    assert best_trade(TRADES) is TRADES[0] and worst_trade(TRADES) is TRADES[3]
    curve = days(11)  # ten days
    assert trades_per_day(curve, len(TRADES)) == pytest.approx(0.5)
    entries = np.array([t.entry_time for t in TRADES])
    exits = np.array([t.exit_time for t in TRADES])
    assert exposure(curve, entries, exits) == pytest.approx((3 + 1 + 1 + 1) / 10)  # 0-3, 5-6, 8-9, 9-10


def test_trade_stats_and_the_per_symbol_breakdown() -> None:
    stats = trade_stats(TRADES)
    assert (stats["trades"], stats["wins"], stats["losses"]) == (5, 2, 2)
    assert (stats["gross_profit"], stats["gross_loss"], stats["total_pnl"]) == (50.0, 30.0, 20.0)
    assert stats["average_return"] == pytest.approx(0.04)  # pnl / 100 of entry value each
    assert (stats["best_return"], stats["worst_return"]) == (pytest.approx(0.3), pytest.approx(-0.2))
    assert stats["best_trade"]["pnl"] == 30.0 and stats["best_trade"]["return_pct"] == pytest.approx(0.3)
    assert stats["worst_trade"]["symbol"] == "B" and stats["worst_trade"]["exit_time"] == T0 + 9 * DAY

    report = performance(days(11), np.linspace(100.0, 120.0, 11), TRADES)
    a, b = report["by_symbol"]["A"], report["by_symbol"]["B"]
    assert list(report["by_symbol"]) == ["A", "B"]
    assert (a["trades"], a["win_rate"], a["profit_factor"]) == (3, pytest.approx(2 / 3), None)  # A never lost
    assert a["expectancy"] == pytest.approx(50 / 3) and a["exposure"] == pytest.approx((2 + 1 + 1) / 10)
    assert (b["trades"], b["win_rate"], b["profit_factor"]) == (2, 0.0, 0.0)  # losses and no win
    assert (b["average_win"], b["average_loss"]) == (None, pytest.approx(-15.0))
    assert b["trades_per_day"] == pytest.approx(0.2)


def test_trade_figures_that_cannot_be_computed_are_none() -> None:
    none = np.zeros(0)
    assert win_rate(none) is None and expectancy(none) is None and profit_factor(none) is None
    assert average_win(none) is None and average_loss(none) is None
    assert best_trade([]) is None and worst_trade([]) is None
    assert profit_factor(np.array([5.0, 0.0])) is None  # no losing trade: nothing to divide by
    assert trades_per_day(days(1), 3) is None  # a curve of one point has no span
    assert exposure(days(1), none, none) is None
    assert exposure(days(3), none, none) == 0.0  # no trade: never in the market
    assert trades_per_day(days(3), 0) == 0.0


# --- the report ------------------------------------------------------------------------------------


def test_performance_assembles_plain_json() -> None:
    times = T0 + np.array([0.0, YEAR, 2 * YEAR])
    eq = np.array([100.0, 50.0, 121.0])
    report = performance(times, eq, TRADES)
    text = json.dumps(report, allow_nan=False)  # no NaN, no numpy scalars
    assert json.loads(text) == report
    assert report["total_return"] == pytest.approx(0.21) and report["cagr"] == pytest.approx(0.10)
    assert report["max_drawdown"] == 0.5 and report["calmar_ratio"] == pytest.approx(0.2)
    assert (report["max_drawdown_start"], report["max_drawdown_end"]) == (T0, T0 + YEAR)
    assert report["max_drawdown_recovery"] == T0 + 2 * YEAR
    assert report["periods_per_year"] == pytest.approx(365 / 365.25)  # one point a year
    assert report["equity_curve"] == [[T0, 100.0], [T0 + YEAR, 50.0], [T0 + 2 * YEAR, 121.0]]
    assert report["drawdown_curve"] == [[T0, 0.0], [T0 + YEAR, 0.5], [T0 + 2 * YEAR, 0.0]]
    assert report["trades"] == 5 and report["win_rate"] == pytest.approx(0.4)


def test_performance_of_nothing_is_none_not_zero() -> None:
    report = performance(np.zeros(0), np.zeros(0), [])
    json.dumps(report, allow_nan=False)
    for key in ("total_return", "cagr", "sharpe_ratio", "sortino_ratio", "calmar_ratio", "max_drawdown",
                "win_rate", "profit_factor", "expectancy", "average_win", "average_loss", "best_trade",
                "worst_trade", "best_return", "trades_per_day", "exposure", "periods_per_year"):
        assert report[key] is None, key
    assert report["trades"] == 0 and report["by_symbol"] == {} and report["equity_curve"] == []


def test_performance_of_a_curve_touching_zero_stays_finite() -> None:
    eq = np.array([0.0, 0.0, 50.0, 40.0])  # no positive peak at first: no drawdown there
    report = performance(days(4), eq, [])
    json.dumps(report, allow_nan=False)
    assert [v for _, v in report["drawdown_curve"]] == [None, None, 0.0, pytest.approx(0.2)]
    assert report["max_drawdown"] == pytest.approx(0.2) and report["total_return"] is None
    assert report["sharpe_ratio"] is None  # returns from 0 are undefined


def test_exports() -> None:
    assert {"performance", "max_drawdown", "sharpe", "sortino", "cagr", "profit_factor"} <= set(an.__all__)
    assert all(hasattr(an, name) for name in an.__all__)


# --- properties ------------------------------------------------------------------------------------

positive = st.lists(st.floats(min_value=1e-3, max_value=1e9, allow_nan=False), min_size=1, max_size=60)


@settings(max_examples=200, deadline=None)
@given(positive)
def test_drawdown_properties(values: list[float]) -> None:
    eq = np.array(values)
    times = days(eq.size)
    dd = drawdown(eq)
    assert ((dd >= 0) & (dd <= 1)).all()
    peak = np.maximum.accumulate(eq)
    assert (dd[eq >= peak] == 0).all() and (dd[eq < peak * (1 - 1e-12)] > 0).all()
    worst = max_drawdown(times, eq)
    brute = np.triu(1 - eq[None, :] / eq[:, None]).max()  # the worst fall from any point to any later one
    assert worst is not None and worst.value == pytest.approx(brute, abs=1e-12)
    if worst.value > 0:
        assert worst.start is not None and worst.end is not None and worst.start < worst.end
        assert worst.recovery is None or worst.recovery > worst.end
        assert eq[times == worst.start][0] == eq[times <= worst.end].max()  # start is the peak
    span = longest_drawdown(times, eq)
    assert span is not None and 0 <= span <= times[-1] - times[0]
    # Scale does not change a drawdown, and a future point never changes a past one.
    assert drawdown(eq * 3.5) == pytest.approx(dd)
    assert (drawdown(np.r_[eq, eq.min() / 2])[: eq.size] == dd).all()
    ratio = sharpe(times, eq)
    assert (ratio is None) == (sharpe(times, eq * 3.5) is None)
    assert ratio is None or sharpe(times, eq * 3.5) == pytest.approx(ratio, rel=1e-9, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(min_value=1e-3, max_value=1e6), min_size=1, max_size=40))
def test_a_rising_curve_has_no_drawdown(steps: list[float]) -> None:
    eq = 100.0 + np.cumsum(steps)
    assert max_drawdown(days(eq.size), eq) == MaxDrawdown(0.0, None, None, None)
    assert (drawdown(eq) == 0).all() and longest_drawdown(days(eq.size), eq) == 0.0


pnls = st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), max_size=40)


@settings(max_examples=200, deadline=None)
@given(pnls)
def test_trade_figure_properties(values: list[float]) -> None:
    pnl = np.array(values)
    rate = win_rate(pnl)
    assert (rate is None) == (pnl.size == 0)
    assert rate is None or 0 <= rate <= 1
    factor = profit_factor(pnl)
    assert (factor is None) == (not (pnl < 0).any())
    assert factor is None or factor >= 0
    win, loss = average_win(pnl), average_loss(pnl)
    assert win is None or win > 0
    assert loss is None or loss < 0
    mean = expectancy(pnl)
    assert mean is None or min(values) - 1e-9 <= mean <= max(values) + 1e-9


intervals = st.lists(st.tuples(st.floats(-5, 15), st.floats(0, 8)), max_size=20)


@settings(max_examples=200, deadline=None)
@given(intervals)
def test_exposure_is_a_share_and_matches_a_fine_grid(spans: list[tuple[float, float]]) -> None:
    curve = days(11)
    entries = T0 + DAY * np.array([s for s, _ in spans])
    exits = entries + DAY * np.array([d for _, d in spans])
    share = exposure(curve, entries, exits)
    assert share is not None and 0 <= share <= 1 + 1e-12
    grid = T0 + DAY * (np.arange(20_000) + 0.5) / 2_000  # midpoints of a fine grid over ten days
    inside = np.zeros(grid.size, dtype=bool)
    for lo, hi in zip(entries, exits):
        inside |= (grid >= lo) & (grid <= hi)
    assert share == pytest.approx(inside.mean(), abs=1.5e-4 * (len(spans) + 1))


@settings(max_examples=100, deadline=None)
@given(positive, pnls)
def test_performance_is_always_json(values: list[float], pnl: list[float]) -> None:
    eq = np.array(values)
    trades = [trade("AB"[i % 2], p, i * 0.5, i * 0.5 + 1) for i, p in enumerate(pnl)]
    report = performance(days(eq.size), eq, trades)
    json.dumps(report, allow_nan=False)
    assert report["trades"] == len(pnl) == sum(s["trades"] for s in report["by_symbol"].values())
    assert report["max_drawdown"] is not None and 0 <= report["max_drawdown"] <= 1


# --- against backtesting.py ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smacross() -> tuple[object, np.ndarray, np.ndarray, list[Trade]]:
    """backtesting.py's SmaCross on GOOG (10/20, long only, $10,000, no commission), with its curve and trades."""
    pytest.importorskip("backtesting")
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover
    from backtesting.test import GOOG, SMA

    class SmaCross(Strategy):
        def init(self) -> None:
            self.fast = self.I(SMA, self.data.Close, 10)
            self.slow = self.I(SMA, self.data.Close, 20)

        def next(self) -> None:
            if crossover(self.fast, self.slow):
                self.position.close()
                self.buy()
            elif crossover(self.slow, self.fast):
                self.position.close()

    with warnings.catch_warnings():  # its own pandas deprecations are not ours to see
        warnings.simplefilter("ignore")
        stats = Backtest(GOOG, SmaCross, cash=10_000, commission=0, trade_on_close=False,
                         finalize_trades=True).run()
    curve = stats["_equity_curve"]
    times = curve.index.values.astype("datetime64[s]").astype(np.int64).astype(np.float64)

    def seconds(value: object) -> float:
        return float(np.datetime64(value, "s").astype(np.int64))

    trades = [
        Trade("GOOG", "long", float(row.Size), seconds(row.EntryTime), float(row.EntryPrice),
              seconds(row.ExitTime), float(row.ExitPrice), float(row.PnL), 0.0, "signal")
        for row in stats["_trades"].itertuples()
    ]
    return stats, times, curve["Equity"].to_numpy(dtype=np.float64), trades


def test_matches_backtesting_py_where_definitions_agree(smacross: tuple) -> None:
    stats, times, eq, trades = smacross
    table = stats["_trades"]
    report = performance(times, eq, trades, periods_per_year=252)  # its calendar for daily stock bars

    assert report["trades"] == stats["# Trades"] == len(table) > 20
    assert report["total_return"] == pytest.approx(stats["Return [%]"] / 100, rel=1e-9)
    # backtesting.py reports the drawdown as a negative percentage; ours is a positive fraction.
    assert report["max_drawdown"] == pytest.approx(-stats["Max. Drawdown [%]"] / 100, rel=1e-9)
    assert np.allclose([v for _, v in report["drawdown_curve"]], stats["_equity_curve"]["DrawdownPct"])
    trough = int(np.argmax(stats["_equity_curve"]["DrawdownPct"].to_numpy()))
    assert report["max_drawdown_end"] == times[trough]
    # Its "Max. Drawdown Duration" is the longest time under water (peak to recovery), as ours.
    assert report["longest_drawdown"] == stats["Max. Drawdown Duration"].total_seconds()
    # Both use elapsed time in 365.25-day years.
    assert report["cagr"] == pytest.approx(stats["CAGR [%]"] / 100, rel=1e-9)
    assert report["win_rate"] == pytest.approx(stats["Win Rate [%]"] / 100, rel=1e-9)
    # Its Best/Worst Trade [%] and Expectancy [%] are per-trade returns (max, min, arithmetic mean).
    assert report["best_return"] == pytest.approx(stats["Best Trade [%]"] / 100, rel=1e-9)
    assert report["worst_return"] == pytest.approx(stats["Worst Trade [%]"] / 100, rel=1e-9)
    assert report["average_return"] == pytest.approx(stats["Expectancy [%]"] / 100, rel=1e-9)
    # Our best and worst trades are by money: sizes differ, so these are other trades here.
    assert report["best_trade"]["pnl"] == pytest.approx(table["PnL"].max())
    assert report["worst_trade"]["pnl"] == pytest.approx(table["PnL"].min())
    assert report["best_trade"]["entry_time"] == trades[int(table["PnL"].argmax())].entry_time
    # Its Profit Factor divides summed *returns*; ours divides money. The same function on returns agrees.
    returns = np.array([t.return_pct for t in trades])
    assert profit_factor(returns) == pytest.approx(stats["Profit Factor"], rel=1e-9)
    pnl = table["PnL"]
    assert report["profit_factor"] == pytest.approx(pnl[pnl > 0].sum() / -pnl[pnl < 0].sum(), rel=1e-9)
    assert report["expectancy"] == pytest.approx(pnl.mean(), rel=1e-9)


def test_where_backtesting_py_defines_it_otherwise(smacross: tuple) -> None:
    """Sharpe, Sortino, Calmar and exposure differ by definition; check what is shared, and the gap.

    backtesting.py annualises the geometric mean daily return, ``A = (1 + g) ** 252 - 1``, and puts it
    over a compounded volatility (Sharpe) or over ``d * sqrt(252)`` (Sortino, ``d`` the same downside
    deviation as ours); its Calmar is ``A / max drawdown`` where ours is ``CAGR / max drawdown``; its
    exposure counts bars (entry and exit bar included) where ours counts time, weekends included.
    """
    stats, times, eq, trades = smacross
    report = performance(times, eq, trades, periods_per_year=252)
    r = period_returns(eq)
    # Sharpe: the arithmetic definition, checked against pandas on the same curve.
    daily = stats["_equity_curve"]["Equity"].pct_change().dropna()
    assert report["sharpe_ratio"] == pytest.approx(daily.mean() / daily.std() * math.sqrt(252), rel=1e-9)
    # Sortino: the numerators differ, the downside deviation is the same.
    annual = stats["Return (Ann.) [%]"] / 100
    assert report["sortino_ratio"] / (r.mean() * 252) == pytest.approx(stats["Sortino Ratio"] / annual, rel=1e-9)
    # Calmar: ours from CAGR; composed from its own CAGR and drawdown it agrees.
    assert report["calmar_ratio"] == pytest.approx(stats["CAGR [%]"] / -stats["Max. Drawdown [%]"], rel=1e-9)
    assert report["calmar_ratio"] != pytest.approx(stats["Calmar Ratio"], rel=1e-6)
    # Exposure: time in the market vs bars in the market, close but not equal.
    assert report["exposure"] == pytest.approx(stats["Exposure Time [%]"] / 100, abs=0.05)
