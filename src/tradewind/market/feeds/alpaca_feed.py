"""Live crypto or stock bars from Alpaca's market-data REST API (``tradewind[alpaca]``).

alpaca-py's historical clients do the HTTP; they are synchronous, so ``run`` calls them in a
worker thread from the shared polling loop. Two of their defaults do not suit a live feed and are
changed on each client: no request timeout (we set one) and a built-in 429 retry that sleeps
3 s blindly (we turn it off and honour the server's Retry-After / X-RateLimit-Reset instead).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from functools import cache
from types import ModuleType
from typing import Any, Literal

from tradewind.domain.candle import Candle
from tradewind.domain.clock import Clock, SystemClock
from tradewind.domain.errors import FeedError, InvalidSymbol, SymbolNotFound
from tradewind.domain.ports import CandleSink, FeedCapabilities
from tradewind.domain.symbol import normalize_symbol
from tradewind.domain.timeframe import Timeframe
from tradewind.market.feeds.polling import FeedStats, parse_candles, parse_retry_after, poll_candles

__all__ = ["AlpacaFeed", "alpaca_symbol"]

log = logging.getLogger(__name__)

AssetClass = Literal["crypto", "stock"]

_EXTRA_HINT = "the alpaca feed needs the optional extra: pip install 'tradewind[alpaca]'"
_QUOTES = ("USDT", "USDC", "USD", "BTC", "ETH")  # longest first: BTCUSDT is BTC/USDT, not BTCUSD/T
_PAGE = 1000
_MIN_LOOKBACK = 14 * 86400  # covers weekends and holidays when asking for "the last N bars"


def alpaca_symbol(symbol: str, asset_class: AssetClass) -> str:
    """Alpaca's name for a tradewind symbol: ``BTCUSD``/``BTC/USD`` -> ``BTC/USD``; stocks as is."""
    if asset_class == "stock":
        return normalize_symbol(symbol).upper()
    text = symbol.strip().upper() if isinstance(symbol, str) else ""
    if "/" in text:
        base, _, quote = text.partition("/")
        if base.isalnum() and quote.isalnum():
            return f"{base}/{quote}"
        raise InvalidSymbol(f"invalid crypto pair {symbol!r}: use e.g. BTC/USD or BTCUSD", field="symbol")
    compact = normalize_symbol(text)
    for quote in _QUOTES:
        if compact.endswith(quote) and len(compact) > len(quote) and compact[: -len(quote)].isalnum():
            return f"{compact[: -len(quote)]}/{quote}"
    raise SymbolNotFound(f"{symbol!r} is not an Alpaca crypto pair (quote must be one of {', '.join(_QUOTES)})")


