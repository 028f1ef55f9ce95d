"""Shared fixtures. Storage tests run on real databases: an SQLite file and the local PostgreSQL.

PostgreSQL comes from ``TRADEWIND_TEST_POSTGRES_URL`` (default: the ``tradewind_test`` database on
127.0.0.1, created when missing). Each test session works in a schema of its own, so runs that
overlap on one server do not wipe each other's tables. Without a reachable server the postgres
cases are skipped, or fail when ``CI`` is set.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from support.browser import browser, page  # noqa: F401  (defined once here: one Chromium for the run)

if TYPE_CHECKING:
    from sqlalchemy import Engine

# The periodic analysis (on by default, every 5 minutes) would add signals of its own to tests that
# count them; tests that exercise it switch it on explicitly.
os.environ.setdefault("TRADEWIND_ANALYSIS_INTERVAL_MINUTES", "0")
# The suite sends far more than the seed's 60 requests a minute per client; rate-limit tests turn them on.
os.environ.setdefault("TRADEWIND_RATE_LIMIT_ENABLED", "false")
# Most tests write without credentials; the auth tests build their Settings with auth=True.
os.environ.setdefault("TRADEWIND_AUTH", "false")

POSTGRES_URL = os.environ.get(
    "TRADEWIND_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/tradewind_test"
)
POSTGRES_SCHEMA = f"test_{os.getpid()}"  # one per test process


def _libpq(url: str) -> str:
    """The URL as libpq reads it (no ``+driver`` part)."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _drop_schema(*, create: bool) -> None:
    import psycopg

    with psycopg.connect(_libpq(POSTGRES_URL), autocommit=True, connect_timeout=5) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{POSTGRES_SCHEMA}" CASCADE')
        if create:
            connection.execute(f'CREATE SCHEMA "{POSTGRES_SCHEMA}"')


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A URL for the test database whose ``search_path`` is this session's own schema."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(POSTGRES_URL)
    try:
        with psycopg.connect(_libpq(POSTGRES_URL), dbname="postgres", autocommit=True, connect_timeout=3) as admin:
            if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (url.database,)).fetchone() is None:
                try:
                    admin.execute(f'CREATE DATABASE "{url.database}"')
                except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
                    pass  # another session created it first
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL unreachable at {url.render_as_string(hide_password=True)}: {' '.join(str(exc).split())}"
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    yield url.update_query_dict({"options": f"-csearch_path={POSTGRES_SCHEMA}"}).render_as_string(hide_password=False)
    _drop_schema(create=False)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a new SQLite file, or the session's PostgreSQL schema emptied."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tradewind.db'}"
    url: str = request.getfixturevalue("postgres_url")
    _drop_schema(create=True)
    return url


def _migrated(url: str) -> Iterator[Engine]:
    """An engine on ``url`` migrated to the newest schema, disposed afterwards."""
    from tradewind.storage.db import create_engine_for
    from tradewind.storage.migrate import upgrade_database

    upgrade_database(url)
    engine = create_engine_for(url)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on ``database_url`` migrated to the newest schema."""
    yield from _migrated(database_url)


@pytest.fixture
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    """The session's PostgreSQL schema, emptied and migrated: for tests about PostgreSQL only (several workers)."""
    _drop_schema(create=True)
    yield from _migrated(postgres_url)
