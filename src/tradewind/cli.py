"""The ``tradewind`` command line: serve the API, migrate the database, import candle files, evaluate
an analyst and backtest a strategy.

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
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec

import click
import typer
from pydantic import ValidationError as SettingsError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from tradewind.analysts.spend import SpendLimitReached
from tradewind.domain.errors import StorageUnavailable, TradewindError, ValidationError
from tradewind.domain.excerpt import excerpt
from tradewind.market.candle_file import CandleFileError
from tradewind.settings import Settings, describe_settings_error

if TYPE_CHECKING:
    from tradewind.analysts.base import Analyst
    from tradewind.domain.candle import Candle
    from tradewind.domain.timeframe import Timeframe
    from tradewind.trading.backtest import BacktestSpec

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
    from tradewind.trading.backtest import BacktestSpec
    from tradewind.trading.evaluation import evaluate as run_evaluation
    from tradewind.trading.evaluation import planned_requests

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
        from tradewind.analysts.llm_budget import RunEstimator

        estimator = RunEstimator(analyst)
        try:
            planned_requests(BacktestSpec(canonical, tf, analyst="llm", higher=tuple(longer), trade=False,
                                          warmup=warmup, every=step), bars, estimator.add, analyst="llm")
            estimate = estimator.result()
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


# --- backtest ------------------------------------------------------------------------------------

_SPEC_OPTIONS = {"from": "--from", "to": "--to", "cash": "--cash", "fee": "--fee", "slippage": "--slippage",
                 "higher": "--higher", "trade_timeframe": "--trade-timeframe", "warmup": "--warmup", "risk": "--risk",
                 "strategy": "--strategy", "interval_minutes": "--interval", "analyst": "--analyst"}
_LAST_SECOND = 253_402_300_800  # year 10000: a larger "time" is milliseconds or a typo
_MAX_STORED_CANDLES = 5_000_000  # ten years of one-minute candles: what one run reads from the database
_SUMMARY = (  # label, metric, how it is shown
    ("initial equity", "initial_equity", "money"), ("final equity", "final_equity", "money"),
    ("total return", "total_return", "percent"), ("CAGR", "cagr", "percent"), ("Sharpe", "sharpe_ratio", "ratio"),
    ("Sortino", "sortino_ratio", "ratio"), ("Calmar", "calmar_ratio", "ratio"),
    ("max drawdown", "max_drawdown", "percent"), ("longest drawdown", "longest_drawdown", "duration"),
    ("trades", "trades", "count"), ("win rate", "win_rate", "percent"), ("profit factor", "profit_factor", "ratio"),
    ("expectancy", "expectancy", "money"), ("total fees", "total_fees", "money"), ("exposure", "exposure", "percent"),
)


@app.command()
@_guarded
def backtest(
    data: Path = typer.Option(None, "--data", help="Candle file (CSV or Freqtrade JSON) to replay."),
    stored: bool = typer.Option(False, "--stored", help="Replay the candles stored in the database (data import)."),
    symbol: str = typer.Option(..., "--symbol", help="Symbol the candles are of."),
    timeframe: str = typer.Option(..., "--timeframe", help="The candles' timeframe (1m..1d or M1..D1)."),
    strategy: str = typer.Option(..., "--strategy", help="sma-cross, rsi-reversion, signal-follower or module:Class."),
    param: list[str] = typer.Option([], "--param", help="A strategy parameter NAME=VALUE (repeatable)."),
    analyst_name: str = typer.Option(None, "--analyst", show_default="rules",
                                     help="rules, or llm (the TRADEWIND_LLM_* model)."),
    start: str = typer.Option(None, "--from", help="First candle: ISO date/time (UTC) or epoch seconds."),
    end: str = typer.Option(None, "--to", help="End, exclusive: ISO date/time (UTC) or epoch seconds."),
    cash: float = typer.Option(None, "--cash", show_default="10000", help="Starting cash."),
    fee: float = typer.Option(None, "--fee", show_default="0.001", help="Fee per fill, a fraction (0.001 = 0.1%)."),
    slippage: float = typer.Option(None, "--slippage", show_default="0", help="Slippage per fill, a fraction."),
    json_out: Path = typer.Option(None, "--json", help="Write the report as JSON to this file."),
    html_out: Path = typer.Option(None, "--html", help="Write the report as one self-contained HTML page."),
    offline: bool = typer.Option(False, "--offline", help="llm: answer only from the decision log, call nothing."),
    max_cost: float = typer.Option(None, "--max-cost", help="llm: refuse (or stop) a run above this many USD."),
    compare: str = typer.Option(None, "--compare", help="Run these analysts on the same candles, e.g. rules,llm."),
    trade_timeframe: str = typer.Option(None, "--trade-timeframe", show_default="--timeframe",
                                        help="Decide on these candles, built from the data's (e.g. 15m from 1m)."),
    higher: str = typer.Option("", "--higher", help="Longer timeframes for the analyst, e.g. 1h,4h."),
    interval: int = typer.Option(None, "--interval", show_default="a cycle per candle",
                                 help="Minutes between trading cycles (1..60)."),
    risk: str = typer.Option(None, "--risk", show_default="none",
                             help="Risk profile: none, conservative, moderate or aggressive."),
    warmup: int = typer.Option(None, "--warmup", show_default="0", help="Candles before the first decision."),
) -> None:
    """Backtest a strategy: the kernel on a simulated clock that a replay of history advances."""
    import json
    import math

    from tradewind.analysts.rules import RulesAnalyst
    from tradewind.domain import normalize_symbol, parse_timeframe
    from tradewind.trading.backtest import BacktestSpec, played_candles
    from tradewind.trading.report_html import render_report
    from tradewind.trading.risk import risk_profile
    from tradewind.trading.strategies import BUILTIN
    from tradewind.trading.strategy import load_strategy

    if (data is None) == (not stored):
        _fail("--data/--stored: give one of them (a candle file, or the candles stored in the database)")
    source = "--stored" if stored else "--data"
    names = _analyst_names(analyst_name, compare)
    if max_cost is not None and not (math.isfinite(max_cost) and max_cost >= 0):
        _fail(f"--max-cost: must be an amount of USD of at least 0, got {max_cost!r}")
    if compare and html_out is not None:
        _fail("--html: a page shows one run; drop --compare, or run each analyst with its own --html")
    _check_outputs(json_out, html_out)
    given = {"cash": cash, "fee": fee, "slippage": slippage, "risk": risk, "warmup": warmup,
             "interval_minutes": interval}
    try:
        tf = parse_timeframe(timeframe, field="--timeframe")
        canonical = normalize_symbol(symbol, field="--symbol")
        spec = BacktestSpec(
            canonical, tf, strategy=strategy, params=_strategy_params(param), analyst=names[0],
            higher=tuple(parse_timeframe(part, field="--higher") for part in higher.split(",") if part.strip()),
            trade_timeframe=parse_timeframe(trade_timeframe, field="--trade-timeframe") if trade_timeframe else None,
            start=_moment(start, "--from"), end=_moment(end, "--to"),
            **{key: value for key, value in given.items() if value is not None},  # the rest: BacktestSpec's defaults
        )
        spec.check()
        uses_signals = load_strategy(spec.strategy, spec.params, builtins=BUILTIN).uses_signals
        risk_profile(spec.risk, spec.risk_overrides)
        candles = _backtest_candles(data, canonical, tf, spec.start, spec.end)
        played = played_candles(spec, candles)
    except TradewindError as exc:
        _fail(_spec_problem(exc, source))
    analysts: dict[str, Analyst] = {"rules": RulesAnalyst()}
    if "llm" in names:
        analysts["llm"] = _llm_for_evaluation(offline, max_cost)
        _estimate_backtest(spec, candles, analysts["llm"], uses_signals=uses_signals, offline=offline,
                           max_cost=max_cost, source=source)
    reports = _play_backtests([replace(spec, analyst=name) for name in names], candles, analysts, total=len(played),
                              source=source)
    title = f"{canonical} {tf.value}, {spec.strategy}" + ("" if compare else f", {names[0]} analyst")
    if json_out is not None:
        _write_output(json_out, json.dumps({"runs": reports} if compare else reports[names[0]], allow_nan=False),
                      "--json")
    if html_out is not None:
        bars = [(c.time, c.open, c.high, c.low, c.close) for c in played]
        _write_output(html_out, render_report(reports[names[0]], candles=bars, title=title), "--html")
    console.print(_backtest_table(reports, title=title, candles=len(played)))
    for path in (json_out, html_out):
        if path is not None:
            console.print(Text.assemble("wrote ", _text(path, "bold")))


def _analyst_names(analyst: str | None, compare: str | None) -> list[str]:
    """The analysts to run: ``--analyst`` (default rules), or each of ``--compare``."""
    if compare is None:
        name = analyst or "rules"
        if name not in ("rules", "llm"):
            _fail(f"--analyst: use rules or llm, got {excerpt(name)}")
        return [name]
    if analyst is not None:
        _fail("--analyst/--compare: give one of them; --compare runs each analyst it names")
    names = list(dict.fromkeys(part.strip() for part in compare.split(",") if part.strip()))
    if len(names) < 2 or any(name not in ("rules", "llm") for name in names):
        _fail(f"--compare: name two analysts out of rules and llm, e.g. rules,llm; got {excerpt(compare)}")
    return names


def _strategy_params(items: list[str]) -> dict[str, str]:
    """``--param NAME=VALUE`` pairs, values as strings: the strategy's declared parameters parse them."""
    given: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            _fail(f"--param: use NAME=VALUE, got {excerpt(item)}")
        if name in given:
            _fail(f"--param: {excerpt(name)} is given twice")
        given[name] = value.strip()
    return given


