"""A fake Alpaca trading API (paper account): orders, fills, cash and positions, over real HTTP.

Endpoints as alpaca-py's ``TradingClient`` calls them, all under ``APCA-API-KEY-ID`` /
``APCA-API-SECRET-KEY`` auth (401 ``{"code": 40110000, ...}`` otherwise):

- ``GET /v2/account``: cash, equity (= portfolio_value), buying power (cash less what open buy
  orders reserve), long/short market value, as strings like Alpaca's.
- ``POST /v2/orders``: market orders only (``qty`` > 0, a symbol the test priced, ``gtc``/``ioc``
  for crypto). Checks, in Alpaca's order: a duplicate ``client_order_id`` answers 422
  ``{"code": 40010001, "message": "client_order_id must be unique"}``; an open order of the other
  side on the symbol answers 403 "potential wash trade detected"; a buy above the buying power, or a
  crypto sell above the holding (crypto cannot be shorted), answers 403 ``{"code": 40310000,
  "message": "insufficient balance for USD (requested: ..., available: ...)"}``. Stocks (symbols
  without ``/``) may be sold short. The answer is the order as accepted (``pending_new``, nothing
  filled), as Alpaca's is even when the order fills a moment later.
- ``GET /v2/orders`` (``status`` open|closed|all, ``limit`` 1..500 default 50, ``direction``,
  ``symbols``, ``side``), ``GET /v2/orders/{id}``, ``GET /v2/orders:by_client_order_id``,
  ``DELETE /v2/orders/{id}`` (204; 422 when the order is no longer open; 404 when unknown).
- ``GET /v2/positions`` (crypto positions named without the slash, ``BTCUSD``, as Alpaca does;
  shorts have a negative ``qty`` and ``side: short``) and ``GET /v2/clock``.

Orders fill at the price the test sets (``set_price("BTC/USD", 65000.0)``): at once when
``auto_fill`` is on, else when the test calls ``fill_pending`` (which can fill part of an order).
One USD cash balance pays for everything, whatever a pair's quote currency.

Failures (``fail_next``): the shared kinds (``429`` with Alpaca's ``X-RateLimit-*`` headers and no
Retry-After, ``500``/``502``/``503`` and ``reset`` answer before the request is carried out;
``slow`` carries it out and answers after ``slow_seconds``, so a client that timed out has placed
its order anyway; ``truncated`` cuts the answer's JSON in half and ``malformed`` answers JSON of
the wrong shape, both after carrying the request out).
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from . import FAILURE_KINDS, FakeHTTPServer, Failure, Recorded, Reply, _Script, send

__all__ = ["API_KEY", "SECRET_KEY", "TRADING_FAILURE_KINDS", "FakeAlpacaTrading", "FakeOrder"]

API_KEY = "PKFAKE0TEST0KEY0ID00"
SECRET_KEY = "fake-secret-0123456789abcdefghijklmnopqrstu"
TRADING_FAILURE_KINDS = (*FAILURE_KINDS, "malformed", "reset")

_OPEN = ("new", "pending_new", "accepted", "partially_filled")
_EPS = 1e-12


@dataclass(slots=True)
class FakeOrder:
    id: str
    client_order_id: str
    symbol: str
    asset_class: str
    side: str
    qty: float
    time_in_force: str
    created_at: float
    status: str = "pending_new"
    filled_qty: float = 0.0
    filled_notional: float = 0.0
    updated_at: float = 0.0
    filled_at: float | None = None
    canceled_at: float | None = None

    @property
    def remaining(self) -> float:
        return max(0.0, self.qty - self.filled_qty)

    @property
    def is_open(self) -> bool:
        return self.status in _OPEN


@dataclass(slots=True)
class _Holding:
    qty: float
    avg_entry: float
    asset_id: str


class FakeAlpacaTrading(FakeHTTPServer):
    """Alpaca's trading API on 127.0.0.1; ``orders``, ``cash`` and ``holdings`` are its state."""

    default_failure_prefix = "/v2"

    def __init__(
        self,
        *,
        api_key: str = API_KEY,
        secret_key: str = SECRET_KEY,
        cash: float = 100_000.0,
        auto_fill: bool = True,
        shorting_enabled: bool = True,
        now: Callable[[], float] = time.time,
        slow_seconds: float = 1.5,
    ) -> None:
        super().__init__(now=now, slow_seconds=slow_seconds)
        self.api_key = api_key
        self.secret_key = secret_key
        self.cash = cash
        self.auto_fill = auto_fill
        self.shorting_enabled = shorting_enabled
        self.market_open = True
        self.prices: dict[str, float] = {}
        self.orders: list[FakeOrder] = []
        self.holdings: dict[str, _Holding] = {}  # Alpaca's order symbol (BTC/USD) -> holding
        self.order_bodies: list[dict[str, Any]] = []  # every POST /v2/orders body, accepted or not
        self.account_id = str(uuid.uuid4())
        self._state = threading.RLock()

    # --- the test's controls -----------------------------------------------------------------------
    def set_price(self, symbol: str, price: float) -> None:
        """Price ``symbol`` (Alpaca's name: ``BTC/USD``, ``AAPL``); an unpriced symbol is unknown."""
        with self._state:
            self.prices[symbol] = float(price)

    def fill_pending(self, qty: float | None = None, *, client_order_id: str | None = None) -> list[FakeOrder]:
        """Fill the open orders (or the one with ``client_order_id``) by ``qty`` each (default: all
        that is left) at their symbol's current price; returns the orders that filled."""
        with self._state:
            filled = []
            for order in self.orders:
                if order.is_open and (client_order_id is None or order.client_order_id == client_order_id):
                    self._fill(order, order.remaining if qty is None else min(qty, order.remaining))
                    filled.append(order)
            return filled

    def placed(self, client_order_id: str | None = None) -> list[FakeOrder]:
        """The orders the venue accepted (with ``client_order_id``, if given)."""
        with self._state:
            return [o for o in self.orders if client_order_id is None or o.client_order_id == client_order_id]

    def fail_next(self, kind: str, count: int = 1, *, retry_after: float | None = None, path_prefix: str | None = None) -> None:
        """As ``FakeHTTPServer.fail_next``, with the kinds ``malformed`` and ``reset`` too."""
        if kind not in TRADING_FAILURE_KINDS:
            raise ValueError(f"unknown failure kind {kind!r}")
        with self._lock:
            self._scripts.append(_Script(Failure(kind, retry_after), count, path_prefix or self.default_failure_prefix))

    # --- serving (GET, POST and DELETE, with bodies) -----------------------------------------------
    def start(self) -> FakeAlpacaTrading:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                server._serve_method(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                server._serve_method(self, "POST")

            def do_DELETE(self) -> None:  # noqa: N802
                server._serve_method(self, "DELETE")

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self._listen(Handler)
        return self

    def _serve_method(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        path = unquote(parts.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        headers = {k: v for k, v in handler.headers.items()}
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length > 0 else b""
        failure = self._take_failure(path)
        with self._lock:
            self.requests.append(Recorded(method, path, query, headers, failure and failure.kind, time.monotonic()))
        if failure is not None and failure.kind == "reset":
            handler.close_connection = True  # no answer at all: the client sees the connection drop
            return
        if failure is not None and failure.kind == "429":
            reply = self.rate_limited(failure)
        elif failure is not None and failure.kind in ("500", "502", "503"):
            reply = self.server_error(int(failure.kind))
        else:
            try:
                reply = self.handle(method, path, query, headers, raw)
            except Exception as exc:  # a bug in the fake must show, not hang the client
                reply = Reply(599, {"message": f"fake server error: {type(exc).__name__}: {exc}"})
            if failure is not None and failure.kind == "slow":
                time.sleep(self.slow_seconds)
        if reply.status == 204:
            body = b""
        else:
            answer = reply.body
            if failure is not None and failure.kind == "malformed":
                answer = {"data": answer} if isinstance(answer, list) else [answer]
            body = json.dumps(answer, separators=(",", ":")).encode()
            if failure is not None and failure.kind == "truncated":
                body = body[: max(1, len(body) // 2)]
        send(handler, reply, body)

    def rate_limited(self, failure: Failure) -> Reply:
        reset = int(time.time() + (failure.retry_after or 0))  # epoch seconds, as Alpaca sends it
        return Reply(429, {"message": "too many requests."},
                     {"X-RateLimit-Limit": "200", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)})

    def server_error(self, status: int) -> Reply:
        return Reply(status, {"message": "internal server error occurred"})

    def route(self, path: str, query: dict[str, str], headers: dict[str, str], failure: Failure | None) -> Reply:
        return self.handle("GET", path, query, headers, b"")

    # --- the protocol ------------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes) -> Reply:
        lowered = {k.lower(): v for k, v in headers.items()}
        if lowered.get("apca-api-key-id") != self.api_key or lowered.get("apca-api-secret-key") != self.secret_key:
            return Reply(401, {"code": 40110000, "message": "request is not authorized"})
        with self._state:
            if method == "GET" and path == "/v2/account":
                return Reply(200, self._account())
            if method == "GET" and path == "/v2/clock":
                return Reply(200, self._clock())
            if method == "GET" and path == "/v2/positions":
                return Reply(200, [self._position(s, h) for s, h in sorted(self.holdings.items())])
            if path == "/v2/orders" and method == "POST":
                try:
                    body = json.loads(raw or b"null")
                except ValueError:
                    return Reply(400, {"code": 40010000, "message": "request body format is invalid"})
                if not isinstance(body, dict):
                    return Reply(400, {"code": 40010000, "message": "request body format is invalid"})
                self.order_bodies.append(body)
                return self._submit(body)
            if path == "/v2/orders" and method == "GET":
                return self._list(query)
            if path == "/v2/orders:by_client_order_id" and method == "GET":
                order = next((o for o in self.orders if o.client_order_id == query.get("client_order_id")), None)
                return Reply(200, self._order(order)) if order else _not_found()
            if path.startswith("/v2/orders/"):
                order = next((o for o in self.orders if o.id == path.removeprefix("/v2/orders/")), None)
                if order is None:
                    return _not_found()
                if method == "GET":
                    return Reply(200, self._order(order))
                if method == "DELETE":
                    return self._cancel(order)
        return Reply(404, {"code": 40410000, "message": "endpoint not found"})

    def _submit(self, body: dict[str, Any]) -> Reply:
        symbol = str(body.get("symbol") or "")
        side = body.get("side")
        cid = str(body.get("client_order_id") or uuid.uuid4())
        if len(cid) > 128:
            return _invalid("client_order_id must be no more than 128 characters")
        if any(o.client_order_id == cid for o in self.orders):
            return _invalid("client_order_id must be unique")
        if body.get("type") != "market":
            return Reply(422, {"code": 42210000, "message": "this fake takes market orders only"})
        if side not in ("buy", "sell"):
            return _invalid("side must be buy or sell")
        if body.get("notional") is not None:
            return Reply(422, {"code": 42210000, "message": "this fake takes qty orders only"})
        try:
            qty = float(body.get("qty"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return _invalid("qty is required")
        if not math.isfinite(qty) or qty <= 0:
            return _invalid("qty must be > 0")
        price = self.prices.get(symbol)
        if price is None:
            return Reply(422, {"code": 40010001, "message": f"asset not found: {symbol[:40]}"})
        crypto = "/" in symbol
        tif = body.get("time_in_force")
        if tif not in (("gtc", "ioc") if crypto else ("day", "gtc", "opg", "cls", "ioc", "fok")):
            return Reply(422, {"code": 42210000, "message": f"invalid {'crypto ' if crypto else ''}time_in_force: {tif}"})
        opposite = next((o for o in self.orders if o.is_open and o.symbol == symbol and o.side != side), None)
        if opposite is not None:
            return Reply(403, {"code": 40310000, "message": "potential wash trade detected. use complex orders",
                               "reject_reason": "opposite side market/stop order exists", "existing_order_id": opposite.id})
        held = self.holdings.get(symbol)
        if side == "buy":
            available = self._buying_power()
            if qty * price > available + _EPS:
                return Reply(403, {"code": 40310000, "message":
                                   f"insufficient balance for USD (requested: {qty * price:.2f}, available: {available:.2f})"})
        elif crypto or not self.shorting_enabled:
            reserved = sum(o.remaining for o in self.orders if o.is_open and o.symbol == symbol and o.side == "sell")
            available = max(0.0, (held.qty if held else 0.0) - reserved)
            if qty > available + _EPS:
                asset = symbol.partition("/")[0]
                return Reply(403, {"code": 40310000, "message":
                                   f"insufficient balance for {asset} (requested: {_num(qty)}, available: {_num(available)})"})
        now = self.now()
        order = FakeOrder(str(uuid.uuid4()), cid, symbol, "crypto" if crypto else "us_equity", side, qty, tif,
                          created_at=now, updated_at=now)
        self.orders.append(order)
        accepted = self._order(order)
        if self.auto_fill:
            self._fill(order, qty)
        return Reply(200, accepted)

    def _list(self, query: dict[str, str]) -> Reply:
        status = query.get("status", "open")
        if status not in ("open", "closed", "all"):
            return _invalid(f"invalid status: {status[:20]}")
        try:
            limit = int(query.get("limit") or 50)
        except ValueError:
            return _invalid("invalid limit")
        if not 1 <= limit <= 500:
            return _invalid("limit must be between 1 and 500")
        symbols = {s for s in query.get("symbols", "").split(",") if s}
        chosen = [
            o for o in self.orders
            if (status == "all" or o.is_open == (status == "open"))
            and (not symbols or o.symbol in symbols or o.symbol.replace("/", "") in symbols)
            and (not query.get("side") or o.side == query["side"])
        ]
        chosen.sort(key=lambda o: o.created_at, reverse=query.get("direction", "desc") != "asc")
        return Reply(200, [self._order(o) for o in chosen[:limit]])

    def _cancel(self, order: FakeOrder) -> Reply:
        if not order.is_open:
            return Reply(422, {"code": 42210000, "message": f'order is already in "{order.status}" state'})
        order.status = "canceled"
        order.canceled_at = order.updated_at = self.now()
        return Reply(204, None)

    # --- accounting --------------------------------------------------------------------------------
    def _fill(self, order: FakeOrder, qty: float) -> None:
        if qty <= _EPS:
            return
        price = self.prices[order.symbol]
        signed = qty if order.side == "buy" else -qty
        self.cash -= signed * price
        held = self.holdings.get(order.symbol)
        if held is None:
            self.holdings[order.symbol] = _Holding(signed, price, str(uuid.uuid5(uuid.NAMESPACE_URL, order.symbol)))
        else:
            total = held.qty + signed
            if abs(total) <= _EPS:
                del self.holdings[order.symbol]
            elif held.qty * signed > 0:  # adding to the position
                held.avg_entry = (held.avg_entry * abs(held.qty) + price * qty) / abs(total)
                held.qty = total
            else:  # reducing it, or flipping through zero
                if held.qty * total < 0:
                    held.avg_entry = price
                held.qty = total
        order.filled_qty += qty
        order.filled_notional += qty * price
        order.updated_at = self.now()
        order.filled_at = order.updated_at
        order.status = "filled" if order.remaining <= _EPS else "partially_filled"

    def _buying_power(self) -> float:
        reserved = sum(o.remaining * self.prices.get(o.symbol, 0.0) for o in self.orders if o.is_open and o.side == "buy")
        return max(0.0, self.cash - reserved)

    def _market_values(self) -> tuple[float, float]:
        values = [h.qty * self.prices.get(s, h.avg_entry) for s, h in self.holdings.items()]
        return sum(v for v in values if v > 0), sum(v for v in values if v < 0)

    # --- JSON as Alpaca writes it ------------------------------------------------------------------
    def _account(self) -> dict[str, Any]:
        long_value, short_value = self._market_values()
        equity = self.cash + long_value + short_value
        power = self._buying_power()
        return {
            "id": self.account_id, "account_number": "PA3FAKE0TEST", "status": "ACTIVE", "crypto_status": "ACTIVE",
            "currency": "USD", "buying_power": _num(power), "regt_buying_power": _num(power),
            "non_marginable_buying_power": _num(power), "options_buying_power": _num(power),
            "cash": _num(self.cash), "accrued_fees": "0", "pending_transfer_in": "0", "pending_transfer_out": "0",
            "portfolio_value": _num(equity), "equity": _num(equity), "last_equity": _num(equity),
            "long_market_value": _num(long_value), "short_market_value": _num(short_value),
            "initial_margin": "0", "maintenance_margin": "0", "last_maintenance_margin": "0", "sma": "0",
            "multiplier": "1", "shorting_enabled": self.shorting_enabled, "trading_blocked": False,
            "transfers_blocked": False, "account_blocked": False, "trade_suspended_by_user": False,
            "created_at": _stamp(self.now() - 86400 * 30), "options_approved_level": 0, "options_trading_level": 0,
        }

    def _order(self, order: FakeOrder) -> dict[str, Any]:
        avg = order.filled_notional / order.filled_qty if order.filled_qty > 0 else None
        return {
            "id": order.id, "client_order_id": order.client_order_id,
            "created_at": _stamp(order.created_at), "updated_at": _stamp(order.updated_at),
            "submitted_at": _stamp(order.created_at),
            "filled_at": _stamp(order.filled_at) if order.filled_at is not None and order.status == "filled" else None,
            "expired_at": None, "canceled_at": _stamp(order.canceled_at) if order.canceled_at is not None else None,
            "failed_at": None, "replaced_at": None, "replaced_by": None, "replaces": None,
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, order.symbol)), "symbol": order.symbol,
            "asset_class": order.asset_class, "notional": None, "qty": _num(order.qty),
            "filled_qty": _num(order.filled_qty), "filled_avg_price": _num(avg) if avg is not None else None,
            "order_class": "", "order_type": "market", "type": "market", "side": order.side,
            "position_intent": ("buy_to_open" if order.side == "buy" else "sell_to_close"),
            "time_in_force": order.time_in_force, "limit_price": None, "stop_price": None,
            "status": order.status, "extended_hours": False, "legs": None,
            "trail_percent": None, "trail_price": None, "hwm": None, "subtag": None, "source": None,
        }

    def _position(self, symbol: str, held: _Holding) -> dict[str, Any]:
        price = self.prices.get(symbol, held.avg_entry)
        crypto = "/" in symbol
        cost = held.qty * held.avg_entry
        value = held.qty * price
        return {
            "asset_id": held.asset_id, "symbol": symbol.replace("/", ""),
            "exchange": "CRYPTO" if crypto else "NASDAQ", "asset_class": "crypto" if crypto else "us_equity",
            "asset_marginable": not crypto, "avg_entry_price": _num(held.avg_entry), "qty": _num(held.qty),
            "side": "long" if held.qty > 0 else "short", "market_value": _num(value), "cost_basis": _num(cost),
            "unrealized_pl": _num(value - cost), "unrealized_plpc": _num((value - cost) / abs(cost) if cost else 0.0),
            "unrealized_intraday_pl": _num(value - cost), "unrealized_intraday_plpc": "0",
            "current_price": _num(price), "lastday_price": _num(price), "change_today": "0",
            "qty_available": _num(held.qty),
        }

    def _clock(self) -> dict[str, Any]:
        now = self.now()
        return {"timestamp": _stamp(now), "is_open": self.market_open,
                "next_open": _stamp(now + 3600), "next_close": _stamp(now + 7200)}


def _invalid(message: str) -> Reply:
    return Reply(422, {"code": 40010001, "message": message})


def _not_found() -> Reply:
    return Reply(404, {"code": 40410000, "message": "order not found"})


def _num(value: float) -> str:
    """A decimal string as Alpaca sends numbers, without float noise (``0.6000000000000001``)."""
    text = format(value, ".15g")
    return "0" if text == "-0" else text


def _stamp(seconds: float) -> str:
    """RFC 3339 with nanoseconds, as Alpaca writes times (``2024-05-01T12:00:00.123456789Z``)."""
    moment = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=round(seconds * 1e6))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
