"""Storage: SQLAlchemy tables, repositories and Alembic migrations (SQLite or PostgreSQL).

Only ``api/``, ``cli.py`` and ``bootstrap.py`` import this package.
"""

from tradewind.storage.candle_import import ImportSummary, import_candle_file
from tradewind.storage.candles import SqlCandleStore
from tradewind.storage.db import check_connection, create_engine_for, session_factory
from tradewind.storage.migrate import upgrade_database

__all__ = [
    "ImportSummary",
    "SqlCandleStore",
    "check_connection",
    "create_engine_for",
    "import_candle_file",
    "session_factory",
    "upgrade_database",
]
