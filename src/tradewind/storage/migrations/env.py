"""Alembic environment: migrates the connection handed over by ``upgrade_database``.

It never reads an ``alembic.ini`` and never touches logging configuration. Run by hand (for
``alembic revision --autogenerate`` via ``migrate.alembic_config``) it connects to the URL in the
config attributes, ``sqlalchemy.url`` or ``TRADEWIND_DATABASE_URL``.
"""

from __future__ import annotations

import os

from alembic import context
from alembic.config import Config
from sqlalchemy import Connection

from tradewind.storage.db import create_engine_for
from tradewind.storage.tables import include_name, metadata

__all__: list[str] = []


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        include_name=include_name,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    )
    with context.begin_transaction():  # a no-op when the caller already opened a transaction
        context.run_migrations()


def _run(config: Config) -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url") or os.environ.get(
        "TRADEWIND_DATABASE_URL"
    )
    if not url:
        raise RuntimeError("no database: pass a connection or url in Config.attributes, or set TRADEWIND_DATABASE_URL")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine_for(url)
    try:
        with engine.begin() as connection:
            _migrate(connection)
    finally:
        engine.dispose()


try:
    _config: Config | None = context.config
except AttributeError:  # imported as a plain module (e.g. by a package walk), not run by Alembic
    _config = None
if _config is not None:
    _run(_config)
