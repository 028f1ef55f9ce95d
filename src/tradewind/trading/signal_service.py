"""The signal service: every door (REST, CLI, periodic job, assistant tools) asks it for analyses.

It runs the analyst, stores each analysis with a ``signal_id``, answers a repeat of the same
input (candles and context) within the cache TTL from the stored one (with the seed's ``[RECENT]``
prefix), scores
stored signals against the candles that followed, and reports performance from those outcomes.
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
from tradewind.domain.epoch import check_epoch_ms
from tradewind.domain.errors import NotFound, ValidationError
from tradewind.domain.excerpt import excerpt
from tradewind.domain.ports import CandleStore
from tradewind.domain.signal import Signal
from tradewind.domain.symbol import normalize_symbol
from tradewind.domain.timeframe import Timeframe, parse_timeframe
from tradewind.trading.analysis_input import build_request, check_strategies
from tradewind.trading.outcomes import DEFAULT_HORIZONS, Outcome, resolve_outcome
from tradewind.trading.performance import performance_report
from tradewind.trading.signal_records import Feedback, SignalStore, StoredSignal

__all__ = ["RECENT_PREFIX", "AnalysisResult", "SignalService", "signal_document"]

log = logging.getLogger(__name__)

RECENT_PREFIX = "[RECENT] "
MAX_REMEMBERED = 1024  # cached answers kept in memory (each is one stored document)
_INPUT, _STREAM = "input:", "stream:"
MAX_SIGNAL_ID = 40  # ids are "sig_" + 20 hex digits; a longer one cannot exist, so it is not looked up


@dataclass(frozen=True)
class AnalysisResult:
    signal_id: str
    document: dict[str, Any]  # the seed's response body, plus signal_id and provenance
    cached: bool
    signal: Signal | None  # None when answered from the cache


def signal_document(signal: Signal) -> dict[str, Any]:
    """The seed's ``/ai/analyze`` response body for a signal."""
    market = signal.market_analysis
    risk = signal.risk_assessment
    return {
        "signal": signal.signal,
        "confidence": round(signal.confidence, 4),
        "reasoning": signal.reasoning,
        "strategy_scores": {name: round(score, 4) for name, score in signal.strategy_scores.items()},
        "market_analysis": {
            "trend_direction": market.trend_direction,
            "trend_strength": round(market.trend_strength, 4),
            "support_levels": list(market.support_levels),
            "resistance_levels": list(market.resistance_levels),
            "volatility_level": market.volatility_level,
            "volume_analysis": market.volume_analysis,
        },
        "risk_assessment": {
            "overall_risk": risk.overall_risk,
            "technical_risk": round(risk.technical_risk, 4),
            "market_risk": round(risk.market_risk, 4),
            "recommended_position_size": round(risk.recommended_position_size, 4),
            "stop_loss_suggestion": risk.stop_loss_suggestion,
            "take_profit_suggestion": risk.take_profit_suggestion,
        },
        "timestamp": signal.timestamp,
    }


