"""The database schema as SQLAlchemy 2 typed models; Alembic migrations are generated against it.

Constraints are named by convention so migrations can alter or drop them by name on both
SQLite and PostgreSQL. Prices are ``Float(53)``: float64 on both, so values round-trip exactly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ApiKeyRow",
    "BacktestRow",
    "FULL_TEXT_OBJECTS",
    "NAMING_CONVENTION",
    "V1FilePassageRow",
    "V1FileRow",
    "V1VectorStoreRow",
    "include_name",
    "V1AssistantRow",
    "V1MessageRow",
    "V1RunRow",
    "V1RunStepRow",
    "V1ThreadRow",
    "AnalysisRow",
    "Base",
    "CandleRow",
    "DecisionRow",
    "FeedbackRow",
    "OutcomeRow",
    "TradingAssetRow",
    "TradingEquityRow",
    "TradingFillRow",
    "TradingOrderRow",
    "TradingPortfolioRow",
    "TradingPositionRow",
    "TradingReflectionRow",
    "TradingRiskEventRow",
    "TradingTradeRow",
    "metadata",
]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

WORKER_ID_MAX = 160
"""A worker's id (host, pid and a per-start nonce; ``adapters/scale_out.worker_id``) fits in this."""

# SQLite only auto-increments an ``INTEGER PRIMARY KEY`` (the rowid), never a BIGINT one.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


metadata = Base.metadata


