"""``SqlSignalStore``: stored analyses, their outcomes and feedback on SQLite or PostgreSQL.

Each call is one short transaction. Outcomes are written once, when final; an ``open`` outcome
is never stored, so "unresolved" is simply "no outcome row yet".
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select

from tradewind.storage.tables import AnalysisRow, FeedbackRow, OutcomeRow
from tradewind.signals.outcomes import Outcome
from tradewind.signals.records import Feedback, StoredSignal

__all__ = ["SqlSignalStore"]

_analyses = AnalysisRow.__table__
_outcomes = OutcomeRow.__table__
_feedback = FeedbackRow.__table__
_SIGNAL_COLUMNS = (
    "signal_id", "symbol", "timestamp", "created_at", "analyst", "timeframe", "signal", "confidence",
    "entry_time", "entry_price", "stop_loss", "take_profit", "horizon_seconds", "input_hash", "analysis",
)
_OUTCOME_COLUMNS = ("signal_id", "status", "exit_time", "exit_price", "realized_return", "actual", "success")
_FEEDBACK_COLUMNS = (
    "signal_id", "symbol", "predicted_signal", "actual_outcome", "profit_loss", "confidence_was_accurate",
    "feedback_notes", "timestamp", "created_at",
)


def _utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored one is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _signal(row: Any) -> StoredSignal:
    values = {name: getattr(row, name) for name in _SIGNAL_COLUMNS}
    values["created_at"] = _utc(values["created_at"])
    return StoredSignal(**values)


class SqlSignalStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def save(self, signal: StoredSignal) -> None:
        with self._engine.begin() as connection:
            connection.execute(insert(_analyses).values({name: getattr(signal, name) for name in _SIGNAL_COLUMNS}))

    def get(self, signal_id: str) -> StoredSignal | None:
        query = select(*(_analyses.c[name] for name in _SIGNAL_COLUMNS)).where(_analyses.c.signal_id == signal_id)
        with self._engine.connect() as connection:
            row = connection.execute(query).first()
        return _signal(row) if row is not None else None

    def recent_for_input(self, input_hash: str, *, since: datetime) -> StoredSignal | None:
        query = (
            select(*(_analyses.c[name] for name in _SIGNAL_COLUMNS))
            .where(_analyses.c.input_hash == input_hash, _analyses.c.created_at >= since)
            .order_by(_analyses.c.created_at.desc(), _analyses.c.id.desc())
            .limit(8)
        )
        with self._engine.connect() as connection:
            rows = connection.execute(query).all()
        for row in rows:  # a fallback is not an answer to keep: the model may answer next time
            if (row.analysis or {}).get("source") != "rules_fallback":
                return _signal(row)
        return None

    def for_symbol(self, symbol: str, *, since: int, limit: int = 500) -> list[StoredSignal]:
        query = (  # ix_ai_analysis_results_symbol_timestamp
            select(*(_analyses.c[name] for name in _SIGNAL_COLUMNS))
            .where(_analyses.c.symbol == symbol, _analyses.c.timestamp >= since)
            .order_by(_analyses.c.timestamp.desc(), _analyses.c.id.desc())
            .limit(max(0, limit))
        )
        with self._engine.connect() as connection:
            rows = connection.execute(query).all()
        return [_signal(row) for row in reversed(rows)]

    def stats(self) -> dict[str, Any]:
        query = (
            select(_analyses.c.symbol, func.count(), func.max(_analyses.c.created_at))
            .group_by(_analyses.c.symbol)
            .order_by(func.count().desc(), _analyses.c.symbol)
        )
        with self._engine.connect() as connection:
            rows = connection.execute(query).all()
        symbols = [(symbol, int(count), _utc(latest)) for symbol, count, latest in rows]
        return {"total": sum(count for _, count, _ in symbols), "symbols": symbols}

    def clear(self) -> int:
        with self._engine.begin() as connection:
            connection.execute(delete(_feedback))
            connection.execute(delete(_outcomes))
            return int(connection.execute(delete(_analyses)).rowcount or 0)

    def add_feedback(self, feedback: Feedback) -> None:
        with self._engine.begin() as connection:
            connection.execute(insert(_feedback).values({name: getattr(feedback, name) for name in _FEEDBACK_COLUMNS}))

    def feedback_for(self, signal_id: str) -> list[Feedback]:
        query = (
            select(*(_feedback.c[name] for name in _FEEDBACK_COLUMNS))
            .where(_feedback.c.signal_id == signal_id)
            .order_by(_feedback.c.id)
        )
        with self._engine.connect() as connection:
            rows = connection.execute(query).all()
        return [Feedback(**{**row._asdict(), "created_at": _utc(row.created_at)}) for row in rows]

    def unresolved(self, *, limit: int = 1000) -> list[StoredSignal]:
        query = (
            select(*(_analyses.c[name] for name in _SIGNAL_COLUMNS))
            .outerjoin(_outcomes, _outcomes.c.signal_id == _analyses.c.signal_id)
            .where(_outcomes.c.signal_id.is_(None), _analyses.c.entry_time.is_not(None))
            .order_by(_analyses.c.entry_time, _analyses.c.id)
            .limit(limit)
        )
        with self._engine.connect() as connection:
            return [_signal(row) for row in connection.execute(query).all()]

    def save_outcome(self, signal_id: str, outcome: Outcome) -> None:
        if outcome.status == "open":
            return
        values = {name: getattr(outcome, name) for name in _OUTCOME_COLUMNS}
        values["signal_id"] = signal_id
        values["resolved_at"] = datetime.now(timezone.utc)
        with self._engine.begin() as connection:
            exists = connection.execute(select(_outcomes.c.signal_id).where(_outcomes.c.signal_id == signal_id)).first()
            if exists is None:
                connection.execute(insert(_outcomes).values(values))

    def outcome(self, signal_id: str) -> Outcome | None:
        query = select(*(_outcomes.c[name] for name in _OUTCOME_COLUMNS)).where(_outcomes.c.signal_id == signal_id)
        with self._engine.connect() as connection:
            row = connection.execute(query).first()
        return Outcome(**row._asdict()) if row is not None else None

    def scored(self) -> list[tuple[StoredSignal, Outcome | None]]:
        query = (
            select(*(_analyses.c[name] for name in _SIGNAL_COLUMNS), *(_outcomes.c[name].label(f"o_{name}") for name in _OUTCOME_COLUMNS))
            .outerjoin(_outcomes, _outcomes.c.signal_id == _analyses.c.signal_id)
            .where(_analyses.c.entry_time.is_not(None))
            .order_by(_analyses.c.entry_time, _analyses.c.id)
        )
        with self._engine.connect() as connection:
            rows = connection.execute(query).all()
        out: list[tuple[StoredSignal, Outcome | None]] = []
        for row in rows:
            outcome = None
            if row.o_signal_id is not None:
                outcome = Outcome(**{name: getattr(row, f"o_{name}") for name in _OUTCOME_COLUMNS})
            out.append((_signal(row), outcome))
        return out
