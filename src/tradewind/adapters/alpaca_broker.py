"""Alpaca's trading API as a ``Broker`` (``tradewind[alpaca]``): market orders on a paper or live account.

alpaca-py's ``TradingClient`` does the HTTP, with two of its defaults changed as in the Alpaca
feed: every request gets a timeout (it sends none), and its blind 429 retry (3 s sleeps) is off.
Instead each call gets a bounded retry of its own on 429, 5xx, network errors, timeouts and
malformed answers, honouring ``X-RateLimit-Reset``; when that is spent the call raises
``OrderRejected(reason="broker_unavailable")``, so the engine records it (every method raises
that, not only ``submit``). Refusals, the venue's or ours, become ``OrderRejected`` with a short
reason (``insufficient_balance``, ``wash_trade``, ``invalid_order``, ``invalid_quantity``,
``unknown_symbol``, ``unsupported_order_type``, ``unauthorized``, ``forbidden``...) quoting at
most ~200 characters of the venue's message.

How the port maps onto Alpaca:

- ``submit`` sends market orders only (Alpaca crypto has no bracket or OCO orders, so
  ``protective_orders`` is False and the engine watches stops itself), ``gtc`` for crypto and
  ``day`` for stocks, with the order's ``client_order_id``. A second submission of an id this
  instance knows sends nothing; Alpaca's 422 "client_order_id must be unique" (a retry after a
  lost answer, or a restart) means it is already placed: the order is looked up and followed.
- ``on_candle(symbol, ...)`` polls the orders of ``symbol`` submitted through this instance that
  are not yet fully reported and returns each newly filled quantity as a ``Fill``. Orders of other
  symbols wait for their own symbol's candle, as with the paper broker. A partial fill is
  reported as its increment, priced so the fills' notional adds up to Alpaca's ``filled_qty *
  filled_avg_price`` (for a single fill that is ``filled_avg_price``). The fee is 0: Alpaca takes
  crypto fees from the asset received and reports them as account activities, not on the order,
  so positions can be slightly smaller than the fills. A failed poll is logged and retried on the
  next candle; no fill is lost or reported twice.
- ``cancel`` cancels an open order by client id; an unknown, filled or cancelled one is ignored.
- ``account``, ``positions`` and ``open_orders`` give the venue's own view (the ``prices`` are not
  needed: Alpaca marks positions itself). For crypto the buying power is Alpaca's
  ``non_marginable_buying_power`` (crypto cannot be bought on margin), else ``buying_power``.

Every call blocks (alpaca-py is synchronous): call it from a worker thread in async code. Live
money needs ``paper=False`` and ``live_confirmed=True``; the keys appear in no log, error or repr.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from tradewind.adapters import alpaca_answers as answers
from tradewind.domain.candle import Candle
from tradewind.domain.clock import Clock, SystemClock
from tradewind.domain.errors import InvalidSymbol, OrderRejected, SymbolNotFound, TradewindError
from tradewind.domain.excerpt import excerpt
from tradewind.domain.orders import Account, Fill, Order, OrderType
from tradewind.domain.symbol import normalize_symbol
from tradewind.market.feeds.alpaca_feed import alpaca_symbol

__all__ = ["LIVE_TRADING_REFUSED", "AlpacaBroker"]

log = logging.getLogger(__name__)

AssetClass = Literal["crypto", "stock"]
T = TypeVar("T")

LIVE_TRADING_REFUSED = (
    "live trading needs TRADEWIND_LIVE_TRADING=true and TRADEWIND_LIVE_TRADING_CONFIRM=... "
    "(AlpacaBroker(paper=False) was not given live_confirmed=True)"
)
_EXTRA_HINT = "the alpaca broker needs the optional extra: pip install 'tradewind[alpaca]'"
_MESSAGE_CHARS = 200  # how much of the venue's message an error quotes
_MAX_CLIENT_ID = 128  # Alpaca's limit on client_order_id
_TERMINAL = frozenset({"filled", "canceled", "expired", "rejected", "replaced"})
_ORDER_TYPES: dict[str, OrderType] = {
    "market": "market", "limit": "limit", "stop": "stop", "stop_limit": "stop", "trailing_stop": "stop",
}
_REMEMBERED = 10_000  # finished client ids kept, so a late resubmission is still ignored


class AlpacaBroker:
    """Orders on Alpaca's trading API through alpaca-py; see the module docstring for the mapping."""

    protective_orders = False
    remote = True

    def __init__(
        self,
        api_key: str,
        secret_key: str,
        *,
        paper: bool = True,
        live_confirmed: bool = False,
        asset_class: AssetClass = "crypto",
        base_url: str | None = None,
        timeout: float = 10.0,
        retries: int = 2,
        retry_wait: float = 0.5,
        max_retry_wait: float = 5.0,
        clock: Clock | None = None,
    ) -> None:
        """``base_url`` overrides Alpaca's paper or live endpoint (https, or http to a loopback
        host); ``timeout`` bounds each HTTP request in seconds; a failed request is tried again up
        to ``retries`` times, after ``retry_wait`` doubling each time, or the wait a 429 asks for
        when that is at most ``max_retry_wait`` (longer: give up at once)."""
        if not paper and not live_confirmed:
            raise TradewindError(LIVE_TRADING_REFUSED)
        if asset_class not in ("crypto", "stock"):
            raise ValueError("asset_class must be 'crypto' or 'stock'")
        if not timeout > 0 or retries < 0 or retry_wait < 0 or max_retry_wait < 0:
            raise ValueError("timeout must be > 0; retries, retry_wait and max_retry_wait >= 0")
        if not isinstance(api_key, str) or not isinstance(secret_key, str) or not api_key or not secret_key:
            raise TradewindError("the alpaca broker needs an api_key and a secret_key")
        self._sdk = _Sdk()
        self.paper = paper
        self.name = "alpaca-paper" if paper else "alpaca"
        self.asset_class: AssetClass = asset_class
        self.base_url = _check_url(base_url) if base_url else None
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.retry_wait = float(retry_wait)
        self.max_retry_wait = float(max_retry_wait)
        self.clock: Clock = clock or SystemClock()
        self._sleep: Callable[[float], None] = time.sleep
        self._scrub = _scrubber(api_key, secret_key)
        self._client = self._sdk.TradingClient(api_key, secret_key, paper=paper, raw_data=True, url_override=self.base_url)
        self._client._retry = 0  # 429s come back to us at once; _call honours X-RateLimit-Reset
        adapter = self._sdk.timeout_adapter(self.timeout)
        self._client._session.mount("http://", adapter)
        self._client._session.mount("https://", adapter)
        self._pending: dict[str, _Tracked] = {}  # client_order_id -> an order not yet fully reported
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"AlpacaBroker(name={self.name!r}, asset_class={self.asset_class!r}, base_url={self.base_url!r})"

    def close(self) -> None:
        """Close the HTTP connections (the broker still works after: they reopen on demand)."""
        self._client._session.close()

    # --- orders ------------------------------------------------------------------------------------
    def submit(self, order: Order) -> None:
        """Place ``order`` (market only) or raise ``OrderRejected``; a known client id sends nothing."""
        cid = order.client_order_id
        with self._lock:
            if cid in self._pending or cid in self._finished:
                return
            request = self._order_request(order)
            key = normalize_symbol(order.symbol)
            what = f"order {excerpt(cid)}"
            try:
                placed = self._call(what, lambda: self._client.submit_order(request), answers.venue_order)
            except _VenueError as err:
                if err.status != 422 or "client_order_id must be unique" not in err.message.lower():
                    raise self._rejection(err, what) from None
                placed = self._existing(order, what)
                log.info("alpaca: %s was already placed (%s); following it", what, placed.status)
            if placed.status == "rejected":
                raise OrderRejected(f"alpaca rejected {what}", reason="rejected")
            self._pending[cid] = _Tracked(order, key, placed.id)

    def cancel(self, client_order_id: str) -> None:
        """Cancel the open order ``client_order_id``; unknown, filled or cancelled ones are ignored."""
        what = f"cancel of {excerpt(client_order_id)}"
        with self._lock:
            tracked = self._pending.get(client_order_id)
            if tracked is not None:
                venue_id = tracked.venue_id
            else:
                try:
                    found = self._call(what, lambda: self._client.get_order_by_client_id(client_order_id), answers.venue_order)
                except _VenueError as err:
                    if err.status == 404:
                        return
                    raise self._rejection(err, what) from None
                if found.status in _TERMINAL:
                    return
                venue_id = found.id
            try:
                self._call(what, lambda: self._client.cancel_order_by_id(venue_id), lambda _: None)
            except _VenueError as err:
                if err.status in (404, 422):  # gone, or no longer open (filled, already cancelled)
                    return
                raise self._rejection(err, what) from None

    def on_candle(self, symbol: str, candle: Candle) -> list[Fill]:
        """The new fills of this instance's orders of ``symbol`` since the last call."""
        key = normalize_symbol(symbol)
        fills: list[Fill] = []
        with self._lock:
            for tracked in [t for t in self._pending.values() if t.key == key]:
                what = f"status of order {excerpt(tracked.order.client_order_id)}"
                try:
                    state = self._call(what, lambda t=tracked: self._client.get_order_by_id(t.venue_id), answers.venue_order)
                except OrderRejected as exc:  # the venue is not answering: ask again on the next candle
                    log.warning("alpaca: %s; will ask again on the next candle", exc)
                    break
                except _VenueError as err:
                    if err.status == 404:
                        log.warning("alpaca: %s: the venue no longer knows it; not following it", what)
                        self._finish(tracked)
                        continue
                    log.warning("alpaca: %s: HTTP %s: %s", what, err.status, excerpt(err.message, _MESSAGE_CHARS))
                    break
                fill = self._progress(tracked, state)
                if fill is not None:
                    fills.append(fill)
        return fills

    # --- the venue's view --------------------------------------------------------------------------
    def account(self, prices: Mapping[str, float]) -> Account:
        """Cash, equity and buying power as Alpaca computes them (``prices`` is not needed)."""
        return self._read("account", self._client.get_account, self._account)

    def positions(self) -> dict[str, float]:
        """Every open position of the account, tradewind symbol -> signed quantity."""
        return self._read("positions", self._client.get_all_positions, answers.positions)

    def open_orders(self) -> list[Order]:
        """The account's open orders (up to 500, newest first), as ``Order``s."""
        request = self._sdk.GetOrdersRequest(status=self._sdk.QueryOrderStatus.OPEN, limit=500)
        venue_orders = self._read("open orders", lambda: self._client.get_orders(request), answers.venue_orders)
        with self._lock:
            known = {cid: t.order for cid, t in self._pending.items()}
        return [self._as_order(v, known.get(v.client_order_id)) for v in venue_orders]

    # --- helpers -----------------------------------------------------------------------------------
    def _order_request(self, order: Order) -> Any:
        cid = order.client_order_id
        if order.type != "market":
            raise OrderRejected(
                f"the alpaca broker sends market orders only, not {excerpt(order.type)} (the engine watches stops itself)",
                reason="unsupported_order_type",
            )
        if not isinstance(cid, str) or not cid or len(cid) > _MAX_CLIENT_ID:
            raise OrderRejected(f"client_order_id must be 1 to {_MAX_CLIENT_ID} characters, got {excerpt(cid)}",
                                reason="invalid_order")
        if order.side not in ("buy", "sell"):
            raise OrderRejected(f"order side must be buy or sell, got {excerpt(order.side)}", reason="invalid_order")
        quantity = order.quantity
        if isinstance(quantity, bool) or not isinstance(quantity, (int, float)) or not math.isfinite(quantity):
            raise OrderRejected(f"order quantity must be a finite number, got {excerpt(quantity)}",
                                reason="invalid_quantity")
        quantity = round(float(quantity), 9)  # Alpaca takes at most 9 decimals
        if quantity <= 0:
            raise OrderRejected(f"order quantity must be > 0, got {excerpt(order.quantity)}", reason="invalid_quantity")
        try:
            venue = alpaca_symbol(order.symbol, self.asset_class)
        except (InvalidSymbol, SymbolNotFound) as exc:
            raise OrderRejected(f"alpaca cannot trade {excerpt(order.symbol)}: {exc}", reason="unknown_symbol") from None
        sdk = self._sdk
        try:
            return sdk.MarketOrderRequest(
                symbol=venue,
                qty=quantity,
                side=sdk.OrderSide.BUY if order.side == "buy" else sdk.OrderSide.SELL,
                time_in_force=sdk.TimeInForce.GTC if self.asset_class == "crypto" else sdk.TimeInForce.DAY,
                client_order_id=cid,
            )
        except ValueError as exc:  # pydantic's validation of the request
            raise OrderRejected(f"invalid order {excerpt(cid)}: {excerpt(str(exc), _MESSAGE_CHARS)}",
                                reason="invalid_order") from None

    def _existing(self, order: Order, what: str) -> answers.VenueOrder:
        """The venue's order with ``order``'s client id, checked to be the same order."""
        cid = order.client_order_id
        try:
            found = self._call(what, lambda: self._client.get_order_by_client_id(cid), answers.venue_order)
        except _VenueError as err:
            raise OrderRejected(f"alpaca says {what} exists but cannot show it: HTTP {err.status}",
                                reason="duplicate_client_order_id") from None
        if answers.normalized(found.symbol) != normalize_symbol(order.symbol) or found.side != order.side:
            raise OrderRejected(
                f"client_order_id {excerpt(cid)} is already used at alpaca by another order "
                f"({found.side} {excerpt(found.symbol)})",
                reason="duplicate_client_order_id",
            )
        return found

    def _progress(self, tracked: _Tracked, state: answers.VenueOrder) -> Fill | None:
        """The fill since the last report of ``tracked``, if any; finishes it once it is done."""
        fill = None
        increment = round(state.filled_qty - tracked.filled, 9)
        if increment > 0:
            if state.filled_avg_price is None or state.filled_avg_price <= 0:
                log.warning("alpaca: order %s filled %g without a price yet; waiting for it",
                            excerpt(tracked.order.client_order_id), increment)
                return None
            notional = state.filled_qty * state.filled_avg_price
            price = (notional - tracked.notional) / increment
            if not math.isfinite(price) or price <= 0:
                price = state.filled_avg_price
            when = state.filled_at or state.updated_at or self.clock.now()
            order = tracked.order
            fill = Fill(order.client_order_id, order.symbol, order.side, increment, price, 0.0, when, order.reason)
            tracked.filled = state.filled_qty
            tracked.notional = notional
        if state.status in _TERMINAL:
            if state.status != "filled":
                log.info("alpaca: order %s ended %s", excerpt(tracked.order.client_order_id), state.status)
            self._finish(tracked)
        return fill

    def _finish(self, tracked: _Tracked) -> None:
        cid = tracked.order.client_order_id
        self._pending.pop(cid, None)
        self._finished[cid] = None
        while len(self._finished) > _REMEMBERED:
            self._finished.popitem(last=False)

    def _account(self, raw: object) -> Account:
        data = answers.mapping(raw, "account")
        cash = answers.number(data.get("cash"), "cash")
        equity = answers.number(data.get("equity") or data.get("portfolio_value"), "equity")
        power = data.get("non_marginable_buying_power") if self.asset_class == "crypto" else None
        power = data.get("buying_power") if power is None else power
        return Account(cash=cash, equity=equity, buying_power=answers.number(power, "buying_power"))

    def _as_order(self, venue: answers.VenueOrder, known: Order | None) -> Order:
        if known is not None:
            return known
        kind = _ORDER_TYPES.get(venue.type, "market")
        price = venue.limit_price if kind == "limit" else venue.stop_price if kind == "stop" else None
        return Order(venue.client_order_id, answers.normalized(venue.symbol), venue.side, venue.qty, kind,
                     venue.created_at or self.clock.now(), price)

    def _read(self, what: str, request: Callable[[], object], parse: Callable[[object], T]) -> T:
        try:
            return self._call(what, request, parse)
        except _VenueError as err:
            raise self._rejection(err, f"the {what} request") from None

    def _call(self, what: str, request: Callable[[], object], parse: Callable[[object], T]) -> T:
        """``parse(request())``, tried again on transient failures; ``_VenueError`` for a refusal."""
        sdk = self._sdk
        attempts = self.retries + 1
        problem = "no attempt"
        for attempt in range(attempts):
            wait = min(self.retry_wait * 2**attempt, self.max_retry_wait)
            try:
                return parse(request())
            except sdk.APIError as exc:
                status = exc.status_code
                message = self._scrub(_api_message(exc))
                if status is not None and status < 500 and status != 429:
                    raise _VenueError(status, message) from None
                problem = f"HTTP {status}: {excerpt(message, _MESSAGE_CHARS)}"
                if status == 429:
                    asked = _rate_limit_wait(exc)
                    if asked is not None and asked > self.max_retry_wait:
                        problem += f" (rate limited for {asked:.0f}s more)"
                        break
                    wait = max(wait, asked or 0.0)
            except sdk.Timeout:
                problem = f"no answer within {self.timeout:g}s"
            except sdk.ConnectionError as exc:
                problem = f"cannot reach the venue ({type(exc).__name__})"
            except (sdk.RequestException, answers.Malformed) as exc:  # incl. a body that is not JSON
                problem = f"malformed answer: {excerpt(self._scrub(str(exc)), _MESSAGE_CHARS)}"
            except Exception as exc:  # noqa: BLE001 - no SDK exception may reach the engine
                log.exception("alpaca: %s failed unexpectedly", what)
                raise OrderRejected(f"alpaca {what} failed: {type(exc).__name__}", reason="broker_error") from None
            if attempt + 1 < attempts:
                log.info("alpaca: %s: %s; trying again in %.2fs", what, problem, wait)
                self._sleep(wait)
        raise OrderRejected(f"alpaca {what} failed after {attempt + 1} attempt(s): {problem}",
                            reason="broker_unavailable")

    def _rejection(self, err: _VenueError, what: str) -> OrderRejected:
        text = err.message.lower()
        if err.status == 401:
            reason = "unauthorized"
        elif err.status == 403 and "insufficient" in text:
            reason = "insufficient_balance"
        elif err.status == 403 and "wash trade" in text:
            reason = "wash_trade"
        elif err.status == 403:
            reason = "forbidden"
        elif err.status in (400, 422):
            reason = "invalid_order"
        elif err.status == 404:
            reason = "not_found"
        else:
            reason = "rejected"
        return OrderRejected(f"alpaca refused {what}: HTTP {err.status}: {excerpt(err.message, _MESSAGE_CHARS)}",
                             reason=reason)


