"""Stored signals, user feedback, and the port through which the signal service keeps them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from tradewind.domain.timeframe import Timeframe
from tradewind.signals.outcomes import Outcome, ScoredInput

__all__ = ["Feedback", "MemorySignalStore", "SignalStore", "StoredSignal"]


@dataclass(frozen=True)
class StoredSignal:
    """One analysis as stored: the response document plus what scoring needs."""

    signal_id: str
    symbol: str
    timestamp: int  # epoch ms
    created_at: datetime
    analyst: str
    timeframe: str | None
    signal: str
    confidence: float
    entry_time: int | None
    entry_price: float | None
    stop_loss: float | None
    take_profit: float | None
    horizon_seconds: int | None
    input_hash: str
    analysis: dict[str, Any]

    def scored_input(self) -> ScoredInput | None:
        """The outcome scorer's view, or None when the signal lacks an entry to score from."""
        if self.entry_time is None or self.entry_price is None or self.horizon_seconds is None:
            return None
        return ScoredInput(
            signal_id=self.signal_id, symbol=self.symbol, analyst=self.analyst,
            direction=self.signal,  # type: ignore[arg-type]
            confidence=self.confidence, entry_time=self.entry_time, entry_price=self.entry_price,
            stop_loss=self.stop_loss, take_profit=self.take_profit, horizon_seconds=self.horizon_seconds,
            candle_seconds=Timeframe(self.timeframe).seconds if self.timeframe else None,
            source=str(self.analysis.get("source") or self.analyst),
        )


@dataclass(frozen=True)
class Feedback:
    signal_id: str
    symbol: str
    predicted_signal: str
    actual_outcome: str
    profit_loss: float | None
    confidence_was_accurate: bool | None
    feedback_notes: str | None
    timestamp: int | None
    created_at: datetime


class SignalStore(Protocol):
    def save(self, signal: StoredSignal) -> None: ...

    def get(self, signal_id: str) -> StoredSignal | None: ...

    def recent_for_input(self, input_hash: str, *, since: datetime) -> StoredSignal | None:
        """The newest signal stored since ``since`` for exactly this input, fallbacks left out."""
        ...

    def for_symbol(self, symbol: str, *, since: int, limit: int = 500) -> list[StoredSignal]:
        """The newest ``limit`` signals of one symbol at or after ``since`` (epoch ms), oldest first:
        the markers of a chart."""
        ...

    def stats(self) -> dict[str, Any]:
        """``total`` and ``symbols``: [(symbol, count, latest created_at)], busiest first."""
        ...

    def clear(self) -> int:
        """Delete every stored signal (with its outcome and feedback); return how many."""
        ...

    def add_feedback(self, feedback: Feedback) -> None: ...

    def unresolved(self, *, limit: int = 1000) -> list[StoredSignal]:
        """Signals with an entry and no final outcome yet, oldest first."""
        ...

    def save_outcome(self, signal_id: str, outcome: Outcome) -> None: ...

    def outcome(self, signal_id: str) -> Outcome | None:
        """The final outcome of one signal, or None while it is open."""
        ...

    def scored(self) -> list[tuple[StoredSignal, Outcome | None]]:
        """Every scorable signal with its outcome (None while open), oldest first."""
        ...

    def feedback_for(self, signal_id: str) -> list[Feedback]: ...


class MemorySignalStore:
    """The port in memory, for backtests and ``evaluate``: nothing written to the database."""

    def __init__(self) -> None:
        self._signals: dict[str, StoredSignal] = {}
        self._outcomes: dict[str, Outcome] = {}
        self._feedback: list[Feedback] = []

    def save(self, signal: StoredSignal) -> None:
        self._signals[signal.signal_id] = signal

    def get(self, signal_id: str) -> StoredSignal | None:
        return self._signals.get(signal_id)

    def in_order(self) -> list[StoredSignal]:
        """Every signal, oldest first (a replay's)."""
        return list(self._signals.values())

    def recent_for_input(self, input_hash: str, *, since: datetime) -> StoredSignal | None:
        for stored in reversed(self._signals.values()):
            if stored.input_hash == input_hash and stored.created_at >= since \
                    and stored.analysis.get("source") != "rules_fallback":
                return stored
        return None

    def for_symbol(self, symbol: str, *, since: int, limit: int = 500) -> list[StoredSignal]:
        found = [s for s in self._signals.values() if s.symbol == symbol and s.timestamp >= since]
        return sorted(found, key=lambda s: s.timestamp)[-limit:] if limit > 0 else []

    def stats(self) -> dict[str, Any]:
        counts: dict[str, tuple[int, datetime]] = {}
        for s in self._signals.values():
            n, latest = counts.get(s.symbol, (0, s.created_at))
            counts[s.symbol] = (n + 1, max(latest, s.created_at))
        symbols = sorted(((sym, n, latest) for sym, (n, latest) in counts.items()), key=lambda r: (-r[1], r[0]))
        return {"total": len(self._signals), "symbols": symbols}

    def clear(self) -> int:
        cleared = len(self._signals)
        self._signals.clear()
        self._outcomes.clear()
        self._feedback.clear()
        return cleared

    def add_feedback(self, feedback: Feedback) -> None:
        self._feedback.append(feedback)

    def unresolved(self, *, limit: int = 1000) -> list[StoredSignal]:
        waiting = [s for s in self._signals.values() if s.entry_time is not None and s.signal_id not in self._outcomes]
        return sorted(waiting, key=lambda s: s.entry_time or 0)[:limit]

    def save_outcome(self, signal_id: str, outcome: Outcome) -> None:
        if outcome.status != "open":
            self._outcomes.setdefault(signal_id, outcome)

    def outcome(self, signal_id: str) -> Outcome | None:
        return self._outcomes.get(signal_id)

    def scored(self) -> list[tuple[StoredSignal, Outcome | None]]:
        rows = [s for s in self._signals.values() if s.entry_time is not None]
        return [(s, self._outcomes.get(s.signal_id)) for s in sorted(rows, key=lambda s: s.entry_time or 0)]

    def feedback_for(self, signal_id: str) -> list[Feedback]:
        return [f for f in self._feedback if f.signal_id == signal_id]
