"""Alembic migrations, shipped inside the package; run them with ``storage.migrate.upgrade_database``."""

__all__: list[str] = []