# --- internals -------------------------------------------------------------------------------------
@dataclass(slots=True)
class _Tracked:
    order: Order
    key: str  # the order's normalised symbol
    venue_id: str
    filled: float = 0.0  # quantity reported so far
    notional: float = 0.0  # the reported fills' quantity times price


class _VenueError(Exception):
    """Alpaca refused a request (a 4xx other than 429); ``message`` is already scrubbed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.message = message


class _Sdk:
    """alpaca-py and requests, imported when a broker is made (the extra is optional)."""

    def __init__(self) -> None:
        try:
            import requests
            from requests.adapters import HTTPAdapter
            from alpaca.common.exceptions import APIError
            from alpaca.trading.client import TradingClient
            from alpaca.trading.enums import OrderSide, QueryOrderStatus, TimeInForce
            from alpaca.trading.requests import GetOrdersRequest, MarketOrderRequest
        except ImportError as exc:
            raise TradewindError(_EXTRA_HINT) from exc
        self.TradingClient = TradingClient
        self.MarketOrderRequest = MarketOrderRequest
        self.GetOrdersRequest = GetOrdersRequest
        self.OrderSide = OrderSide
        self.TimeInForce = TimeInForce
        self.QueryOrderStatus = QueryOrderStatus
        self.APIError = APIError
        self.Timeout = requests.Timeout
        self.ConnectionError = requests.ConnectionError
        self.RequestException = requests.RequestException
        self._adapter = HTTPAdapter

    def timeout_adapter(self, timeout: float) -> Any:
        """A requests adapter that gives every request ``timeout`` (alpaca-py sends none)."""

        class TimeoutAdapter(self._adapter):  # type: ignore[name-defined,misc]
            def send(self, request: Any, **kwargs: Any) -> Any:
                if kwargs.get("timeout") is None:
                    kwargs["timeout"] = timeout
                return super().send(request, **kwargs)

        return TimeoutAdapter()


def _check_url(url: str) -> str:
    """``url`` without a trailing ``/`` or ``/v2``; plain http only to a loopback host (keys travel)."""
    parts = urlsplit(url)
    loopback = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme not in ("http", "https") or not parts.hostname or (parts.scheme == "http" and not loopback):
        raise TradewindError(f"alpaca base_url must be an https URL (plain http only to localhost), got {excerpt(url)}")
    return url.rstrip("/").removesuffix("/v2")


def _scrubber(*secrets: str) -> Callable[[str], str]:
    """A function that blanks ``secrets`` out of a text (a venue that echoes a header, say)."""

    def scrub(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "***")
        return text

    return scrub


def _api_message(exc: Any) -> str:
    """The ``message`` of an Alpaca error body, else the body itself."""
    text = str(exc)
    try:
        data = json.loads(text)
    except ValueError:
        return text
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return data["message"]
    return text


def _rate_limit_wait(exc: Any) -> float | None:
    """Seconds a 429 asks for: ``Retry-After``, else Alpaca's ``X-RateLimit-Reset`` (epoch seconds)."""
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    for name, relative in (("Retry-After", True), ("X-RateLimit-Reset", False)):
        try:
            value = float(headers.get(name, ""))
        except ValueError:
            continue
        if math.isfinite(value):
            return max(0.0, value if relative else value - time.time())
    return None
