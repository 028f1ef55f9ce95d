"""A fake Alpaca market-data API (historical bars), serving real ETH/BTC candles.

Endpoints as alpaca-py calls them: ``GET /v1beta3/crypto/us/bars`` (no auth needed) and
``GET /v2/stocks/bars`` (``APCA-API-KEY-ID``/``APCA-API-SECRET-KEY`` required), with
``symbols``, ``timeframe`` (``1Min``, ``4Hour``, ``1Day``...), RFC-3339 ``start``/``end``
(inclusive; defaults: start of the current UTC day, now), ``limit`` (default 1000, max 10000),
``sort`` and an opaque ``page_token``. Answers are ``{"bars": {symbol: [{t, o, h, l, c, v, n, vw}]},
"next_page_token": ...}``; symbols without bars are left out, as Alpaca does for unknown ones.
A 429 carries Alpaca's ``X-RateLimit-*`` headers (reset as epoch seconds), not Retry-After.

Crypto ``ETH/BTC`` serves tests/data/ETH_BTC-1m.json; the stock ticker ``STOCK_TICKER`` serves the
same rows relabelled, only to exercise the stock endpoint and its auth.
"""

from __future__ import annotations

import base64
import math
import re
import time
from collections.abc import Callable
from datetime import datetime, timezone

from . import FakeHTTPServer, Failure, MinuteSeries, Reply, load_rows

__all__ = ["CRYPTO_PAIR", "STOCK_TICKER", "FakeAlpaca"]

CRYPTO_PAIR = "ETH/BTC"
STOCK_TICKER = "ETHB"
_TIMEFRAME = re.compile(r"(\d+)(Min|T|Hour|H|Day|D)")
_UNIT_SECONDS = {"Min": 60, "T": 60, "Hour": 3600, "H": 3600, "Day": 86400, "D": 86400}


class FakeAlpaca(FakeHTTPServer):
    """Alpaca data API on 127.0.0.1; ``page_size`` caps bars per page to exercise pagination."""

    default_failure_prefix = "/v"

    def __init__(self, *, now: Callable[[], float] = time.time, slow_seconds: float = 1.5, page_size: int = 10_000) -> None:
        super().__init__(now=now, slow_seconds=slow_seconds)
        rows = MinuteSeries(load_rows("ETH_BTC-1m.json"))
        self.crypto = {CRYPTO_PAIR: rows}
        self.stocks = {STOCK_TICKER: rows}
        self.page_size = page_size

    def route(self, path: str, query: dict[str, str], headers: dict[str, str], failure: Failure | None) -> Reply:
        if path == "/v1beta3/crypto/us/bars":
            return self.bars(self.crypto, query, failure)
        if path == "/v2/stocks/bars":
            lowered = {k.lower(): v for k, v in headers.items()}
            if not lowered.get("apca-api-key-id") or not lowered.get("apca-api-secret-key"):
                return Reply(401, {"message": "unauthorized."})
            return self.bars(self.stocks, query, failure)
        return Reply(404, {"message": "Not Found"})

    def rate_limited(self, failure: Failure) -> Reply:
        reset = math.ceil(time.time() + (failure.retry_after or 0))
        return Reply(429, {"message": "too many requests."},
                     {"X-RateLimit-Limit": "200", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)})

    def server_error(self, status: int) -> Reply:
        return Reply(status, {"message": "internal server error occurred"})

    def bars(self, market: dict[str, MinuteSeries], query: dict[str, str], failure: Failure | None) -> Reply:
        symbols = [s for s in query.get("symbols", "").split(",") if s]
        if not symbols:
            return Reply(400, {"code": 40010001, "message": "missing symbols"})
        match = _TIMEFRAME.fullmatch(query.get("timeframe", ""))
        if match is None:
            return Reply(400, {"code": 42210000, "message": f"invalid timeframe: {query.get('timeframe')!r}"})
        interval_ms = int(match.group(1)) * _UNIT_SECONDS[match.group(2)] * 1000
        now_ms = int(self.now() * 1000)
        try:
            start = _parse_time(query["start"]) if query.get("start") else now_ms - now_ms % 86_400_000
            end = min(_parse_time(query["end"]), now_ms) if query.get("end") else now_ms
            limit = int(query.get("limit") or 1000)
        except ValueError as exc:
            return Reply(400, {"code": 42210000, "message": f"invalid parameter: {exc}"})
        if not 1 <= limit <= 10_000:
            return Reply(400, {"code": 42210000, "message": "invalid limit: must be between 1 and 10000"})
        descending = query.get("sort", "asc") == "desc"
        items: list[tuple[str, list[float]]] = []
        for symbol in sorted(set(symbols)):
            series = market.get(symbol)
            rows = [c for c in series.candles(interval_ms, now_ms) if start <= c[0] <= end] if series else []
            items.extend((symbol, c) for c in (reversed(rows) if descending else rows))
        offset = 0
        if query.get("page_token"):
            key = base64.b64decode(query["page_token"]).decode()
            offset = next((i for i, (s, c) in enumerate(items) if f"{s}|{int(c[0])}" == key), len(items))
        page = items[offset: offset + min(limit, self.page_size)]
        rest = items[offset + len(page):]
        out: dict[str, list[dict[str, object]]] = {}
        for symbol, c in page:
            out.setdefault(symbol, []).append(_bar(c))
        if failure is not None and page and failure.kind in ("nan_row", "negative_row"):
            first = out[page[0][0]][0]
            first["o" if failure.kind == "nan_row" else "l"] = math.nan if failure.kind == "nan_row" else -0.001
        token = base64.b64encode(f"{rest[0][0]}|{int(rest[0][1][0])}".encode()).decode() if rest else None
        return Reply(200, {"bars": out, "next_page_token": token})


def _bar(c: list[float]) -> dict[str, object]:
    stamp = datetime.fromtimestamp(c[0] / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"c": c[4], "h": c[2], "l": c[3], "n": int(c[6]), "o": c[1], "t": stamp, "v": c[5], "vw": (c[2] + c[3] + c[4]) / 3}


def _parse_time(text: str) -> int:
    """RFC-3339 (or a bare date) to epoch ms; naive times are UTC."""
    stamp = datetime.fromisoformat(text.replace(" ", "+"))  # a '+' that arrived unescaped
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return int(stamp.timestamp() * 1000)
