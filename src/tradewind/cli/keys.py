"""``tradewind keys create|list|revoke``: the API keys authentication accepts.

Thin over ``adapters.api_keys.ApiKeys`` on the configured database; a new key is printed once
(only its hash is stored), names that came in are printed as text, never as markup.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone

import typer
from rich.table import Table
from rich.text import Text

from tradewind.adapters.api_keys import KEY_SCOPES, ApiKeys, first_key_notice
from tradewind.cli import output as out
from tradewind.settings import Settings

__all__ = ["announce_first_key", "keys_app"]

keys_app = typer.Typer(help="API keys (scopes read < trade < admin), stored hashed.", no_args_is_help=True)


def _keys(settings: Settings) -> ApiKeys:
    from tradewind.storage.api_keys import SqlApiKeyStore
    from tradewind.storage.db import create_engine_for
    from tradewind.storage.migrate import upgrade_database

    upgrade_database(settings.database_url)
    return ApiKeys(SqlApiKeyStore(create_engine_for(settings.database_url)))


def announce_first_key(settings: Settings) -> None:
    """``serve``'s first start: with authentication on and no key stored, make an admin key and
    print it once, before the workers start (so several workers do not each make one)."""
    if settings.auth and settings.bootstrap_admin_key:
        key = _keys(settings).ensure_first()
        if key is not None:
            sys.stderr.write(first_key_notice(key))
            sys.stderr.flush()


def _when(epoch: int | None) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if epoch else ""


@keys_app.command("create")
@out.guarded
def create(
    name: str = typer.Option(..., "--name", help="What the key is for (1-100 letters, digits, spaces, ._@:-)."),
    scope: str = typer.Option("read", "--scope", help=f"One of {', '.join(KEY_SCOPES)}."),
) -> None:
    """Create a key and print it once: only its hash is kept."""
    key, info = _keys(out.load_settings()).create(name=name, scope=scope)
    out.console.print(Text.assemble("created key ", (info.id, "bold"), " (", out.visible(info.name), ", scope ",
                                    info.scope, "); it is shown only now:"))
    print(key)


@keys_app.command("list")
@out.guarded
def list_keys() -> None:
    """The keys: id, name, scope, display prefix, created, revoked (never a secret)."""
    table = Table("id", "name", "scope", "prefix", "created", "revoked")
    for info in _keys(out.load_settings()).list():
        table.add_row(Text(info.id), out.text(info.name), Text(info.scope), Text(info.prefix + "..."),
                      Text(_when(info.created_at)), Text(_when(info.revoked_at) or "-"))
    out.console.print(table)


@keys_app.command("revoke")
@out.guarded
def revoke(key_id: str = typer.Argument(..., metavar="ID", help="The key's id (see `tradewind keys list`).")) -> None:
    """Revoke a key: every request with it is refused from now on."""
    info = _keys(out.load_settings()).revoke(key_id)
    out.console.print(Text.assemble("revoked key ", (info.id, "bold"), " (", out.visible(info.name), ")"))
