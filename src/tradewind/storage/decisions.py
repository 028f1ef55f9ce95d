"""``SqlDecisionLog``: the AI decision log and answer cache on SQLite or PostgreSQL.

Each call is one short transaction. Times are stored in UTC (SQLite keeps no offset, so a time in
another zone is converted before it is written or compared). Exports page with a keyset on
``(created_at, id)``, never ``OFFSET``: each batch is one indexed range read and memory stays flat
however long the log grows, and no connection is held while the client downloads.

The text filter looks inside each prompt message's ``content`` (the JSON's values, not its keys,
so "role" or a quote does not match every row) and the raw response, with each database's own
JSON functions (``json_each`` on SQLite, ``json_array_elements`` on PostgreSQL). It is a scan of
the rows the other filters leave, walked newest first, so a listing stops at its ``limit``.
SQLite folds case for ASCII letters only; PostgreSQL for every letter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import fields
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Engine,
    Select,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
)

from tradewind.analysts.decisions import Decision, DecisionFilter
from tradewind.domain.symbol import normalize_symbol
from tradewind.storage.tables import DecisionRow

__all__ = ["SqlDecisionLog"]

logger = logging.getLogger(__name__)

_log = DecisionRow.__table__
_COLUMNS = tuple(f.name for f in fields(Decision))
_SELECT = select(_log.c.id, *(_log.c[name] for name in _COLUMNS))
# Built once: a replay runs thousands of times a second, and rebuilding the expression would cost
# more than the indexed lookup itself.
_REPLAY = (
    select(_log.c.decision_id, _log.c.parsed, _log.c.source)
    .where(
        _log.c.model == bindparam("model"),
        _log.c.input_hash == bindparam("input_hash"),
        _log.c.parsed.is_not(None),
        _log.c.error.is_(None),
    )
    .order_by(_log.c.created_at.desc(), _log.c.id.desc())
    .limit(1)
)


def _utc(value: datetime) -> datetime:
    """Aware times converted to UTC; naive ones (SQLite hands those back) are UTC already."""
    return value.astimezone(timezone.utc) if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _decision(row: Any) -> Decision:
    values = {name: getattr(row, name) for name in _COLUMNS}
    values["created_at"] = _utc(values["created_at"])
    return Decision(**values)


def _known(total: Any, calls: int, kind: type[int] | type[float]) -> Any:
    """A SQL ``SUM`` over the known values: 0 over no calls, ``None`` when no call reported one."""
    if total is None:
        return kind(0) if calls == 0 else None
    return kind(total)


class SqlDecisionLog:
    """The ``DecisionLog`` port over the ``ai_decision_logs`` table."""

    def __init__(self, engine: Engine, *, batch_size: int = 500, redact: Callable[[str], str] | None = None) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._engine = engine
        self.batch_size = batch_size
        self.listeners: list[Callable[[Decision], None]] = []  # told of each stored decision (the metrics)
        self._redact = redact  # masks configured secrets out of a stored error or raw answer

    def record(self, decision: Decision) -> None:
        """Store one decision; its symbol is normalised so the asset filter finds it."""
        values = {name: getattr(decision, name) for name in _COLUMNS}
        values["created_at"] = _utc(decision.created_at)
        values["symbol"] = normalize_symbol(decision.symbol)
        if self._redact is not None:
            for name in ("error", "raw_response"):
                if isinstance(values.get(name), str):
                    values[name] = self._redact(values[name])
        with self._engine.begin() as connection:
            connection.execute(insert(_log).values(values))
        for listener in tuple(self.listeners):
            try:
                listener(decision)
            except Exception:  # a listener counts; it must never lose the caller its decision
                logger.exception("decision listener %r failed", listener)

    def cached(self, model: str, prompt_hash: str) -> Decision | None:
        """The newest valid answer to this prompt: a call that sent it, or the repair of one that did.

        Two indexed lookups rather than one ``OR``, which would make the database scan the log.
        """
        valid = (_log.c.parsed.is_not(None), _log.c.error.is_(None))
        newest = (_log.c.created_at.desc(), _log.c.id.desc())
        asked = _SELECT.where(_log.c.model == model, _log.c.prompt_hash == prompt_hash)
        firsts = select(_log.c.decision_id).where(_log.c.model == model, _log.c.prompt_hash == prompt_hash,
                                                  _log.c.attempt == 1)
        repaired = _SELECT.where(_log.c.model == model, _log.c.parent_id.in_(firsts.scalar_subquery()))
        with self._engine.connect() as connection:
            rows = [connection.execute(query.where(*valid).order_by(*newest).limit(1)).first()
                    for query in (asked, repaired)]
        found = [row for row in rows if row is not None]
        if not found:
            return None
        return _decision(max(found, key=lambda row: (_utc(row.created_at), row.id)))

    def replay(self, model: str, input_hash: str) -> tuple[str, dict[str, Any], str] | None:
        with self._engine.connect() as connection:
            row = connection.execute(_REPLAY, {"model": model, "input_hash": input_hash}).first()
        return (row.decision_id, row.parsed, row.source) if row is not None else None

    def query(self, *, symbol: str | None = None, analyst: str | None = None, model: str | None = None,
              since: datetime | None = None, until: datetime | None = None, text: str | None = None,
              limit: int = 100) -> list[Decision]:
        """Newest first; ``symbol`` in any spelling (``btc/usdt``), ``since`` inclusive, ``until`` exclusive."""
        if limit < 1:
            return []
        where = DecisionFilter(symbol=symbol, analyst=analyst, model=model, since=since, until=until, text=text)
        query = self._filtered(where).order_by(_log.c.created_at.desc(), _log.c.id.desc()).limit(limit)
        with self._engine.connect() as connection:
            return [_decision(row) for row in connection.execute(query)]

    def iterate(self, *, symbol: str | None = None, analyst: str | None = None, model: str | None = None,
                since: datetime | None = None, until: datetime | None = None,
                text: str | None = None) -> Iterator[Decision]:
        """Every matching decision, oldest first, ``batch_size`` rows per query."""
        where = DecisionFilter(symbol=symbol, analyst=analyst, model=model, since=since, until=until, text=text)
        base = self._filtered(where).order_by(_log.c.created_at, _log.c.id).limit(self.batch_size)
        after: tuple[datetime, int] | None = None
        while True:
            query = base if after is None else base.where(self._after(*after))
            with self._engine.connect() as connection:
                rows = connection.execute(query).all()
            for row in rows:
                yield _decision(row)
            if len(rows) < self.batch_size:
                return
            after = (rows[-1].created_at, rows[-1].id)

    def usage(self) -> dict[str, Any]:
        """Calls, tokens and cost per model, per UTC day and in total.

        Token and cost figures sum the calls that reported them; ``unknown_cost_calls`` and
        ``unknown_token_calls`` count the others, and a sum with nothing known is ``None``.
        """
        day = self._utc_day().label("day")
        with self._engine.connect() as connection:
            by_model = connection.execute(
                select(_log.c.model, *self._sums()).group_by(_log.c.model).order_by(func.count().desc(), _log.c.model)
            ).all()
            by_day = connection.execute(select(day, *self._sums()).group_by(day).order_by(day)).all()
            total = connection.execute(select(*self._sums())).one()
        return {
            "by_model": [{"model": row.model, **self._figures(row)} for row in by_model],
            "by_day": [{"day": self._day(row.day), **self._figures(row)} for row in by_day],
            "total": self._figures(total),
        }

    # --- helpers ---------------------------------------------------------------------------------
    def _filtered(self, where: DecisionFilter) -> Select[Any]:
        """The rows matching every given filter (see ``DecisionFilter``); the indexed ones first."""
        symbol, analyst, model = where.get("symbol"), where.get("analyst"), where.get("model")
        since, until, text = where.get("since"), where.get("until"), where.get("text")
        query = _SELECT
        if symbol is not None:
            query = query.where(_log.c.symbol == normalize_symbol(symbol))
        if analyst is not None:
            query = query.where(_log.c.analyst == analyst)
        if model is not None:
            query = query.where(_log.c.model == model)
        if since is not None:
            query = query.where(_log.c.created_at >= _utc(since))
        if until is not None:
            query = query.where(_log.c.created_at < _utc(until))
        if text:
            query = query.where(self._mentions(text))
        return query

    def _mentions(self, text: str) -> ColumnElement[bool]:
        """``text`` (taken literally, any case) in a prompt message's content or in the raw response.

        A stored prompt that is not a JSON array (this code never writes one) reads as no messages
        rather than failing the whole query."""
        prompt = _log.c.prompt
        if self._engine.dialect.name == "postgresql":
            prompt = case((func.json_typeof(prompt) == "array", prompt), else_=literal([], JSON))
            messages = func.json_array_elements(prompt).table_valued("value")
            content = messages.c.value.op("->>")(literal("content"))
        else:
            array = and_(func.json_valid(prompt) == 1, func.json_type(prompt) == "array")
            messages = func.json_each(case((array, prompt), else_=literal("[]"))).table_valued("value")
            content = func.json_extract(messages.c.value, "$.content")
        in_prompt = exists(select(literal(1)).select_from(messages).where(content.icontains(text, autoescape=True)))
        return or_(_log.c.raw_response.icontains(text, autoescape=True), in_prompt)

    @staticmethod
    def _after(created_at: datetime, row_id: int) -> ColumnElement[bool]:
        """Rows after ``(created_at, id)``: a row-value comparison both databases answer from the index."""
        created_at = _utc(created_at)
        later = tuple_(_log.c.created_at, _log.c.id) > tuple_(
            literal(created_at, _log.c.created_at.type), literal(row_id, _log.c.id.type)
        )
        return and_(_log.c.created_at >= literal(created_at, _log.c.created_at.type), later)

    def _utc_day(self) -> ColumnElement[Any]:
        if self._engine.dialect.name == "postgresql":  # a timestamptz's date depends on the session zone
            return func.date(func.timezone(literal_column("'UTC'"), _log.c.created_at))
        return func.substr(_log.c.created_at, 1, 10)  # SQLite stores UTC text: 'YYYY-MM-DD HH:MM:SS...'

    @staticmethod
    def _day(value: date | str) -> str:
        return value.isoformat() if isinstance(value, date) else str(value)

    @staticmethod
    def _sums() -> tuple[ColumnElement[Any], ...]:
        c = _log.c
        return (
            func.count().label("calls"),
            func.coalesce(func.sum(case((c.attempt > 1, 1), else_=0)), 0).label("repairs"),
            func.sum(c.prompt_tokens).label("prompt_tokens"),
            func.sum(c.completion_tokens).label("completion_tokens"),
            func.sum(c.total_tokens).label("total_tokens"),
            func.count(c.total_tokens).label("known_tokens"),
            func.sum(c.cost_usd).label("cost_usd"),
            func.count(c.cost_usd).label("known_cost"),
        )

    @staticmethod
    def _figures(row: Any) -> dict[str, Any]:
        calls = int(row.calls)
        return {
            "calls": calls,
            "repairs": int(row.repairs),
            "prompt_tokens": _known(row.prompt_tokens, calls, int),
            "completion_tokens": _known(row.completion_tokens, calls, int),
            "total_tokens": _known(row.total_tokens, calls, int),
            "cost_usd": _known(row.cost_usd, calls, float),
            "unknown_token_calls": calls - int(row.known_tokens),
            "unknown_cost_calls": calls - int(row.known_cost),
        }
