"""Engines and sessions for the two supported databases: an SQLite file or PostgreSQL.

SQLite gets WAL (readers never block the writer), ``synchronous=NORMAL`` and enforced foreign
keys on every new connection, plus a busy timeout so writers from other threads or processes wait
instead of failing. ``postgresql://`` URLs are sent through psycopg 3.

A database that cannot be reached, opened or written surfaces as ``StorageUnavailable`` naming
it (password hidden) and the driver's reason, so callers print one line, not a driver traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from tradewind.domain.errors import StorageUnavailable, ValidationError

__all__ = [
    "SQLITE_BUSY_TIMEOUT_SECONDS",
    "check_connection",
    "create_engine_for",
    "describe_url",
    "session_factory",
    "storage_errors",
]

SQLITE_BUSY_TIMEOUT_SECONDS = 30.0
POSTGRES_CONNECT_TIMEOUT_SECONDS = 10


def create_engine_for(url: str, **engine_options: Any) -> Engine:
    """An engine for ``sqlite:///path`` or ``postgresql://...``; other URLs raise ``ValidationError``."""
    parsed = _parse(url)
    backend = parsed.get_backend_name()
    engine_options.setdefault("json_serializer", _json_dumps)  # JSON columns hold prompts of 15+ KB
    if backend == "sqlite":
        return _sqlite_engine(parsed, engine_options)
    if backend == "postgresql":
        return _postgres_engine(parsed, engine_options)
    raise ValidationError(
        f"unsupported database URL {parsed.render_as_string(hide_password=True)!r}: "
        "use sqlite:///path or postgresql://user@host/db",
        field="database_url",
    )


def describe_url(url: str | URL) -> str:
    """The database URL as the user wrote it, password hidden: what error messages name."""
    parsed = url if isinstance(url, URL) else _parse(url)
    return parsed.render_as_string(hide_password=True)


_INSUFFICIENT_PRIVILEGE = "42501"  # PostgreSQL SQLSTATE: the role may not create or write the tables
# SQLite primary result codes that mean the file, not the statement: PERM, BUSY, LOCKED, READONLY,
# IOERR, CORRUPT, FULL, CANTOPEN, AUTH, NOTADB. (SQLite raises OperationalError for "no such table"
# and syntax errors too; those are bugs, code 1, and keep their traceback.)
_SQLITE_UNAVAILABLE = frozenset({3, 5, 6, 8, 10, 11, 13, 14, 23, 26})


@contextmanager
def storage_errors(url: str | URL) -> Iterator[None]:
    """Turn "cannot reach, open or write the database" into ``StorageUnavailable`` naming ``url``.

    Only failures of the database itself are translated (connection refused, bad credentials,
    unwritable or non-database SQLite file, disk full, locked past the busy timeout, missing
    privilege); a broken statement or constraint is a bug and keeps its traceback.
    """
    try:
        yield
    except DatabaseError as exc:
        if not _unavailable(exc):
            raise
        reason = " ".join(str(exc.orig).split()) or type(exc.orig).__name__
        raise StorageUnavailable(f"database {describe_url(url)} unavailable: {reason}") from exc


def _unavailable(exc: DatabaseError) -> bool:
    sqlite_code = getattr(exc.orig, "sqlite_errorcode", None)
    if sqlite_code is not None:
        return sqlite_code & 0xFF in _SQLITE_UNAVAILABLE
    privilege = getattr(exc.orig, "sqlstate", None) == _INSUFFICIENT_PRIVILEGE
    return isinstance(exc, OperationalError) or type(exc) is DatabaseError or privilege


def _json_dumps(value: Any) -> str:
    """orjson for JSON columns: several times faster than ``json.dumps`` on decision-log prompts."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def check_connection(engine: Engine) -> bool:
    """True when the database answers a trivial query."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """ORM sessions bound to ``engine``; objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def _parse(url: str) -> URL:
    if url.startswith("postgres://"):  # the Heroku-style spelling
        url = "postgresql://" + url.removeprefix("postgres://")
    try:
        return make_url(url)
    except ArgumentError as exc:
        raise ValidationError(f"invalid database URL: {exc}", field="database_url") from exc


def _sqlite_engine(url: URL, options: dict[str, Any]) -> Engine:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file:")
    if not in_memory:
        folder = Path(database).expanduser().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a path under a regular file, a read-only or missing mount...
            reason = exc.strerror or type(exc).__name__
            raise StorageUnavailable(
                f"database {describe_url(url)} unavailable: cannot create its directory {str(folder)!r}: {reason}"
            ) from exc
    connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, **options.pop("connect_args", {})}
    engine = create_engine(url, connect_args=connect_args, **options)
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _postgres_engine(url: URL, options: dict[str, Any]) -> Engine:
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    connect_args = dict(options.pop("connect_args", {}))
    if "connect_timeout" not in url.query:
        connect_args.setdefault("connect_timeout", POSTGRES_CONNECT_TIMEOUT_SECONDS)
    options.setdefault("pool_pre_ping", True)
    return create_engine(url, connect_args=connect_args, **options)
