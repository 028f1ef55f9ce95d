"""The signal service: every door (REST, CLI, periodic job, engine, assistant tools) asks it for analyses.

It builds and checks the request, runs the analyst, stores each analysis with a ``signal_id`` and
announces it as ``SignalCreated`` on the bus. A repeat of the same input (candles and context)
within the cache TTL is answered from the stored one instead (the seed's 5-minute cache; the API
shows it with the ``[RECENT]`` prefix). Queries and feedback are ``signals.queries``; outcome
scoring is ``signals.scoring``.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

import numpy as np

from tradewind.analysts.base import AnalysisRequest, Analyst, MarketView, request_hash
from tradewind.domain.bars import Bars
from tradewind.domain.clock import Clock, SystemClock
from tradewind.domain.errors import ValidationError
from tradewind.domain.events import SignalCreated
from tradewind.domain.ports import EventBus
from tradewind.domain.signal import Signal, signal_record
from tradewind.domain.symbol import normalize_symbol
from tradewind.domain.timeframe import Timeframe
from tradewind.signals.outcomes import DEFAULT_HORIZONS
from tradewind.signals.records import SignalStore, StoredSignal
from tradewind.signals.requests import build_request, check_strategies

__all__ = ["AnalysisResult", "SignalService"]

log = logging.getLogger(__name__)

MAX_REMEMBERED = 1024  # cached answers kept in memory (each is one stored record)
_INPUT, _STREAM = "input:", "stream:"


@dataclass(frozen=True)
class AnalysisResult:
    signal_id: str
    record: dict[str, Any]  # what was stored: the signal's fields plus signal_id and provenance
    cached: bool  # answered from the cache: ``record`` is an earlier analysis of the same input
    signal: Signal | None  # None when answered from the cache


class SignalService:
    def __init__(
        self,
        *,
        analyst: Analyst,
        store: SignalStore,
        clock: Clock | None = None,
        cache_ttl_seconds: float = 300.0,
        horizons: dict[Timeframe, int] | None = None,
        bus: EventBus | None = None,
        market_view: MarketView | None = None,
        streamed_candles: Callable[[str, Sequence[Timeframe] | None], dict[Timeframe, Bars]] | None = None,
        streamed_marker: Callable[[str], tuple[int | None, ...]] | None = None,
        max_candles: int = 5000,
        max_price_deviation: float = 0.2,
    ) -> None:
        self.analyst = analyst
        self.store = store
        self.clock = clock or SystemClock()
        self.cache_ttl_seconds = cache_ttl_seconds
        self.horizons = horizons or DEFAULT_HORIZONS
        self.bus = bus
        self.market_view = market_view
        self.streamed_candles = streamed_candles
        self.max_candles = max_candles
        self.max_price_deviation = max_price_deviation
        self.streamed_marker = streamed_marker
        self._recent: OrderedDict[str, tuple[float, StoredSignal]] = OrderedDict()
        self._lock = threading.Lock()

    # --- the doors' entry points: raw payloads in ---------------------------------------------
    def request_from_payload(
        self, *, symbol: str, timeframe_data: Mapping[str, Sequence[Sequence[float]]] | None,
        current_price: float | None = None, timestamp_ms: int | None = None,
        selected_strategies: Sequence[str] | None = None, risk_level: str | None = None,
        market_condition: str | None = None, timeframes: Sequence[Timeframe] | None = None,
    ) -> AnalysisRequest:
        """Validate a payload; without ``timeframe_data`` use the streamer's closed candles (of
        ``timeframes``, default: the configured analysis timeframes)."""
        now_ms = int(self.clock.now() * 1000)
        if timeframe_data is None:
            if self.streamed_candles is None:
                raise ValidationError("candles are required (no streamer here)", field="candles")
            candles = self.streamed_candles(symbol, timeframes)
            if not candles:
                raise ValidationError(f"the streamer has no closed candles for {symbol} yet", field="symbol")
            timeframe_data = {tf.value: bars for tf, bars in candles.items()}  # Bars straight, no row round trip
            if current_price is None:  # the newest closed price: what the engine would trade at
                current_price = float(next(iter(candles.values())).close[-1])
        return build_request(
            symbol=symbol, timeframe_data=timeframe_data, timestamp_ms=timestamp_ms or now_ms,
            current_price=current_price, selected_strategies=selected_strategies, risk_level=risk_level,
            market_condition=market_condition, max_candles=self.max_candles,
            max_price_deviation=self.max_price_deviation,
        )

    def market_condition(self, **payload: Any) -> dict[str, Any]:
        return self._view().market_condition(self.request_from_payload(**payload))

    def strategy_recommendations(self, *, available_strategies: Sequence[str] | None = None, **payload: Any) -> list[dict[str, Any]]:
        strategies = check_strategies(available_strategies, field="strategies")
        request = self.request_from_payload(selected_strategies=strategies, **payload)
        return self._view().strategy_recommendations(request)

    def _view(self) -> MarketView:
        if self.market_view is None:
            raise ValidationError("no market view is configured", field="symbol")
        return self.market_view

    # --- analysis ----------------------------------------------------------------------------
    def analyze_payload(self, *, origin: str = "api", **payload: Any) -> AnalysisResult:
        """Validate a payload (see ``request_from_payload``), then answer from the cache or analyse."""
        streamed = payload.get("timeframe_data") is None
        alias = self._stream_key(payload) if streamed else None  # before the candles are read
        request = self.request_from_payload(**payload)
        return self.cached_result(request) or self.analyze(request, use_cache=False, alias=alias, origin=origin,
                                                           streamed=streamed)

    def recent_result(self, **payload: Any) -> AnalysisResult | None:
        """For a streamed symbol asked without candles: the cached answer if it is in memory.

        No candle is read, nothing is parsed and the database is not asked, so this is cheap
        enough for the event loop: the key is the symbol, the request's context and the open time
        of the newest closed candle of each analysis timeframe, which changes exactly when the
        candles the analysis would see change.
        """
        key = self._stream_key(payload)
        return None if key is None else self._memory(key)

    def cached_result(self, request: AnalysisRequest) -> AnalysisResult | None:
        """The seed's cache: the same input analysed within the TTL, answered with ``[RECENT]``.

        The same input means the same candles and context (``request_hash``): a request with other
        candles is analysed afresh even for the same symbol.
        """
        if self.cache_ttl_seconds <= 0:
            return None
        digest = request_hash(request)
        hit = self._memory(_INPUT + digest)
        if hit is not None:
            return hit
        since = datetime.fromtimestamp(self.clock.now() - self.cache_ttl_seconds, timezone.utc)
        stored = self.store.recent_for_input(digest, since=since)
        if stored is None:
            return None
        self._remember(stored.created_at.timestamp(), stored, _INPUT + digest)
        return _recent(stored)

    def analyze(self, request: AnalysisRequest, *, use_cache: bool = True, alias: str | None = None,
                origin: str = "api", streamed: bool = False) -> AnalysisResult:
        """Analyse, store and announce; the same input analysed within the TTL answers instead.

        The result is cached under its input (and ``alias``, the key of a streamed request) unless
        it is a fallback from a failure that may pass by itself (a timeout, a 5xx): the next request
        asks the model again instead of getting the fallback for five minutes.
        """
        if use_cache:
            hit = self.cached_result(request)
            if hit is not None:
                return hit
        signal_id = "sig_" + uuid.uuid4().hex[:20]
        digest = request_hash(request)
        request = replace(request, extras={**request.extras, "signal_id": signal_id, "input_hash": digest})
        signal = self.analyst.analyze(request)
        primary = min(request.candles, key=lambda tf: tf.seconds)
        bars = request.candles[primary]
        entry_time = int(bars.time[-1]) + primary.seconds
        record = {
            **signal_record(signal),
            "signal_id": signal_id,
            "symbol": request.symbol,
            "timeframe": primary.value,
            "analyst": signal.analyst,
            "source": signal.extras.get("source", signal.analyst),
            "source_reason": signal.extras.get("source_reason"),
            "answered_by": signal.extras.get("origin") or signal.extras.get("source", signal.analyst),
        }
        now = self.clock.now()
        stored = StoredSignal(
            signal_id=signal_id, symbol=request.symbol, timestamp=signal.timestamp,
            created_at=datetime.fromtimestamp(now, timezone.utc), analyst=signal.analyst,
            timeframe=primary.value, signal=signal.signal, confidence=signal.confidence, entry_time=entry_time,
            entry_price=float(bars.close[-1]), stop_loss=signal.risk_assessment.stop_loss_suggestion,
            take_profit=signal.risk_assessment.take_profit_suggestion,
            horizon_seconds=self.horizons.get(primary), input_hash=digest, analysis=record,
        )
        self.store.save(stored)
        if self.cache_ttl_seconds > 0 and not signal.extras.get("transient"):
            self._remember(now, stored, _INPUT + digest, alias)
        if self.bus is not None:  # the bus logs a failing listener: announcing never fails an analysis
            self.bus.publish(SignalCreated.topic, SignalCreated(signal_id, signal, record, origin, streamed))
        return AnalysisResult(signal_id, record, False, signal)

    def _stream_key(self, payload: Mapping[str, Any]) -> str | None:
        if self.cache_ttl_seconds <= 0 or self.streamed_marker is None:
            return None
        symbol = normalize_symbol(payload["symbol"])
        marker = self.streamed_marker(symbol)
        strategies = payload.get("selected_strategies")
        context = (payload.get("current_price"), tuple(strategies) if strategies else None, payload.get("risk_level"))
        return _STREAM + repr((symbol, marker, context))

    def _memory(self, key: str) -> AnalysisResult | None:
        with self._lock:
            hit = self._recent.get(key)
        if hit is None or self.clock.now() - hit[0] > self.cache_ttl_seconds:
            return None
        return _recent(hit[1])

    def _remember(self, at: float, stored: StoredSignal, *keys: str | None) -> None:
        """Keep ``stored`` under ``keys``; the oldest entries go past ``MAX_REMEMBERED`` (distinct inputs
        are attacker-controlled, so the cache is bounded in entries)."""
        with self._lock:
            for key in keys:
                if key is not None:
                    self._recent[key] = (at, stored)
                    self._recent.move_to_end(key)
            while len(self._recent) > MAX_REMEMBERED:
                self._recent.popitem(last=False)

    def forget(self) -> None:
        """Drop every cached answer (after the stored analyses were cleared)."""
        with self._lock:
            self._recent.clear()


def _recent(stored: StoredSignal) -> AnalysisResult:
    return AnalysisResult(stored.signal_id, dict(stored.analysis), True, None)
