"""decisions: the AI decision log (every model call, its tokens and cost) and its indexes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 06:43:16.908196

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ai_decision_logs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("decision_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("analyst", sa.String(length=255), nullable=False),
        sa.Column("symbol", sa.String(length=40), nullable=False),
        sa.Column("timeframe", sa.String(length=8), nullable=True),
        sa.Column("input_hash", sa.String(length=64), nullable=False),
        sa.Column("prompt_hash", sa.String(length=64), nullable=False),
        sa.Column("prompt", sa.JSON(), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=True),
        sa.Column("raw_response", sa.Text(), nullable=True),
        sa.Column("parsed", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("latency_ms", sa.Float(precision=53), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("total_tokens", sa.Integer(), nullable=True),
        sa.Column("cost_usd", sa.Float(precision=53), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("signal_id", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_decision_logs")),
        sa.UniqueConstraint("decision_id", name=op.f("uq_ai_decision_logs_decision_id")),
    )
    op.create_index(
        "ix_ai_decision_logs_model_prompt_hash_created_at", "ai_decision_logs", ["model", "prompt_hash", "created_at"]
    )
    op.create_index(
        "ix_ai_decision_logs_model_input_hash_created_at", "ai_decision_logs", ["model", "input_hash", "created_at"]
    )
    op.create_index("ix_ai_decision_logs_symbol_created_at", "ai_decision_logs", ["symbol", "created_at"])
    op.create_index("ix_ai_decision_logs_created_at_id", "ai_decision_logs", ["created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_ai_decision_logs_created_at_id", table_name="ai_decision_logs")
    op.drop_index("ix_ai_decision_logs_symbol_created_at", table_name="ai_decision_logs")
    op.drop_index("ix_ai_decision_logs_model_input_hash_created_at", table_name="ai_decision_logs")
    op.drop_index("ix_ai_decision_logs_model_prompt_hash_created_at", table_name="ai_decision_logs")
    op.drop_table("ai_decision_logs")
