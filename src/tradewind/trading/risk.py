"""Risk: every entry passes it before it reaches a broker; a denial is an event with its reason.

The rules, in the order they are checked (the first that fails names the denial):

- ``halted``: the drawdown kill switch has fired (trading stays paused until resumed by hand);
- ``cooldown``: ``cooldown_losses`` losing trades in a row were closed less than
  ``cooldown_minutes`` ago;
- ``daily_loss``: today's loss (UTC day, realised and unrealised) reached ``daily_loss_limit`` of
  the day's starting equity;
- ``max_positions``: ``max_open_positions`` are already open;
- ``levels``: the entry has no usable stop and target and ``require_stops`` is on (defaults
  ``default_stop_pct``/``default_target_pct`` fill in missing ones; a level on the wrong side of
  the price is replaced by the default too);
- ``size``: the quantity comes out as zero (no cash, a zero size, a price of zero).

Size: ``position_size`` of equity, or with ``risk_per_trade`` the quantity that loses that share of
equity at the stop; never more than ``max_exposure_per_asset`` of equity in one asset, nor more
than the cash there is. Exits are never denied: risk never stands between a trader and closing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from tradewind.domain.errors import ValidationError
from tradewind.domain.excerpt import excerpt
from tradewind.domain.orders import OrderIntent, PositionSide

__all__ = ["PROFILES", "Approved", "Denied", "RiskProfile", "RiskState", "check_entry", "risk_profile"]

DenialReason = Literal["halted", "cooldown", "daily_loss", "max_positions", "levels", "size", "paused"]


@dataclass(frozen=True, slots=True)
class RiskProfile:
    """The limits; every fraction is of equity (0.1 = 10%)."""

    position_size: float = 0.10
    risk_per_trade: float | None = None
    max_open_positions: int = 5
    max_exposure_per_asset: float = 0.25
    daily_loss_limit: float = 0.05
    max_drawdown: float = 0.25
    cooldown_losses: int = 3
    cooldown_minutes: float = 60.0
    require_stops: bool = True
    default_stop_pct: float = 0.02
    default_target_pct: float = 0.04
    trailing_stop_pct: float | None = None
    drawdown_alerts: tuple[float, ...] = field(default=(0.05, 0.10, 0.15, 0.20))

    def __post_init__(self) -> None:
        fractions = {"position_size": self.position_size, "max_exposure_per_asset": self.max_exposure_per_asset,
                     "daily_loss_limit": self.daily_loss_limit, "max_drawdown": self.max_drawdown,
                     "default_stop_pct": self.default_stop_pct, "default_target_pct": self.default_target_pct}
        if self.risk_per_trade is not None:
            fractions["risk_per_trade"] = self.risk_per_trade
        if self.trailing_stop_pct is not None:
            fractions["trailing_stop_pct"] = self.trailing_stop_pct
        for name, value in fractions.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1 or not math.isfinite(value):
                raise ValidationError(f"{name} must be a fraction within 0..1 (0-100%), got {excerpt(value)}",
                                      field=f"risk.{name}")
        for name, value in (("max_open_positions", self.max_open_positions), ("cooldown_losses", self.cooldown_losses)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1000:
                raise ValidationError(f"{name} must be a whole number within 0..1000, got {excerpt(value)}",
                                      field=f"risk.{name}")
        if (isinstance(self.cooldown_minutes, bool) or not isinstance(self.cooldown_minutes, (int, float))
                or not 0 <= self.cooldown_minutes <= 7 * 24 * 60):
            raise ValidationError(f"cooldown_minutes must be within 0..10080, got {excerpt(self.cooldown_minutes)}",
                                  field="risk.cooldown_minutes")
        if not isinstance(self.require_stops, bool):
            raise ValidationError(f"require_stops must be true or false, got {excerpt(self.require_stops)}",
                                  field="risk.require_stops")
        alerts = self.drawdown_alerts
        if (not isinstance(alerts, (tuple, list)) or len(alerts) > 100
                or not all(isinstance(a, (int, float)) and not isinstance(a, bool) and 0 <= a <= 1 for a in alerts)):
            raise ValidationError(f"drawdown_alerts must be a list of fractions within 0..1, got {excerpt(alerts)}",
                                  field="risk.drawdown_alerts")
        object.__setattr__(self, "drawdown_alerts", tuple(float(a) for a in alerts))  # a list override: kept hashable

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "drawdown_alerts": list(self.drawdown_alerts)}


PROFILES: dict[str, RiskProfile] = {
    "conservative": RiskProfile(position_size=0.05, max_open_positions=3, max_exposure_per_asset=0.10,
                                daily_loss_limit=0.02, max_drawdown=0.10, default_stop_pct=0.01,
                                default_target_pct=0.02),
    "moderate": RiskProfile(),
    "aggressive": RiskProfile(position_size=0.25, max_open_positions=8, max_exposure_per_asset=0.50,
                              daily_loss_limit=0.10, max_drawdown=0.40, default_stop_pct=0.03,
                              default_target_pct=0.06),
    # every limit out of the way: what a research backtest compares against (backtesting.py's defaults)
    "none": RiskProfile(position_size=1.0, max_open_positions=1000, max_exposure_per_asset=1.0, daily_loss_limit=1.0,
                        max_drawdown=1.0, cooldown_losses=0, require_stops=False, default_stop_pct=0.0,
                        default_target_pct=0.0, drawdown_alerts=()),
}


def risk_profile(name: str = "moderate", overrides: Mapping[str, Any] | None = None) -> RiskProfile:
    """A named profile with some limits overridden; unknown names are a 4xx naming the field."""
    base = PROFILES.get(name)
    if base is None:
        raise ValidationError(f"unknown risk profile {excerpt(name)}: use one of {', '.join(PROFILES)}", field="risk")
    if not overrides:
        return base
    known = set(RiskProfile.__dataclass_fields__)
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValidationError(f"unknown risk limit {excerpt(unknown[0])}: use one of {', '.join(sorted(known))}",
                              field=f"risk_overrides.{str(unknown[0])[:40]}")
    try:
        return replace(base, **dict(overrides))
    except ValidationError as exc:  # name the override that broke the rule, not the profile's field
        raise ValidationError(str(exc), field=(exc.field or "risk").replace("risk.", "risk_overrides.", 1)) from None


@dataclass(frozen=True, slots=True)
class RiskState:
    """What the rules look at, gathered by the engine from the portfolio."""

    equity: float
    cash: float
    day_start_equity: float
    open_positions: int
    exposure: float  # the asset's current position value
    consecutive_losses: int
    last_loss_time: float | None
    halted: bool
    time: float


@dataclass(frozen=True, slots=True)
class Approved:
    side: PositionSide
    quantity: float
    stop_loss: float | None
    take_profit: float | None


@dataclass(frozen=True, slots=True)
class Denied:
    reason: DenialReason
    detail: str


def check_entry(intent: OrderIntent, *, price: float, state: RiskState, profile: RiskProfile) -> Approved | Denied:
    """Approve an entry with its quantity and levels, or deny it naming the rule (see the module docstring)."""
    assert intent.action == "enter" and intent.side is not None
    if state.halted:
        return Denied("halted", "the drawdown kill switch has paused trading; resume it by hand")
    if profile.cooldown_losses and state.consecutive_losses >= profile.cooldown_losses and state.last_loss_time is not None:
        until = state.last_loss_time + profile.cooldown_minutes * 60
        if state.time < until:
            return Denied("cooldown", f"{state.consecutive_losses} losses in a row; cooling down for "
                                      f"{(until - state.time) / 60:.0f} more minutes")
    if state.day_start_equity > 0:
        loss = 1 - state.equity / state.day_start_equity
        if loss >= profile.daily_loss_limit > 0 or (profile.daily_loss_limit == 0 and loss > 0):
            return Denied("daily_loss", f"down {loss:.2%} today (limit {profile.daily_loss_limit:.2%})")
    if state.open_positions >= profile.max_open_positions:
        return Denied("max_positions", f"{state.open_positions} positions open (limit {profile.max_open_positions})")
    if not (price > 0 and math.isfinite(price)):
        return Denied("size", f"no usable price ({price})")
    stop, target = _levels(intent, price, profile)
    if profile.require_stops and (stop is None or target is None):
        return Denied("levels", "an entry needs a stop-loss and a take-profit")
    quantity = _quantity(intent, price, stop, state, profile)
    if not quantity > 0:
        return Denied("size", f"the position size comes out at {quantity:g} (equity {state.equity:.2f}, "
                              f"cash {state.cash:.2f})")
    return Approved(intent.side, quantity, stop, target)


def _levels(intent: OrderIntent, price: float, profile: RiskProfile) -> tuple[float | None, float | None]:
    long = intent.side == "long"
    stop, target = intent.stop_loss, intent.take_profit
    if stop is not None and not (math.isfinite(stop) and stop > 0 and (stop < price if long else stop > price)):
        stop = None
    if target is not None and not (math.isfinite(target) and target > 0 and (target > price if long else target < price)):
        target = None
    if stop is None and profile.default_stop_pct > 0:
        stop = price * (1 - profile.default_stop_pct) if long else price * (1 + profile.default_stop_pct)
    if target is None and profile.default_target_pct > 0:
        target = price * (1 + profile.default_target_pct) if long else price * (1 - profile.default_target_pct)
    return stop, target


def _quantity(intent: OrderIntent, price: float, stop: float | None, state: RiskState, profile: RiskProfile) -> float:
    """The entry's quantity: the strategy's share (0..1) of the profile's size, capped by exposure and cash."""
    share = 1.0 if intent.size is None else min(max(intent.size, 0.0), 1.0)
    if profile.risk_per_trade is not None and stop is not None and stop != price:
        value = share * profile.risk_per_trade * state.equity / (abs(price - stop) / price)  # loses that at the stop
    else:
        value = share * profile.position_size * state.equity
    room = profile.max_exposure_per_asset * state.equity - state.exposure
    value = min(value, room, state.cash)
    return max(0.0, value / price)
