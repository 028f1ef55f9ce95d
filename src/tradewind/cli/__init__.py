"""The ``tradewind`` command line: serve the API, migrate the database, import candle files, evaluate
an analyst and backtest a strategy.

Commands parse arguments, call one service and print; they hold no logic of their own. How they
print what came from outside, and how they fail (one line on stderr), is ``cli/output.py``;
``backtest`` lives in ``cli/backtest.py``.
"""

from __future__ import annotations

import logging
import logging.config
import sys
from pathlib import Path

import typer
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from tradewind.analysts.spend import SpendLimitReached
from tradewind.cli import output as out
from tradewind.cli.analysts import llm_for_evaluation
from tradewind.cli.backtest import backtest
from tradewind.cli.workers import workers_problem
from tradewind.cli.keys import announce_first_key, keys_app
from tradewind.domain.errors import TradewindError
from tradewind.domain.excerpt import excerpt
from tradewind.market.candle_file import CandleFileError

__all__ = ["app"]

app = typer.Typer(help="tradewind: a self-hosted AI trading analyst.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
data_app = typer.Typer(help="Market data files.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(data_app, name="data")
app.add_typer(keys_app, name="keys")

@app.command()
@out.guarded
def serve(
    host: str = typer.Option(None, help="Interface to bind (default TRADEWIND_HOST or 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default TRADEWIND_PORT or 8000)."),
    workers: int = typer.Option(1, min=1, max=64, help="Worker processes."),
) -> None:
    """Start the API server with the configured feed, database and streamer."""
    import uvicorn

    from tradewind.api.log_format import logging_config
    from tradewind.api.server import exit_zero_on_sigterm, uvicorn_options
    from tradewind.storage.migrate import upgrade_database

    settings = out.load_settings()
    if settings.feed == "replay" and settings.replay_path is None:
        out.fail("invalid setting TRADEWIND_REPLAY_PATH: required when TRADEWIND_FEED=replay")
    if workers > 1:
        problem = workers_problem(settings)
        if problem is not None:
            out.fail(problem)
    log_config = logging_config(settings.log_format, settings.log_level)
    if not logging.getLogger().handlers:  # like basicConfig: a host that set up logging (pytest) keeps its own
        logging.config.dictConfig(log_config)  # the migrations' lines; uvicorn applies it again in each worker
    upgrade_database(settings.database_url)
    announce_first_key(settings)
    exit_zero_on_sigterm()  # after uvicorn's drain and shutdown, status 0
    options = dict(factory=True, host=host or settings.host, port=port or settings.port, workers=workers,
                   log_level=settings.log_level.lower(), log_config=log_config, **uvicorn_options(settings))
    if workers == 1:
        uvicorn.run("tradewind.api.app:create_app", **options)
        return
    from tradewind.api.reuse_port import run_workers

    try:
        run_workers(uvicorn.Config("tradewind.api.app:create_app", **options))
    except (OSError, ValueError) as exc:
        out.fail(f"cannot serve {workers} workers on {options['host']}:{options['port']}: {exc}")


@db_app.command("upgrade")
@out.guarded
def db_upgrade() -> None:
    """Apply the database migrations (also done at every start)."""
    from tradewind.storage.migrate import upgrade_database

    settings = out.load_settings()
    try:
        revision = upgrade_database(settings.database_url)
    except TradewindError as exc:
        out.fail(f"database upgrade failed: {exc}{out.hint(exc)}", 1)
    out.console.print(Text.assemble("database at revision ", (out.visible(revision), "bold")))


@data_app.command("import")
@out.guarded
def data_import(
    path: Path = typer.Argument(..., help="CSV (time,open,high,low,close,volume[,spread]) or Freqtrade JSON."),
    symbol: str = typer.Option(..., "--symbol", help="Symbol, e.g. BTCUSDT or ETH/BTC."),
    timeframe: str = typer.Option(..., "--timeframe", help="1m 5m 15m 30m 1h 4h 1d (or M1..D1)."),
) -> None:
    """Import a candle file into the database: idempotent, with a summary of every row."""
    from tradewind.domain import normalize_symbol, parse_timeframe
    from tradewind.market.candle_file import check_candle_path
    from tradewind.storage.candle_import import ImportInterrupted, import_into_database

    settings = out.load_settings()
    try:
        tf = parse_timeframe(timeframe, field="--timeframe")
        canonical = normalize_symbol(symbol, field="--symbol")
        check_candle_path(path)  # before the database is touched
    except TradewindError as exc:
        out.fail(out.problem(exc))
    try:
        with Progress(*out.progress_columns(), console=out.console, transient=False) as progress:
            task = progress.add_task(out.visible(f"importing {path.name}"), total=None)

            def report(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            summary = import_into_database(settings.database_url, path, symbol=canonical, timeframe=tf,
                                           progress=report)
    except CandleFileError as exc:
        out.fail(f"{exc} (nothing imported)", 1)
    except ImportInterrupted as stop:
        if stop.total is None:
            out.fail("interrupted while reading the file; nothing imported", 130)
        out.fail(f"interrupted: {stop.saved} of {stop.total} candles saved ({stop.imported} new); every saved "
              "batch is committed, and running the same import again completes it", 130)
    except KeyboardInterrupt:
        out.fail("interrupted before any candle was saved; nothing imported", 130)
    table = Table(title=out.text(f"{canonical} {tf.value} from {path.name}"), show_header=False)
    table.add_row("rows read", str(summary.rows))
    table.add_row("imported", Text(str(summary.imported), style="green"))
    table.add_row("skipped (already stored)", str(summary.skipped))
    table.add_row("rejected", Text(str(len(summary.rejected)), style="red" if summary.rejected else ""))
    out.console.print(table)
    if summary.rejected:
        rejected = Table(title="rejected rows", show_lines=False)
        rejected.add_column("line", justify="right")
        rejected.add_column("field")
        rejected.add_column("reason")
        for item in summary.rejected[:50]:
            rejected.add_row(str(item.line), out.text(item.field or ""), out.text(item.reason))
        out.console.print(rejected)
        if len(summary.rejected) > 50:
            out.console.print(f"... and {len(summary.rejected) - 50} more rejected rows", markup=False)
        raise typer.Exit(3)


@app.command()
@out.guarded
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
    from tradewind.trading.backtest import BacktestSpec
    from tradewind.trading.evaluation import evaluate as run_evaluation
    from tradewind.trading.evaluation import planned_requests

    try:
        tf = parse_timeframe(timeframe, field="--timeframe")
        longer = [parse_timeframe(part, field="--higher") for part in higher.split(",") if part.strip()]
        canonical = normalize_symbol(symbol, field="--symbol")
        report = read_candle_file(data, timeframe=tf)
    except TradewindError as exc:
        out.fail(out.problem(exc))
    if report.rejected:
        out.errors.print(Text.assemble((f"{len(report.rejected)} of {report.rows} rows rejected", "yellow"),
                                   f" (first: {out.visible(report.rejected[0])})"))
    bars = bars_from_candles(report.candles)
    if analyst_name not in ("rules", "llm"):
        out.fail(f"--analyst: use rules or llm, got {excerpt(analyst_name)}")
    analyst = RulesAnalyst() if analyst_name == "rules" else llm_for_evaluation(offline, max_cost)
    if analyst_name == "llm":
        from tradewind.analysts.llm_budget import RunEstimator

        estimator = RunEstimator(analyst)
        try:
            planned_requests(BacktestSpec(canonical, tf, analyst="llm", higher=tuple(longer), trade=False,
                                          warmup=warmup, every=step), bars, estimator.add, analyst="llm")
            estimate = estimator.result()
        except TradewindError as exc:
            out.fail(out.problem(exc))
        out.errors.print(out.text(f"estimate: {estimate.describe(analyst.client.model)}"))
        if offline and estimate.analyses:
            out.errors.print(Text(f"offline: {estimate.analyses} analyses have no logged answer; the rule-based "
                              "analyst answers those (marked rules_fallback)", style="yellow"))
        elif max_cost is not None and estimate.analyses and (
            estimate.total_usd is None or estimate.total_usd > max_cost
        ):
            shown = "unknown" if estimate.total_usd is None else f"${estimate.total_usd:.4f}"
            out.fail(f"--max-cost: the run would cost {shown}, above ${max_cost:.4f}; nothing was called", 4)
    done_so_far = [0, 0]

    def report_progress(done: int, total: int) -> None:
        done_so_far[:] = [done, total]
        progress.update(task, completed=done, total=total)

    try:
        with Progress(*out.progress_columns(), console=out.console, transient=as_json) as progress:
            task = progress.add_task(out.visible(f"evaluating {canonical} {tf.value}"), total=None)
            _, result = run_evaluation(
                analyst, bars, symbol=canonical, timeframe=tf, higher=longer, warmup=warmup, step=step,
                horizon_seconds=int(horizon_hours * 3600) if horizon_hours else None, progress=report_progress,
            )
    except SpendLimitReached as exc:
        spent = getattr(analyst, "spent_usd", 0.0)
        out.fail(f"--max-cost: stopped after {done_so_far[0]} of {done_so_far[1]} analyses with ${spent:.4f} spent, "
              f"before a call that could pass the cap: {exc}", 4)
    except TradewindError as exc:
        out.fail(out.problem(exc))
    if as_json:
        out.console.print_json(json.dumps(result))
        return
    out.console.print(_report_table(result, title=f"{canonical} {tf.value}: {analyst_name} analyst, {len(bars)} candles"))


def _report_table(report: dict[str, object], *, title: str) -> Table:
    """The performance report as a Rich table; a figure that could not be computed shows as n/a."""

    def show(value: object) -> str:
        if value is None:
            return "n/a"
        return f"{value:.4f}" if isinstance(value, float) else str(value)

    table = Table(title=out.text(title), show_header=False)

    def add(label: str, value: str) -> None:
        table.add_row(out.text(label), out.text(value))

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


app.command()(backtest)  # in cli/backtest.py


def main() -> None:  # pragma: no cover - console entry point alias
    sys.exit(app())
