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
from tradewind.domain.bars import bars_from_candles
from tradewind.signals.outcomes import Outcome, ScoredInput, resolve_bars
from tradewind.signals.performance import performance_report
from tradewind.signals.records import SignalStore, StoredSignal

__all__ = ["OutcomeScorer"]

log = logging.getLogger(__name__)


class OutcomeScorer:
    def __init__(self, *, store: SignalStore, candles: CandleStore | None) -> None:
        self.store = store
        self.candles = candles

    def resolve_open(self, *, limit: int = 1000) -> int:
        """Score stored signals whose horizon may have passed; returns how many resolved now.

        The candles are read once per symbol and timeframe (from the oldest open entry), not once
        per signal: a replay scores every candle, with a horizon's worth of signals open."""
        if self.candles is None:
            return 0
        resolved = 0
        groups: dict[tuple[str, str], list[tuple[StoredSignal, ScoredInput]]] = {}
        for stored in self.store.unresolved(limit=limit):
            try:
                scored = stored.scored_input()
                if scored is None or stored.timeframe is None:
                    continue
                parse_timeframe(stored.timeframe, field="timeframe")
            except (ValueError, TypeError) as exc:  # bad data in one row must not stop the others
                self._unscorable(stored, exc)
                continue
            groups.setdefault((stored.symbol, stored.timeframe), []).append((stored, scored))
        for (symbol, timeframe), items in groups.items():
            try:
                following = self.candles.since(symbol, parse_timeframe(timeframe), min(s.entry_time for _, s in items))
            except (ValueError, TypeError) as exc:  # a stored symbol the store refuses
                for stored, _ in items:
                    self._unscorable(stored, exc)
                continue
            bars = bars_from_candles([c for c in following if c.closed])  # stored candles: closed, sorted
            for stored, scored in items:
                try:
                    # from the candle that opened at the entry (the close of the last candle seen) on
                    outcome = resolve_bars(scored, bars)
                except (ValueError, TypeError) as exc:
                    self._unscorable(stored, exc)
                    continue
                if outcome.status != "open":
                    self.store.save_outcome(stored.signal_id, outcome)
                    resolved += 1
        return resolved

    def _unscorable(self, stored: StoredSignal, exc: Exception) -> None:
        log.warning("signal %s cannot be scored, marked unscorable: %s", stored.signal_id, exc)
        self.store.save_outcome(stored.signal_id, Outcome(stored.signal_id, "unscorable"))

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