class AlpacaFeed:
    """Bars of Alpaca's crypto or stock data API, polled over REST; see ``stats``."""

    name = "alpaca"

    def __init__(
        self,
        api_key: str | None,
        secret_key: str | None,
        *,
        asset_class: AssetClass = "crypto",
        base_timeframe: Timeframe = Timeframe.M1,
        poll_seconds: float = 5.0,
        data_url: str | None = None,
        clock: Clock | None = None,
        stock_feed: str | None = None,
        timeout: float = 10.0,
        max_backoff: float = 60.0,
    ) -> None:
        """``data_url`` overrides https://data.alpaca.markets; ``stock_feed`` picks ``iex``/``sip``
        (free plans need ``iex``); ``timeout`` bounds each HTTP request in seconds."""
        if asset_class not in ("crypto", "stock"):
            raise ValueError("asset_class must be 'crypto' or 'stock'")
        if poll_seconds <= 0 or timeout <= 0:
            raise ValueError("poll_seconds and timeout must be > 0")
        self._sdk = _sdk()
        self.api_key = api_key or None
        self.secret_key = secret_key or None
        self.asset_class: AssetClass = asset_class
        self.base_timeframe = base_timeframe
        self.poll_seconds = poll_seconds
        self.capabilities = FeedCapabilities(poll_seconds=poll_seconds, stats=True)
        self.data_url = data_url.rstrip("/") if data_url else None
        self.clock: Clock = clock or SystemClock()
        self.stock_feed = stock_feed
        self.timeout = timeout
        self.max_backoff = max_backoff
        self.stats = FeedStats()
        self._history_client = self._client()

    # --- history ---------------------------------------------------------------------------------
    def history(self, symbol: str, timeframe: Timeframe, limit: int, *, until: float | None = None) -> list[Candle]:
        """Up to ``limit`` closed bars ending at or before ``until`` (default: now), oldest first.

        Asks for the newest ``limit`` bars before the forming one (``sort=desc``), so market
        closures do not shorten the answer. No bar at all in the lookback means the symbol is
        unknown to Alpaca (it answers unknown symbols with an empty set): ``SymbolNotFound``.
        """
        if limit <= 0:
            return []
        venue = alpaca_symbol(symbol, self.asset_class)
        end = timeframe.bucket(self.clock.now() if until is None else until)
        start = end - max(limit * timeframe.seconds * 4, _MIN_LOOKBACK)
        source = f"alpaca {self.asset_class} {venue} {timeframe.value}"
        try:
            rows = self._bars(self._history_client, venue, timeframe, start=start, end=end - 1, limit=limit, newest_first=True)
        except (FeedError, SymbolNotFound):
            raise
        except Exception as exc:  # noqa: BLE001 - whatever the SDK raised, the caller sees a FeedError
            raise self._feed_error(exc, source) from exc
        if rows is None:
            raise SymbolNotFound(f"Alpaca has no {self.asset_class} bars for {venue!r} (unknown symbol?)")
        candles, error = parse_candles(rows, _alpaca_fields, source=source)
        if error is not None:
            raise error
        return sorted((c for c in candles if c.time < end), key=lambda c: c.time)[-limit:]

    # --- live polling ----------------------------------------------------------------------------
    async def run(self, sink: CandleSink, symbols: Sequence[str]) -> None:
        """Poll the base timeframe of every symbol until cancelled.

        Network and venue failures are retried with backoff and counted in ``stats``; only a
        configuration error (no client, no such timeframe) raises ``FeedError``.
        """
        venues: dict[str, str] = {}
        for symbol in symbols:
            try:
                venues[normalize_symbol(symbol)] = alpaca_symbol(symbol, self.asset_class)
            except (SymbolNotFound, InvalidSymbol) as exc:
                self.stats.record_error(exc)
                log.error("alpaca: %s; not polling it", exc)
        try:
            client = self._client()
        except Exception as exc:  # a configuration error: the runtime shows the feed as failed
            self.stats.record_error(exc)
            raise FeedError(f"alpaca feed cannot start: {exc}") from exc

        async def fetch(venue: str, since: int) -> Sequence[object]:
            rows = await asyncio.to_thread(self._bars, client, venue, self.base_timeframe, start=since, limit=_PAGE)
            return rows or []

        try:
            await poll_candles(
                sink=sink,
                symbols=venues,
                timeframe=self.base_timeframe,
                fetch=fetch,
                to_fields=_alpaca_fields,
                clock=self.clock,
                poll_seconds=self.poll_seconds,
                max_backoff=self.max_backoff,
                stats=self.stats,
                retry_after=lambda exc: _retry_after(exc, self._sdk.APIError),
                source=f"alpaca {self.asset_class}",
            )
        finally:
            session = getattr(client, "_session", None)
            if session is not None:
                session.close()

    # --- helpers ---------------------------------------------------------------------------------
    def _client(self) -> Any:
        historical = importlib.import_module("alpaca.data.historical")
        cls = historical.CryptoHistoricalDataClient if self.asset_class == "crypto" else historical.StockHistoricalDataClient
        try:
            client = cls(self.api_key, self.secret_key, raw_data=True, url_override=self.data_url)
        except ValueError as exc:  # alpaca-py's credential check
            raise FeedError(f"alpaca {self.asset_class} data needs api_key and secret_key: {exc}") from exc
        if hasattr(client, "_retry"):
            client._retry = 0  # 429s come back to us at once; the polling loop honours Retry-After
        session = getattr(client, "_session", None)
        if session is not None:
            adapter = _timeout_adapter()(self.timeout)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        return client

    def _bars(
        self,
        client: Any,
        venue: str,
        timeframe: Timeframe,
        *,
        start: int,
        limit: int,
        end: int | None = None,
        newest_first: bool = False,
    ) -> list[object] | None:
        """Raw bar dicts of one symbol, or None when the answer does not mention the symbol."""
        requests_mod = importlib.import_module("alpaca.data.requests")
        sort = importlib.import_module("alpaca.common.enums").Sort
        fields: dict[str, Any] = {
            "symbol_or_symbols": venue,
            "timeframe": _alpaca_timeframe(timeframe),
            "start": _utc(start),
            "limit": limit,
            "sort": sort.DESC if newest_first else sort.ASC,
        }
        if end is not None:
            fields["end"] = _utc(end)
        if self.asset_class == "crypto":
            raw = client.get_crypto_bars(requests_mod.CryptoBarsRequest(**fields))
        else:
            if self.stock_feed:
                fields["feed"] = importlib.import_module("alpaca.data.enums").DataFeed(self.stock_feed)
            raw = client.get_stock_bars(requests_mod.StockBarsRequest(**fields))
        if not isinstance(raw, dict):
            raise FeedError(f"alpaca answered {type(raw).__name__} where bars were expected")
        bars = raw.get(venue)
        if bars is None:
            return None
        if not isinstance(bars, list):
            raise FeedError(f"alpaca bars for {venue} are {type(bars).__name__}, not a list")
        return bars

    def _feed_error(self, exc: Exception, source: str) -> Exception:
        api_error = self._sdk.APIError
        if isinstance(exc, api_error):
            status = exc.status_code
            message = _api_message(exc)
            if status in (400, 404, 422) and "symbol" in message.lower():
                return SymbolNotFound(f"{source}: {message}")
            wait = _retry_after(exc, api_error)
            hint = f" (retry after {wait:g}s)" if wait is not None else ""
            return FeedError(f"{source}: HTTP {status}: {message}{hint}")
        if isinstance(exc, json.JSONDecodeError):
            return FeedError(f"{source}: response is not valid JSON ({exc})")
        return FeedError(f"{source}: {type(exc).__name__}: {exc}")


