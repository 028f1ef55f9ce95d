"""The command line as a user runs it: a real process, real files, a real SQLite database."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tradewind.cli import app

DATA = Path(__file__).parent / "data"


def tradewind(*args: str, tmp_path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TRADEWIND_")}
    environ.update({"TRADEWIND_DATABASE_URL": f"sqlite:///{tmp_path / 'tw.db'}", "COLUMNS": "200"})
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "tradewind", *args], cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=120
    )


def test_invalid_setting_stops_with_one_line_naming_it(tmp_path: Path) -> None:
    result = tradewind("serve", tmp_path=tmp_path, env={"TRADEWIND_BUFFER_SIZE": "lots"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "TRADEWIND_BUFFER_SIZE" in lines[0] and "lots" in lines[0]
    bad_tf = tradewind("db", "upgrade", tmp_path=tmp_path, env={"TRADEWIND_TIMEFRAMES": "1m,2m"})
    assert bad_tf.returncode == 2 and "TRADEWIND_TIMEFRAMES" in bad_tf.stderr and "'2m'" in bad_tf.stderr
    bad_feed = tradewind("db", "upgrade", tmp_path=tmp_path, env={"TRADEWIND_FEED": "mt5"})
    assert bad_feed.returncode == 2 and "TRADEWIND_FEED" in bad_feed.stderr


def test_db_upgrade(tmp_path: Path) -> None:
    result = tradewind("db", "upgrade", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    from alembic.script import ScriptDirectory

    from tradewind.storage.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert f"database at revision {head}" in result.stdout


def test_import_is_idempotent_and_summarised(tmp_path: Path) -> None:
    first = tradewind("data", "import", str(DATA / "ETH_BTC-5m.json"), "--symbol", "ETH/BTC", "--timeframe", "M5", tmp_path=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "imported" in first.stdout and "5760" in first.stdout
    again = tradewind("data", "import", str(DATA / "ETH_BTC-5m.json"), "--symbol", "ethbtc", "--timeframe", "5m", tmp_path=tmp_path)
    assert again.returncode == 0
    summary = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in again.stdout.splitlines() if line.count("│") == 3}
    assert summary["imported"] == "0" and summary["skipped (already stored)"] == "5760"


def test_import_reports_bad_rows_with_line_numbers(tmp_path: Path) -> None:
    rows = json.loads((DATA / "ETH_BTC-5m.json").read_text())[:20]
    rows[3][2] = rows[3][3] / 2  # high below low
    rows[7][5] = -1.0  # negative volume
    rows[11][0] = rows[10][0]  # duplicate timestamp
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(rows).replace(str(rows[15][4]), "NaN", 1))
    result = tradewind("data", "import", str(path), "--symbol", "ETHBTC", "--timeframe", "5m", tmp_path=tmp_path)
    assert result.returncode == 3
    out = result.stdout
    assert "rejected" in out
    for line in ("4", "8", "12"):
        assert any(row.split("│")[1].strip() == line for row in out.splitlines() if row.count("│") == 4), (line, out)
    truncated = tmp_path / "truncated.json"
    truncated.write_text((DATA / "ETH_BTC-5m.json").read_text()[:3000])
    failed = tradewind("data", "import", str(truncated), "--symbol", "ETHBTC", "--timeframe", "5m", tmp_path=tmp_path)
    assert failed.returncode == 1 and "nothing imported" in failed.stderr


def test_import_bad_arguments(tmp_path: Path) -> None:
    result = tradewind("data", "import", str(DATA / "ETH_BTC-5m.json"), "--symbol", "ETHBTC", "--timeframe", "7m", tmp_path=tmp_path)
    assert result.returncode == 2 and "--timeframe" in result.stderr
    missing = tradewind("data", "import", str(tmp_path / "nope.csv"), "--symbol", "ETHBTC", "--timeframe", "5m", tmp_path=tmp_path)
    assert missing.returncode == 2 and "not found" in missing.stderr


def test_evaluate_replays_history_and_prints_the_report(tmp_path: Path) -> None:
    result = tradewind("evaluate", "--data", str(DATA / "ETH_BTC-5m.json"), "--symbol", "ETH/BTC", "--timeframe", "5m",
                       "--higher", "1h,4h", "--step", "10", "--json", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout[result.stdout.index("{"):])
    assert report["predictions_made"] == len(range(99, 5760, 10))
    assert report["resolved"] + report["open"] == report["predictions_made"] and report["resolved"] > 500
    assert 0 <= report["accuracy"] <= 1 and 0 <= report["brier_score"] <= 1
    assert set(report["by_analyst"]) == {"rules"}
    table = tradewind("evaluate", "--data", str(DATA / "ETH_BTC-5m.json"), "--symbol", "ETHBTC", "--timeframe", "M5",
                      "--step", "50", tmp_path=tmp_path)
    assert table.returncode == 0 and "brier score" in table.stdout and "Long: precision / recall" in table.stdout
    bad = tradewind("evaluate", "--data", str(DATA / "ETH_BTC-5m.json"), "--symbol", "ETHBTC", "--timeframe", "5m",
                    "--higher", "7m", tmp_path=tmp_path)
    assert bad.returncode == 2 and "--higher" in bad.stderr


# --- output escapes what came in, and every failure is one line -------------------------------------------------

HEADER = "time,open,high,low,close,volume"


def candles_csv(path: Path, *cells: str) -> Path:
    """Two good 5m rows around one row per bad ``open`` cell."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [f"{1_700_000_100 + 300 * i},{cell},2,0.5,1.5,10" for i, cell in enumerate(("1", *cells, "1"))]
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def table_rows(out: str, columns: int) -> list[list[str]]:
    return [[cell.strip() for cell in line.split("│")[1:-1]] for line in out.splitlines() if line.count("│") == columns + 1]


