"""The ``tradewind`` command line: serve the API, migrate the database, import candle files.

Commands parse arguments, call one service and print; they hold no logic of their own.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import NoReturn

import typer
from pydantic import ValidationError as SettingsError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tradewind.domain.errors import TradewindError
from tradewind.settings import Settings, describe_settings_error

__all__ = ["app"]

app = typer.Typer(help="tradewind: a self-hosted AI trading analyst.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
data_app = typer.Typer(help="Market data files.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(data_app, name="data")

console = Console()
errors = Console(stderr=True)


def _fail(message: str, code: int = 2) -> NoReturn:
    errors.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def _settings(**overrides: object) -> Settings:
    """Load settings or stop with one line naming the bad one."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except SettingsError as exc:
        _fail(describe_settings_error(exc))


@app.command()
def serve(
    host: str = typer.Option(None, help="Interface to bind (default TRADEWIND_HOST or 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default TRADEWIND_PORT or 8000)."),
    workers: int = typer.Option(1, min=1, max=64, help="Worker processes."),
) -> None:
    """Start the API server with the configured feed, database and streamer."""
    import uvicorn

    settings = _settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        from tradewind.storage.migrate import upgrade_database

        upgrade_database(settings.database_url)
        if settings.feed == "replay" and settings.replay_path is None:
            _fail("invalid setting TRADEWIND_REPLAY_PATH: required when TRADEWIND_FEED=replay")
    except TradewindError as exc:
        _fail(str(exc))
    uvicorn.run(
        "tradewind.api.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level="info",
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (also done at every start)."""
    from tradewind.storage.migrate import upgrade_database

    settings = _settings()
    try:
        revision = upgrade_database(settings.database_url)
    except Exception as exc:
        _fail(f"database upgrade failed: {exc}", 1)
    console.print(f"database at revision [bold]{revision}[/]")


@data_app.command("import")
def data_import(
    path: Path = typer.Argument(..., help="CSV (time,open,high,low,close,volume[,spread]) or Freqtrade JSON."),
    symbol: str = typer.Option(..., "--symbol", help="Symbol, e.g. BTCUSDT or ETH/BTC."),
    timeframe: str = typer.Option(..., "--timeframe", help="1m 5m 15m 30m 1h 4h 1d (or M1..D1)."),
) -> None:
    """Import a candle file into the database: idempotent, with a summary of every row."""
    from tradewind.domain import normalize_symbol, parse_timeframe
    from tradewind.storage.candle_import import import_candle_file
    from tradewind.storage.candles import SqlCandleStore
    from tradewind.storage.db import create_engine_for
    from tradewind.storage.migrate import upgrade_database

    settings = _settings()
    try:
        tf = parse_timeframe(timeframe, field="--timeframe")
        canonical = normalize_symbol(symbol, field="--symbol")
    except TradewindError as exc:
        _fail(f"{getattr(exc, 'field', None) or 'argument'}: {exc}")
    if not path.is_file():
        _fail(f"file not found: {path}")
    upgrade_database(settings.database_url)
    engine = create_engine_for(settings.database_url)
    store = SqlCandleStore(engine)
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task(f"importing {path.name}", total=None)

            def report(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            summary = import_candle_file(store, path, symbol=canonical, timeframe=tf, progress=report)
    except TradewindError as exc:
        _fail(f"{path}: {exc} (nothing imported)", 1)
    finally:
        engine.dispose()
    table = Table(title=f"{canonical} {tf.value} from {path.name}", show_header=False)
    table.add_row("rows read", str(summary.rows))
    table.add_row("imported", f"[green]{summary.imported}[/]")
    table.add_row("skipped (already stored)", str(summary.skipped))
    table.add_row("rejected", f"[red]{len(summary.rejected)}[/]" if summary.rejected else "0")
    console.print(table)
    if summary.rejected:
        rejected = Table(title="rejected rows", show_lines=False)
        rejected.add_column("line", justify="right")
        rejected.add_column("field")
        rejected.add_column("reason")
        for item in summary.rejected[:50]:
            rejected.add_row(str(item.line), item.field or "", item.reason)
        console.print(rejected)
        if len(summary.rejected) > 50:
            console.print(f"... and {len(summary.rejected) - 50} more rejected rows")
        raise typer.Exit(3)


def main() -> None:  # pragma: no cover - console entry point alias
    sys.exit(app())
