"""The database schema as SQLAlchemy 2 typed models; Alembic migrations are generated against it.

Constraints are named by convention so migrations can alter or drop them by name on both
SQLite and PostgreSQL. Prices are ``Float(53)``: float64 on both, so values round-trip exactly.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, Integer, MetaData, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["NAMING_CONVENTION", "Base", "CandleRow", "metadata"]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

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
