"""analyses: stored signals, their outcomes and feedback

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 06:23:50.388120

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('ai_analysis_results',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('signal_id', sa.String(length=40), nullable=False),
    sa.Column('symbol', sa.String(length=40), nullable=False),
    sa.Column('timestamp', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('analyst', sa.String(length=40), nullable=False),
    sa.Column('timeframe', sa.String(length=8), nullable=True),
    sa.Column('signal', sa.String(length=8), nullable=False),
    sa.Column('confidence', sa.Float(precision=53), nullable=False),
    sa.Column('entry_time', sa.BigInteger(), nullable=True),
    sa.Column('entry_price', sa.Float(precision=53), nullable=True),
    sa.Column('stop_loss', sa.Float(precision=53), nullable=True),
    sa.Column('take_profit', sa.Float(precision=53), nullable=True),
    sa.Column('horizon_seconds', sa.Integer(), nullable=True),
    sa.Column('input_hash', sa.String(length=64), nullable=False),
    sa.Column('analysis', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ai_analysis_results')),
    sa.UniqueConstraint('signal_id', name=op.f('uq_ai_analysis_results_signal_id'))
    )
    with op.batch_alter_table('ai_analysis_results', schema=None) as batch_op:
        batch_op.create_index('ix_ai_analysis_results_symbol_timestamp', ['symbol', 'timestamp'], unique=False)

    op.create_table('signal_feedback',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('signal_id', sa.String(length=40), nullable=False),
    sa.Column('symbol', sa.String(length=40), nullable=False),
    sa.Column('predicted_signal', sa.String(length=8), nullable=False),
    sa.Column('actual_outcome', sa.String(length=8), nullable=False),
    sa.Column('profit_loss', sa.Float(precision=53), nullable=True),
    sa.Column('confidence_was_accurate', sa.Boolean(), nullable=True),
    sa.Column('feedback_notes', sa.Text(), nullable=True),
    sa.Column('timestamp', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['signal_id'], ['ai_analysis_results.signal_id'], name=op.f('fk_signal_feedback_signal_id_ai_analysis_results'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signal_feedback'))
    )
    with op.batch_alter_table('signal_feedback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signal_feedback_signal_id'), ['signal_id'], unique=False)

    op.create_table('signal_outcomes',
    sa.Column('signal_id', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('exit_time', sa.BigInteger(), nullable=True),
    sa.Column('exit_price', sa.Float(precision=53), nullable=True),
    sa.Column('realized_return', sa.Float(precision=53), nullable=True),
    sa.Column('actual', sa.String(length=8), nullable=True),
    sa.Column('success', sa.Boolean(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['signal_id'], ['ai_analysis_results.signal_id'], name=op.f('fk_signal_outcomes_signal_id_ai_analysis_results'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('signal_id', name=op.f('pk_signal_outcomes'))
    )


def downgrade() -> None:
    op.drop_table('signal_outcomes')
    with op.batch_alter_table('signal_feedback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signal_feedback_signal_id'))

    op.drop_table('signal_feedback')
    with op.batch_alter_table('ai_analysis_results', schema=None) as batch_op:
        batch_op.drop_index('ix_ai_analysis_results_symbol_timestamp')

    op.drop_table('ai_analysis_results')
