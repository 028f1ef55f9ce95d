"""A fake Binance spot REST API (the part ccxt's candle calls use), serving real ETH/BTC candles.

Endpoints: ``GET /api/v3/ping``, ``/api/v3/time``, ``/api/v3/exchangeInfo`` (trimmed to a few
symbols, with the filters ccxt parses) and ``/api/v3/klines`` with Binance's parameter rules
(``symbol``, ``interval``, ``startTime``, ``endTime``, ``limit`` default 500 / max 1000) and its
12-field rows with prices as strings. Only candles opened at or before the server's ``now`` exist;
the one still forming is served partial (its close moved toward the final close, volume scaled).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from . import FakeHTTPServer, Failure, MinuteSeries, Reply, load_rows

__all__ = ["FakeBinance", "INTERVALS"]

INTERVALS: dict[str, int] = {
    "1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "2h": 7200,
    "4h": 14400, "6h": 21600, "8h": 28800, "12h": 43200, "1d": 86400,
}

_SPOT_SYMBOLS = {
    # symbol: (base, quote, tick, step, max market qty)
    "ETHBTC": ("ETH", "BTC", "0.00001000", "0.00010000", "2755.06274569"),
    "BTCUSDT": ("BTC", "USDT", "0.01000000", "0.00001000", "120.71596388"),
    "ETHUSDT": ("ETH", "USDT", "0.01000000", "0.00010000", "3117.06240916"),
}


def _symbol_info(symbol: str, base: str, quote: str, tick: str, step: str, market_max: str) -> dict[str, object]:
    return {
        "symbol": symbol,
        "status": "TRADING",
        "baseAsset": base,
        "baseAssetPrecision": 8,
        "quoteAsset": quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "otoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "amendAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": True,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": tick, "maxPrice": "922327.00000000", "tickSize": tick},
            {"filterType": "LOT_SIZE", "minQty": step, "maxQty": "100000.00000000", "stepSize": step},
            {"filterType": "ICEBERG_PARTS", "limit": 10},
            {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000", "maxQty": market_max, "stepSize": "0.00000000"},
            {"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10, "maxTrailingAboveDelta": 2000,
             "minTrailingBelowDelta": 10, "maxTrailingBelowDelta": 2000},
            {"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": "5", "bidMultiplierDown": "0.2",
             "askMultiplierUp": "5", "askMultiplierDown": "0.2", "avgPriceMins": 5},
            {"filterType": "NOTIONAL", "minNotional": "0.00010000" if quote == "BTC" else "5.00000000",
             "applyMinToMarket": True, "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
        ],
        "permissions": [],
        "permissionSets": [["SPOT", "MARGIN", "TRD_GRP_004", "TRD_GRP_005"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def _fmt(value: float) -> str:
    return f"{value:.8f}"


class FakeBinance(FakeHTTPServer):
    """Binance spot REST on 127.0.0.1; ETHBTC serves tests/data/ETH_BTC-1m.json, others no candles."""

    default_failure_prefix = "/api/v3/klines"

    def __init__(self, *, now: Callable[[], float] = time.time, slow_seconds: float = 1.5) -> None:
        super().__init__(now=now, slow_seconds=slow_seconds)
        self.series: dict[str, MinuteSeries] = {"ETHBTC": MinuteSeries(load_rows("ETH_BTC-1m.json"))}

    # --- protocol ------------------------------------------------------------------------------
    def route(self, path: str, query: dict[str, str], headers: dict[str, str], failure: Failure | None) -> Reply:
        weight = {"x-mbx-used-weight-1m": str(len(self.requests))}
        if path == "/api/v3/ping":
            return Reply(200, {}, weight)
        if path == "/api/v3/time":
            return Reply(200, {"serverTime": int(self.now() * 1000)}, weight)
        if path == "/api/v3/exchangeInfo":
            return Reply(200, self.exchange_info(), weight)
        if path == "/api/v3/klines":
            return self.klines(query, failure, weight)
        return Reply(404, {"code": -1, "msg": f"fake binance has no {path}"})

    def rate_limited(self, failure: Failure) -> Reply:
        headers = {"Retry-After": f"{failure.retry_after:g}"} if failure.retry_after is not None else {}
        return Reply(429, {"code": -1003, "msg": "Too much request weight used; current limit is 6000 request "
                           "weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."},
                     headers)

    def server_error(self, status: int) -> Reply:
        return Reply(status, {"code": -1000, "msg": "An unknown error occurred while processing the request."})

    def exchange_info(self) -> dict[str, object]:
        return {
            "timezone": "UTC",
            "serverTime": int(self.now() * 1000),
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
                {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
                {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
            ],
            "exchangeFilters": [],
            "symbols": [_symbol_info(s, *info) for s, info in _SPOT_SYMBOLS.items()],
        }

    def klines(self, query: dict[str, str], failure: Failure | None, headers: dict[str, str]) -> Reply:
        symbol = query.get("symbol", "")
        if not symbol:
            return Reply(400, {"code": -1102, "msg": "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."})
        if symbol not in _SPOT_SYMBOLS:
            return Reply(400, {"code": -1121, "msg": "Invalid symbol."})
        interval = INTERVALS.get(query.get("interval", ""))
        if interval is None:
            return Reply(400, {"code": -1120, "msg": "Invalid interval."})
        try:
            limit = int(query.get("limit", "500"))
            start = int(query["startTime"]) if "startTime" in query else None
            end = int(query["endTime"]) if "endTime" in query else None
        except ValueError:
            return Reply(400, {"code": -1100, "msg": "Illegal characters found in a parameter."})
        if not 1 <= limit <= 1000:
            return Reply(400, {"code": -1130, "msg": "Data sent for parameter 'limit' is not valid."})
        now_ms = int(self.now() * 1000)
        series = self.series.get(symbol)
        candles = series.candles(interval * 1000, now_ms) if series else []
        candles = [c for c in candles if end is None or c[0] <= end]
        if start is not None:
            candles = [c for c in candles if c[0] >= start][:limit]
        else:
            candles = candles[-limit:]
        rows = [self._kline(c, interval * 1000) for c in candles]
        if failure is not None and rows and failure.kind in ("nan_row", "negative_row"):
            rows[0][1 if failure.kind == "nan_row" else 3] = "NaN" if failure.kind == "nan_row" else "-0.00100000"
        return Reply(200, rows, headers)

    @staticmethod
    def _kline(c: list[float], interval_ms: int) -> list[object]:
        open_ms = int(c[0])
        return [
            open_ms, _fmt(c[1]), _fmt(c[2]), _fmt(c[3]), _fmt(c[4]), _fmt(c[5]),
            open_ms + interval_ms - 1, _fmt(c[5] * c[4]), int(c[6]), _fmt(c[5] / 2), _fmt(c[5] * c[4] / 2), "0",
        ]
