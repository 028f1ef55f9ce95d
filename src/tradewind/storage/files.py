"""``SqlFileStore``: uploaded files and full-text search over their passages, in SQL.

The search is the database's own: FTS5 with BM25 on SQLite, ``ts_rank`` over an expression GIN
index on PostgreSQL (migration 0007). Queries arrive as plain words (``files.search_words``) and
are bound as parameters: a word is quoted for FTS5 (``"word"``, so no FTS5 syntax survives) and
joined with ``|`` for ``to_tsquery`` after ``plainto_tsquery`` has normalised each one. The
database orders the passages (BM25, ``ts_rank``); the ``score`` reported is one both databases
give alike and a reader can check: the share of the query's words the passage holds (a word of
the passage starting with the query word's stem counts, ``coverage``). BM25's own values depend
on the size of the collection and are near zero in a small one, so they are not reported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, Engine, Float, Integer, String, Text, bindparam, delete, insert, select, text

from tradewind.assistants.files import Passage
from tradewind.assistants.records import Page
from tradewind.storage.assistants import NOBODY, keyset_page, visible_to
from tradewind.storage.tables import V1FilePassageRow, V1FileRow

__all__ = ["SqlFileStore"]

_WORD = re.compile(r"\w+")
_FILES = V1FileRow.__table__
_PASSAGES = V1FilePassageRow.__table__

_SQLITE_SEARCH = text(
    "SELECT p.file_id, f.body, p.ordinal, p.text, -bm25(v1_file_passages_fts) AS score "
    "FROM v1_file_passages_fts JOIN v1_file_passages p ON p.id = v1_file_passages_fts.rowid "
    "JOIN v1_files f ON f.id = p.file_id "
    "WHERE v1_file_passages_fts MATCH :query AND f.owner IN (:owner, :nobody) AND p.file_id IN :file_ids "
    "ORDER BY bm25(v1_file_passages_fts) LIMIT :limit"
).bindparams(bindparam("file_ids", expanding=True)).columns(file_id=String, body=JSON, ordinal=Integer, text=Text,
                                                            score=Float)
_POSTGRES_SEARCH = text(
    "WITH q AS (SELECT to_tsquery('english', string_agg(NULLIF(plainto_tsquery('english', w)::text, ''), ' | ')) "
    "AS query FROM unnest(CAST(:words AS text[])) AS w) "
    "SELECT p.file_id, f.body, p.ordinal, p.text, ts_rank(to_tsvector('english', p.text), q.query) AS score "
    "FROM q, v1_file_passages p JOIN v1_files f ON f.id = p.file_id "
    "WHERE q.query IS NOT NULL AND to_tsvector('english', p.text) @@ q.query AND f.owner IN (:owner, :nobody) "
    "AND p.file_id IN :file_ids ORDER BY score DESC, p.id LIMIT :limit"
).bindparams(bindparam("file_ids", expanding=True)).columns(file_id=String, body=JSON, ordinal=Integer, text=Text,
                                                            score=Float)


class SqlFileStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"

    def insert(self, owner: str, document: Mapping[str, Any], data: bytes, passages: Sequence[str]) -> None:
        with self.engine.begin() as connection:
            connection.execute(insert(_FILES).values(
                id=document["id"], owner=owner, created_at=int(document["created_at"]),
                purpose=document["purpose"], body=dict(document), data=data))
            if passages:
                connection.execute(insert(_PASSAGES), [
                    {"file_id": document["id"], "ordinal": i, "text": passage} for i, passage in enumerate(passages)])

    def get(self, owner: str, file_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as connection:
            body = connection.execute(select(_FILES.c.body).where(_FILES.c.id == file_id, visible_to(_FILES.c.owner, owner))
                                      ).scalar()
        return dict(body) if body is not None else None

    def content(self, owner: str, file_id: str) -> bytes | None:
        with self.engine.connect() as connection:
            data = connection.execute(select(_FILES.c.data).where(_FILES.c.id == file_id, visible_to(_FILES.c.owner, owner))
                                      ).scalar()
        return bytes(data) if data is not None else None

    def delete(self, owner: str, file_id: str) -> bool:
        with self.engine.begin() as connection:  # its passages (and on SQLite their index rows) by cascade
            return bool(connection.execute(
                delete(_FILES).where(_FILES.c.id == file_id, visible_to(_FILES.c.owner, owner))).rowcount)

    def page(self, owner: str, *, purpose: str | None, limit: int, order: str, after: str | None,
             before: str | None) -> Page:
        conditions = [_FILES.c.purpose == purpose] if purpose is not None else []
        with self.engine.connect() as connection:
            return keyset_page(connection, _FILES, owner, conditions, limit=limit, order=order, after=after,
                               before=before)

    def search(self, owner: str, file_ids: Sequence[str], words: Sequence[str], limit: int) -> list[Passage]:
        if not words or not file_ids:
            return []
        params: dict[str, Any] = {"owner": owner, "nobody": NOBODY, "file_ids": list(file_ids), "limit": limit}
        if self.postgres:
            statement, params["words"] = _POSTGRES_SEARCH, list(words)
        else:
            statement, params["query"] = _SQLITE_SEARCH, " OR ".join(f'"{w}"' for w in words)
        with self.engine.connect() as connection:
            rows = connection.execute(statement, params).all()
        return [Passage(file_id=file_id, filename=(body or {}).get("filename", ""), ordinal=int(ordinal),
                        text=passage, score=coverage(words, passage)) for file_id, body, ordinal, passage, _ in rows]


def coverage(words: Sequence[str], passage: str) -> float:
    """The share of ``words`` in ``passage``: a passage word that begins with the query word's stem
    (its first ``max(4, len - 2)`` letters, so "yields" finds "yield") counts."""
    held = set(_WORD.findall(passage.lower()))
    found = 0
    for word in words:
        stem = word[:max(4, len(word) - 2)]
        if word in held or any(h.startswith(stem) for h in held):
            found += 1
    return round(found / len(words), 4) if words else 0.0
