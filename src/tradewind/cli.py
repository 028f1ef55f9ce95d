"""The ``tradewind`` command line: serve the API, migrate the database, import candle files.

Commands parse arguments, call one service and print; they hold no logic of their own.

Everything printed that came from outside (file names, cells, symbols, reasons, error messages)
goes out as ``rich.text.Text``, never as markup, with control characters made visible: a cell
``[/]`` prints as ``[/]`` instead of crashing Rich, and a file name cannot drive the terminal.
Every failure ends in one line on stderr. A ``TradewindError`` exits 1 (2 for bad input); any
other exception is a bug: one line and a hint, or its traceback when ``TRADEWIND_DEBUG`` is set.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn, ParamSpec

import click
import typer
from pydantic import ValidationError as SettingsError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from tradewind.analysts.spend import SpendLimitReached
from tradewind.domain.errors import StorageUnavailable, TradewindError, ValidationError
from tradewind.domain.excerpt import excerpt
from tradewind.market.candle_file import CandleFileError
from tradewind.settings import Settings, describe_settings_error

__all__ = ["app"]

P = ParamSpec("P")

app = typer.Typer(help="tradewind: a self-hosted AI trading analyst.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
data_app = typer.Typer(help="Market data files.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(data_app, name="data")

console = Console()
errors = Console(stderr=True, soft_wrap=True, highlight=False)  # one message, one line, any width

DEBUG_ENV = "TRADEWIND_DEBUG"
MAX_MESSAGE_CHARS = 500  # a safety net: messages quote excerpts already
_PASS_THROUGH = (typer.Exit, typer.Abort, click.exceptions.Exit, click.exceptions.Abort, click.ClickException)
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}


def _visible(value: object) -> str:
    """``value`` as text with control characters (terminal escapes, newlines) spelled out."""
    return str(value).translate(_CONTROL)


def _text(value: object, style: str = "") -> Text:
    """Outside text for Rich: shown literally, never parsed as markup."""
    return Text(_visible(value), style=style)


def _fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` as one literal line on stderr and exit with ``code``."""
    if len(message) > MAX_MESSAGE_CHARS:
        message = f"{message[:MAX_MESSAGE_CHARS]}... ({len(message)} characters)"
    errors.print(Text.assemble(("error:", "bold red"), " ", _visible(message)))
    raise typer.Exit(code)


def _problem(exc: TradewindError) -> str:
    """A bad argument's error, prefixed with the option it came from (file errors name the file)."""
    if isinstance(exc, CandleFileError):
        return str(exc)
    return f"{getattr(exc, 'field', None) or 'argument'}: {exc}"


def _hint(exc: TradewindError) -> str:
    """What to check, for errors that have an obvious next step."""
    return " (check TRADEWIND_DATABASE_URL)" if isinstance(exc, StorageUnavailable) else ""


def _guarded(command: Callable[P, None]) -> Callable[P, None]:
    """Run ``command`` so that any failure ends in one line on stderr, not a traceback."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            command(*args, **kwargs)
        except _PASS_THROUGH:
            raise
        except TradewindError as exc:
            _fail(f"{exc}{_hint(exc)}", 2 if isinstance(exc, ValidationError) else 1)
        except Exception as exc:
            if os.environ.get(DEBUG_ENV):
                raise
            detail = " ".join(str(exc).split())[:200]
            _fail(f"unexpected {type(exc).__name__}{': ' + detail if detail else ''} "
                  f"(a bug in tradewind; set {DEBUG_ENV}=1 to see the traceback)", 1)

    return run


def _settings(**overrides: object) -> Settings:
    """Load settings or stop with one line naming the bad one."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except SettingsError as exc:
        _fail(describe_settings_error(exc))


@app.command()
@_guarded
def serve(
    host: str = typer.Option(None, help="Interface to bind (default TRADEWIND_HOST or 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default TRADEWIND_PORT or 8000)."),
    workers: int = typer.Option(1, min=1, max=64, help="Worker processes."),
) -> None:
    """Start the API server with the configured feed, database and streamer."""
    import uvicorn

    from tradewind.api.server import uvicorn_options
    from tradewind.storage.migrate import upgrade_database

    settings = _settings()
    if settings.feed == "replay" and settings.replay_path is None:
        _fail("invalid setting TRADEWIND_REPLAY_PATH: required when TRADEWIND_FEED=replay")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    upgrade_database(settings.database_url)
    uvicorn.run(
        "tradewind.api.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level="info",
        **uvicorn_options(settings),
    )


