"""``SqlCandleStore``: the ``CandleStore`` port on SQLite or PostgreSQL.

Each call runs in its own short transaction, so the store is safe to share between the
streamer's background threads and request handlers. Saving is idempotent: a stored
(symbol, timeframe, time) keeps its first values, which for closed candles are final anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Insert, Row, Select, func, select
from sqlalchemy.dialects import postgresql, sqlite

from tradewind.domain.candle import Candle
from tradewind.domain.errors import ValidationError
from tradewind.domain.symbol import normalize_symbol
from tradewind.domain.timeframe import Timeframe, parse_timeframe
from tradewind.storage.tables import CandleRow

__all__ = ["SqlCandleStore"]

_table = CandleRow.__table__
_KEY = ("symbol", "timeframe", "time")
_VALUES = (_table.c.time, _table.c.open, _table.c.high, _table.c.low, _table.c.close, _table.c.volume,
           _table.c.spread)
# Rows per executemany call. The INSERT is one prepared single-row statement (nine bind
# variables) run once per row, so SQLite's variable limit (999 on old builds) never applies;
# chunks only bound the size of each driver call.
DEFAULT_CHUNK_ROWS = 5000
_IN_LIST_SIZE = 500  # times per ``IN (...)`` lookup, well under SQLite's 999-variable floor


class SqlCandleStore:
    """Closed candles keyed by normalised symbol, canonical timeframe (``"1m"``) and open time."""

    def __init__(self, engine: Engine, *, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> None:
        if chunk_rows < 1:
            raise ValueError("chunk_rows must be at least 1")
        self._engine = engine
        self._chunk_rows = chunk_rows
        self._insert = _insert_ignoring_duplicates(engine.dialect.name)

    def save(self, symbol: str, timeframe: Timeframe, candles: Sequence[Candle]) -> int:
        """Store the candles not stored yet; return how many were new."""
        key, tf = normalize_symbol(symbol), parse_timeframe(timeframe)
        fresh: dict[int, Candle] = {}
        for candle in candles:
            if not candle.closed:
                raise ValidationError(f"candle at {candle.time} is still forming; only closed candles are stored",
                                      field="closed")
            fresh.setdefault(candle.time, candle)
        if not fresh:
            return 0
        with self._engine.begin() as connection:
            existing = self._stored_times(connection, key, tf, sorted(fresh))
            rows = [
                {"symbol": key, "timeframe": tf.value, "time": t, "open": c.open, "high": c.high, "low": c.low,
                 "close": c.close, "volume": c.volume, "spread": c.spread}
                for t, c in sorted(fresh.items())
                if t not in existing
            ]
            inserted = 0
            for start in range(0, len(rows), self._chunk_rows):
                inserted += connection.execute(self._insert, rows[start : start + self._chunk_rows]).rowcount
        return inserted

    def latest(self, symbol: str, timeframe: Timeframe, limit: int) -> list[Candle]:
        """The newest ``limit`` stored candles, oldest first."""
        if limit <= 0:
            return []
        query = self._select(symbol, timeframe).order_by(_table.c.time.desc()).limit(limit)
        with self._engine.connect() as connection:
            rows = connection.execute(query).all()
        return _candles(reversed(rows))

    def since(self, symbol: str, timeframe: Timeframe, start_time: int) -> list[Candle]:
        """Stored candles opening at or after ``start_time`` (epoch seconds), oldest first."""
        query = self._select(symbol, timeframe).where(_table.c.time >= start_time).order_by(_table.c.time)
        with self._engine.connect() as connection:
            return _candles(connection.execute(query).all())

    def between(self, symbol: str, timeframe: Timeframe, start: float | None, end: float | None, *,
                limit: int) -> list[Candle]:
        """Stored candles opening at or after ``start`` and closing by ``end`` (None: no bound),
        oldest first, at most ``limit`` of them (a caller passes its cap + 1 to detect more)."""
        query = self._select(symbol, timeframe)
        if start is not None:
            query = query.where(_table.c.time >= int(start))
        if end is not None:
            query = query.where(_table.c.time + parse_timeframe(timeframe).seconds <= int(end))
        with self._engine.connect() as connection:
            return _candles(connection.execute(query.order_by(_table.c.time).limit(max(0, limit))).all())

    def count(self, symbol: str | None = None, timeframe: Timeframe | None = None) -> int:
        """How many candles are stored, optionally for one symbol and/or timeframe."""
        query = select(func.count()).select_from(_table)
        if symbol is not None:
            query = query.where(_table.c.symbol == normalize_symbol(symbol))
        if timeframe is not None:
            query = query.where(_table.c.timeframe == parse_timeframe(timeframe).value)
        with self._engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def symbols(self) -> dict[str, list[str]]:
        """Each stored symbol with its stored timeframes, shortest first."""
        query = select(_table.c.symbol, _table.c.timeframe).distinct()
        with self._engine.connect() as connection:
            pairs = connection.execute(query).all()
        found: dict[str, list[str]] = {}
        for symbol, timeframe in sorted(pairs):
            found.setdefault(symbol, []).append(timeframe)
        return {symbol: sorted(tfs, key=_timeframe_order) for symbol, tfs in found.items()}

    def coverage(self) -> list[dict[str, Any]]:
        """Each stored (symbol, timeframe) with its candle count and first and last open times, in one
        grouped query: what a backtest can run over, for a form to offer."""
        query = select(_table.c.symbol, _table.c.timeframe, func.count(), func.min(_table.c.time),
                       func.max(_table.c.time)).group_by(_table.c.symbol, _table.c.timeframe)
        with self._engine.connect() as connection:
            rows = connection.execute(query).all()
        return [{"symbol": symbol, "timeframe": timeframe, "candles": int(count), "first": int(first), "last": int(last)}
                for symbol, timeframe, count, first, last in sorted(rows, key=lambda r: (r[0], _timeframe_order(r[1])))]

    def _select(self, symbol: str, timeframe: Timeframe) -> Select[Any]:
        return select(*_VALUES).where(
            _table.c.symbol == normalize_symbol(symbol), _table.c.timeframe == parse_timeframe(timeframe).value
        )

    def _stored_times(self, connection: Connection, symbol: str, timeframe: Timeframe, times: list[int]) -> set[int]:
        """Which of the sorted ``times`` are stored: one range scan, or ``IN`` lists when they are sparse."""
        where = (_table.c.symbol == symbol, _table.c.timeframe == timeframe.value)
        span = (times[-1] - times[0]) // timeframe.seconds + 1
        if span <= 4 * len(times):
            query = select(_table.c.time).where(*where, _table.c.time.between(times[0], times[-1]))
            return set(connection.scalars(query))
        stored: set[int] = set()
        for start in range(0, len(times), _IN_LIST_SIZE):
            part = times[start : start + _IN_LIST_SIZE]
            stored.update(connection.scalars(select(_table.c.time).where(*where, _table.c.time.in_(part))))
        return stored


def _insert_ignoring_duplicates(dialect: str) -> Insert:
    """INSERT .. ON CONFLICT DO NOTHING whose executemany rowcount is the number of new rows."""
    if dialect == "sqlite":
        insert = sqlite.insert(_table).on_conflict_do_nothing(index_elements=_KEY)
    elif dialect == "postgresql":
        insert = postgresql.insert(_table).on_conflict_do_nothing(index_elements=_KEY)
    else:
        raise ValueError(f"unsupported database dialect {dialect!r}: use SQLite or PostgreSQL")
    return insert.execution_options(preserve_rowcount=True)  # SQLAlchemy drops it otherwise


def _candles(rows: Iterable[Row[Any]]) -> list[Candle]:
    return [Candle(t, o, h, lo, c, v, s) for t, o, h, lo, c, v, s in rows]


def _timeframe_order(value: str) -> tuple[int, str]:
    try:
        return parse_timeframe(value).seconds, value
    except ValidationError:
        return 1 << 62, value
