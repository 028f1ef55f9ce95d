"""``tradewind backtest``: parse the options, load the candles, run ``run_backtest``, print and write the report."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.progress import Progress, TaskID
from rich.table import Table
from rich.text import Text

from tradewind.analysts.spend import SpendLimitReached
from tradewind.cli import output as out
from tradewind.cli.analysts import llm_for_evaluation
from tradewind.domain.errors import TradewindError, ValidationError
from tradewind.domain.excerpt import excerpt
from tradewind.market.candle_file import CandleFileError

if TYPE_CHECKING:
    from tradewind.analysts.base import Analyst
    from tradewind.domain.candle import Candle
    from tradewind.domain.timeframe import Timeframe
    from tradewind.trading.backtest import BacktestSpec

__all__ = ["backtest"]

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


@out.guarded
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
        out.fail("--data/--stored: give one of them (a candle file, or the candles stored in the database)")
    source = "--stored" if stored else "--data"
    names = _analyst_names(analyst_name, compare)
    if max_cost is not None and not (math.isfinite(max_cost) and max_cost >= 0):
        out.fail(f"--max-cost: must be an amount of USD of at least 0, got {max_cost!r}")
    if compare and html_out is not None:
        out.fail("--html: a page shows one run; drop --compare, or run each analyst with its own --html")
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
        out.fail(_spec_problem(exc, source))
    analysts: dict[str, Analyst] = {"rules": RulesAnalyst()}
    if "llm" in names:
        analysts["llm"] = llm_for_evaluation(offline, max_cost)
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
    out.console.print(_backtest_table(reports, title=title, candles=len(played)))
    for path in (json_out, html_out):
        if path is not None:
            out.console.print(Text.assemble("wrote ", out.text(path, "bold")))


def _analyst_names(analyst: str | None, compare: str | None) -> list[str]:
    """The analysts to run: ``--analyst`` (default rules), or each of ``--compare``."""
    if compare is None:
        name = analyst or "rules"
        if name not in ("rules", "llm"):
            out.fail(f"--analyst: use rules or llm, got {excerpt(name)}")
        return [name]
    if analyst is not None:
        out.fail("--analyst/--compare: give one of them; --compare runs each analyst it names")
    names = list(dict.fromkeys(part.strip() for part in compare.split(",") if part.strip()))
    if len(names) < 2 or any(name not in ("rules", "llm") for name in names):
        out.fail(f"--compare: name two analysts out of rules and llm, e.g. rules,llm; got {excerpt(compare)}")
    return names


def _strategy_params(items: list[str]) -> dict[str, str]:
    """``--param NAME=VALUE`` pairs, values as strings: the strategy's declared parameters parse them."""
    given: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            out.fail(f"--param: use NAME=VALUE, got {excerpt(item)}")
        if name in given:
            out.fail(f"--param: {excerpt(name)} is given twice")
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
            out.fail(f"{option}: use an ISO date/time (UTC), e.g. 2024-01-31 or 2024-01-31T12:00, or epoch seconds; "
                  f"got {excerpt(value)}")
        moment = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    if not (math.isfinite(moment) and 0 <= moment < _LAST_SECOND):
        out.fail(f"{option}: epoch seconds (not milliseconds) within 0..{_LAST_SECOND}, or an ISO date; "
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
            out.errors.print(Text.assemble((f"{len(report.rejected)} of {report.rows} rows rejected", "yellow"),
                                       f" (first: {out.visible(report.rejected[0])})"))
        return list(report.candles)
    from tradewind.storage.candles import SqlCandleStore
    from tradewind.storage.db import create_engine_for
    from tradewind.storage.migrate import upgrade_database

    settings = out.load_settings()
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
    return f"{option}: {exc}" if option and not isinstance(exc, CandleFileError) else out.problem(exc)


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
        out.errors.print(out.text(f"estimate: {spec.strategy} trades without the analyst's signals: no call to {model}, $0"))
        return
    estimator = RunEstimator(analyst)
    try:
        planned_requests(replace(spec, analyst="llm"), bars_from_candles(candles), estimator.add, analyst="llm")
        estimate = estimator.result()
    except ValidationError as exc:
        out.fail(_spec_problem(exc, source))
    out.errors.print(out.text(f"estimate: {estimate.describe(model)}"))
    if offline and estimate.analyses:
        out.errors.print(Text(f"offline: {estimate.analyses} analyses have no logged answer; the rule-based analyst "
                          "answers those (marked rules_fallback)", style="yellow"))
    elif max_cost is not None and estimate.analyses and (estimate.total_usd is None or estimate.total_usd > max_cost):
        shown = "unknown" if estimate.total_usd is None else f"${estimate.total_usd:.4f}"
        out.fail(f"--max-cost: the run would cost {shown}, above ${max_cost:.4f}; nothing was called", 4)


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
        with Progress(*out.progress_columns(), console=out.console, transient=False) as progress:
            for spec in specs:
                task = progress.add_task(out.visible(f"backtesting {spec.symbol} {spec.timeframe.value} ({spec.analyst})"),
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
        out.fail(f"--max-cost: the {spec.analyst} run stopped at candle {seen['candles']} of {total} after "
              f"{seen['analyses']} analyses with ${spent:.4f} spent, before a call that could pass the cap: {exc}; "
              "nothing was written", 4)
    except ValidationError as exc:
        out.fail(_spec_problem(exc, source))
    except KeyboardInterrupt:
        out.fail(f"interrupted during the {spec.analyst} run; nothing was written", 130)
    return reports


def _check_outputs(json_out: Path | None, html_out: Path | None) -> None:
    """Refuse output paths that cannot be written as files, before the run rather than after it."""
    for path, option in ((json_out, "--json"), (html_out, "--html")):
        if path is None:
            continue
        if path.is_dir():
            out.fail(f"{option}: {path} is a directory; give a file name")
        if not path.parent.is_dir():
            out.fail(f"{option}: the folder {path.parent} does not exist")
    if json_out is not None and html_out is not None and json_out.resolve() == html_out.resolve():
        out.fail("--json/--html: give two different files")


def _write_output(path: Path, text: str, option: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        out.fail(f"{option}: cannot write {path}: {exc.strerror or type(exc).__name__}", 1)


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

    table = Table(title=out.text(title), show_header=len(reports) > 1)
    table.add_column("metric")
    for name in reports:
        table.add_column(out.text(name), justify="right")
    table.add_row("candles", *(str(candles) for _ in reports))
    for label, key, kind in _SUMMARY:
        table.add_row(label, *(show(report["metrics"].get(key), kind) for report in reports.values()))
    table.add_row("risk events", *(str(len(report.get("risk_events") or [])) for report in reports.values()))
    return table
