"""``SqlApiKeyStore``: the ``api_keys`` table. Only hashes of secrets are ever written here."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, insert, select, update

from tradewind.storage.tables import ApiKeyRow

__all__ = ["ApiKeyRecord", "SqlApiKeyStore"]

_KEYS = ApiKeyRow.__table__


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    id: str
    name: str
    scope: str
    prefix: str
    secret_hash: str
    created_at: int
    revoked_at: int | None


class SqlApiKeyStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def insert(self, record: ApiKeyRecord) -> None:
        with self.engine.begin() as connection:
            connection.execute(insert(_KEYS).values(
                id=record.id, name=record.name, scope=record.scope, prefix=record.prefix,
                secret_hash=record.secret_hash, created_at=record.created_at, revoked_at=record.revoked_at))

    def get(self, key_id: str) -> ApiKeyRecord | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(_KEYS).where(_KEYS.c.id == key_id)).mappings().first()
        return ApiKeyRecord(**row) if row else None

    def all(self) -> list[ApiKeyRecord]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(_KEYS).order_by(_KEYS.c.created_at, _KEYS.c.id)).mappings().all()
        return [ApiKeyRecord(**row) for row in rows]

    def count_active(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(
                select(func.count()).select_from(_KEYS).where(_KEYS.c.revoked_at.is_(None))).scalar_one())

    def revoke(self, key_id: str, at: int) -> bool:
        """Mark a key revoked; False when there is no such key or it was revoked already."""
        with self.engine.begin() as connection:
            done = connection.execute(
                update(_KEYS).where(_KEYS.c.id == key_id, _KEYS.c.revoked_at.is_(None)).values(revoked_at=at))
            return bool(done.rowcount)
