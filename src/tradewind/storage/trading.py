"""``SqlTradingStore``: the trading engine's book on SQLite or PostgreSQL.

The ``TradingStore`` port (``tradewind.trading.records``) over the ``trading_*`` tables, answering
as ``MemoryTradingStore`` does. Each call is one short transaction; ``record_fill`` writes the
fill, the portfolio after it (its row and exactly its positions) and the trade it closed together,
or nothing. Symbols are stored normalised, and a ``symbol`` filter may be spelt any way
(``btc/usdt``).

Lists come newest first by time, then by insertion (``id``); the equity curve comes oldest first.
A loaded portfolio lists its positions by symbol, assets come by symbol, open orders in the order
they were first saved. Mappings (last prices, strategy parameters, risk overrides, reflection
statistics) are JSON: they come back as dicts, and a tuple inside one comes back as a list.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from typing import Any, get_args

from sqlalchemy import Connection, Engine, Insert, Table, delete, insert, select, true
from sqlalchemy.dialects import postgresql, sqlite

from tradewind.domain.clock import Clock
from tradewind.domain.orders import Fill, Order, Position, Trade
from tradewind.domain.symbol import normalize_symbol
from tradewind.domain.timeframe import Timeframe
from tradewind.storage.tables import (
    TradingAssetRow,
    TradingEquityRow,
    TradingFillRow,
    TradingOrderRow,
    TradingPortfolioRow,
    TradingPositionRow,
    TradingReflectionRow,
    TradingRiskEventRow,
    TradingTradeRow,
)
from tradewind.trading.portfolio import PortfolioSnapshot
from tradewind.trading.records import AssetConfig, OrderStatus, Reflection, RiskEvent

__all__ = ["SqlTradingStore"]

_portfolio: Table = TradingPortfolioRow.__table__  # type: ignore[assignment]
_positions: Table = TradingPositionRow.__table__  # type: ignore[assignment]
_orders: Table = TradingOrderRow.__table__  # type: ignore[assignment]
_fills: Table = TradingFillRow.__table__  # type: ignore[assignment]
_trades: Table = TradingTradeRow.__table__  # type: ignore[assignment]
_assets: Table = TradingAssetRow.__table__  # type: ignore[assignment]
_risk: Table = TradingRiskEventRow.__table__  # type: ignore[assignment]
_reflections: Table = TradingReflectionRow.__table__  # type: ignore[assignment]
_equity: Table = TradingEquityRow.__table__  # type: ignore[assignment]

_PORTFOLIO_COLUMNS = tuple(f.name for f in fields(PortfolioSnapshot) if f.name != "positions")
_POSITION_COLUMNS = tuple(f.name for f in fields(Position))
_ORDER_COLUMNS = tuple(f.name for f in fields(Order))
_FILL_COLUMNS = tuple(f.name for f in fields(Fill))
_TRADE_COLUMNS = tuple(f.name for f in fields(Trade))
_ASSET_COLUMNS = tuple(f.name for f in fields(AssetConfig))
_RISK_COLUMNS = tuple(f.name for f in fields(RiskEvent))
_REFLECTION_COLUMNS = tuple(f.name for f in fields(Reflection))


def _check_columns() -> None:
    """Columns are named after the records' fields: a field without a column fails at import."""
    for table, names in ((_portfolio, _PORTFOLIO_COLUMNS), (_positions, _POSITION_COLUMNS), (_orders, _ORDER_COLUMNS),
                         (_fills, _FILL_COLUMNS), (_trades, _TRADE_COLUMNS), (_assets, _ASSET_COLUMNS),
                         (_risk, _RISK_COLUMNS), (_reflections, _REFLECTION_COLUMNS)):
        missing = [name for name in names if name not in table.c]
        if missing:  # pragma: no cover - a record grew a field the schema lacks
            raise RuntimeError(f"table {table.name} has no column for {missing}: add one and a migration")


_check_columns()
_PORTFOLIO_ID = 1
_STATUSES: frozenset[str] = frozenset(get_args(OrderStatus))
# One statement reads the portfolio row and its positions, so they come from one snapshot even on
# PostgreSQL's READ COMMITTED (two SELECTs could straddle a concurrent ``record_fill``).
_LOAD_PORTFOLIO = (
    select(*(_portfolio.c[name] for name in _PORTFOLIO_COLUMNS),
           *(_positions.c[name].label(f"p_{name}") for name in _POSITION_COLUMNS))
    .select_from(_portfolio.outerjoin(_positions, true()))
    .where(_portfolio.c.id == _PORTFOLIO_ID)
)