def stored_candles(database: Path) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as connection:
        return int(connection.execute("SELECT count(*) FROM candles").fetchone()[0])


def test_markup_in_paths_cells_and_symbols_prints_literally(tmp_path: Path) -> None:
    path = candles_csv(tmp_path / "x[" / "]y.csv", "[/]", "[bold]", "[red]z[/red]")  # the path reads x[/]y.csv
    result = tradewind("data", "import", "x[/]y.csv", "--symbol", "BTCUSDT", "--timeframe", "5m", tmp_path=tmp_path)
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr and "MarkupError" not in result.stderr
    reasons = {row[0]: row[2] for row in table_rows(result.stdout, 3) if row[0].isdigit()}
    assert reasons == {"3": "open must be a number, got '[/]'", "4": "open must be a number, got '[bold]'",
                       "5": "open must be a number, got '[red]z[/red]'"}
    assert "from ]y.csv" in result.stdout and stored_candles(tmp_path / "tw.db") == 2
    assert path.exists()

    named = str(candles_csv(tmp_path / "[bold]z.csv", "[/]"))
    env = {"TRADEWIND_DATABASE_URL": f"sqlite:///{tmp_path / 'tw.db'}"}
    replay = CliRunner().invoke(app, ["evaluate", "--data", named, "--symbol", "BTCUSDT", "--timeframe", "5m",
                                      "--warmup", "1"], env=env)
    assert replay.exit_code == 0, replay.stderr
    assert "1 of 3 rows rejected (first: line 3, open: open must be a number, got '[/]')" in replay.stderr

    bad_symbol = CliRunner().invoke(app, ["data", "import", named, "--symbol", "[bold]BTC[/]", "--timeframe", "5m"],
                                    env=env)
    assert bad_symbol.exit_code == 2 and "'[bold]BTC[/]'" in bad_symbol.stderr
    assert len(bad_symbol.stderr.strip().splitlines()) == 1


def test_control_characters_from_input_are_spelled_out(tmp_path: Path) -> None:
    name = "\x1b[31mred.csv"
    candles_csv(tmp_path / name)
    result = tradewind("data", "import", name, "--symbol", "BTCUSDT", "--timeframe", "5m", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "from \\x1b[31mred.csv" in result.stdout


def test_deeply_nested_json_and_directories_fail_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "deep.json").write_text("[" * 100_000)
    deep = tradewind("data", "import", "deep.json", "--symbol", "BTCUSDT", "--timeframe", "5m", tmp_path=tmp_path)
    assert deep.returncode == 1
    assert deep.stderr.strip().splitlines() == [
        "error: deep.json: JSON nested too deeply to read; candle rows are "
        "[timestamp_ms, open, high, low, close, volume] (nothing imported)"
    ]
    (tmp_path / "folder.csv").mkdir()
    folder = tradewind("data", "import", "folder.csv", "--symbol", "BTCUSDT", "--timeframe", "5m",
                       tmp_path=tmp_path, env={"TRADEWIND_DATABASE_URL": f"sqlite:///{tmp_path / 'untouched.db'}"})
    assert folder.returncode == 2
    assert folder.stderr.strip().splitlines() == ["error: folder.csv: cannot read file: is a directory, not a file"]
    assert not (tmp_path / "untouched.db").exists()  # the path is checked before the database is opened
    evaluated = tradewind("evaluate", "--data", "folder.csv", "--symbol", "BTCUSDT", "--timeframe", "5m",
                          tmp_path=tmp_path)
    assert evaluated.returncode == 2 and "is a directory, not a file" in evaluated.stderr


