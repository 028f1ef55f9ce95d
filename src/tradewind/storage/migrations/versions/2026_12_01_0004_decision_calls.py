"""decision calls and the input cache.

Every model call is its own row, linked to the first call of its decision; analyses are found
by the input they answered (``input_hash``), not by symbol alone, for the seed's 5-minute cache.

``attempt`` is 1 for a decision's first call and 2 for its repair, whose ``parent_id`` is the
first call's ``decision_id``; ``prompt_detail`` and ``prompt_budget`` say how the prompt was sized,
``finish_reason`` why the answer ended ("length": cut by the output cap).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 23:30:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ai_decision_logs") as table:
        table.add_column(sa.Column("attempt", sa.Integer(), nullable=False, server_default="1"))
        table.add_column(sa.Column("parent_id", sa.String(length=64), nullable=True))
        table.add_column(sa.Column("prompt_detail", sa.String(length=16), nullable=True))
        table.add_column(sa.Column("prompt_budget", sa.Integer(), nullable=True))
        table.add_column(sa.Column("finish_reason", sa.String(length=32), nullable=True))
    op.create_index("ix_ai_decision_logs_parent_id", "ai_decision_logs", ["parent_id"])
    op.create_index("ix_ai_analysis_results_input_hash_created_at", "ai_analysis_results", ["input_hash", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_ai_analysis_results_input_hash_created_at", table_name="ai_analysis_results")
    op.drop_index("ix_ai_decision_logs_parent_id", table_name="ai_decision_logs")
    with op.batch_alter_table("ai_decision_logs") as table:
        for name in ("finish_reason", "prompt_budget", "prompt_detail", "parent_id", "attempt"):
            table.drop_column(name)
