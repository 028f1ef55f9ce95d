"""runners: which worker executes each assistant run and each backtest.

With several workers, one that starts (or sweeps) settles only the unfinished runs and backtests
of a worker that is gone, never those a live worker is executing. Rows from before this revision
have no worker: they are settled as before.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 19:30:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("v1_runs", "backtests")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("worker", sa.String(length=160), nullable=True))


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("worker")
