"""trading: the paper-trading engine's book.

The portfolio's scalar state (one row, ``id`` 1) and its open positions, orders with their last
status, fills, closed trades, traded assets' settings, risk events, reflections and the equity
curve. Money is ``Float(53)``; times are UTC epoch seconds, also ``Float(53)`` (fills carry
fractions of a second).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 09:00:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_INDEXES = {  # table: (index name, columns), ...
    "trading_orders": (("ix_trading_orders_status_id", ["status", "id"]),),
    "trading_fills": (
        ("ix_trading_fills_symbol_time_id", ["symbol", "time", "id"]),
        ("ix_trading_fills_time_id", ["time", "id"]),
    ),
    "trading_trades": (
        ("ix_trading_trades_symbol_exit_time_id", ["symbol", "exit_time", "id"]),
        ("ix_trading_trades_exit_time_id", ["exit_time", "id"]),
    ),
    "trading_risk_events": (
        ("ix_trading_risk_events_symbol_time_id", ["symbol", "time", "id"]),
        ("ix_trading_risk_events_time_id", ["time", "id"]),
    ),
    "trading_reflections": (
        ("ix_trading_reflections_symbol_time_id", ["symbol", "time", "id"]),
        ("ix_trading_reflections_time_id", ["time", "id"]),
    ),
    "trading_equity": (("ix_trading_equity_time_id", ["time", "id"]),),
}
_TABLES = (
    "trading_portfolio", "trading_positions", "trading_orders", "trading_fills", "trading_trades",
    "trading_assets", "trading_risk_events", "trading_reflections", "trading_equity",
)


def _number(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Float(precision=53), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "trading_portfolio",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        _number("initial_cash"),
        _number("cash"),
        _number("realized_pnl"),
        _number("fees"),
        _number("peak_equity"),
        sa.Column("day", sa.String(length=10), nullable=True),
        _number("day_start_equity"),
        sa.Column("consecutive_losses", sa.Integer(), nullable=False),
        _number("last_loss_time", nullable=True),
        sa.Column("halted", sa.Boolean(), nullable=False),
        _number("alerted"),
        sa.Column("prices", sa.JSON(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_trading_portfolio_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trading_portfolio")),
    )
    op.create_table(
        "trading_positions",
        sa.Column("symbol", sa.String(length=40), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        _number("quantity"),
        _number("entry_price"),
        _number("entry_time"),
        _number("stop_loss", nullable=True),
        _number("take_profit", nullable=True),
        _number("trail_distance", nullable=True),
        _number("best_price", nullable=True),
        _number("fees"),
        sa.PrimaryKeyConstraint("symbol", name=op.f("pk_trading_positions")),
    )
    op.create_table(
        "trading_orders",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("client_order_id", sa.String(length=128), nullable=False),
        sa.Column("symbol", sa.String(length=40), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        _number("quantity"),
        sa.Column("type", sa.String(length=8), nullable=False),
        _number("price", nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("parent_id", sa.String(length=128), nullable=True),
        _number("created_at"),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        _number("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trading_orders")),
        sa.UniqueConstraint("client_order_id", name=op.f("uq_trading_orders_client_order_id")),
    )
    op.create_table(
        "trading_fills",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("client_order_id", sa.String(length=128), nullable=False),
        sa.Column("symbol", sa.String(length=40), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        _number("quantity"),
        _number("price"),
        _number("fee"),
        _number("time"),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trading_fills")),
    )
    op.create_table(
        "trading_trades",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("symbol", sa.String(length=40), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        _number("quantity"),
        _number("entry_time"),
        _number("entry_price"),
        _number("exit_time"),
        _number("exit_price"),
        _number("pnl"),
        _number("fees"),
        sa.Column("exit_reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trading_trades")),
    )
    op.create_table(
        "trading_assets",
        sa.Column("symbol", sa.String(length=40), nullable=False),
        sa.Column("timeframe", sa.String(length=8), nullable=False),
        sa.Column("interval_minutes", sa.Integer(), nullable=False),
        sa.Column("strategy", sa.String(length=255), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("analyst", sa.String(length=255), nullable=False),
        sa.Column("risk", sa.String(length=255), nullable=False),
        sa.Column("risk_overrides", sa.JSON(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("symbol", name=op.f("pk_trading_assets")),
    )
    op.create_table(
        "trading_risk_events",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("symbol", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        _number("time"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trading_risk_events")),
    )
    op.create_table(
        "trading_reflections",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("symbol", sa.String(length=40), nullable=False),
        _number("time"),
        sa.Column("analyst", sa.String(length=255), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("stats", sa.JSON(), nullable=False),
        sa.Column("trades", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trading_reflections")),
    )
    op.create_table(
        "trading_equity",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        _number("time"),
        _number("equity"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trading_equity")),
    )
    for table, indexes in _INDEXES.items():
        for name, columns in indexes:
            op.create_index(name, table, columns)


def downgrade() -> None:
    for table, indexes in reversed(_INDEXES.items()):
        for name, _columns in reversed(indexes):
            op.drop_index(name, table_name=table)
    for table in reversed(_TABLES):
        op.drop_table(table)
