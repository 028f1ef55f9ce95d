"""`tradewind backtest` as a user runs it: real candles (Freqtrade's ETH/BTC, backtesting.py's GOOG),
real files, a real SQLite database and, for the LLM analyst, a fake OpenAI-compatible server.

A run's JSON must hold what a direct ``run_backtest_sync`` call on the same candles reports; bad
input ends in one line naming the option (exit 2); an LLM run prints its estimate before any call,
a run estimated above ``--max-cost`` is refused (exit 4) without one, and a run that turns out dearer
than estimated stops before the call that could pass the cap."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fakes.openai_server import FakeOpenAI
from support.llm_answers import signal_answer
from tradewind.analysts.rules import RulesAnalyst
from tradewind.cli import app
from tradewind.domain import Timeframe, parse_timeframe
from tradewind.domain.candle import Candle
from tradewind.market.candle_file import read_candle_file
from tradewind.trading.backtest import BacktestSpec, plain, run_backtest_sync

DATA = Path(__file__).parent / "data"
ETH_BTC = DATA / "ETH_BTC-5m.json"  # 2018-01-10 04:55 .. 2018-01-30, 5760 five-minute candles
DAY = parse_timeframe("1d")
FIVE = parse_timeframe("5m")
TRADE_KEYS = {"side", "entry_time", "entry_price", "exit_time", "exit_price", "size", "pnl", "exit_reason"}


def tradewind(*args: str, tmp_path: Path, env: dict[str, str] | None = None,
              merge: bool = False) -> subprocess.CompletedProcess[str]:
    """The CLI in its own process; ``merge`` sends stderr into stdout, so their order shows."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TRADEWIND_", "OPENAI_"))}
    environ.update({"TRADEWIND_DATABASE_URL": f"sqlite:///{tmp_path / 'tw.db'}", "COLUMNS": "200", **(env or {})})
    return subprocess.run([sys.executable, "-m", "tradewind", *args], cwd=tmp_path, env=environ, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT if merge else subprocess.PIPE, timeout=120)


@pytest.fixture(scope="module")
def goog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """backtesting.py's GOOG daily candles (2004-2013) as a CSV that ``read_candle_file`` reads."""
    from backtesting.test import GOOG

    path = tmp_path_factory.mktemp("goog") / "GOOG.csv"
    frame = GOOG.rename(columns=str.lower)
    frame.index.name = "date"  # ISO dates: naive means UTC
    frame.to_csv(path)
    return path


def candles_of(path: Path, timeframe: Timeframe) -> list[Candle]:
    report = read_candle_file(path, timeframe=timeframe)
    assert not report.rejected
    return list(report.candles)


def table(out: str) -> dict[str, list[str]]:
    """A Rich table's rows (and header) by their first cell."""
    lines = [line.replace("┃", "│") for line in out.splitlines()]
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines if line.count("│") >= 2]
    return {row[0]: row[1:] for row in rows}


def at(day: str) -> float:
    return datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()


# --- a run and its files --------------------------------------------------------------------------------------------