def _moment(value: str | None, option: str) -> float | None:
    """``--from``/``--to`` in epoch seconds: given so, or as an ISO date/time (without a zone: UTC)."""
    import math
    from datetime import UTC, datetime

    if value is None:
        return None
    try:
        moment = float(value)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            _fail(f"{option}: use an ISO date/time (UTC), e.g. 2024-01-31 or 2024-01-31T12:00, or epoch seconds; "
                  f"got {excerpt(value)}")
        moment = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    if not (math.isfinite(moment) and 0 <= moment < _LAST_SECOND):
        _fail(f"{option}: epoch seconds (not milliseconds) within 0..{_LAST_SECOND}, or an ISO date; "
              f"got {excerpt(value)}")
    return moment


def _backtest_candles(data: Path | None, symbol: str, timeframe: Timeframe, start: float | None,
                      end: float | None) -> list[Candle]:
    """The candles of the ``data`` file (its rejected rows reported), or without one those stored for
    ``symbol`` within ``start``..``end`` (the database reads only the range)."""
    if data is not None:
        from tradewind.market.candle_file import read_candle_file

        report = read_candle_file(data, timeframe=timeframe)
        if report.rejected:
            errors.print(Text.assemble((f"{len(report.rejected)} of {report.rows} rows rejected", "yellow"),
                                       f" (first: {_visible(report.rejected[0])})"))
        return list(report.candles)
    from tradewind.storage.candles import SqlCandleStore
    from tradewind.storage.db import create_engine_for
    from tradewind.storage.migrate import upgrade_database

    settings = _settings()
    upgrade_database(settings.database_url)
    store = SqlCandleStore(create_engine_for(settings.database_url))
    candles = store.between(symbol, timeframe, start, end, limit=_MAX_STORED_CANDLES + 1)
    if not candles and not store.count(symbol, timeframe):
        raise ValidationError(f"no {symbol} {timeframe.value} candles in the database; import a file with "
                              "tradewind data import first", field="data")
    if len(candles) > _MAX_STORED_CANDLES:
        raise ValidationError(f"more than {_MAX_STORED_CANDLES} stored candles in that range; narrow it with "
                              "--from/--to", field="data")
    return candles  # none: the range holds none, which the backtest says


