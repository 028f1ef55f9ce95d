"""Alpaca's trading REST answers (orders, positions, accounts), parsed and checked.

alpaca-py's own models are not trusted with a venue's answer: each field the broker uses is read
from the raw JSON here, and anything of another shape is a ``Malformed`` answer naming the field,
with an excerpt of the value, never a crash further in.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from tradewind.domain.errors import InvalidSymbol
from tradewind.domain.excerpt import excerpt
from tradewind.domain.orders import Side
from tradewind.domain.symbol import normalize_symbol

__all__ = ["Malformed", "VenueOrder", "epoch", "mapping", "normalized", "number", "optional", "positions",
           "venue_order", "venue_orders"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class VenueOrder:
    id: str
    client_order_id: str
    symbol: str
    side: Side
    qty: float
    type: str
    status: str
    filled_qty: float
    filled_avg_price: float | None
    filled_at: float | None
    updated_at: float | None
    created_at: float | None
    limit_price: float | None
    stop_price: float | None


class Malformed(ValueError):
    """An answer whose JSON does not have the shape Alpaca documents."""


def mapping(raw: object, what: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise Malformed(f"expected an {what} object, got {type(raw).__name__}")
    return raw


def number(value: object, field: str, *, optional: bool = False) -> float:
    """A finite number from Alpaca's decimal string (or a JSON number)."""
    if optional and (value is None or value == ""):  # Alpaca leaves some fields "" rather than null
        return math.nan
    try:
        parsed = float(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else math.nan
    except ValueError:
        parsed = math.nan
    if not math.isfinite(parsed):
        raise Malformed(f"{field} is not a number: {excerpt(value)}")
    return parsed


def optional(value: object, field: str) -> float | None:
    parsed = number(value, field, optional=True)
    return None if math.isnan(parsed) else parsed


def epoch(value: object, field: str) -> float | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Malformed(f"{field} is not a time: {excerpt(value)}")
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        raise Malformed(f"{field} is not a time: {excerpt(value)}") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return stamp.timestamp()


def venue_order(raw: object) -> VenueOrder:
    data = mapping(raw, "order")
    texts = {name: data.get(name) for name in ("id", "client_order_id", "symbol", "side", "status")}
    for name, text in texts.items():
        if not isinstance(text, str) or not text:
            raise Malformed(f"order {name} is missing or not a string: {excerpt(text)}")
    if texts["side"] not in ("buy", "sell"):
        raise Malformed(f"order side is {excerpt(texts['side'])}")
    return VenueOrder(
        id=texts["id"],
        client_order_id=texts["client_order_id"],
        symbol=texts["symbol"],
        side=texts["side"],
        qty=optional(data.get("qty"), "qty") or 0.0,
        type=str(data.get("type") or data.get("order_type") or "market"),
        status=texts["status"],
        filled_qty=optional(data.get("filled_qty"), "filled_qty") or 0.0,
        filled_avg_price=optional(data.get("filled_avg_price"), "filled_avg_price"),
        filled_at=epoch(data.get("filled_at"), "filled_at"),
        updated_at=epoch(data.get("updated_at"), "updated_at"),
        created_at=epoch(data.get("submitted_at") or data.get("created_at"), "created_at"),
        limit_price=optional(data.get("limit_price"), "limit_price"),
        stop_price=optional(data.get("stop_price"), "stop_price"),
    )


def venue_orders(raw: object) -> list[VenueOrder]:
    if not isinstance(raw, list):
        raise Malformed(f"expected a list of orders, got {type(raw).__name__}")
    return [venue_order(item) for item in raw]


def normalized(venue_symbol: str) -> str:
    """Alpaca's ``BTC/USD`` or ``BTCUSD`` as tradewind's ``BTCUSD``."""
    try:
        return normalize_symbol(venue_symbol)
    except InvalidSymbol:
        return venue_symbol


def positions(raw: object) -> dict[str, float]:
    if not isinstance(raw, list):
        raise Malformed(f"expected a list of positions, got {type(raw).__name__}")
    held: dict[str, float] = {}
    for item in raw:
        data = mapping(item, "position")
        symbol = data.get("symbol")
        if not isinstance(symbol, str):
            raise Malformed(f"position symbol is {excerpt(symbol)}")
        try:
            key = normalize_symbol(symbol)
        except InvalidSymbol:
            log.warning("alpaca: skipping a position in %s (not a tradewind symbol)", excerpt(symbol))
            continue
        qty = abs(number(data.get("qty"), "qty"))
        held[key] = held.get(key, 0.0) + (-qty if data.get("side") == "short" else qty)
    return held
