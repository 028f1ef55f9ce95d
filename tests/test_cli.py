"""The command line as a user runs it: a real process, real files, a real SQLite database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
