"""Importing candle files into both real databases: whole, again (idempotent), partly bad, truncated."""

from __future__ import annotations

import json
import signal
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from tradewind.domain import Candle, Timeframe
from tradewind.domain.errors import StorageUnavailable
from tradewind.market.candle_file import CandleFileError, read_candle_file
from tradewind.storage.candle_import import ImportInterrupted, import_candle_file, import_into_database
from tradewind.storage.candles import SqlCandleStore
from tradewind.storage.db import create_engine_for, storage_errors
from tradewind.storage.migrate import upgrade_database

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


def test_ctrl_c_between_batches_reports_what_is_stored_and_a_rerun_completes(engine: Engine) -> None:
    store = SqlCandleStore(engine)

    def stop_after_two_batches(done: int, total: int) -> None:
        if done == 4000:
            raise KeyboardInterrupt

    with pytest.raises(ImportInterrupted) as caught:
        import_candle_file(store, ETH_5M, symbol="ETHBTC", timeframe=Timeframe.M5, progress=stop_after_two_batches,
                           batch_size=2000)
    assert isinstance(caught.value, KeyboardInterrupt)  # callers that know nothing of it still stop
    assert (caught.value.saved, caught.value.imported, caught.value.total) == (4000, 4000, 5760)
    assert store.count("ETHBTC", Timeframe.M5) == 4000
    again = import_candle_file(store, ETH_5M, symbol="ETHBTC", timeframe=Timeframe.M5)
    assert (again.imported, again.skipped) == (1760, 4000) and store.count() == 5760


class _SignalledStore:
    """A store whose save is hit by a real SIGINT halfway through, as a user's Ctrl-C would."""

    def __init__(self) -> None:
        self.saved: list[int] = []

    def save(self, symbol: str, timeframe: Timeframe, candles: Sequence[Candle]) -> int:
        signal.raise_signal(signal.SIGINT)
        self.saved.append(len(candles))  # the rest of the save still runs: the interrupt is held
        return len(candles)

    def latest(self, symbol: str, timeframe: Timeframe, limit: int) -> list[Candle]:
        return []

    def since(self, symbol: str, timeframe: Timeframe, start_time: int) -> list[Candle]:
        return []


def test_sigint_during_a_save_is_held_until_the_batch_is_counted() -> None:
    store = _SignalledStore()
    with pytest.raises(ImportInterrupted) as caught:
        import_candle_file(store, ETH_5M, symbol="ETHBTC", timeframe=Timeframe.M5, batch_size=1000)
    assert store.saved == [1000]  # stopped after the first batch, not inside it
    assert (caught.value.saved, caught.value.imported) == (1000, 1000)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back


def test_unwritable_or_unreachable_database_is_storage_unavailable(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    url = f"sqlite:///{tmp_path / 'afile' / 'sub' / 'x.db'}"
    with pytest.raises(StorageUnavailable, match="cannot create its directory") as caught:
        import_into_database(url, ETH_5M, symbol="ETHBTC", timeframe=Timeframe.M5)
    assert url in str(caught.value) and caught.value.code == "STORAGE_UNAVAILABLE"
    with pytest.raises(StorageUnavailable) as refused:
        import_into_database("postgresql://u:pw@127.0.0.1:1/x?connect_timeout=2", ETH_5M, symbol="ETHBTC",
                             timeframe=Timeframe.M5)
    assert "postgresql://u:***@127.0.0.1:1/x" in str(refused.value) and ":pw@" not in str(refused.value)


def test_a_database_that_refuses_writes_mid_import_is_storage_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "tw.db"
    upgrade_database(f"sqlite:///{path}")
    read_only = f"sqlite:///file:{path}?mode=ro&uri=true"
    engine = create_engine_for(read_only)
    try:
        with pytest.raises(StorageUnavailable, match="readonly database"), storage_errors(read_only):
            import_candle_file(SqlCandleStore(engine), ETH_5M, symbol="ETHBTC", timeframe=Timeframe.M5)
    finally:
        engine.dispose()
    writable = create_engine_for(f"sqlite:///{path}")
    try:  # SQLite raises OperationalError for a statement bug too; that is not an outage
        with pytest.raises(OperationalError, match="no such table"), storage_errors(read_only):
            with writable.connect() as connection:
                connection.exec_driver_sql("SELECT * FROM no_such_table")
    finally:
        writable.dispose()