def _alpaca_fields(raw: object) -> Sequence[object]:
    """``{"t": RFC-3339, "o", "h", "l", "c", "v", ...}`` -> ``(time_s, o, h, l, c, v)``."""
    if not isinstance(raw, dict):
        raise ValueError("expected a bar object")
    stamp = datetime.fromisoformat(str(raw["t"]))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    seconds = stamp.timestamp()
    return (int(seconds) if seconds.is_integer() else seconds, raw["o"], raw["h"], raw["l"], raw["c"], raw["v"])


def _retry_after(exc: BaseException, api_error: type[Exception]) -> float | None:
    """Seconds a 429 asks us to wait: ``Retry-After``, else Alpaca's ``X-RateLimit-Reset`` (epoch s)."""
    if not isinstance(exc, api_error) or getattr(exc, "status_code", None) != 429:
        return None
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    wait = parse_retry_after(headers.get("Retry-After"))
    if wait is None and headers.get("X-RateLimit-Reset"):
        try:
            wait = max(0.0, float(headers["X-RateLimit-Reset"]) - time.time())
        except ValueError:
            wait = None
    return wait


def _api_message(exc: Any) -> str:
    try:
        return str(exc.message)
    except (ValueError, KeyError, TypeError):
        return str(exc)[:300]


def _alpaca_timeframe(timeframe: Timeframe) -> Any:
    tf = importlib.import_module("alpaca.data.timeframe")
    unit = tf.TimeFrameUnit
    amount, which = {
        Timeframe.M1: (1, unit.Minute),
        Timeframe.M5: (5, unit.Minute),
        Timeframe.M15: (15, unit.Minute),
        Timeframe.M30: (30, unit.Minute),
        Timeframe.H1: (1, unit.Hour),
        Timeframe.H4: (4, unit.Hour),
        Timeframe.D1: (1, unit.Day),
    }[timeframe]
    return tf.TimeFrame(amount, which)


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


@cache
def _timeout_adapter() -> type:
    """A requests adapter that applies a default timeout (alpaca-py sends none)."""
    adapters = importlib.import_module("requests.adapters")

    class TimeoutAdapter(adapters.HTTPAdapter):  # type: ignore[name-defined,misc]
        def __init__(self, timeout: float) -> None:
            super().__init__()
            self.timeout = timeout

        def send(self, request: Any, **kwargs: Any) -> Any:
            if kwargs.get("timeout") is None:
                kwargs["timeout"] = self.timeout
            return super().send(request, **kwargs)

    return TimeoutAdapter


def _sdk() -> ModuleType:
    try:
        importlib.import_module("alpaca.data.historical")
        return importlib.import_module("alpaca.common.exceptions")
    except ImportError as exc:
        raise FeedError(_EXTRA_HINT) from exc
