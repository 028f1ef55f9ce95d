"""Queries over stored signals, user feedback, and the admin's clear: the read and annotate side."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from tradewind.domain.clock import Clock, SystemClock
from tradewind.domain.epoch import check_epoch_ms
from tradewind.domain.errors import NotFound, ValidationError
from tradewind.domain.excerpt import excerpt
from tradewind.domain.symbol import normalize_symbol
from tradewind.signals.records import Feedback, SignalStore, StoredSignal
from tradewind.signals.service import SignalService

__all__ = ["MAX_SIGNAL_ID", "SignalQueries"]

MAX_SIGNAL_ID = 40  # ids are "sig_" + 20 hex digits; a longer one cannot exist, so it is not looked up


class SignalQueries:
    def __init__(self, *, store: SignalStore, service: SignalService | None = None, clock: Clock | None = None) -> None:
        self.store = store
        self.service = service  # its cache is dropped when the storage is cleared
        self.clock = clock or SystemClock()

    def signal_detail(self, signal_id: str) -> dict[str, Any]:
        """A stored signal's record with its measured outcome and any feedback."""
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

    def storage_stats(self) -> dict[str, Any]:
        return self.store.stats()

    def clear_storage(self) -> int:
        """Delete every stored analysis (irreversible); the API guards it behind the admin seam."""
        cleared = self.store.clear()
        if self.service is not None:
            self.service.forget()
        return cleared

    def _stored(self, signal_id: str) -> StoredSignal:
        stored = self.store.get(signal_id) if len(signal_id) <= MAX_SIGNAL_ID else None
        if stored is None:
            raise NotFound(f"signal_id {excerpt(signal_id)} is not a stored signal", field="signal_id")
        return stored
