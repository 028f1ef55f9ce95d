"""Storage on real SQLite and PostgreSQL: migrations, the candle store, constraints, pragmas."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, insert
from sqlalchemy.exc import IntegrityError

from tradewind.domain import Candle, Timeframe
from tradewind.domain.errors import Unavailable, ValidationError
from tradewind.storage.candles import SqlCandleStore
from tradewind.storage.db import check_connection, create_engine_for
from tradewind.storage.migrate import alembic_config, upgrade_database
from tradewind.storage.tables import CandleRow, include_name, metadata

T0 = 1_700_000_000 - 1_700_000_000 % 60  # a minute boundary
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def minute_candles(count: int, *, start: int = T0, base: float = 100.0) -> list[Candle]:
    return [
        Candle(start + 60 * i, base + i, base + i + 2.5, base + i - 1.25, base + i + 0.5, 10.0 + i, None)
        for i in range(count)
    ]


def test_migrations_apply_once_and_match_the_models(database_url: str) -> None:
    assert upgrade_database(database_url) == HEAD
    assert upgrade_database(database_url) == HEAD  # at head already: a no-op
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            assert {"candles", "alembic_version"} <= set(inspect(connection).get_table_names())
            assert MigrationContext.configure(connection).get_current_revision() == HEAD
            context = MigrationContext.configure(connection, opts={"include_name": include_name})
            assert compare_metadata(context, metadata) == []
            unique = inspect(connection).get_unique_constraints("candles")
            assert [(u["name"], u["column_names"]) for u in unique] == [
                ("uq_candles_symbol_timeframe_time", ["symbol", "timeframe", "time"])
            ]
    finally:
        engine.dispose()


def test_migrations_from_several_processes_at_once(database_url: str) -> None:
    with ProcessPoolExecutor(3, mp_context=multiprocessing.get_context("spawn")) as pool:
        assert list(pool.map(upgrade_database, [database_url] * 3)) == [HEAD] * 3


def test_round_trip_keeps_exact_float64_values(engine: Engine) -> None:
    store = SqlCandleStore(engine)
    tricky = [
        Candle(T0, 0.1, 0.30000000000000004, 0.1, 0.2, 1 / 3, None),
        Candle(T0 + 60, 0.08939998, 0.08939998, 0.08909372, 0.08909374, 81.45320695, 1e-9),
        Candle(T0 + 120, 1e-300, 2.5e-300, 1e-300, 2e-300, 0.0, 0.0),
        Candle(T0 + 180, 1.7976931348623157e308, 1.7976931348623157e308, 1e308, 1e308, 2.0**53 + 2, None),
        Candle(T0 + 240, 12345.678901234567, 12346.0, 12345.0, 12345.5, 9_007_199_254_740_993.0, 0.25),
    ]
    assert store.save("BTCUSDT", Timeframe.M1, tricky) == len(tricky)
    assert store.latest("BTCUSDT", Timeframe.M1, 100) == tricky
    assert store.latest("BTCUSDT", Timeframe.M1, 2) == tricky[-2:]
    assert store.since("BTCUSDT", Timeframe.M1, T0 + 120) == tricky[2:]
    assert store.latest("BTCUSDT", Timeframe.M5, 10) == []
    assert store.latest("BTCUSDT", Timeframe.M1, 0) == []


def test_save_is_idempotent_and_first_values_win(engine: Engine) -> None:
    store = SqlCandleStore(engine, chunk_rows=7)  # several executemany chunks
    candles = minute_candles(50)
    assert store.save("BTCUSDT", Timeframe.M1, candles[:30]) == 30
    assert store.save("BTCUSDT", Timeframe.M1, candles[:30]) == 0
    assert store.save("BTCUSDT", Timeframe.M1, list(reversed(candles))) == 20
    changed = [Candle(c.time, 1.0, 1.0, 1.0, 1.0, 1.0) for c in candles[:5]]
    assert store.save("BTCUSDT", Timeframe.M1, changed) == 0
    assert store.since("BTCUSDT", Timeframe.M1, 0) == candles
    assert store.count() == 50


def test_save_dedupes_its_input_and_handles_sparse_times(engine: Engine) -> None:
    store = SqlCandleStore(engine)
    candles = minute_candles(10)
    store.save("BTCUSDT", Timeframe.M1, candles[3:6])
    far = Candle(T0 + 60 * 100_000, 5.0, 6.0, 4.0, 5.5, 1.0)
    batch = [candles[0], candles[0], candles[4], far, candles[9]]  # spans 100k minutes: IN-list lookup
    assert store.save("BTCUSDT", Timeframe.M1, batch) == 3
    assert [c.time for c in store.since("BTCUSDT", Timeframe.M1, 0)] == [
        candles[0].time, *(c.time for c in candles[3:6]), candles[9].time, far.time
    ]


def test_count_symbols_and_symbol_normalisation(engine: Engine) -> None:
    store = SqlCandleStore(engine)
    assert store.count() == 0 and store.symbols() == {}
    store.save("btc/usdt", Timeframe.H1, minute_candles(3, start=T0 - T0 % 3600))
    store.save("BTC-USDT", Timeframe.M1, minute_candles(4))
    store.save("ETHBTC", Timeframe.M5, minute_candles(2, start=T0 - T0 % 300))
    assert store.count() == 9
    assert store.count("BTCUSDT") == 7
    assert store.count("BTCUSDT", Timeframe.M1) == 4
    assert store.count(timeframe=Timeframe.M5) == 2
    assert store.symbols() == {"BTCUSDT": ["1m", "1h"], "ETHBTC": ["5m"]}
    assert store.latest("btc_usdt", Timeframe.M1, 1) == minute_candles(4)[-1:]


def test_a_forming_candle_is_refused(engine: Engine) -> None:
    store = SqlCandleStore(engine)
    forming = Candle(T0, 1.0, 1.0, 1.0, 1.0, 1.0, closed=False)
    with pytest.raises(ValidationError) as caught:
        store.save("BTCUSDT", Timeframe.M1, [forming])
    assert caught.value.field == "closed"
    assert store.count() == 0


def test_unique_constraint_holds(engine: Engine) -> None:
    row = {"symbol": "BTCUSDT", "timeframe": "1m", "time": T0, "open": 1.0, "high": 1.0, "low": 1.0,
           "close": 1.0, "volume": 1.0, "spread": None}
    with engine.begin() as connection:
        connection.execute(insert(CandleRow), [row])
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert(CandleRow), [row])
    with engine.begin() as connection:  # another timeframe is another candle
        connection.execute(insert(CandleRow), [{**row, "timeframe": "5m"}])
    assert SqlCandleStore(engine).count() == 2


def test_large_batches_and_concurrent_writers(engine: Engine) -> None:
    store = SqlCandleStore(engine)
    candles = minute_candles(50_000)
    assert store.save("BTCUSDT", Timeframe.M1, candles[:40_000]) == 40_000
    # Four threads race over overlapping slices; every candle is stored once and counted once.
    slices = [candles[i * 2_000 : i * 2_000 + 8_000] for i in range(16)] + [candles]
    with ThreadPoolExecutor(4) as pool:
        new = sum(pool.map(lambda part: store.save("BTCUSDT", Timeframe.M1, part), slices))
    assert new == 10_000
    assert store.count("BTCUSDT", Timeframe.M1) == 50_000
    assert store.latest("BTCUSDT", Timeframe.M1, 3) == candles[-3:]


def test_sqlite_file_is_created_with_wal_and_pragmas(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'dir' / 'tradewind.db'}"
    upgrade_database(url)
    engine = create_engine_for(url)
    try:
        assert check_connection(engine)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()
    assert (tmp_path / "nested" / "dir" / "tradewind.db").is_file()


def test_postgres_urls_use_psycopg_3() -> None:
    engine = create_engine_for("postgresql://user:secret@127.0.0.1:1/nowhere")
    try:
        assert engine.dialect.driver == "psycopg"
    finally:
        engine.dispose()
    assert create_engine_for("postgres://u@h/db").dialect.driver == "psycopg"


def test_an_unreachable_database_is_reported_not_raised() -> None:
    engine = create_engine_for("postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=1")
    try:
        assert check_connection(engine) is False
    finally:
        engine.dispose()


def test_migrating_an_unreachable_database_raises_unavailable() -> None:
    with pytest.raises(Unavailable, match="unavailable"):
        upgrade_database("postgresql://postgres:secret@127.0.0.1:1/nowhere?connect_timeout=1")


def test_unsupported_database_urls_name_the_setting() -> None:
    with pytest.raises(ValidationError) as caught:
        create_engine_for("mysql://u@h/db")
    assert caught.value.field == "database_url"
