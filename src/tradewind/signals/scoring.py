"""Outcome scoring: each stored signal against the candles that followed it, and the report.

``resolve_open`` scores the signals whose horizon may have passed (see ``signals.outcomes`` for
the rules); a stored row whose data cannot be scored (an older version's, or corrupted) is marked
``unscorable`` once, so it neither stops the others nor is retried forever. ``performance`` is
the accuracy and calibration of what resolved, nothing else.
"""

from __future__ import annotations

import logging
from typing import Any

from tradewind.domain.ports import CandleStore
from tradewind.domain.timeframe import parse_timeframe
from tradewind.signals.outcomes import Outcome, resolve_outcome
from tradewind.signals.performance import performance_report
from tradewind.signals.records import SignalStore, StoredSignal

__all__ = ["OutcomeScorer"]

log = logging.getLogger(__name__)


class OutcomeScorer:
    def __init__(self, *, store: SignalStore, candles: CandleStore | None) -> None:
        self.store = store
        self.candles = candles

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
            records.append((scored, outcome if outcome is not None else Outcome(stored.signal_id, "open")))
        return {**performance_report(records), "unscorable": unscorable}
