"""Import a candle file (CSV or Freqtrade JSON) into a ``CandleStore``.

The file is parsed completely before anything is written, so a file that cannot be read
(``CandleFileError``) imports nothing; rows that break candle rules are reported, not stored.
Candles are saved in batches, each its own transaction. Ctrl-C is held while a batch is saved
and raised as ``ImportInterrupted`` once it is counted, so "N saved" is exactly what is stored;
saving is idempotent, so running the same import again completes it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from tradewind.domain.ports import CandleStore
from tradewind.domain.symbol import normalize_symbol
from tradewind.domain.timeframe import Timeframe, parse_timeframe
from tradewind.market.candle_file import Rejection, read_candle_file
from tradewind.storage.candles import SqlCandleStore
from tradewind.storage.db import create_engine_for, storage_errors
from tradewind.storage.migrate import upgrade_database

__all__ = ["ImportInterrupted", "ImportSummary", "import_candle_file", "import_into_database"]


@dataclass(frozen=True)
class ImportSummary:
    """``rows`` read, ``imported`` new, ``skipped`` already stored, and the ``rejected`` rows."""

    rows: int
    imported: int
    skipped: int
    rejected: list[Rejection]


class ImportInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the import: ``saved`` of ``total`` valid candles are committed, ``imported`` of
    them new. ``total`` is None when the file was still being read (nothing saved)."""

    def __init__(self, *, saved: int, imported: int, total: int | None) -> None:
        super().__init__(f"import interrupted after {saved} of {total} candles")
        self.saved = saved
        self.imported = imported
        self.total = total


def import_candle_file(
    store: CandleStore,
    path: Path,
    *,
    symbol: str,
    timeframe: Timeframe,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = 5000,
) -> ImportSummary:
    """Store the valid candles of ``path``; ``progress(done, total)`` follows each saved batch."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    key, tf = normalize_symbol(symbol), parse_timeframe(timeframe)
    try:
        report = read_candle_file(Path(path), timeframe=tf)
    except KeyboardInterrupt as exc:
        raise ImportInterrupted(saved=0, imported=0, total=None) from exc
    total = len(report.candles)
    done = imported = 0
    try:
        if progress is not None:
            progress(0, total)
        for start in range(0, total, batch_size):
            batch = report.candles[start : start + batch_size]
            with _whole_batch():
                imported += store.save(key, tf, batch)
                done += len(batch)
            if progress is not None:
                progress(done, total)
    except KeyboardInterrupt as exc:
        raise ImportInterrupted(saved=done, imported=imported, total=total) from exc
    return ImportSummary(rows=report.rows, imported=imported, skipped=total - imported, rejected=report.rejected)


def import_into_database(
    url: str,
    path: Path,
    *,
    symbol: str,
    timeframe: Timeframe,
    progress: Callable[[int, int], None] | None = None,
) -> ImportSummary:
    """``import_candle_file`` into the database at ``url``, migrated first.

    A database that cannot be reached or written raises ``StorageUnavailable`` naming it.
    """
    upgrade_database(url)
    engine = create_engine_for(url)
    try:
        with storage_errors(url):
            return import_candle_file(SqlCandleStore(engine), path, symbol=symbol, timeframe=timeframe,
                                      progress=progress)
    finally:
        engine.dispose()


@contextmanager
def _whole_batch() -> Iterator[None]:
    """Hold a Ctrl-C that arrives while a batch is saved until the batch is counted.

    Otherwise it could land between the commit and the count, and the import would report one
    batch fewer than it stored. A second Ctrl-C is not held (a save stuck on a lock can still be
    abandoned; its transaction rolls back). Only the main thread receives signals; elsewhere
    this holds nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []

    def hold(signum: int, _frame: FrameType | None) -> None:
        if held:
            raise KeyboardInterrupt
        held.append(signum)

    previous = signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)
    if held:
        if callable(previous):
            previous(signal.SIGINT, None)
        elif previous != signal.SIG_IGN:
            raise KeyboardInterrupt
