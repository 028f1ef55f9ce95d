"""Import a candle file (CSV or Freqtrade JSON) into a ``CandleStore``.

The file is parsed completely before anything is written, so a file that cannot be read
(``CandleFileError``) imports nothing; rows that break candle rules are reported, not stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tradewind.domain.ports import CandleStore
from tradewind.domain.symbol import normalize_symbol
from tradewind.domain.timeframe import Timeframe, parse_timeframe
from tradewind.market.candle_file import Rejection, read_candle_file

__all__ = ["ImportSummary", "import_candle_file"]


@dataclass(frozen=True)
class ImportSummary:
    """``rows`` read, ``imported`` new, ``skipped`` already stored, and the ``rejected`` rows."""

    rows: int
    imported: int
    skipped: int
    rejected: list[Rejection]


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
    report = read_candle_file(Path(path), timeframe=tf)
    total = len(report.candles)
    done = imported = 0
    if progress is not None:
        progress(0, total)
    for start in range(0, total, batch_size):
        batch = report.candles[start : start + batch_size]
        imported += store.save(key, tf, batch)
        done += len(batch)
        if progress is not None:
            progress(done, total)
    return ImportSummary(rows=report.rows, imported=imported, skipped=total - imported, rejected=report.rejected)
