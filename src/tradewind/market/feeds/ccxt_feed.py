"""Live candles from a crypto exchange through ccxt's REST API (``tradewind[exchanges]``).

``history`` uses ccxt's synchronous client (it runs in the warm-up thread); ``run`` polls
``fetch_ohlcv`` with ``ccxt.async_support`` through the shared loop in ``polling``. Websocket
streaming (ccxt.pro ``watch_ohlcv``) is not used: polling one REST endpoint is what the tests can
check for real against a local fake exchange.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from tradewind.domain.candle import Candle
from tradewind.domain.clock import Clock, SystemClock
from tradewind.domain.errors import FeedError, InvalidSymbol, SymbolNotFound
from tradewind.domain.ports import CandleSink, FeedCapabilities
from tradewind.domain.symbol import normalize_symbol
from tradewind.domain.timeframe import Timeframe
from tradewind.market.feeds.polling import Backoff, FeedStats, parse_candles, parse_retry_after, poll_candles

__all__ = ["CcxtFeed"]

log = logging.getLogger(__name__)

_EXTRA_HINT = "the ccxt feed needs the optional extra: pip install 'tradewind[exchanges]'"

# Per-exchange defaults, as data: a candle feed only needs spot markets, and asking for them alone
# keeps load_markets to one public endpoint (no futures or margin calls).
_EXCHANGE_DEFAULTS: dict[str, dict[str, Any]] = {
    "binance": {"options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False}},
}


class CcxtFeed:
    """Candles of one ccxt exchange, polled over REST; see ``stats`` for what happened."""

    name = "ccxt"

    def __init__(
        self,
        exchange_id: str = "binance",
        *,
        base_timeframe: Timeframe = Timeframe.M1,
        poll_seconds: float = 5.0,
        base_url: str | None = None,
        clock: Clock | None = None,
        exchange_options: Mapping[str, Any] | None = None,
        max_backoff: float = 60.0,
    ) -> None:
        """``exchange_options`` is extra ccxt config (``timeout`` in ms, ``options``...), merged over
        tradewind's defaults; ``base_url`` replaces the scheme and host of every REST API URL."""
        if poll_seconds <= 0:
            raise ValueError("poll_seconds must be > 0")
        ccxt = _import("ccxt")
        if not isinstance(getattr(ccxt, exchange_id, None), type) or exchange_id not in getattr(ccxt, "exchanges", ()):
            raise FeedError(f"unknown ccxt exchange {exchange_id!r}")
        self.exchange_id = exchange_id
        self.base_timeframe = base_timeframe
        self.poll_seconds = poll_seconds
        self.capabilities = FeedCapabilities(poll_seconds=poll_seconds, stats=True)
        self.base_url = base_url.rstrip("/") if base_url else None
        self.clock: Clock = clock or SystemClock()
        self.max_backoff = max_backoff
        self.stats = FeedStats()
        self._config = _merge(_EXCHANGE_DEFAULTS.get(exchange_id, {}), dict(exchange_options or {}))
        self._config["enableLastJsonResponse"] = True  # how a body that is not JSON gets noticed
        self._sync: Any = None

    # --- history (synchronous; the warm-up runs it in a thread) ---------------------------------
    def history(self, symbol: str, timeframe: Timeframe, limit: int, *, until: float | None = None) -> list[Candle]:
        """Up to ``limit`` closed candles ending at or before ``until`` (default: now), oldest first.

        The window is the last ``limit`` periods, fetched page by page; a gap in the exchange's
        data shows as fewer candles, never as candles from further back.
        """
        if limit <= 0:
            return []
        exchange = self._sync_exchange()
        market = self._resolve(exchange, symbol)
        frame = self._frame(exchange, timeframe)
        step = timeframe.seconds
        end = timeframe.bucket(self.clock.now() if until is None else until)  # candles before it are closed
        cursor = end - limit * step
        page = _page_limit(exchange)
        source = f"{self.exchange_id} {market} {frame}"
        out: dict[int, Candle] = {}
        while cursor < end:
            since, count = cursor * 1000, min(page, (end - cursor) // step)
            rows = self._call(lambda: exchange.fetch_ohlcv(market, frame, since=since, limit=count), exchange, source)
            candles, error = parse_candles(rows, _ccxt_fields, source=source)
            if error is not None:
                raise error
            if not candles:
                break
            out.update((c.time, c) for c in candles if cursor <= c.time < end)
            last = max(c.time for c in candles)
            if last < cursor:
                break
            cursor = last + step
        return [out[t] for t in sorted(out)][-limit:]

    def close(self) -> None:
        """Drop the synchronous client (and its HTTP session)."""
        if self._sync is not None:
            session = getattr(self._sync, "session", None)
            if session is not None:
                session.close()
            self._sync = None

    # --- live polling ----------------------------------------------------------------------------
    async def run(self, sink: CandleSink, symbols: Sequence[str]) -> None:
        """Poll the base timeframe of every known symbol until cancelled.

        Network and venue failures are retried with backoff and counted in ``stats``; only a
        configuration error (no client, no such timeframe) raises ``FeedError``.
        """
        try:
            async_ccxt = importlib.import_module("ccxt.async_support")
            exchange = self._build(async_ccxt)
        except Exception as exc:  # a configuration error: the runtime shows the feed as failed
            self.stats.record_error(exc)
            raise FeedError(f"ccxt feed cannot start: {exc}") from exc
        try:
            markets = await self._markets_for(exchange, symbols)
            frame = self._frame(exchange, self.base_timeframe)
            page = _page_limit(exchange)

            async def fetch(market: str, since: int) -> Sequence[object]:
                rows = await exchange.fetch_ohlcv(market, frame, since=since * 1000, limit=page)
                _check_json(exchange, f"{self.exchange_id} {market}")
                return rows

            await poll_candles(
                sink=sink,
                symbols=markets,
                timeframe=self.base_timeframe,
                fetch=fetch,
                to_fields=_ccxt_fields,
                clock=self.clock,
                poll_seconds=self.poll_seconds,
                max_backoff=self.max_backoff,
                stats=self.stats,
                retry_after=lambda exc: self._retry_after(exchange, exc),
                source=f"ccxt {self.exchange_id}",
            )
        except Exception as exc:  # e.g. no such timeframe: the runtime shows the feed as failed
            self.stats.record_error(exc)
            raise FeedError(f"ccxt feed stopped polling: {exc}") from exc
        finally:
            await exchange.close()

    async def _markets_for(self, exchange: Any, symbols: Sequence[str]) -> dict[str, str]:
        """Load markets, retrying with backoff; map each symbol to its market, skipping unknown ones."""
        backoff = Backoff(self.poll_seconds, self.max_backoff)
        while True:
            try:
                await exchange.load_markets()
                _check_json(exchange, f"{self.exchange_id} markets")
                break
            except Exception as exc:  # noqa: BLE001 - retried, never raised
                self.stats.record_error(exc)
                delay = backoff.failure(self._retry_after(exchange, exc))
                log.warning("ccxt %s: loading markets failed (%s); next try in %.2fs", self.exchange_id, exc, delay)
                await asyncio.sleep(delay)
        mapped: dict[str, str] = {}
        for symbol in symbols:
            try:
                mapped[normalize_symbol(symbol)] = self._resolve(exchange, symbol)
            except (SymbolNotFound, InvalidSymbol) as exc:
                self.stats.record_error(exc)
                log.error("ccxt %s: %s; not polling it", self.exchange_id, exc)
        return mapped

    # --- helpers ---------------------------------------------------------------------------------
    def _build(self, module: ModuleType) -> Any:
        exchange = getattr(module, self.exchange_id)(_merge({}, self._config))
        if self.base_url:
            exchange.urls["api"] = _rebase(exchange.urls.get("api"), self.base_url)
        return exchange

    def _sync_exchange(self) -> Any:
        if self._sync is None:
            exchange = self._build(_import("ccxt"))
            self._call(exchange.load_markets, exchange, f"{self.exchange_id} markets")
            self._sync = exchange
        return self._sync

    def _resolve(self, exchange: Any, symbol: str) -> str:
        """The exchange's unified symbol for a tradewind symbol, by unified name first, then by id."""
        wanted = normalize_symbol(symbol)
        by_id: str | None = None
        for market in exchange.markets.values():
            unified, market_id = market.get("symbol"), market.get("id")
            if _normal(unified) == wanted:
                return str(unified)
            if by_id is None and _normal(market_id) == wanted:
                by_id = str(unified)
        if by_id is None:
            raise SymbolNotFound(f"symbol {symbol!r} is not listed on {self.exchange_id}")
        return by_id

    def _frame(self, exchange: Any, timeframe: Timeframe) -> str:
        frames = getattr(exchange, "timeframes", None) or {}
        if frames and timeframe.value not in frames:
            raise FeedError(f"{self.exchange_id} has no {timeframe.value} candles (it has {', '.join(frames)})")
        return timeframe.value

    def _call(self, request: Callable[[], Any], exchange: Any, source: str) -> Any:
        """Run one synchronous ccxt request; any failure becomes a FeedError naming the source."""
        ccxt = _import("ccxt")
        try:
            result = request()
            _check_json(exchange, source)
            return result
        except (FeedError, SymbolNotFound):
            raise
        except ccxt.BadSymbol as exc:
            raise SymbolNotFound(f"{source}: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - whatever ccxt raised, the caller sees a FeedError
            wait = self._retry_after(exchange, exc)
            hint = f" (retry after {wait:g}s)" if wait is not None else ""
            raise FeedError(f"{source}: {type(exc).__name__}: {exc}{hint}") from exc

    def _retry_after(self, exchange: Any, exc: BaseException) -> float | None:
        ccxt = _import("ccxt")
        if not isinstance(exc, (ccxt.DDoSProtection, ccxt.RateLimitExceeded)):
            return None
        headers = getattr(exchange, "last_response_headers", None) or {}
        value = next((v for k, v in headers.items() if str(k).lower() == "retry-after"), None)
        return parse_retry_after(value)


def _ccxt_fields(raw: object) -> Sequence[object]:
    """``[ts_ms, o, h, l, c, v]`` -> ``(ts_s, o, h, l, c, v)``; odd shapes raise for the caller."""
    if not isinstance(raw, (list, tuple)) or len(raw) < 6:
        raise ValueError("expected [timestamp_ms, open, high, low, close, volume]")
    ts = raw[0]
    if isinstance(ts, int) and not isinstance(ts, bool) and ts % 1000 == 0:
        seconds: object = ts // 1000
    elif isinstance(ts, (int, float)) and not isinstance(ts, bool):
        seconds = ts / 1000
    else:
        seconds = ts
    return (seconds, *raw[1:6])


def _check_json(exchange: Any, source: str) -> None:
    """ccxt hands an unparseable body on as text; a candle feed wants JSON or an error."""
    body = getattr(exchange, "last_http_response", None)
    if isinstance(body, str) and body and getattr(exchange, "last_json_response", None) is None:
        shown = body if len(body) <= 120 else body[:117] + "..."
        raise FeedError(f"{source}: response is not valid JSON: {shown!r}")


def _page_limit(exchange: Any) -> int:
    features = getattr(exchange, "features", None) or {}
    spot = features.get("spot") if isinstance(features, dict) else None
    limit = ((spot or {}).get("fetchOHLCV") or {}).get("limit") if isinstance(spot, dict) else None
    return int(limit) if isinstance(limit, int) and limit > 0 else 500


def _normal(text: object) -> str | None:
    if not isinstance(text, str):
        return None
    try:
        return normalize_symbol(text)
    except InvalidSymbol:
        return None


def _rebase(api: object, root: str) -> object:
    """Every URL under ``urls['api']`` with its scheme and host replaced by ``root``."""
    if isinstance(api, str):
        parts = urlsplit(api)
        return root + parts.path + (f"?{parts.query}" if parts.query else "")
    if isinstance(api, dict):
        return {key: _rebase(value, root) for key, value in api.items()}
    return api


def _merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = {key: (_merge(value, {}) if isinstance(value, Mapping) else value) for key, value in base.items()}
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = _merge(value, {}) if isinstance(value, Mapping) else value
    return out


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise FeedError(_EXTRA_HINT) from exc