@db_app.command("upgrade")
@_guarded
def db_upgrade() -> None:
    """Apply the database migrations (also done at every start)."""
    from tradewind.storage.migrate import upgrade_database

    settings = _settings()
    try:
        revision = upgrade_database(settings.database_url)
    except TradewindError as exc:
        _fail(f"database upgrade failed: {exc}{_hint(exc)}", 1)
    console.print(Text.assemble("database at revision ", (_visible(revision), "bold")))


@data_app.command("import")
@_guarded
def data_import(
    path: Path = typer.Argument(..., help="CSV (time,open,high,low,close,volume[,spread]) or Freqtrade JSON."),
    symbol: str = typer.Option(..., "--symbol", help="Symbol, e.g. BTCUSDT or ETH/BTC."),
    timeframe: str = typer.Option(..., "--timeframe", help="1m 5m 15m 30m 1h 4h 1d (or M1..D1)."),
) -> None:
    """Import a candle file into the database: idempotent, with a summary of every row."""
    from tradewind.domain import normalize_symbol, parse_timeframe
    from tradewind.market.candle_file import check_candle_path
    from tradewind.storage.candle_import import ImportInterrupted, import_into_database

    settings = _settings()
    try:
        tf = parse_timeframe(timeframe, field="--timeframe")
        canonical = normalize_symbol(symbol, field="--symbol")
        check_candle_path(path)  # before the database is touched
    except TradewindError as exc:
        _fail(_problem(exc))
    try:
        with Progress(*_progress_columns(), console=console, transient=False) as progress:
            task = progress.add_task(_visible(f"importing {path.name}"), total=None)

            def report(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            summary = import_into_database(settings.database_url, path, symbol=canonical, timeframe=tf,
                                           progress=report)
    except CandleFileError as exc:
        _fail(f"{exc} (nothing imported)", 1)
    except ImportInterrupted as stop:
        if stop.total is None:
            _fail("interrupted while reading the file; nothing imported", 130)
        _fail(f"interrupted: {stop.saved} of {stop.total} candles saved ({stop.imported} new); every saved "
              "batch is committed, and running the same import again completes it", 130)
    except KeyboardInterrupt:
        _fail("interrupted before any candle was saved; nothing imported", 130)
    table = Table(title=_text(f"{canonical} {tf.value} from {path.name}"), show_header=False)
    table.add_row("rows read", str(summary.rows))
    table.add_row("imported", Text(str(summary.imported), style="green"))
    table.add_row("skipped (already stored)", str(summary.skipped))
    table.add_row("rejected", Text(str(len(summary.rejected)), style="red" if summary.rejected else ""))
    console.print(table)
    if summary.rejected:
        rejected = Table(title="rejected rows", show_lines=False)
        rejected.add_column("line", justify="right")
        rejected.add_column("field")
        rejected.add_column("reason")
        for item in summary.rejected[:50]:
            rejected.add_row(str(item.line), _text(item.field or ""), _text(item.reason))
        console.print(rejected)
        if len(summary.rejected) > 50:
            console.print(f"... and {len(summary.rejected) - 50} more rejected rows", markup=False)
        raise typer.Exit(3)


def _progress_columns() -> tuple[TextColumn, BarColumn, MofNCompleteColumn, TimeElapsedColumn]:
    """Progress bar columns; the description (it names a file) is shown literally."""
    return (TextColumn("{task.description}", style="bold", markup=False), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn())


@app.command()
@_guarded
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
    from tradewind.signals.evaluation import evaluate as run_evaluation
    from tradewind.signals.evaluation import replay_requests

    try:
        tf = parse_timeframe(timeframe, field="--timeframe")
        longer = [parse_timeframe(part, field="--higher") for part in higher.split(",") if part.strip()]
        canonical = normalize_symbol(symbol, field="--symbol")
        report = read_candle_file(data, timeframe=tf)
    except TradewindError as exc:
        _fail(_problem(exc))
    if report.rejected:
        errors.print(Text.assemble((f"{len(report.rejected)} of {report.rows} rows rejected", "yellow"),
                                   f" (first: {_visible(report.rejected[0])})"))
    bars = bars_from_candles(report.candles)
    if analyst_name not in ("rules", "llm"):
        _fail(f"--analyst: use rules or llm, got {excerpt(analyst_name)}")
    analyst = RulesAnalyst() if analyst_name == "rules" else _llm_for_evaluation(offline, max_cost)
    if analyst_name == "llm":
        from tradewind.analysts.llm_budget import estimate_run

        try:
            estimate = estimate_run(analyst, (request for _, request in replay_requests(
                bars, symbol=canonical, timeframe=tf, higher=longer, warmup=warmup, step=step)))
        except TradewindError as exc:
            _fail(_problem(exc))
        errors.print(_text(f"estimate: {estimate.describe(analyst.client.model)}"))
        if offline and estimate.analyses:
            errors.print(Text(f"offline: {estimate.analyses} analyses have no logged answer; the rule-based "
                              "analyst answers those (marked rules_fallback)", style="yellow"))
        elif max_cost is not None and estimate.analyses and (
            estimate.total_usd is None or estimate.total_usd > max_cost
        ):
            shown = "unknown" if estimate.total_usd is None else f"${estimate.total_usd:.4f}"
            _fail(f"--max-cost: the run would cost {shown}, above ${max_cost:.4f}; nothing was called", 4)
    done_so_far = [0, 0]

    def report_progress(done: int, total: int) -> None:
        done_so_far[:] = [done, total]
        progress.update(task, completed=done, total=total)

    try:
        with Progress(*_progress_columns(), console=console, transient=as_json) as progress:
            task = progress.add_task(_visible(f"evaluating {canonical} {tf.value}"), total=None)
            _, result = run_evaluation(
                analyst, bars, symbol=canonical, timeframe=tf, higher=longer, warmup=warmup, step=step,
                horizon_seconds=int(horizon_hours * 3600) if horizon_hours else None, progress=report_progress,
            )
    except SpendLimitReached as exc:
        spent = getattr(analyst, "spent_usd", 0.0)
        _fail(f"--max-cost: stopped after {done_so_far[0]} of {done_so_far[1]} analyses with ${spent:.4f} spent, "
              f"before a call that could pass the cap: {exc}", 4)
    except TradewindError as exc:
        _fail(_problem(exc))
    if as_json:
        console.print_json(json.dumps(result))
        return
    console.print(_report_table(result, title=f"{canonical} {tf.value}: {analyst_name} analyst, {len(bars)} candles"))


def _llm_for_evaluation(offline: bool, max_cost: float | None):  # type: ignore[no-untyped-def]
    """The LLM analyst from TRADEWIND_LLM_* settings, logging to (and replaying from) the database;
    offline it calls nothing, and with ``max_cost`` every call is checked against the cap first."""
    from tradewind.analysts.llm_port import OfflineChatClient
    from tradewind.analysts.rules import RulesAnalyst
    from tradewind.analysts.spend import SpendLimit
    from tradewind.bootstrap import build_llm_analyst
    from tradewind.domain.clock import SystemClock
    from tradewind.storage.db import create_engine_for
    from tradewind.storage.decisions import SqlDecisionLog
    from tradewind.storage.migrate import upgrade_database

    settings = _settings()
    upgrade_database(settings.database_url)
    decisions = SqlDecisionLog(create_engine_for(settings.database_url))
    if not offline and settings.llm_base_url is None and not settings.api_keys():
        _fail("--analyst llm: set OPENAI_API_KEY (OpenAI) or TRADEWIND_LLM_BASE_URL (a local server), or use --offline")
    client = OfflineChatClient(settings.llm_model) if offline else None
    limit = SpendLimit(max_cost) if max_cost is not None else None
    return build_llm_analyst(settings, decisions=decisions, rules=RulesAnalyst(), clock=SystemClock(), client=client,
                             limit=limit)[1]


def _report_table(report: dict[str, object], *, title: str) -> Table:
    """The performance report as a Rich table; a figure that could not be computed shows as n/a."""

    def show(value: object) -> str:
        if value is None:
            return "n/a"
        return f"{value:.4f}" if isinstance(value, float) else str(value)

    table = Table(title=_text(title), show_header=False)

    def add(label: str, value: str) -> None:
        table.add_row(_text(label), _text(value))

    for key in ("predictions_made", "resolved", "successful", "accuracy", "success_rate", "average_confidence",
                "brier_score", "average_return"):
        add(key.replace("_", " "), show(report.get(key)))
    per_class = report.get("per_class") or {}
    for name, scores in per_class.items():  # type: ignore[union-attr]
        add(f"{name}: precision / recall", f"{show(scores.get('precision'))} / {show(scores.get('recall'))}"
            f" ({scores.get('predicted')} predicted, {scores.get('actual')} actual)")
    for row in report.get("reliability") or []:  # type: ignore[union-attr]
        if row.get("count"):
            add(f"confidence {row['bucket']}", f"{row['count']} signals, hit rate {show(row.get('hit_rate'))}")
    by_source = report.get("by_source") or {}
    if len(by_source) > 1 or any(name != "rules" for name in by_source):  # type: ignore[union-attr]
        for name, part in by_source.items():  # type: ignore[union-attr]
            add(f"answered by {name}", f"{part['predictions_made']} signals, accuracy {show(part.get('accuracy'))}, "
                f"success rate {show(part.get('success_rate'))}")
    return table


def main() -> None:  # pragma: no cover - console entry point alias
    sys.exit(app())
