"""v1 assistants: the Assistants API's assistants, threads, messages, runs and run steps.

Each row is an object's OpenAI document (``body``, JSON) with the columns that lists, lookups and
cascades need: ``seq`` (insertion order, so objects of the same second list stably), ``owner``
(the digest of the key that created it), and the parent ids with ``ON DELETE CASCADE``
(thread -> messages, runs; assistant -> runs; run -> steps).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 12:00:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _common(table: str) -> list[sa.Column | sa.Constraint]:
    return [
        sa.Column("seq", _SEQ, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("id", name=op.f(f"uq_{table}_id")),
    ]


def _parent(table: str, column: str, parent: str) -> list[sa.Column | sa.Constraint]:
    return [
        sa.Column(column, sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint([column], [f"{parent}.id"], name=op.f(f"fk_{table}_{column}_{parent}"),
                                ondelete="CASCADE"),
    ]


def upgrade() -> None:
    op.create_table("v1_assistants", *_common("v1_assistants"))
    op.create_index("ix_v1_assistants_owner_seq", "v1_assistants", ["owner", "seq"])
    op.create_table("v1_threads", *_common("v1_threads"))
    op.create_table("v1_messages", *_common("v1_messages"), *_parent("v1_messages", "thread_id", "v1_threads"),
                    sa.Column("run_id", sa.String(length=64), nullable=True))
    op.create_index("ix_v1_messages_thread_id_seq", "v1_messages", ["thread_id", "seq"])
    op.create_table("v1_runs", *_common("v1_runs"), *_parent("v1_runs", "thread_id", "v1_threads"),
                    *_parent("v1_runs", "assistant_id", "v1_assistants"),
                    sa.Column("status", sa.String(length=32), nullable=False))
    op.create_index("ix_v1_runs_thread_id_seq", "v1_runs", ["thread_id", "seq"])
    op.create_index("ix_v1_runs_status", "v1_runs", ["status"])
    op.create_table("v1_run_steps", *_common("v1_run_steps"), *_parent("v1_run_steps", "run_id", "v1_runs"),
                    sa.Column("thread_id", sa.String(length=64), nullable=False))
    op.create_index("ix_v1_run_steps_run_id_seq", "v1_run_steps", ["run_id", "seq"])


def downgrade() -> None:
    for table in ("v1_run_steps", "v1_runs", "v1_messages", "v1_threads", "v1_assistants"):
        op.drop_table(table)
