"""Importing candle files into both real databases: whole, again (idempotent), partly bad, truncated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tradewind.domain import Timeframe
from tradewind.market.candle_file import CandleFileError, read_candle_file
from tradewind.storage.candle_import import import_candle_file
from tradewind.storage.candles import SqlCandleStore

ETH_5M = Path(__file__).parent / "data" / "ETH_BTC-5m.json"


def test_real_file_imports_then_reimports_as_skipped(engine: Engine) -> None:
    store = SqlCandleStore(engine)
    calls: list[tuple[int, int]] = []
    summary = import_candle_file(
        store, ETH_5M, symbol="ETH/BTC", timeframe=Timeframe.M5, progress=lambda d, t: calls.append((d, t)),
        batch_size=2000,
    )
    assert (summary.rows, summary.imported, summary.skipped, summary.rejected) == (5760, 5760, 0, [])
    assert calls == [(0, 5760), (2000, 5760), (4000, 5760), (5760, 5760)]
    expected = read_candle_file(ETH_5M).candles
    assert store.count("ETHBTC", Timeframe.M5) == 5760
    assert store.symbols() == {"ETHBTC": ["5m"]}
    assert store.since("ETHBTC", Timeframe.M5, 0) == expected  # every float exactly as in the file
    assert store.latest("ETHBTC", Timeframe.M5, 10) == expected[-10:]

    again = import_candle_file(store, ETH_5M, symbol="ETHBTC", timeframe=Timeframe.M5)
    assert (again.rows, again.imported, again.skipped, again.rejected) == (5760, 0, 5760, [])
    assert store.count() == 5760


def test_bad_rows_are_reported_and_good_rows_imported(engine: Engine, tmp_path: Path) -> None:
    rows = json.loads(ETH_5M.read_text())[:500]
    rows[9][4] = float("nan")  # row 10: close
    rows[19][2] = rows[19][3] / 2  # row 20: high below low
    rows[29][0] = rows[28][0]  # row 30: duplicate of row 29
    rows[39][0] += 60_000  # row 40: one minute off the 5m grid
    rows[49][5] = -1  # row 50: negative volume
    path = tmp_path / "partly-bad.json"
    path.write_text(json.dumps(rows))
    store = SqlCandleStore(engine)
    summary = import_candle_file(store, path, symbol="ETHBTC", timeframe=Timeframe.M5)
    assert [(r.line, r.field) for r in summary.rejected] == [
        (10, "close"), (20, "high"), (30, "time"), (40, "time"), (50, "volume")
    ]
    assert "duplicate timestamp" in summary.rejected[2].reason
    assert "not aligned to 5m" in summary.rejected[3].reason
    assert (summary.rows, summary.imported, summary.skipped) == (500, 495, 0)
    assert store.count("ETHBTC", Timeframe.M5) == 495


def test_csv_with_bad_lines(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "eth.csv"
    path.write_text(
        "date,open,high,low,close,volume\n"
        "2018-01-10T04:55:00Z,0.0984,0.0994766,0.09828605,0.0994766,1.5\n"
        "2018-01-10T05:00:00Z,0.0994766,0.1,0.099,0.0995,inf\n"
        "2018-01-10T05:05:00Z,0.0995,0.1,0.099,oops,2\n"
        "2018-01-10T05:10:00Z,0.0995,0.1,0.099,0.0996,2\n"
    )
    summary = import_candle_file(SqlCandleStore(engine), path, symbol="ETHBTC", timeframe=Timeframe.M5)
    assert [(r.line, r.field) for r in summary.rejected] == [(3, "volume"), (4, "close")]
    assert (summary.rows, summary.imported, summary.skipped) == (4, 2, 0)


def test_truncated_file_imports_nothing(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_text(ETH_5M.read_text()[:100_000])
    store = SqlCandleStore(engine)
    with pytest.raises(CandleFileError, match="truncated"):
        import_candle_file(store, path, symbol="ETHBTC", timeframe=Timeframe.M5)
    assert store.count() == 0
