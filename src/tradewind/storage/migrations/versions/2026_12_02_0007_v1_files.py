"""v1 files: uploaded files, their passages under the database's own full-text index, vector stores.

``v1_files`` holds each file's document and bytes; ``v1_file_passages`` its text cut into
passages (``ON DELETE CASCADE`` from the file). The index over the passages is each database's
own: on SQLite an external-content FTS5 table (``porter`` stemming) kept in step by triggers, so a
cascade from a deleted file removes its index entries too; on PostgreSQL a GIN index over
``to_tsvector('english', text)``. ``v1_vector_stores`` are the sets of files an assistant or a
thread searches.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 20:30:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_SQLITE_INDEX = (
    "CREATE VIRTUAL TABLE v1_file_passages_fts USING fts5(text, content='v1_file_passages', content_rowid='id', "
    "tokenize='porter unicode61')",
    "CREATE TRIGGER v1_file_passages_ai AFTER INSERT ON v1_file_passages BEGIN "
    "INSERT INTO v1_file_passages_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER v1_file_passages_ad AFTER DELETE ON v1_file_passages BEGIN "
    "INSERT INTO v1_file_passages_fts(v1_file_passages_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
)


def upgrade() -> None:
    op.create_table(
        "v1_vector_stores",
        sa.Column("seq", _SEQ, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_v1_vector_stores")),
        sa.UniqueConstraint("id", name=op.f("uq_v1_vector_stores_id")),
    )
    op.create_index("ix_v1_vector_stores_owner_seq", "v1_vector_stores", ["owner", "seq"])
    op.create_table(
        "v1_files",
        sa.Column("seq", _SEQ, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_v1_files")),
        sa.UniqueConstraint("id", name=op.f("uq_v1_files_id")),
    )
    op.create_index("ix_v1_files_owner_seq", "v1_files", ["owner", "seq"])
    op.create_table(
        "v1_file_passages",
        sa.Column("id", _SEQ, autoincrement=True, nullable=False),
        sa.Column("file_id", sa.String(length=64), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["file_id"], ["v1_files.id"], name=op.f("fk_v1_file_passages_file_id_v1_files"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_v1_file_passages")),
    )
    op.create_index("ix_v1_file_passages_file_id", "v1_file_passages", ["file_id"])
    if op.get_bind().dialect.name == "sqlite":
        for statement in _SQLITE_INDEX:
            op.execute(statement)
    else:
        op.execute("CREATE INDEX ix_v1_file_passages_tsv ON v1_file_passages "
                   "USING gin (to_tsvector('english', text))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS v1_file_passages_fts")
    op.drop_table("v1_file_passages")
    op.drop_table("v1_files")
    op.drop_table("v1_vector_stores")