def test_unwritable_sqlite_path_is_one_line_from_a_real_process(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("a regular file, so nothing can be created under it, not even by root")
    url = f"sqlite:///{tmp_path / 'afile' / 'sub' / 'x.db'}"
    result = tradewind("db", "upgrade", tmp_path=tmp_path, env={"TRADEWIND_DATABASE_URL": url})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and url in lines[0] and "Not a directory" in lines[0], result.stderr


UNREACHABLE = "postgresql://nobody:s3cret@127.0.0.1:1/x?connect_timeout=2"


@pytest.mark.parametrize("database", ["postgres", "sqlite-under-a-file"])
@pytest.mark.parametrize("command", ["db upgrade", "data import", "serve", "evaluate llm"])
def test_every_command_that_opens_the_database_names_it_when_it_cannot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, database: str
) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("serve started despite the database"))
    (tmp_path / "afile").write_text("")
    url = UNREACHABLE if database == "postgres" else f"sqlite:///{tmp_path / 'afile' / 'sub' / 'x.db'}"
    data = str(DATA / "ETH_BTC-5m.json")
    args = {
        "db upgrade": ["db", "upgrade"],
        "data import": ["data", "import", data, "--symbol", "ETHBTC", "--timeframe", "5m"],
        "serve": ["serve"],
        "evaluate llm": ["evaluate", "--data", data, "--symbol", "ETHBTC", "--timeframe", "5m", "--analyst", "llm",
                         "--offline"],
    }[command]
    result = CliRunner().invoke(app, args, env={"TRADEWIND_DATABASE_URL": url})
    assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    shown = "postgresql://nobody:***@127.0.0.1:1/x" if database == "postgres" else url
    reason = "Connection refused" if database == "postgres" else "Not a directory"
    assert shown in lines[0] and reason in lines[0] and "s3cret" not in result.stderr
    assert "TRADEWIND_DATABASE_URL" in lines[0]  # the hint


def test_serve_passes_the_server_limits_to_uvicorn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from tradewind.api.server import uvicorn_options
    from tradewind.settings import Settings

    calls: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    env = {"TRADEWIND_DATABASE_URL": f"sqlite:///{tmp_path / 'tw.db'}", "TRADEWIND_WS_MAX_MESSAGE_BYTES": "4096"}
    result = CliRunner().invoke(app, ["serve", "--port", "8123"], env=env)
    assert result.exit_code == 0, result.stderr
    monkeypatch.setenv("TRADEWIND_WS_MAX_MESSAGE_BYTES", "4096")
    expected = uvicorn_options(Settings())
    assert expected["ws_max_size"] == 4096
    assert len(calls) == 1 and calls[0]["port"] == 8123
    assert {key: calls[0][key] for key in expected} == expected


def test_unexpected_errors_end_in_one_line_unless_debugging(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tradewind.storage.candle_import as candle_import

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom [/] [bold]at\nline two")

    monkeypatch.setattr(candle_import, "import_into_database", broken)
    args = ["data", "import", str(DATA / "ETH_BTC-5m.json"), "--symbol", "ETHBTC", "--timeframe", "5m"]
    env = {"TRADEWIND_DATABASE_URL": f"sqlite:///{tmp_path / 'tw.db'}", "TRADEWIND_DEBUG": ""}
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: unexpected RuntimeError: boom [/] [bold]at line two "
        "(a bug in tradewind; set TRADEWIND_DEBUG=1 to see the traceback)"
    ]
    debugging = CliRunner().invoke(app, args, env={**env, "TRADEWIND_DEBUG": "1"})
    assert isinstance(debugging.exception, RuntimeError) and "boom" in str(debugging.exception)


def test_ctrl_c_during_import_says_what_was_stored_and_exits_130(tmp_path: Path) -> None:
    start = 1_600_000_000 // 60 * 60
    total = 60_000  # 12 batches of 5000, each its own transaction: SIGINT lands while they are saved
    rows = [[(start + 60 * i) * 1000, 1.0, 2.0, 0.5, 1.5, 10.0] for i in range(total)]
    (tmp_path / "big.json").write_text(json.dumps(rows))
    database = tmp_path / "tw.db"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TRADEWIND_")}
    environ.update({"TRADEWIND_DATABASE_URL": f"sqlite:///{database}", "COLUMNS": "200"})
    args = [sys.executable, "-m", "tradewind", "data", "import", "big.json", "--symbol", "BTCUSDT", "--timeframe", "1m"]
    process = subprocess.Popen(args, cwd=tmp_path, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            try:
                if stored_candles(database) > 0:  # the first batch is committed: the import is under way
                    break
            except sqlite3.Error:
                pass  # not created or not migrated yet
            time.sleep(0.005)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1
    found = re.search(r"interrupted: (\d+) of 60000 candles saved \((\d+) new\).*running the same import again", stderr)
    assert found, stderr
    saved, new = int(found[1]), int(found[2])
    assert 0 < saved < total and saved == new == stored_candles(database)

    again = CliRunner().invoke(app, ["data", "import", str(tmp_path / "big.json"), "--symbol", "BTCUSDT",
                                     "--timeframe", "1m"], env={"TRADEWIND_DATABASE_URL": f"sqlite:///{database}"})
    assert again.exit_code == 0, again.stderr
    summary = {row[0]: row[1] for row in table_rows(again.stdout, 2)}
    assert summary["imported"] == str(total - saved) and summary["skipped (already stored)"] == str(saved)
    assert stored_candles(database) == total
