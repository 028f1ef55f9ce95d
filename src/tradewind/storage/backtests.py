"""``SqlBacktestStore``: the API's backtests in the ``backtests`` table, so they outlive a restart.

Each save is one short transaction that inserts or replaces the whole document, so a kill leaves
either the previous document or the new one, never half of it. Numbers that JSON cannot carry
(NaN, infinity) are stored as null: a figure that could not be computed is null.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from tradewind.storage.tables import BacktestRow
from tradewind.trading.backtest_store import UNFINISHED

__all__ = ["SqlBacktestStore"]

_TABLE = BacktestRow.__table__


class SqlBacktestStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def save(self, document: Mapping[str, Any], runner: str | None = None) -> None:
        body = _finite(dict(document))
        values = {"status": body["status"], "body": body, "worker": runner}
        with self.engine.begin() as connection:
            changed = connection.execute(update(_TABLE).where(_TABLE.c.id == body["id"]).values(**values)).rowcount
            if not changed:
                connection.execute(insert(_TABLE).values(id=body["id"], created_at=body["created_at"], **values))

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as connection:
            body = connection.execute(select(_TABLE.c.body).where(_TABLE.c.id == job_id)).scalar()
        return dict(body) if body is not None else None

    def recent(self, limit: int) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(_TABLE.c.body).order_by(_TABLE.c.seq.desc()).limit(limit)).scalars()
            return [dict(body) for body in rows]

    def unfinished(self) -> list[tuple[dict[str, Any], str | None]]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(_TABLE.c.body, _TABLE.c.worker).where(_TABLE.c.status.in_(UNFINISHED))
                                      .order_by(_TABLE.c.seq))
            return [(dict(body), worker) for body, worker in rows]

    def trim(self, keep: int) -> int:
        with self.engine.begin() as connection:
            kept = (select(_TABLE.c.seq).where(_TABLE.c.status.not_in(UNFINISHED))
                    .order_by(_TABLE.c.seq.desc()).limit(keep))
            return int(connection.execute(delete(_TABLE).where(
                _TABLE.c.status.not_in(UNFINISHED), _TABLE.c.seq.not_in(kept))).rowcount or 0)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value