class SignalService:
    def __init__(
        self,
        *,
        analyst: Analyst,
        store: SignalStore,
        candles: CandleStore | None = None,
        clock: Clock | None = None,
        cache_ttl_seconds: float = 300.0,
        horizons: dict[Timeframe, int] | None = None,
        on_signal: Callable[[str, dict[str, Any]], None] | None = None,
        market_view: MarketView | None = None,
        streamed_candles: Callable[[str], dict[Timeframe, Bars]] | None = None,
        streamed_marker: Callable[[str], tuple[int | None, ...]] | None = None,
        max_candles: int = 5000,
        max_price_deviation: float = 0.2,
    ) -> None:
        self.analyst = analyst
        self.store = store
        self.candles = candles
        self.clock = clock or SystemClock()
        self.cache_ttl_seconds = cache_ttl_seconds
        self.horizons = horizons or DEFAULT_HORIZONS
        self.on_signal = on_signal
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
        market_condition: str | None = None,
    ) -> AnalysisRequest:
        """Validate a payload; without ``timeframe_data`` use the streamer's closed candles."""
        now_ms = int(self.clock.now() * 1000)
        if timeframe_data is None:
            if self.streamed_candles is None:
                raise ValidationError("timeframe_data is required (no streamer here)", field="timeframe_data")
            candles = self.streamed_candles(symbol)
            if not candles:
                raise ValidationError(f"the streamer has no closed candles for {symbol} yet", field="symbol")
            timeframe_data = {tf.value: bars for tf, bars in candles.items()}  # Bars straight, no row round trip
        return build_request(
            symbol=symbol, timeframe_data=timeframe_data, timestamp_ms=timestamp_ms or now_ms,
            current_price=current_price, selected_strategies=selected_strategies, risk_level=risk_level,
            market_condition=market_condition, max_candles=self.max_candles,
            max_price_deviation=self.max_price_deviation,
        )

    def market_condition(self, **payload: Any) -> dict[str, Any]:
        return self._view().market_condition(self.request_from_payload(**payload))

    def strategy_recommendations(self, *, available_strategies: Sequence[str] | None = None, **payload: Any) -> list[dict[str, Any]]:
        strategies = check_strategies(available_strategies, field="available_strategies")
        request = self.request_from_payload(selected_strategies=strategies, **payload)
        return self._view().strategy_recommendations(request)

    def _view(self) -> MarketView:
        if self.market_view is None:
            raise ValidationError("no market view is configured", field="symbol")
        return self.market_view

    def signal_detail(self, signal_id: str) -> dict[str, Any]:
        """A stored signal's document with its measured outcome and any feedback."""
        stored = self._stored(signal_id)
        outcome = self.store.outcome(signal_id)
        return {
            **stored.analysis,
            "outcome": None if outcome is None else {
                "status": outcome.status, "exit_time": outcome.exit_time, "exit_price": outcome.exit_price,
                "realized_return": outcome.realized_return, "actual": outcome.actual, "success": outcome.success,
            },
            "feedback": [
                {"actual_outcome": f.actual_outcome, "profit_loss": f.profit_loss,
                 "confidence_was_accurate": f.confidence_was_accurate, "feedback_notes": f.feedback_notes,
                 "created_at": f.created_at.isoformat()}
                for f in self.store.feedback_for(signal_id)
            ],
        }

    # --- analysis ----------------------------------------------------------------------------
    def analyze_payload(self, **payload: Any) -> AnalysisResult:
        """Validate a payload (see ``request_from_payload``), then answer from the cache or analyse."""
        alias = self._stream_key(payload) if payload.get("timeframe_data") is None else None  # before the candles
        request = self.request_from_payload(**payload)
        return self.cached_result(request) or self.analyze(request, use_cache=False, alias=alias)

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

    def analyze(self, request: AnalysisRequest, *, use_cache: bool = True, alias: str | None = None) -> AnalysisResult:
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
        document = {
            **signal_document(signal),
            "signal_id": signal_id,
            "symbol": request.symbol,
            "timeframe": primary.value,
            "analyst": signal.analyst,
            "source": signal.extras.get("source", signal.analyst),
            "source_reason": signal.extras.get("source_reason"),
            "cached": False,
        }
        now = self.clock.now()
        stored = StoredSignal(
            signal_id=signal_id, symbol=request.symbol, timestamp=signal.timestamp,
            created_at=datetime.fromtimestamp(now, timezone.utc), analyst=signal.analyst,
            timeframe=primary.value, signal=signal.signal, confidence=signal.confidence, entry_time=entry_time,
            entry_price=float(bars.close[-1]), stop_loss=signal.risk_assessment.stop_loss_suggestion,
            take_profit=signal.risk_assessment.take_profit_suggestion,
            horizon_seconds=self.horizons.get(primary), input_hash=digest, analysis=document,
        )
        self.store.save(stored)
        if self.cache_ttl_seconds > 0 and not signal.extras.get("transient"):
            self._remember(now, stored, _INPUT + digest, alias)
        if self.on_signal is not None:
            try:
                self.on_signal(request.symbol, document)
            except Exception:  # announcing must never fail an analysis
                log.exception("signal listener failed")
        return AnalysisResult(signal_id, document, False, signal)

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

    # --- feedback, storage -------------------------------------------------------------------
    def feedback(
        self, *, signal_id: str, symbol: str, predicted_signal: str, actual_outcome: str, profit_loss: float | None,
        confidence_was_accurate: bool | None, feedback_notes: str | None, timestamp: int | None,
    ) -> Feedback:
        canonical = normalize_symbol(symbol)
        if timestamp is not None:
            check_epoch_ms(timestamp, field="timestamp")
        stored = self._stored(signal_id)
        if stored.symbol != canonical:
            raise ValidationError(f"signal {signal_id} is for {stored.symbol}, not {canonical}", field="symbol")
        item = Feedback(
            signal_id=signal_id, symbol=canonical, predicted_signal=predicted_signal, actual_outcome=actual_outcome,
            profit_loss=profit_loss, confidence_was_accurate=confidence_was_accurate, feedback_notes=feedback_notes,
            timestamp=timestamp, created_at=datetime.fromtimestamp(self.clock.now(), timezone.utc),
        )
        self.store.add_feedback(item)
        return item

    def _stored(self, signal_id: str) -> StoredSignal:
        stored = self.store.get(signal_id) if len(signal_id) <= MAX_SIGNAL_ID else None
        if stored is None:
            raise NotFound(f"signal_id {excerpt(signal_id)} is not a stored signal", field="signal_id")
        return stored

    def storage_stats(self) -> dict[str, Any]:
        return self.store.stats()

    def clear_storage(self) -> int:
        """Delete every stored analysis (irreversible); the API guards it behind the admin seam."""
        cleared = self.store.clear()
        with self._lock:
            self._recent.clear()
        return cleared

    # --- outcomes ----------------------------------------------------------------------------
    def resolve_open(self, *, limit: int = 1000) -> int:
        """Score stored signals whose horizon may have passed; returns how many resolved now."""
        if self.candles is None:
            return 0
        resolved = 0
        for stored in self.store.unresolved(limit=limit):
            try:
                resolved += self._resolve(stored)
            except (ValueError, TypeError) as exc:  # bad data in one row must not stop the others
                log.warning("signal %s cannot be scored, marked unscorable: %s", stored.signal_id, exc)
                self.store.save_outcome(stored.signal_id, Outcome(stored.signal_id, "unscorable"))
        return resolved

    def _resolve(self, stored: StoredSignal) -> int:
        """Score one stored signal; 1 when it resolved now."""
        assert self.candles is not None
        scored = stored.scored_input()
        if scored is None or stored.timeframe is None:
            return 0
        timeframe = parse_timeframe(stored.timeframe, field="timeframe")
        # candles that opened at or after the entry (the close of the last candle seen)
        following = self.candles.since(stored.symbol, timeframe, scored.entry_time)
        outcome = resolve_outcome(scored, following)
        if outcome.status == "open":
            return 0
        self.store.save_outcome(stored.signal_id, outcome)
        return 1

    def performance(self) -> dict[str, Any]:
        """Accuracy and calibration from measured outcomes only (None where nothing resolved)."""
        self.resolve_open()
        records = []
        unscorable = 0
        for stored, outcome in self.store.scored():
            if outcome is not None and outcome.status == "unscorable":
                unscorable += 1
                continue
            try:
                scored = stored.scored_input()
            except (ValueError, TypeError):
                continue  # resolve_open marks it unscorable on its next pass
            if scored is None:
                continue
            records.append((scored, outcome if outcome is not None else _open(stored.signal_id)))
        return {**performance_report(records), "unscorable": unscorable}


def _recent(stored: StoredSignal) -> AnalysisResult:
    """A stored analysis as the seed's cached answer: ``[RECENT]`` before its reasoning."""
    document = dict(stored.analysis)
    document["reasoning"] = RECENT_PREFIX + str(document.get("reasoning", ""))
    document["cached"] = True
    return AnalysisResult(stored.signal_id, document, True, None)


def _open(signal_id: str) -> Outcome:
    return Outcome(signal_id=signal_id, status="open", exit_time=None, exit_price=None,
                   realized_return=None, actual=None, success=None)