def test_sma_cross_writes_the_report_as_json_and_one_html_page(tmp_path: Path, goog: Path) -> None:
    result = tradewind("backtest", "--data", str(goog), "--symbol", "GOOG", "--timeframe", "1d", "--strategy",
                       "sma-cross", "--param", "fast=10", "--param", "slow=30", "--json", "[bold]out.json",
                       "--html", "report.html", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "[bold]out.json").read_text())
    assert {"metrics", "trades", "equity"} <= set(report)
    assert report["params"] == {"fast": 10, "slow": 30, "short": False, "size": 1.0}  # as run: typed, defaults in

    candles = candles_of(goog, DAY)
    spec = BacktestSpec("GOOG", DAY, strategy="sma-cross", params={"fast": "10", "slow": "30"})
    direct = run_backtest_sync(spec, candles, analysts={"rules": RulesAnalyst()})
    assert report["metrics"] == direct["metrics"] and report["trades"] == direct["trades"]
    assert report["equity"] == plain(direct)["equity"]  # the curve's columns, written out as [[time, value], ...]

    first, last = candles[0].time, candles[-1].time + DAY.seconds
    trades = report["trades"]
    assert len(trades) == report["metrics"]["trades"] > 10
    for trade in trades:
        assert TRADE_KEYS <= set(trade)
        for key in ("entry_time", "exit_time"):
            assert type(trade[key]) in (int, float) and first <= trade[key] <= last  # epoch seconds, not ms
        assert trade["exit_time"] > trade["entry_time"]
    times = [t for t, _ in report["equity"]]
    assert all(type(t) in (int, float) for t in times) and times == sorted(set(times))
    assert first <= times[0] and times[-1] <= last

    rows = table(result.stdout)  # the summary: the report's figures, n/a for what it could not compute
    assert rows["total return"] == [f"{report['metrics']['total_return']:.2%}"]
    assert rows["trades"] == [str(len(trades))] and rows["candles"] == [str(len(candles))]
    assert rows["Sharpe"] == [f"{report['metrics']['sharpe_ratio']:.2f}"]
    assert "wrote [bold]out.json" in result.stdout  # a file name from the command line prints literally

    page = (tmp_path / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("<html") == 1 and page.rstrip().endswith("</html>")
    assert "http://" not in page and "https://" not in page and "<script" not in page and "<link" not in page
    for trade in trades:  # the trades table lists each one, at its entry time (UTC)
        assert datetime.fromtimestamp(trade["entry_time"], UTC).strftime("%Y-%m-%d") in page


def test_stored_candles_after_data_import(tmp_path: Path) -> None:
    env = {"TRADEWIND_DATABASE_URL": f"sqlite:///{tmp_path / 'tw.db'}"}
    imported = CliRunner().invoke(app, ["data", "import", str(ETH_BTC), "--symbol", "ETH/BTC", "--timeframe", "5m"],
                                  env=env)
    assert imported.exit_code == 0, imported.stderr
    args = ["--symbol", "ETHBTC", "--timeframe", "5m", "--strategy", "rsi-reversion", "--risk", "conservative",
            "--from", "2018-01-12", "--to", "2018-01-15T12:00:00Z", "--cash", "5000", "--fee", "0.0005"]
    result = tradewind("backtest", "--stored", *args, "--json", "stored.json", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "stored.json").read_text())

    spec = BacktestSpec("ETHBTC", FIVE, strategy="rsi-reversion", risk="conservative", cash=5000, fee=0.0005,
                        start=at("2018-01-12"), end=at("2018-01-15T12:00"))
    direct = run_backtest_sync(spec, candles_of(ETH_BTC, FIVE), analysts={"rules": RulesAnalyst()})
    assert report["metrics"] == direct["metrics"] and report["trades"] == direct["trades"]
    assert report["metrics"]["start"] == at("2018-01-12") + FIVE.seconds  # the close of the range's first candle
    assert report["metrics"]["initial_equity"] == 5000
    assert report["engine"] == "kernel"  # a risk profile with limits: the kernel itself
    assert table(result.stdout)["candles"] == [str(12 * 24 * 3 + 12 * 12)]

    missing = CliRunner().invoke(app, ["backtest", "--stored", *args, "--symbol", "LTC/BTC"], env=env)
    assert missing.exit_code == 2
    assert missing.stderr.strip().splitlines() == [
        "error: --stored: no LTCBTC 5m candles in the database; import a file with tradewind data import first"]
    later = CliRunner().invoke(app, ["backtest", "--stored", *args, "--from", "2019-01-01", "--to", "2019-02-01"],
                               env=env)
    assert later.exit_code == 2
    assert later.stderr.strip().splitlines() == ["error: --from: no candle in that range: nothing to backtest"]


# --- bad input: one line naming the option, exit 2 ------------------------------------------------------------------

BAD = [
    (["--param", "fast"], "--param: use NAME=VALUE, got 'fast'"),
    (["--param", "fast=abc"], "params.fast: fast must be int, got 'abc'"),
    (["--param", "fast=40", "--param", "slow=30"], "params.fast: fast (40) must be shorter than slow (30)"),
    (["--param", "nope=1"], "params.nope: unknown parameter 'nope'"),
    (["--param", "fast=5", "--param", "fast=6"], "--param: 'fast' is given twice"),
    (["--from", "2030-01-01"], "--from: no candle in that range: nothing to backtest"),
    (["--to", "1999-12-31"], "--to: no candle in that range: nothing to backtest"),
    (["--from", "2010-01-02", "--to", "2010-01-01"], "--from: --from must be before --to"),
    (["--from", "yesterday"], "--from: use an ISO date/time (UTC)"),
    (["--to", "1700000000000"], "--to: epoch seconds (not milliseconds)"),
    (["--cash", "-5"], "--cash: cash must be a positive amount"),
    (["--fee", "0.7"], "--fee: fee must be a fraction"),
    (["--interval", "0"], "--interval: interval_minutes must be a whole number of minutes within 1..60"),
    (["--higher", "7m"], "--higher: invalid timeframe '7m'"),
    (["--trade-timeframe", "1h"], "--trade-timeframe: trade timeframe 1h must be a multiple of 1d"),
    (["--risk", "yolo"], "--risk: unknown risk profile 'yolo'"),
    (["--warmup", "-1"], "--warmup: warmup must be a whole number"),
    (["--analyst", "gpt"], "--analyst: use rules or llm, got 'gpt'"),
    (["--compare", "rules,[bold]x"], "--compare: name two analysts out of rules and llm, e.g. rules,llm; "
                                     "got 'rules,[bold]x'"),
    (["--compare", "rules,llm", "--analyst", "llm"], "--analyst/--compare: give one of them"),
    (["--compare", "rules,llm", "--html", "x.html"], "--html: a page shows one run"),
    (["--max-cost", "-1"], "--max-cost: must be an amount of USD of at least 0"),
    (["--stored"], "--data/--stored: give one of them"),
]


