"""``StreamerClient``: candles for another process, with the streamer seed's fallback chain.

1. the HTTP API (``/streamer/candles``; fastest across processes),
2. an in-process streamer, when the caller runs one,
3. the configured feed's history (slower, but needs neither).

Each answer says which source served it and why the earlier ones did not.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal

import httpx

from tradewind.domain.candle import Candle
from tradewind.domain.errors import FeedError, TradewindError
from tradewind.domain.ports import CandleFeed
from tradewind.domain.symbol import normalize_symbol
from tradewind.domain.timeframe import parse_timeframe_name
from tradewind.market.service import MAX_LIMIT, StreamerService

__all__ = ["CandleAnswer", "StreamerClient"]

log = logging.getLogger(__name__)

Source = Literal["http_api", "in_process", "feed_history"]


@dataclass(frozen=True, slots=True)
class CandleAnswer:
    symbol: str
    timeframe: str
    candles: list[Candle]
    source: Source
    fallbacks: list[str] = field(default_factory=list)  # why earlier sources were passed over


class StreamerClient:
    def __init__(
        self,
        base_url: str | None = "http://127.0.0.1:8000",
        *,
        timeout: float = 1.0,
        service: StreamerService | None = None,
        feed: CandleFeed | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url
        self.service = service
        self.feed = feed
        self._http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport) if base_url else None

    def __enter__(self) -> StreamerClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    def get_candles(self, symbol: str, timeframe: str, limit: int = 50) -> CandleAnswer:
        """Newest ``limit`` candles (forming one last, flagged) from the first source that answers."""
        name = parse_timeframe_name(timeframe)
        canonical = normalize_symbol(symbol)
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
        reasons: list[str] = []
        if self._http is not None:
            try:
                return CandleAnswer(canonical, str(name), self._from_http(canonical, str(name), limit), "http_api")
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                reasons.append(f"http_api: {type(exc).__name__}: {exc}")
                log.debug("streamer API unavailable: %s", exc)
        if self.service is not None:
            try:
                query = self.service.query(canonical, str(name), limit)
                return CandleAnswer(canonical, str(name), query.series.tail(limit), "in_process", reasons)
            except TradewindError as exc:
                reasons.append(f"in_process: {exc}")
        if self.feed is not None:
            try:
                candles = self.feed.history(canonical, name.timeframe, limit)
                return CandleAnswer(canonical, str(name), candles, "feed_history", reasons)
            except (TradewindError, OSError) as exc:
                reasons.append(f"feed_history: {exc}")
        raise FeedError("no candle source answered: " + "; ".join(reasons or ["no source configured"]))

    def _from_http(self, symbol: str, timeframe: str, limit: int) -> list[Candle]:
        assert self._http is not None
        response = self._http.get(f"/streamer/candles/{symbol}/{timeframe}", params={"limit": limit})
        body = response.json()
        if response.status_code != 200 or not body.get("success"):
            raise ValueError(f"{response.status_code} {body.get('error_code')}: {body.get('error')}")
        return [
            Candle(
                int(c["time"]), float(c["open"]), float(c["high"]), float(c["low"]), float(c["close"]),
                float(c["volume"]), None if c.get("spread") is None else float(c["spread"]), bool(c.get("closed", True)),
            )
            for c in body["candles"]
        ]