def _spec_problem(exc: TradewindError, source: str) -> str:
    """A backtest error named by the option it came from; ``params.fast`` stays the strategy's name."""
    field = getattr(exc, "field", None)
    option = source if field == "data" else _SPEC_OPTIONS.get(field or "")
    return f"{option}: {exc}" if option and not isinstance(exc, CandleFileError) else _problem(exc)


def _estimate_backtest(spec: BacktestSpec, candles: list[Candle], analyst: Analyst, *, uses_signals: bool,
                       offline: bool, max_cost: float | None, source: str) -> None:
    """Print what the LLM run will ask and cost, before any call; refuse (exit 4) a run above ``max_cost``."""
    from tradewind.analysts.llm import LLMAnalyst
    from tradewind.analysts.llm_budget import RunEstimator
    from tradewind.domain.bars import bars_from_candles
    from tradewind.trading.evaluation import planned_requests

    assert isinstance(analyst, LLMAnalyst)
    model = analyst.client.model
    if not uses_signals:  # the engine asks the analyst only for a strategy that trades its signals
        errors.print(_text(f"estimate: {spec.strategy} trades without the analyst's signals: no call to {model}, $0"))
        return
    estimator = RunEstimator(analyst)
    try:
        planned_requests(replace(spec, analyst="llm"), bars_from_candles(candles), estimator.add, analyst="llm")
        estimate = estimator.result()
    except ValidationError as exc:
        _fail(_spec_problem(exc, source))
    errors.print(_text(f"estimate: {estimate.describe(model)}"))
    if offline and estimate.analyses:
        errors.print(Text(f"offline: {estimate.analyses} analyses have no logged answer; the rule-based analyst "
                          "answers those (marked rules_fallback)", style="yellow"))
    elif max_cost is not None and estimate.analyses and (estimate.total_usd is None or estimate.total_usd > max_cost):
        shown = "unknown" if estimate.total_usd is None else f"${estimate.total_usd:.4f}"
        _fail(f"--max-cost: the run would cost {shown}, above ${max_cost:.4f}; nothing was called", 4)