class CandleRow(Base):
    """One closed candle; (symbol, timeframe, time) is unique, so saving twice is harmless.

    The unique constraint's index also serves every lookup (by symbol and timeframe, ranged or
    ordered by time), so no second index on the same columns is declared.
    """

    __tablename__ = "candles"
    __table_args__ = (UniqueConstraint("symbol", "timeframe", "time"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    symbol: Mapped[str] = mapped_column(String(40))
    timeframe: Mapped[str] = mapped_column(String(8))
    time: Mapped[int] = mapped_column(BigInteger)
    open: Mapped[float] = mapped_column(Float(53))
    high: Mapped[float] = mapped_column(Float(53))
    low: Mapped[float] = mapped_column(Float(53))
    close: Mapped[float] = mapped_column(Float(53))
    volume: Mapped[float] = mapped_column(Float(53))
    spread: Mapped[float | None] = mapped_column(Float(53))


class AnalysisRow(Base):
    """One analysis (the seed's ``ai_analysis_results`` document): the full response as JSON plus
    the columns the cache, the outcome scorer and the statistics query by."""

    __tablename__ = "ai_analysis_results"
    __table_args__ = (
        Index("ix_ai_analysis_results_symbol_timestamp", "symbol", "timestamp"),
        Index("ix_ai_analysis_results_input_hash_created_at", "input_hash", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    signal_id: Mapped[str] = mapped_column(String(40), unique=True)
    symbol: Mapped[str] = mapped_column(String(40))
    timestamp: Mapped[int] = mapped_column(BigInteger)  # epoch ms of the analysis, as the seed
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    analyst: Mapped[str] = mapped_column(String(40))
    timeframe: Mapped[str | None] = mapped_column(String(8))
    signal: Mapped[str] = mapped_column(String(8))
    confidence: Mapped[float] = mapped_column(Float(53))
    entry_time: Mapped[int | None] = mapped_column(BigInteger)  # epoch s: close of the last candle seen
    entry_price: Mapped[float | None] = mapped_column(Float(53))
    stop_loss: Mapped[float | None] = mapped_column(Float(53))
    take_profit: Mapped[float | None] = mapped_column(Float(53))
    horizon_seconds: Mapped[int | None] = mapped_column(Integer)
    input_hash: Mapped[str] = mapped_column(String(64))
    analysis: Mapped[dict[str, Any]] = mapped_column(JSON)


class OutcomeRow(Base):
    """What the market did after a signal; written once, when the signal resolves."""

    __tablename__ = "signal_outcomes"

    signal_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("ai_analysis_results.signal_id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16))
    exit_time: Mapped[int | None] = mapped_column(BigInteger)
    exit_price: Mapped[float | None] = mapped_column(Float(53))
    realized_return: Mapped[float | None] = mapped_column(Float(53))
    actual: Mapped[str | None] = mapped_column(String(8))
    success: Mapped[bool | None] = mapped_column(Boolean)
    resolved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FeedbackRow(Base):
    """A user's feedback on a signal (``POST /ai/feedback``), kept beside the measured outcome."""

    __tablename__ = "signal_feedback"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    signal_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("ai_analysis_results.signal_id", ondelete="CASCADE"), index=True
    )
    symbol: Mapped[str] = mapped_column(String(40))
    predicted_signal: Mapped[str] = mapped_column(String(8))
    actual_outcome: Mapped[str] = mapped_column(String(8))
    profit_loss: Mapped[float | None] = mapped_column(Float(53))
    confidence_was_accurate: Mapped[bool | None] = mapped_column(Boolean)
    feedback_notes: Mapped[str | None] = mapped_column(Text)
    timestamp: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DecisionRow(Base):
    """One logged model call (the seed's ``aiDecisionLogs``): a ``Decision`` field for field.

    A repaired decision is two rows: the first call, and the repair (``attempt`` 2) whose
    ``parent_id`` names it.

    ``(model, prompt_hash, created_at)`` serves the answer cache (newest hit first);
    ``(symbol, created_at)`` and ``(created_at, id)`` serve listing and keyset-paged exports.
    ``parsed`` stores ``None`` as SQL NULL, so "no valid answer" can be filtered on.
    """

    __tablename__ = "ai_decision_logs"
    __table_args__ = (
        Index("ix_ai_decision_logs_model_prompt_hash_created_at", "model", "prompt_hash", "created_at"),
        Index("ix_ai_decision_logs_model_input_hash_created_at", "model", "input_hash", "created_at"),
        Index("ix_ai_decision_logs_symbol_created_at", "symbol", "created_at"),
        Index("ix_ai_decision_logs_created_at_id", "created_at", "id"),
        Index("ix_ai_decision_logs_parent_id", "parent_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    decision_id: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    analyst: Mapped[str] = mapped_column(String(255))
    symbol: Mapped[str] = mapped_column(String(40))
    timeframe: Mapped[str | None] = mapped_column(String(8))
    input_hash: Mapped[str] = mapped_column(String(64))
    prompt_hash: Mapped[str] = mapped_column(String(64))
    prompt: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    model: Mapped[str | None] = mapped_column(String(255))
    raw_response: Mapped[str | None] = mapped_column(Text)
    parsed: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    source: Mapped[str] = mapped_column(String(16))
    latency_ms: Mapped[float | None] = mapped_column(Float(53))
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    total_tokens: Mapped[int | None] = mapped_column(Integer)
    cost_usd: Mapped[float | None] = mapped_column(Float(53))
    error: Mapped[str | None] = mapped_column(Text)
    signal_id: Mapped[str | None] = mapped_column(String(40))
    attempt: Mapped[int] = mapped_column(Integer, server_default="1")
    parent_id: Mapped[str | None] = mapped_column(String(64))
    prompt_detail: Mapped[str | None] = mapped_column(String(16))
    prompt_budget: Mapped[int | None] = mapped_column(Integer)
    finish_reason: Mapped[str | None] = mapped_column(String(32))


# --- trading: the paper-trading engine's book (``tradewind.trading.records.TradingStore``) ---------
# Times are UTC epoch seconds as Float(53): fills and marks carry fractions of a second.


class TradingPortfolioRow(Base):
    """The portfolio's scalar state: one row (``id`` 1), rewritten with every fill."""

    __tablename__ = "trading_portfolio"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    initial_cash: Mapped[float] = mapped_column(Float(53))
    cash: Mapped[float] = mapped_column(Float(53))
    realized_pnl: Mapped[float] = mapped_column(Float(53))
    fees: Mapped[float] = mapped_column(Float(53))
    peak_equity: Mapped[float] = mapped_column(Float(53))
    day: Mapped[str | None] = mapped_column(String(10))  # the UTC day of day_start_equity, 'YYYY-MM-DD'
    day_start_equity: Mapped[float] = mapped_column(Float(53))
    consecutive_losses: Mapped[int] = mapped_column(Integer)
    last_loss_time: Mapped[float | None] = mapped_column(Float(53))
    halted: Mapped[bool] = mapped_column(Boolean)
    alerted: Mapped[float] = mapped_column(Float(53))
    prices: Mapped[dict[str, float]] = mapped_column(JSON)  # the last price seen per symbol


class TradingPositionRow(Base):
    """An open position; the table always holds exactly the portfolio row's positions."""

    __tablename__ = "trading_positions"

    symbol: Mapped[str] = mapped_column(String(40), primary_key=True)
    side: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[float] = mapped_column(Float(53))
    entry_price: Mapped[float] = mapped_column(Float(53))
    entry_time: Mapped[float] = mapped_column(Float(53))
    stop_loss: Mapped[float | None] = mapped_column(Float(53))
    take_profit: Mapped[float | None] = mapped_column(Float(53))
    trail_distance: Mapped[float | None] = mapped_column(Float(53))
    best_price: Mapped[float | None] = mapped_column(Float(53))
    fees: Mapped[float] = mapped_column(Float(53))


class TradingOrderRow(Base):
    """An order and its last status; ``(status, id)`` serves the open orders a restart reloads."""

    __tablename__ = "trading_orders"
    __table_args__ = (Index("ix_trading_orders_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_order_id: Mapped[str] = mapped_column(String(128), unique=True)
    symbol: Mapped[str] = mapped_column(String(40))
    side: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[float] = mapped_column(Float(53))
    type: Mapped[str] = mapped_column(String(8))
    price: Mapped[float | None] = mapped_column(Float(53))
    reason: Mapped[str] = mapped_column(Text)
    parent_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[float] = mapped_column(Float(53))
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[float] = mapped_column(Float(53))  # wall clock of the last status change


class TradingFillRow(Base):
    """One fill; an order may have several (partial fills)."""

    __tablename__ = "trading_fills"
    __table_args__ = (
        Index("ix_trading_fills_symbol_time_id", "symbol", "time", "id"),
        Index("ix_trading_fills_time_id", "time", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_order_id: Mapped[str] = mapped_column(String(128))
    symbol: Mapped[str] = mapped_column(String(40))
    side: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[float] = mapped_column(Float(53))
    price: Mapped[float] = mapped_column(Float(53))
    fee: Mapped[float] = mapped_column(Float(53))
    time: Mapped[float] = mapped_column(Float(53))
    reason: Mapped[str] = mapped_column(Text)


class TradingTradeRow(Base):
    """One closed round trip, listed newest first by ``(exit_time, id)``."""

    __tablename__ = "trading_trades"
    __table_args__ = (
        Index("ix_trading_trades_symbol_exit_time_id", "symbol", "exit_time", "id"),
        Index("ix_trading_trades_exit_time_id", "exit_time", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    symbol: Mapped[str] = mapped_column(String(40))
    side: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[float] = mapped_column(Float(53))
    entry_time: Mapped[float] = mapped_column(Float(53))
    entry_price: Mapped[float] = mapped_column(Float(53))
    exit_time: Mapped[float] = mapped_column(Float(53))
    exit_price: Mapped[float] = mapped_column(Float(53))
    pnl: Mapped[float] = mapped_column(Float(53))
    fees: Mapped[float] = mapped_column(Float(53))
    exit_reason: Mapped[str] = mapped_column(Text)


class TradingAssetRow(Base):
    """A traded asset's settings (an ``AssetConfig``); ``timeframe`` is its value, e.g. ``15m``."""

    __tablename__ = "trading_assets"

    symbol: Mapped[str] = mapped_column(String(40), primary_key=True)
    timeframe: Mapped[str] = mapped_column(String(8))
    interval_minutes: Mapped[int] = mapped_column(Integer)
    strategy: Mapped[str] = mapped_column(String(255))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    analyst: Mapped[str] = mapped_column(String(255))
    risk: Mapped[str] = mapped_column(String(255))
    risk_overrides: Mapped[dict[str, Any]] = mapped_column(JSON)
    paused: Mapped[bool] = mapped_column(Boolean)


class TradingRiskEventRow(Base):
    """A risk denial (or kill switch) with its reason, listed newest first by ``(time, id)``."""

    __tablename__ = "trading_risk_events"
    __table_args__ = (
        Index("ix_trading_risk_events_symbol_time_id", "symbol", "time", "id"),
        Index("ix_trading_risk_events_time_id", "time", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    symbol: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text)
    time: Mapped[float] = mapped_column(Float(53))


class TradingReflectionRow(Base):
    """An analyst's review of an asset's recent trades, with the statistics it cites."""

    __tablename__ = "trading_reflections"
    __table_args__ = (
        Index("ix_trading_reflections_symbol_time_id", "symbol", "time", "id"),
        Index("ix_trading_reflections_time_id", "time", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    symbol: Mapped[str] = mapped_column(String(40))
    time: Mapped[float] = mapped_column(Float(53))
    analyst: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON)
    trades: Mapped[int] = mapped_column(Integer)


class TradingEquityRow(Base):
    """One point of the equity curve."""

    __tablename__ = "trading_equity"
    __table_args__ = (Index("ix_trading_equity_time_id", "time", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    time: Mapped[float] = mapped_column(Float(53))
    equity: Mapped[float] = mapped_column(Float(53))


class BacktestRow(Base):
    """A backtest started from the API: its document (spec, status, progress, error, report)."""

    __tablename__ = "backtests"
    __table_args__ = (Index("ix_backtests_status", "status"),)

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[float] = mapped_column(Float(53))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    worker: Mapped[str | None] = mapped_column(String(WORKER_ID_MAX))  # who runs it (migration 0010)


# --- /v1 Assistants API objects -----------------------------------------------------------------------
# Each object is its OpenAI document (``body``) with the columns lists, lookups and cascades need:
# ``seq`` orders objects created in the same second, ``owner`` is the key's digest that created it.


class V1AssistantRow(Base):
    __tablename__ = "v1_assistants"
    __table_args__ = (Index("ix_v1_assistants_owner_seq", "owner", "seq"),)

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    owner: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)


class V1ThreadRow(Base):
    __tablename__ = "v1_threads"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    owner: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)


class V1MessageRow(Base):
    __tablename__ = "v1_messages"
    __table_args__ = (Index("ix_v1_messages_thread_id_seq", "thread_id", "seq"),)

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    owner: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)
    thread_id: Mapped[str] = mapped_column(String(64), ForeignKey("v1_threads.id", ondelete="CASCADE"))
    run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)


class V1RunRow(Base):
    __tablename__ = "v1_runs"
    __table_args__ = (
        Index("ix_v1_runs_thread_id_seq", "thread_id", "seq"),
        Index("ix_v1_runs_status", "status"),
    )

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    owner: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)
    thread_id: Mapped[str] = mapped_column(String(64), ForeignKey("v1_threads.id", ondelete="CASCADE"))
    assistant_id: Mapped[str] = mapped_column(String(64), ForeignKey("v1_assistants.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(32))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    worker: Mapped[str | None] = mapped_column(String(WORKER_ID_MAX))  # who executes it (migration 0010)


class V1RunStepRow(Base):
    __tablename__ = "v1_run_steps"
    __table_args__ = (Index("ix_v1_run_steps_run_id_seq", "run_id", "seq"),)

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    owner: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)
    run_id: Mapped[str] = mapped_column(String(64), ForeignKey("v1_runs.id", ondelete="CASCADE"))
    thread_id: Mapped[str] = mapped_column(String(64))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)


class V1VectorStoreRow(Base):
    __tablename__ = "v1_vector_stores"
    __table_args__ = (Index("ix_v1_vector_stores_owner_seq", "owner", "seq"),)

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    owner: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)


class V1FileRow(Base):
    """An uploaded file: its OpenAI document and its bytes."""

    __tablename__ = "v1_files"
    __table_args__ = (Index("ix_v1_files_owner_seq", "owner", "seq"),)

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    owner: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)
    purpose: Mapped[str] = mapped_column(String(32))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class V1FilePassageRow(Base):
    """A passage of a file's text, as ``file_search`` finds and cites it. The full-text index over
    ``text`` is the database's own and outside these models (``FULL_TEXT_OBJECTS``): an FTS5 table
    kept by triggers on SQLite, an expression GIN index on PostgreSQL (migration 0007)."""

    __tablename__ = "v1_file_passages"
    __table_args__ = (Index("ix_v1_file_passages_file_id", "file_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    file_id: Mapped[str] = mapped_column(String(64), ForeignKey("v1_files.id", ondelete="CASCADE"))
    ordinal: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)


class ApiKeyRow(Base):
    """An API key: found by ``id`` (the middle of ``tw_<id>_<secret>``), checked against the argon2
    hash of its secret; ``prefix`` is what ``keys list`` shows. A revoked key keeps its row."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    scope: Mapped[str] = mapped_column(String(8))
    prefix: Mapped[str] = mapped_column(String(48))
    secret_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[int] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


FULL_TEXT_OBJECTS = frozenset({"v1_file_passages_fts", "v1_file_passages_fts_data", "v1_file_passages_fts_idx",
                               "v1_file_passages_fts_docsize", "v1_file_passages_fts_config",
                               "v1_file_passages_fts_content", "ix_v1_file_passages_tsv"})
"""The full-text index's own tables and index, which the database defines, not these models."""


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's filter: autogenerate and comparisons leave the full-text index alone."""
    return name not in FULL_TEXT_OBJECTS