def _values(record: Any, names: Sequence[str], **overrides: Any) -> dict[str, Any]:
    values = {name: getattr(record, name) for name in names}
    values.update(overrides)
    return values


class SqlTradingStore:
    """The ``TradingStore`` port over the ``trading_*`` tables (see the module docstring).

    ``clock`` stamps an order's ``updated_at`` (the system clock unless given).
    """

    def __init__(self, engine: Engine, *, clock: Clock | None = None) -> None:
        if engine.dialect.name not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database dialect {engine.dialect.name!r}: use SQLite or PostgreSQL")
        self._engine = engine
        self._now: Callable[[], float] = clock.now if clock is not None else time.time
        self._dialect = sqlite if engine.dialect.name == "sqlite" else postgresql

    # --- the portfolio -----------------------------------------------------------------------------
    def load_portfolio(self) -> PortfolioSnapshot | None:
        """The last portfolio saved (positions by symbol), or None when none was."""
        with self._engine.connect() as connection:
            rows = connection.execute(_LOAD_PORTFOLIO).all()
        if not rows:
            return None
        positions = tuple(sorted(  # sorted here: PostgreSQL's collation may order symbols otherwise
            (Position(**{name: getattr(row, f"p_{name}") for name in _POSITION_COLUMNS})
             for row in rows if row.p_symbol is not None),
            key=lambda position: position.symbol,
        ))
        values = {name: getattr(rows[0], name) for name in _PORTFOLIO_COLUMNS}
        values["halted"] = bool(values["halted"])
        values["prices"] = dict(values["prices"] or {})
        return PortfolioSnapshot(**values, positions=positions)

    def save_portfolio(self, portfolio: PortfolioSnapshot) -> None:
        """Rewrite the portfolio row and the positions table to ``portfolio``."""
        with self._engine.begin() as connection:
            self._write_portfolio(connection, portfolio)

    def record_fill(self, fill: Fill, portfolio: PortfolioSnapshot, trade: Trade | None) -> None:
        """The fill, the portfolio after it and the trade it closed: all written, or none."""
        fill_values = _values(fill, _FILL_COLUMNS, symbol=normalize_symbol(fill.symbol))
        with self._engine.begin() as connection:
            connection.execute(insert(_fills).values(fill_values))
            self._write_portfolio(connection, portfolio)
            if trade is not None:
                _insert_trade(connection, trade)

    # --- orders and assets ---------------------------------------------------------------------------
    def save_order(self, order: Order, status: OrderStatus, reason: str | None = None) -> None:
        """Insert the order, or replace the stored one with the same ``client_order_id`` and its status."""
        if status not in _STATUSES:
            raise ValueError(f"order status must be one of {sorted(_STATUSES)}, got {status!r}")
        values = _values(order, _ORDER_COLUMNS, symbol=normalize_symbol(order.symbol))
        values.update(status=status, status_reason=reason, updated_at=self._now())
        with self._engine.begin() as connection:
            connection.execute(self._upsert(_orders, values, key="client_order_id"))

    def load_open_orders(self) -> list[Order]:
        """Orders whose last status is ``open``, in the order they were first saved."""
        query = (select(*(_orders.c[name] for name in _ORDER_COLUMNS))
                 .where(_orders.c.status == "open").order_by(_orders.c.id))
        with self._engine.connect() as connection:
            return [Order(**row._asdict()) for row in connection.execute(query)]

    def save_asset(self, config: AssetConfig) -> None:
        """Insert or replace the settings of ``config.symbol``."""
        values = _values(
            config, _ASSET_COLUMNS, symbol=normalize_symbol(config.symbol), timeframe=Timeframe(config.timeframe).value,
            params=dict(config.params), risk_overrides=dict(config.risk_overrides),
        )
        with self._engine.begin() as connection:
            connection.execute(self._upsert(_assets, values, key="symbol"))

    def load_assets(self) -> list[AssetConfig]:
        """Every saved asset, by symbol."""
        query = select(*(_assets.c[name] for name in _ASSET_COLUMNS))
        with self._engine.connect() as connection:
            rows = sorted(connection.execute(query).all(), key=lambda row: row.symbol)
        return [
            AssetConfig(**{**row._asdict(), "timeframe": Timeframe(row.timeframe), "paused": bool(row.paused),
                           "params": dict(row.params or {}), "risk_overrides": dict(row.risk_overrides or {})})
            for row in rows
        ]

    # --- journals ----------------------------------------------------------------------------------
    def record_risk_event(self, event: RiskEvent) -> None:
        with self._engine.begin() as connection:
            connection.execute(insert(_risk).values(_values(event, _RISK_COLUMNS, symbol=normalize_symbol(event.symbol))))

    def record_reflection(self, reflection: Reflection) -> None:
        values = _values(reflection, _REFLECTION_COLUMNS, symbol=normalize_symbol(reflection.symbol),
                         stats=dict(reflection.stats))
        with self._engine.begin() as connection:
            connection.execute(insert(_reflections).values(values))

    def record_equity(self, time: float, equity: float) -> None:
        with self._engine.begin() as connection:
            connection.execute(insert(_equity).values(time=time, equity=equity))

    # --- queries -----------------------------------------------------------------------------------
    def trades(self, *, symbol: str | None = None, limit: int = 100) -> list[Trade]:
        """Closed trades, newest exit first."""
        rows = self._newest(_trades, _TRADE_COLUMNS, _trades.c.exit_time, symbol, limit)
        return [Trade(**row._asdict()) for row in rows]

    def fills(self, *, symbol: str | None = None, limit: int = 100) -> list[Fill]:
        """Fills, newest first (not part of the port: for reports and checks)."""
        rows = self._newest(_fills, _FILL_COLUMNS, _fills.c.time, symbol, limit)
        return [Fill(**row._asdict()) for row in rows]

    def risk_events(self, *, symbol: str | None = None, limit: int = 100) -> list[RiskEvent]:
        """Risk events, newest first."""
        rows = self._newest(_risk, _RISK_COLUMNS, _risk.c.time, symbol, limit)
        return [RiskEvent(**row._asdict()) for row in rows]

    def reflections(self, *, symbol: str | None = None, limit: int = 100) -> list[Reflection]:
        """Reflections, newest first."""
        rows = self._newest(_reflections, _REFLECTION_COLUMNS, _reflections.c.time, symbol, limit)
        return [Reflection(**{**row._asdict(), "stats": dict(row.stats or {})}) for row in rows]

    def equity_curve(self, *, limit: int = 10_000) -> list[tuple[float, float]]:
        """The newest ``limit`` points, oldest first."""
        if limit < 1:
            return []
        query = (select(_equity.c.time, _equity.c.equity)
                 .order_by(_equity.c.time.desc(), _equity.c.id.desc()).limit(limit))
        with self._engine.connect() as connection:
            rows = connection.execute(query).all()
        return [(row.time, row.equity) for row in reversed(rows)]

    # --- helpers -----------------------------------------------------------------------------------
    def _write_portfolio(self, connection: Connection, portfolio: PortfolioSnapshot) -> None:
        """The row first: its lock (PostgreSQL) makes a concurrent writer wait before it rewrites the positions."""
        values = _values(portfolio, _PORTFOLIO_COLUMNS, id=_PORTFOLIO_ID,
                         prices={normalize_symbol(symbol): price for symbol, price in portfolio.prices.items()})
        connection.execute(self._upsert(_portfolio, values, key="id"))
        connection.execute(delete(_positions))
        positions = [_values(p, _POSITION_COLUMNS, symbol=normalize_symbol(p.symbol)) for p in portfolio.positions]
        if positions:
            connection.execute(insert(_positions), positions)

    def _upsert(self, table: Table, values: Mapping[str, Any], *, key: str) -> Insert:
        """Insert ``values``, or overwrite every given column of the row with the same ``key``."""
        statement = self._dialect.insert(table).values(dict(values))
        return statement.on_conflict_do_update(
            index_elements=[key], set_={name: statement.excluded[name] for name in values if name != key}
        )

    def _newest(self, table: Table, names: Sequence[str], when: Any, symbol: str | None, limit: int) -> list[Any]:
        if limit < 1:
            return []
        query = select(*(table.c[name] for name in names))
        if symbol is not None:
            query = query.where(table.c.symbol == normalize_symbol(symbol))
        query = query.order_by(when.desc(), table.c.id.desc()).limit(limit)
        with self._engine.connect() as connection:
            return connection.execute(query).all()


def _insert_trade(connection: Connection, trade: Trade) -> None:
    connection.execute(insert(_trades).values(_values(trade, _TRADE_COLUMNS, symbol=normalize_symbol(trade.symbol))))