def _play_backtests(specs: list[BacktestSpec], candles: list[Candle], analysts: dict[str, Analyst], *, total: int,
                    source: str) -> dict[str, dict[str, Any]]:
    """Run each spec on the same candles under one progress bar; the reports by analyst. A spend cap
    reached mid-run ends it with exit code 4, saying how far it got."""
    import asyncio

    from tradewind.domain.bus import InProcessBus
    from tradewind.domain.events import CandleClosed, SignalCreated
    from tradewind.trading.backtest import plain, run_backtest

    reports: dict[str, dict[str, Any]] = {}
    seen = {"candles": 0, "analyses": 0}

    def count(event: object) -> None:
        if isinstance(event, CandleClosed) and event.timeframe == specs[0].timeframe:
            seen["candles"] += 1
        elif isinstance(event, SignalCreated):
            seen["analyses"] += 1

    spec = specs[0]
    try:
        with Progress(*_progress_columns(), console=console, transient=False) as progress:
            for spec in specs:
                task = progress.add_task(_visible(f"backtesting {spec.symbol} {spec.timeframe.value} ({spec.analyst})"),
                                         total=total)
                bus = InProcessBus(strict=True)  # the backtest's own bus: a failing listener ends the run
                bus.subscribe(CandleClosed.topic, count)
                bus.subscribe(SignalCreated.topic, count)
                seen.update(candles=0, analyses=0)

                def advance(done: int, of: int, task: TaskID = task) -> None:
                    progress.update(task, completed=done, total=of)

                report, _ = asyncio.run(run_backtest(spec, candles, analysts=analysts, bus=bus, progress=advance))
                progress.update(task, completed=total)  # the array path reports no progress
                reports[spec.analyst] = plain(report)
    except SpendLimitReached as exc:
        spent = getattr(analysts.get("llm"), "spent_usd", 0.0)
        _fail(f"--max-cost: the {spec.analyst} run stopped at candle {seen['candles']} of {total} after "
              f"{seen['analyses']} analyses with ${spent:.4f} spent, before a call that could pass the cap: {exc}; "
              "nothing was written", 4)
    except ValidationError as exc:
        _fail(_spec_problem(exc, source))
    except KeyboardInterrupt:
        _fail(f"interrupted during the {spec.analyst} run; nothing was written", 130)
    return reports


def _check_outputs(json_out: Path | None, html_out: Path | None) -> None:
    """Refuse output paths that cannot be written as files, before the run rather than after it."""
    for path, option in ((json_out, "--json"), (html_out, "--html")):
        if path is None:
            continue
        if path.is_dir():
            _fail(f"{option}: {path} is a directory; give a file name")
        if not path.parent.is_dir():
            _fail(f"{option}: the folder {path.parent} does not exist")
    if json_out is not None and html_out is not None and json_out.resolve() == html_out.resolve():
        _fail("--json/--html: give two different files")


def _write_output(path: Path, text: str, option: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        _fail(f"{option}: cannot write {path}: {exc.strerror or type(exc).__name__}", 1)


def _backtest_table(reports: dict[str, dict[str, Any]], *, title: str, candles: int) -> Table:
    """The headline figures, a column per run; a figure that could not be computed shows as n/a."""

    def show(value: object, kind: str) -> str:
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            return "n/a"
        if kind == "percent":
            return f"{value:.2%}"
        if kind == "ratio":
            return f"{value:.2f}"
        if kind == "count":
            return str(int(value))
        if kind == "duration":
            return f"{value / 86400:.1f} days" if value >= 86400 else f"{value / 3600:.1f} hours"
        return f"{value:,.2f}"

    table = Table(title=_text(title), show_header=len(reports) > 1)
    table.add_column("metric")
    for name in reports:
        table.add_column(_text(name), justify="right")
    table.add_row("candles", *(str(candles) for _ in reports))
    for label, key, kind in _SUMMARY:
        table.add_row(label, *(show(report["metrics"].get(key), kind) for report in reports.values()))
    table.add_row("risk events", *(str(len(report.get("risk_events") or [])) for report in reports.values()))
    return table


def main() -> None:  # pragma: no cover - console entry point alias
    sys.exit(app())
