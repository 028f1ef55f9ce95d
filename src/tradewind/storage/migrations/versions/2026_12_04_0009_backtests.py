"""backtests: the API's backtests, kept across restarts (each its document; the newest N finished).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 02:00:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "backtests",
        sa.Column("seq", _SEQ, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.Float(precision=53), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_backtests")),
        sa.UniqueConstraint("id", name=op.f("uq_backtests_id")),
    )
    op.create_index("ix_backtests_status", "backtests", ["status"])


def downgrade() -> None:
    op.drop_index("ix_backtests_status", table_name="backtests")
    op.drop_table("backtests")
