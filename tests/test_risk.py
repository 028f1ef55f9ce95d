"""Risk: the entry rules in their documented order, the sizing, the default levels and the profiles."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from tradewind.domain.errors import ValidationError
from tradewind.domain.orders import OrderIntent
from tradewind.trading.risk import PROFILES, Approved, Denied, RiskProfile, RiskState, check_entry, risk_profile

NOW = 1_700_000_000.0
LONG = OrderIntent("enter", "long")
SHORT = OrderIntent("enter", "short")


def state(**changes: object) -> RiskState:
    base = RiskState(equity=10_000.0, cash=10_000.0, day_start_equity=10_000.0, open_positions=0, exposure=0.0,
                     consecutive_losses=0, last_loss_time=None, halted=False, time=NOW)
    return replace(base, **changes)  # type: ignore[arg-type]


def approved(intent: OrderIntent, *, price: float = 100.0, profile: RiskProfile | None = None, **changes: object) -> Approved:
    decision = check_entry(intent, price=price, state=state(**changes), profile=profile or RiskProfile())
    assert isinstance(decision, Approved), decision
    return decision


def denied(intent: OrderIntent = LONG, *, price: float = 100.0, profile: RiskProfile | None = None,
           **changes: object) -> Denied:
    decision = check_entry(intent, price=price, state=state(**changes), profile=profile or RiskProfile())
    assert isinstance(decision, Denied), decision
    return decision


# --- the rules, in order ---------------------------------------------------------------------------
def test_every_rule_denies_with_its_numbers_and_the_first_that_fails_names_the_denial() -> None:
    no_levels = RiskProfile(default_stop_pct=0.0, default_target_pct=0.0)
    everything_wrong = dict(halted=True, consecutive_losses=3, last_loss_time=NOW - 30 * 60, equity=9_400.0,
                            open_positions=5, cash=0.0)
    order = ["halted", "cooldown", "daily_loss", "max_positions", "levels", "size"]
    lifted = {"halted": {"halted": False}, "cooldown": {"consecutive_losses": 0},
              "daily_loss": {"equity": 10_000.0}, "max_positions": {"open_positions": 0}}
    seen = []
    changes: dict[str, object] = dict(everything_wrong)
    for rule in order:
        decision = denied(profile=no_levels if rule != "size" else RiskProfile(), **changes)
        seen.append(decision.reason)
        changes.update(lifted.get(rule, {}))
    assert seen == order

    assert "resume it by hand" in denied(halted=True).detail
    cooling = denied(consecutive_losses=3, last_loss_time=NOW - 30 * 60)
    assert (cooling.reason, cooling.detail) == ("cooldown", "3 losses in a row; cooling down for 30 more minutes")
    daily = denied(equity=9_400.0)
    assert (daily.reason, daily.detail) == ("daily_loss", "down 6.00% today (limit 5.00%)")
    full = denied(open_positions=5)
    assert (full.reason, full.detail) == ("max_positions", "5 positions open (limit 5)")
    levels = denied(profile=no_levels)
    assert (levels.reason, levels.detail) == ("levels", "an entry needs a stop-loss and a take-profit")
    broke = denied(cash=0.0)
    assert (broke.reason, broke.detail) == ("size", "the position size comes out at 0 (equity 10000.00, cash 0.00)")
    assert denied(price=0.0).detail == "no usable price (0.0)"
    assert denied(price=math.nan).reason == "size"
    assert denied(OrderIntent("enter", "long", size=0.0)).reason == "size"


def test_the_cooldown_ends_after_its_minutes_and_needs_the_full_streak() -> None:
    assert approved(LONG, consecutive_losses=3, last_loss_time=NOW - 60 * 60)  # exactly the 60 minutes later
    assert approved(LONG, consecutive_losses=2, last_loss_time=NOW - 60)  # one short of the streak
    assert approved(LONG, consecutive_losses=9, last_loss_time=NOW, profile=RiskProfile(cooldown_losses=0))


def test_the_daily_loss_limit_is_reached_at_its_value_and_a_zero_limit_denies_any_loss() -> None:
    assert denied(equity=9_500.0).detail == "down 5.00% today (limit 5.00%)"
    assert approved(LONG, equity=9_501.0)
    zero = RiskProfile(daily_loss_limit=0.0)
    assert denied(equity=9_999.0, profile=zero).reason == "daily_loss"
    assert approved(LONG, equity=10_000.0, profile=zero)


# --- sizing ----------------------------------------------------------------------------------------
def test_position_size_is_a_share_of_equity_scaled_by_the_strategy() -> None:
    assert approved(LONG).quantity == pytest.approx(10.0)  # 10% of 10 000 at 100
    assert approved(OrderIntent("enter", "long", size=0.5)).quantity == pytest.approx(5.0)
    assert approved(OrderIntent("enter", "long", size=7.0)).quantity == pytest.approx(10.0)  # capped at the whole share
    assert approved(SHORT, price=50.0).quantity == pytest.approx(20.0)


def test_risk_per_trade_loses_that_share_of_equity_at_the_stop() -> None:
    profile = RiskProfile(risk_per_trade=0.01, max_exposure_per_asset=1.0)
    long = approved(OrderIntent("enter", "long", stop_loss=98.0, take_profit=110.0), profile=profile)
    assert long.quantity == pytest.approx(50.0)
    assert long.quantity * (100.0 - long.stop_loss) == pytest.approx(0.01 * 10_000)  # type: ignore[operator]
    short = approved(OrderIntent("enter", "short", stop_loss=104.0, take_profit=90.0), profile=profile, equity=8_000.0,
                     day_start_equity=8_000.0)
    assert short.quantity * (short.stop_loss - 100.0) == pytest.approx(0.01 * 8_000)  # type: ignore[operator]
    # with the default stop (2%): 1% of equity lost over a 2% move is half the equity
    assert approved(LONG, profile=profile).quantity == pytest.approx(50.0)


def test_the_exposure_cap_and_the_cash_cap_bound_the_size() -> None:
    assert approved(LONG, exposure=2_000.0).quantity == pytest.approx(5.0)  # 25% cap: 500 of room left
    assert denied(exposure=2_500.0).reason == "size"
    assert approved(LONG, cash=300.0).quantity == pytest.approx(3.0)
    big = RiskProfile(position_size=1.0, max_exposure_per_asset=1.0)
    assert approved(LONG, profile=big, cash=4_000.0).quantity == pytest.approx(40.0)


# --- levels ----------------------------------------------------------------------------------------
def test_default_levels_fill_in_missing_and_wrong_side_ones() -> None:
    long = approved(LONG)
    assert (long.stop_loss, long.take_profit) == (pytest.approx(98.0), pytest.approx(104.0))
    short = approved(SHORT)
    assert (short.stop_loss, short.take_profit) == (pytest.approx(102.0), pytest.approx(96.0))
    kept = approved(OrderIntent("enter", "long", stop_loss=95.0, take_profit=120.0))
    assert (kept.stop_loss, kept.take_profit) == (95.0, 120.0)
    wrong = approved(OrderIntent("enter", "long", stop_loss=101.0, take_profit=99.0))
    assert (wrong.stop_loss, wrong.take_profit) == (pytest.approx(98.0), pytest.approx(104.0))
    wrong_short = approved(OrderIntent("enter", "short", stop_loss=99.0, take_profit=101.0))
    assert (wrong_short.stop_loss, wrong_short.take_profit) == (pytest.approx(102.0), pytest.approx(96.0))
    odd = approved(OrderIntent("enter", "long", stop_loss=math.nan, take_profit=math.inf))
    assert (odd.stop_loss, odd.take_profit) == (pytest.approx(98.0), pytest.approx(104.0))
    negative = approved(OrderIntent("enter", "short", stop_loss=-5.0, take_profit=-1.0))
    assert (negative.stop_loss, negative.take_profit) == (pytest.approx(102.0), pytest.approx(96.0))


def test_without_required_stops_an_entry_may_go_unprotected() -> None:
    free = approved(LONG, profile=PROFILES["none"])
    assert (free.stop_loss, free.take_profit) == (None, None)
    assert free.quantity == pytest.approx(100.0)  # all of the equity, as backtesting.py's default


# --- profiles --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, value", [
    ("position_size", 1.5), ("position_size", -0.1), ("max_exposure_per_asset", math.nan),
    ("daily_loss_limit", 2), ("max_drawdown", math.inf), ("default_stop_pct", True), ("default_target_pct", "0.1"),
    ("risk_per_trade", 1.01), ("trailing_stop_pct", -0.5),
])
def test_fractions_outside_zero_to_one_name_their_field(name: str, value: object) -> None:
    with pytest.raises(ValidationError) as error:
        RiskProfile(**{name: value})  # type: ignore[arg-type]
    assert error.value.field == f"risk.{name}"


@pytest.mark.parametrize("name, value", [
    ("max_open_positions", -1), ("max_open_positions", 2.5), ("max_open_positions", True), ("cooldown_losses", 1001),
    ("cooldown_minutes", -1), ("cooldown_minutes", 20_000), ("cooldown_minutes", math.nan),
])
def test_counts_and_minutes_out_of_range_name_their_field(name: str, value: object) -> None:
    with pytest.raises(ValidationError) as error:
        RiskProfile(**{name: value})  # type: ignore[arg-type]
    assert error.value.field == f"risk.{name}"


def test_named_profiles_and_overrides() -> None:
    assert risk_profile() is PROFILES["moderate"]
    assert risk_profile("conservative").max_open_positions == 3
    tuned = risk_profile("aggressive", {"position_size": 0.3, "risk_per_trade": 0.02})
    assert (tuned.position_size, tuned.risk_per_trade, tuned.max_open_positions) == (0.3, 0.02, 8)
    assert tuned.as_dict()["drawdown_alerts"] == [0.05, 0.10, 0.15, 0.20]
    with pytest.raises(ValidationError) as unknown:
        risk_profile("yolo")
    assert unknown.value.field == "risk" and "'yolo'" in str(unknown.value) and "moderate" in str(unknown.value)
    with pytest.raises(ValidationError) as override:
        risk_profile("moderate", {"leverage": 100})
    assert override.value.field == "risk_overrides.leverage"
    with pytest.raises(ValidationError) as bad_value:
        risk_profile("moderate", {"max_drawdown": 3})
    assert bad_value.value.field == "risk_overrides.max_drawdown"


@pytest.mark.parametrize("name, value", [
    ("require_stops", "no"), ("require_stops", 0), ("drawdown_alerts", "0.1"), ("drawdown_alerts", (0.1, 2.0)),
    ("drawdown_alerts", [math.nan]), ("drawdown_alerts", 0.1),
])
def test_switches_and_alert_levels_are_checked_too(name: str, value: object) -> None:
    # an override from a request: "no" would switch stops on, a text alert level would break every candle
    with pytest.raises(ValidationError) as error:
        risk_profile("moderate", {name: value})
    assert error.value.field == f"risk_overrides.{name}"


def test_alert_levels_given_as_a_list_are_kept_as_levels() -> None:
    profile = risk_profile("moderate", {"drawdown_alerts": [0.2, 0.1]})
    assert tuple(profile.drawdown_alerts) == (0.2, 0.1)
    assert profile.as_dict()["drawdown_alerts"] == [0.2, 0.1]
    assert hash(profile)  # still a frozen, hashable value
