"""``SqlObjectStore``: the Assistants API's objects on SQLite or PostgreSQL (the ``v1_*`` tables).

Each call is one short transaction. Lookups are by id *and* owner, so another key's object is not
found at all (the API answers 404, never 403); objects of no one (``NOBODY``) are everyone's. Cascades are the database's own (``ON DELETE
CASCADE``; SQLite runs with ``foreign_keys=ON``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Table, delete, insert, select, update

from tradewind.assistants.records import PARENTS, Kind, Page
from tradewind.assistants.tools import LOCAL_OWNER
from tradewind.storage.tables import (
    V1AssistantRow,
    V1MessageRow,
    V1RunRow,
    V1RunStepRow,
    V1ThreadRow,
    V1VectorStoreRow,
)

__all__ = ["NOBODY", "SqlObjectStore", "keyset_page", "visible_to"]

NOBODY = LOCAL_OWNER
"""The owner of objects that belong to no one: made without a credential, or before authentication
(migration 0008). Every caller sees them, as the anonymous caller always did."""


def visible_to(column: ColumnElement[str], owner: str) -> ColumnElement[bool]:
    """The rows ``owner`` sees: its own, and no one's."""
    return column == NOBODY if owner == NOBODY else column.in_((owner, NOBODY))

_TABLES: dict[str, Table] = {
    "assistant": V1AssistantRow.__table__,  # type: ignore[dict-item]
    "thread": V1ThreadRow.__table__,  # type: ignore[dict-item]
    "message": V1MessageRow.__table__,  # type: ignore[dict-item]
    "run": V1RunRow.__table__,  # type: ignore[dict-item]
    "run_step": V1RunStepRow.__table__,  # type: ignore[dict-item]
    "vector_store": V1VectorStoreRow.__table__,  # type: ignore[dict-item]
}
TERMINAL = ("completed", "failed", "cancelled", "expired", "incomplete")


class SqlObjectStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def insert(self, kind: Kind, owner: str, document: Mapping[str, Any]) -> None:
        self.insert_many([(kind, owner, document)])

    def insert_many(self, items: Sequence[tuple[Kind, str, Mapping[str, Any]]], runner: str | None = None) -> None:
        with self.engine.begin() as connection:
            for kind, owner, document in items:
                row = _row(kind, owner, document)
                if kind == "run":
                    row["worker"] = runner
                connection.execute(insert(_TABLES[kind]).values(**row))

    def get(self, kind: Kind, owner: str, object_id: str) -> dict[str, Any] | None:
        table = _TABLES[kind]
        with self.engine.connect() as connection:
            body = connection.execute(
                select(table.c.body).where(table.c.id == object_id, visible_to(table.c.owner, owner))).scalar()
        return dict(body) if body is not None else None

    def replace(self, kind: Kind, owner: str, document: Mapping[str, Any], runner: str | None = None) -> None:
        table = _TABLES[kind]
        values: dict[str, Any] = {"body": dict(document)}
        if kind == "run":
            values["status"] = document["status"]
            if runner is not None:
                values["worker"] = runner
        with self.engine.begin() as connection:
            connection.execute(update(table).where(table.c.id == document["id"], visible_to(table.c.owner, owner)).values(**values))

    def delete(self, kind: Kind, owner: str, object_id: str) -> bool:
        table = _TABLES[kind]
        with self.engine.begin() as connection:
            return bool(connection.execute(
                delete(table).where(table.c.id == object_id, visible_to(table.c.owner, owner))).rowcount)

    def page(self, kind: Kind, owner: str, *, where: Mapping[str, str], limit: int, order: str,
             after: str | None, before: str | None) -> Page:
        table = _TABLES[kind]
        with self.engine.connect() as connection:
            return keyset_page(connection, table, owner, [table.c[k] == v for k, v in where.items()], limit=limit,
                               order=order, after=after, before=before)

    def unfinished_runs(self) -> list[tuple[str, dict[str, Any], str | None]]:
        table = _TABLES["run"]
        with self.engine.connect() as connection:
            rows = connection.execute(select(table.c.owner, table.c.body, table.c.worker)
                                      .where(table.c.status.not_in(TERMINAL)).order_by(table.c.seq))
            return [(owner, dict(body), worker) for owner, body, worker in rows]

    def runner(self, run_id: str) -> str | None:
        """The worker that executes the run ``run_id`` (None: unknown, or from before migration 0010)."""
        table = _TABLES["run"]
        with self.engine.connect() as connection:
            return connection.execute(select(table.c.worker).where(table.c.id == run_id)).scalar()


def keyset_page(connection: Connection, table: Table, owner: str, conditions: Sequence[Any], *, limit: int,
                order: str, after: str | None, before: str | None) -> Page:
    """One page of an owner's documents in insertion order (``seq``), OpenAI's cursors being ids."""
    query = select(table.c.body).where(visible_to(table.c.owner, owner), *conditions)
    for cursor, comes_after in ((after, True), (before, False)):
        if cursor is None:
            continue
        seq = _seq(connection, table, owner, cursor)
        if seq is None:  # a cursor that is not one of ours: nothing lies beyond it
            return Page([], False)
        newer = (comes_after and order == "asc") or (not comes_after and order == "desc")
        query = query.where(table.c.seq > seq if newer else table.c.seq < seq)
    # a page before a cursor is the one next to it: read away from the cursor, then turn it round
    backwards = before is not None and after is None
    ascending = (order == "asc") != backwards
    query = query.order_by(table.c.seq.asc() if ascending else table.c.seq.desc()).limit(limit + 1)
    rows = [dict(body) for body in connection.execute(query).scalars()]
    page = rows[:limit]
    return Page(page[::-1] if backwards else page, len(rows) > limit)


def _seq(connection: Connection, table: Table, owner: str, object_id: str) -> int | None:
    return connection.execute(select(table.c.seq).where(table.c.id == object_id, visible_to(table.c.owner, owner))).scalar()


def _row(kind: Kind, owner: str, document: Mapping[str, Any]) -> dict[str, Any]:
    row = {"id": document["id"], "owner": owner, "created_at": int(document["created_at"]), "body": dict(document)}
    for column in PARENTS[kind]:
        row[column] = document.get(column)
    if kind == "run":
        row["status"] = document["status"]
    return row