@pytest.mark.parametrize(("extra", "message"), BAD, ids=[" ".join(extra) for extra, _ in BAD])
def test_bad_input_is_one_line_naming_the_option(tmp_path: Path, goog: Path, extra: list[str], message: str) -> None:
    args = ["backtest", "--data", str(goog), "--symbol", "GOOG", "--timeframe", "1d", "--strategy", "sma-cross", *extra]
    result = CliRunner().invoke(app, args, env={"TRADEWIND_DATABASE_URL": f"sqlite:///{tmp_path / 'tw.db'}"})
    assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {message}"), result.stderr
    assert result.stdout == ""  # refused before the run: no progress bar, no table


def test_unknown_strategy_missing_files_and_bad_outputs_fail_in_one_line(tmp_path: Path, goog: Path) -> None:
    env = {"TRADEWIND_DATABASE_URL": f"sqlite:///{tmp_path / 'tw.db'}"}
    base = ["backtest", "--symbol", "GOOG", "--timeframe", "1d"]
    cases = {
        "unknown strategy '[bold]x[/]': use one of rsi-reversion, signal-follower, sma-cross or a dotted path":
            [*base, "--data", str(goog), "--strategy", "[bold]x[/]"],
        f"{tmp_path / '[bold]none.csv'}: cannot read file: file not found":
            [*base, "--data", str(tmp_path / "[bold]none.csv"), "--strategy", "sma-cross"],
        f"--json: {tmp_path} is a directory; give a file name":
            [*base, "--data", str(goog), "--strategy", "sma-cross", "--json", str(tmp_path)],
        f"--html: the folder {tmp_path / 'no' / 'such'} does not exist":
            [*base, "--data", str(goog), "--strategy", "sma-cross", "--html", str(tmp_path / "no" / "such" / "r.html")],
        "--data/--stored: give one of them": [*base, "--strategy", "sma-cross"],
        "--symbol: invalid symbol '[red]GOOG'": [*base[:2], "[red]GOOG", *base[3:], "--data", str(goog),
                                                 "--strategy", "sma-cross"],
    }
    for message, args in cases.items():
        result = CliRunner().invoke(app, args, env=env)
        assert result.exit_code == 2, (args, result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (message, result.stderr)
    assert not list(tmp_path.glob("*.json")) and not list(tmp_path.glob("*.html"))

    in_a_process = tradewind("backtest", "--data", str(goog), "--symbol", "GOOG", "--timeframe", "1d", "--strategy",
                             "sma-cross", "--param", "slow=1", tmp_path=tmp_path)
    assert in_a_process.returncode == 2 and "Traceback" not in in_a_process.stderr
    assert in_a_process.stderr.strip().splitlines() == ["error: params.slow: slow must be within 2..10000, got 1"]


# --- the LLM analyst: estimate first, never past --max-cost, replayed from the decision log --------------------------


def test_compare_rules_and_llm_estimates_first_and_keeps_to_max_cost(tmp_path: Path) -> None:
    args = ["backtest", "--data", str(ETH_BTC), "--symbol", "ETH/BTC", "--timeframe", "5m", "--strategy",
            "signal-follower", "--trade-timeframe", "1h", "--higher", "4h", "--warmup", "12",
            "--from", "2018-01-11", "--to", "2018-01-12"]
    with FakeOpenAI(signal_answer, model="gpt-4o-mini", tokenizer=True).running() as fake:
        env = {"TRADEWIND_LLM_BASE_URL": fake.base_url, "TRADEWIND_LLM_MODEL": "gpt-4o-mini"}
        in_process = {"TRADEWIND_DATABASE_URL": f"sqlite:///{tmp_path / 'tw.db'}", **env}
        refused = CliRunner().invoke(app, [*args, "--compare", "rules,llm", "--max-cost", "0.000001", "--json",
                                           str(tmp_path / "no.json")], env=in_process)
        assert refused.exit_code == 4, refused.stderr
        assert "13 analyses: 0 from the decision log, 13 to gpt-4o-mini" in refused.stderr  # 24 hours, from the 12th
        assert refused.stderr.strip().splitlines()[-1].startswith("error: --max-cost: the run would cost $")
        assert "nothing was called" in refused.stderr and refused.stdout == ""
        assert fake.chat_requests() == [] and not (tmp_path / "no.json").exists()

        both = tradewind(*args, "--compare", "rules,llm", "--max-cost", "1", "--json", "both.json", tmp_path=tmp_path,
                         env=env, merge=True)
        assert both.returncode == 0, both.stdout
        out = both.stdout
        assert out.index("estimate: 13 analyses") < out.index("backtesting ETHBTC 5m (rules)") \
            < out.index("backtesting ETHBTC 5m (llm)")
        assert len(fake.chat_requests()) == 13
        runs = json.loads((tmp_path / "both.json").read_text())["runs"]
        assert list(runs) == ["rules", "llm"] and runs["llm"]["analyst"] == "llm"
        assert [t for t, _ in runs["rules"]["equity"]] == [t for t, _ in runs["llm"]["equity"]]  # the same candles
        rows = table(out)
        assert rows["metric"] == ["rules", "llm"]
        assert rows["trades"] == [str(runs[name]["metrics"]["trades"]) for name in ("rules", "llm")]
        assert runs["llm"]["metrics"]["trades"] > 0  # the fake model says Long: the follower trades it
        with sqlite3.connect(tmp_path / "tw.db") as db:
            assert db.execute("SELECT count(*) FROM ai_decision_logs").fetchone()[0] == 13

        again = CliRunner().invoke(app, [*args, "--analyst", "llm", "--offline", "--json", str(tmp_path / "llm.json")],
                                   env=in_process)
        assert again.exit_code == 0, again.stderr
        assert "estimate: 13 analyses, all from the decision log: no call to gpt-4o-mini, $0" in again.stderr
        assert json.loads((tmp_path / "llm.json").read_text()) == runs["llm"]  # answered from the log: exact
        assert len(fake.chat_requests()) == 13


def test_a_run_costing_more_than_estimated_stops_before_the_cap(tmp_path: Path) -> None:
    """The estimate trusts the log's history (no repair so far); here every answer needs one, so the run
    would cost twice the estimate: the spend limit ends it before a call that could pass the cap."""
    def junk_first(request: dict[str, Any]) -> str:  # nonsense first, a valid answer once told what is wrong
        if any("unusable" in m["content"] for m in request["messages"]):
            return signal_answer(request)
        return '{"signal": "Up", "confidence": 7}'

    args = ["backtest", "--data", str(ETH_BTC), "--symbol", "ETHBTC", "--timeframe", "5m", "--strategy",
            "signal-follower", "--trade-timeframe", "1h", "--warmup", "4", "--analyst", "llm"]
    with FakeOpenAI(signal_answer, model="gpt-4o-mini", tokenizer=True).running() as fake:
        env = {"TRADEWIND_DATABASE_URL": f"sqlite:///{tmp_path / 'tw.db'}", "TRADEWIND_LLM_BASE_URL": fake.base_url,
               "TRADEWIND_LLM_MODEL": "gpt-4o-mini"}
        history = CliRunner().invoke(app, [*args, "--from", "2018-01-20", "--to", "2018-01-20T12:00"], env=env)
        assert history.exit_code == 0, history.stderr
        fake.handler = junk_first
        window = ["--from", "2018-01-11", "--to", "2018-01-11T12:00"]
        estimate = CliRunner().invoke(app, [*args, *window, "--max-cost", "0"], env=env)
        assert estimate.exit_code == 4 and "9 analyses: 0 from the decision log" in estimate.stderr
        estimated = float(re.search(r"about \$([0-9.]+)", estimate.stderr).group(1))  # type: ignore[union-attr]
        before = len(fake.chat_requests())
        with sqlite3.connect(tmp_path / "tw.db") as db:
            logged = db.execute("SELECT max(id) FROM ai_decision_logs").fetchone()[0]
        cap = estimated * 1.3
        run = CliRunner().invoke(app, [*args, *window, "--max-cost", f"{cap:.6f}", "--json", str(tmp_path / "r.json")],
                                 env=env)
        assert run.exit_code == 4, run.stderr
        line = run.stderr.strip().splitlines()[-1]
        assert line.startswith("error: --max-cost: the llm run stopped at candle ") and "nothing was written" in line
        with sqlite3.connect(tmp_path / "tw.db") as db:
            spent = db.execute("SELECT sum(cost_usd) FROM ai_decision_logs WHERE id > ?", (logged,)).fetchone()[0]
        assert 0 < spent <= cap and f"with ${spent:.4f} spent" in line
        assert len(fake.chat_requests()) - before < 18 and not (tmp_path / "r.json").exists()
