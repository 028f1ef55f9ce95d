"""auth: API keys (hashed), and the v1 objects made before it given to no one.

``api_keys`` holds each key's id, name, scope, display prefix and the argon2 hash of its secret
(never the secret). The ``owner`` of the ``v1_*`` objects was a digest of whatever bearer string
created them, unverified; with authentication the owner is a principal (``key:<id>``,
``jwt:<sub>``, ``service``), so the objects made before are handed to the local owner
(``local``: no one's), which anonymous callers see.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 02:00:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OWNED = ("v1_assistants", "v1_threads", "v1_messages", "v1_runs", "v1_run_steps", "v1_vector_stores", "v1_files")


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("prefix", sa.String(length=48), nullable=False),
        sa.Column("secret_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    )
    for table in _OWNED:
        op.execute(sa.text(f"UPDATE {table} SET owner = 'local'"))


def downgrade() -> None:
    op.drop_table("api_keys")
