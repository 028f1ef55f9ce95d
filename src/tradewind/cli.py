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


@app.command()
def evaluate(
    data: Path = typer.Option(..., "--data", help="Candle file (CSV or Freqtrade JSON) to replay."),
    symbol: str = typer.Option(..., "--symbol", help="Symbol the file holds."),
    timeframe: str = typer.Option(..., "--timeframe", help="The file's timeframe (1m..1d or M1..D1)."),
    higher: str = typer.Option("", "--higher", help="Longer timeframes to build from it, e.g. 1h,4h."),
    warmup: int = typer.Option(100, min=1, help="Candles the analyst sees before its first signal."),
    step: int = typer.Option(1, min=1, help="Ask the analyst every STEP candles."),
    horizon_hours: float = typer.Option(None, "--horizon-hours", help="Scoring horizon (default: per timeframe)."),
    analyst_name: str = typer.Option("rules", "--analyst", help="rules, or llm (the TRADEWIND_LLM_* model)."),
    offline: bool = typer.Option(False, "--offline", help="llm: answer only from the decision log, call nothing."),
    max_cost: float = typer.Option(None, "--max-cost", min=0, help="llm: stop before (or during) a run above this USD."),
    as_json: bool = typer.Option(False, "--json", help="Print the full report as JSON."),
) -> None:
    """Replay history through the analyst bar by bar (no look-ahead) and score every signal."""
    import json

    from tradewind.analysts.rules import RulesAnalyst
    from tradewind.domain import normalize_symbol, parse_timeframe
    from tradewind.domain.bars import bars_from_candles
    from tradewind.market.candle_file import read_candle_file
    from tradewind.trading.evaluation import evaluate as run_evaluation
    from tradewind.trading.evaluation import replay_requests

    try:
        tf = parse_timeframe(timeframe, field="--timeframe")
        longer = [parse_timeframe(part, field="--higher") for part in higher.split(",") if part.strip()]
        canonical = normalize_symbol(symbol, field="--symbol")
        report = read_candle_file(data, timeframe=tf)
    except TradewindError as exc:
        _fail(f"{getattr(exc, 'field', None) or 'argument'}: {exc}")
    if report.rejected:
        errors.print(f"[yellow]{len(report.rejected)} of {report.rows} rows rejected[/] (first: {report.rejected[0]})")
    bars = bars_from_candles(report.candles)
    if analyst_name not in ("rules", "llm"):
        _fail(f"--analyst: use rules or llm, got {analyst_name!r}")
    analyst = RulesAnalyst() if analyst_name == "rules" else _llm_for_evaluation(offline)
    if analyst_name == "llm":
        from tradewind.analysts.llm_budget import estimate_run

        try:
            estimate = estimate_run(analyst, (request for _, request in replay_requests(
                bars, symbol=canonical, timeframe=tf, higher=longer, warmup=warmup, step=step)))
        except TradewindError as exc:
            _fail(f"{getattr(exc, 'field', None) or 'argument'}: {exc}")
        errors.print(f"estimate: {estimate.describe(analyst.client.model)}", highlight=False)
        if offline and estimate.calls:
            errors.print(f"[yellow]offline: {estimate.calls} analyses have no logged answer; the rule-based "
                         "analyst answers those (marked rules_fallback)[/]")
        elif max_cost is not None and estimate.calls and (estimate.total_usd is None or estimate.total_usd > max_cost):
            shown = "unknown" if estimate.total_usd is None else f"${estimate.total_usd:.4f}"
            _fail(f"--max-cost: the run would cost {shown}, above ${max_cost:.4f}; nothing was called", 4)
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())

    def report_progress(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)
        spent = getattr(analyst, "spent_usd", 0.0)
        if max_cost is not None and spent > max_cost:
            raise _BudgetSpent(f"--max-cost: stopped after {done} of {total} analyses, ${spent:.4f} spent")

    try:
        with Progress(*columns, console=console, transient=as_json) as progress:
            task = progress.add_task(f"evaluating {canonical} {tf.value}", total=None)
            _, result = run_evaluation(
                analyst, bars, symbol=canonical, timeframe=tf, higher=longer, warmup=warmup, step=step,
                horizon_seconds=int(horizon_hours * 3600) if horizon_hours else None, progress=report_progress,
            )
    except _BudgetSpent as exc:
        _fail(str(exc), 4)
    except TradewindError as exc:
        _fail(f"{getattr(exc, 'field', None) or 'argument'}: {exc}")
    if as_json:
        console.print_json(json.dumps(result))
        return
    console.print(_report_table(result, title=f"{canonical} {tf.value}: rules analyst, {len(bars)} candles"))


class _BudgetSpent(Exception):
    """The run spent more than ``--max-cost``."""


def _llm_for_evaluation(offline: bool):  # type: ignore[no-untyped-def]
    """The LLM analyst from TRADEWIND_LLM_* settings, logging to (and replaying from) the database."""
    from tradewind.analysts.llm import LLMAnalyst
    from tradewind.analysts.llm_port import OfflineChatClient
    from tradewind.analysts.pricing import DEFAULT_PRICES
    from tradewind.analysts.rules import RulesAnalyst
    from tradewind.bootstrap import build_llm_analyst
    from tradewind.domain.clock import SystemClock
    from tradewind.storage.db import create_engine_for
    from tradewind.storage.decisions import SqlDecisionLog
    from tradewind.storage.migrate import upgrade_database

    settings = _settings()
    upgrade_database(settings.database_url)
    decisions = SqlDecisionLog(create_engine_for(settings.database_url))
    if offline:
        return LLMAnalyst(OfflineChatClient(settings.llm_model), decisions=decisions,
                          prices={**DEFAULT_PRICES, **settings.llm_prices}, offline=True)
    if settings.llm_base_url is None and not settings.api_keys():
        _fail("--analyst llm: set OPENAI_API_KEY (OpenAI) or TRADEWIND_LLM_BASE_URL (a local server), or use --offline")
    return build_llm_analyst(settings, decisions=decisions, rules=RulesAnalyst(), clock=SystemClock())[1]


def _report_table(report: dict[str, object], *, title: str) -> Table:
    """The performance report as a Rich table; a figure that could not be computed shows as n/a."""

    def show(value: object) -> str:
        if value is None:
            return "n/a"
        return f"{value:.4f}" if isinstance(value, float) else str(value)

    table = Table(title=title, show_header=False)
    for key in ("predictions_made", "resolved", "successful", "accuracy", "success_rate", "average_confidence",
                "brier_score", "average_return"):
        table.add_row(key.replace("_", " "), show(report.get(key)))
    per_class = report.get("per_class") or {}
    for name, scores in per_class.items():  # type: ignore[union-attr]
        table.add_row(f"{name}: precision / recall", f"{show(scores.get('precision'))} / {show(scores.get('recall'))}"
                      f" ({scores.get('predicted')} predicted, {scores.get('actual')} actual)")
    for row in report.get("reliability") or []:  # type: ignore[union-attr]
        if row.get("count"):
            table.add_row(f"confidence {row['bucket']}", f"{row['count']} signals, hit rate {show(row.get('hit_rate'))}")
    return table


def main() -> None:  # pragma: no cover - console entry point alias
    sys.exit(app())
