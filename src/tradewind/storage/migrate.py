"""Schema migrations run from code: ``upgrade_database(url)`` at every start-up.

It is idempotent and safe from several processes at once: the whole upgrade runs in one
transaction that first takes a lock (a PostgreSQL advisory lock, or SQLite's write lock via
``BEGIN IMMEDIATE``), so a second process waits, then finds the schema already at head.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text

from tradewind.storage.db import create_engine_for, storage_errors

__all__ = ["MIGRATIONS_DIR", "alembic_config", "upgrade_database"]

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
FILE_TEMPLATE = "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s"  # %% survives ConfigParser
_ADVISORY_LOCK_KEY = 0x74726164_6577696E  # "tradewin"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config for the packaged migrations, with no ``alembic.ini`` on disk.

    Useful beyond start-up too: ``command.revision(alembic_config(url), "add x", autogenerate=True)``.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.set_main_option("file_template", FILE_TEMPLATE)
    if url is not None:
        config.attributes["url"] = url
    return config


def upgrade_database(url: str) -> str:
    """Bring the database at ``url`` to the newest schema; return the revision it is now at.

    Raises ``ValidationError`` for an unusable URL and ``StorageUnavailable`` when the database
    cannot be reached, created or written, so start-up reports one clear line instead of a driver
    traceback.
    """
    engine = create_engine_for(url)
    try:
        with storage_errors(url), engine.connect() as connection:
            _lock(connection)
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            revision = MigrationContext.configure(connection).get_current_revision()
            connection.commit()
    finally:
        engine.dispose()
    if revision is None:  # pragma: no cover - only if the migrations directory were empty
        raise RuntimeError("no migration was applied")
    return revision


def _lock(connection: Connection) -> None:
    """Open the migration transaction holding a lock that other migrating processes wait for."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
