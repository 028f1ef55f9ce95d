"""Candle files for import and replay: CSV with a header, or Freqtrade's JSON "values" rows.

A file either parses as a whole or raises ``CandleFileError`` (unreadable, truncated JSON,
missing CSV column...). Inside a readable file each bad row is rejected with its line and field
and the good rows are kept, so one bad candle never hides the thousands of good ones around it.
Whatever the bytes, nothing else escapes: JSON nested past the parser's depth, a number too long
to convert or too large for a float, a cell that is a list or a string all end as one of the two,
and a message quotes at most an ``excerpt`` of the value.

Accepted shapes (``.gz`` variants are gunzipped first):

- ``.csv``: header naming a time column (``time``, ``timestamp`` or ``date``) and ``open high
  low close volume``, optionally ``spread``; extra columns are ignored. Times are epoch seconds,
  epoch milliseconds (told apart by magnitude) or ISO-8601 (naive means UTC).
- ``.json``: ``[[timestamp_ms, open, high, low, close, volume], ...]`` (Freqtrade's format).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import stat
import sys
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from tradewind.domain.candle import Candle, check_candle
from tradewind.domain.errors import InvalidCandle, ValidationError
from tradewind.domain.excerpt import excerpt
from tradewind.domain.timeframe import Timeframe, parse_timeframe

__all__ = ["CandleFileError", "CandleFileReport", "Rejection", "check_candle_path", "read_candle_file"]

TIME_COLUMNS = ("time", "timestamp", "date")
PRICE_COLUMNS = ("open", "high", "low", "close", "volume")
JSON_FIELDS = 6

# Epoch seconds reach 1e11 only in the year 5138, epoch milliseconds passed it in 1973.
_MILLISECONDS_FROM = 100_000_000_000
_YEAR_10000 = 253_402_300_800  # first second datetime cannot show; later "times" are misread units
_TIME_LIMIT = 2**63  # beyond any unit of a real time; larger values would overflow float arithmetic
_FIELDS = ("time", *PRICE_COLUMNS, "spread")


class CandleFileError(ValidationError):
    """The file cannot be read as a whole; ``field``, ``line`` and ``position`` say where."""

    code = "INVALID_CANDLE_FILE"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        line: int | None = None,
        position: int | None = None,
    ) -> None:
        super().__init__(message, field=field)
        self.line = line
        self.position = position


@dataclass(frozen=True)
class Rejection:
    """One row left out: ``line`` is the 1-based CSV line (header = 1) or JSON row index."""

    line: int
    field: str | None
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", {self.field}" if self.field else "")
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class CandleFileReport:
    """The valid candles in file order, the rejected rows, and how many data rows were read."""

    candles: list[Candle]
    rejected: list[Rejection]
    rows: int


def read_candle_file(path: Path, *, timeframe: Timeframe | None = None) -> CandleFileReport:
    """Parse ``path``; with ``timeframe`` given, times not aligned to it are rejected too."""
    path = Path(path)
    tf = parse_timeframe(timeframe) if timeframe is not None else None
    kind, compressed = _kind(path)
    text = _read_text(path, compressed=compressed)
    if not text.strip():
        raise CandleFileError(f"{path.name}: file is empty", field="path", line=1)
    rows = _json_rows(text, path.name) if kind == "json" else _csv_rows(text, path.name)
    return _collect(rows, tf)


def check_candle_path(path: Path) -> None:
    """Raise ``CandleFileError`` unless ``path`` is a readable file of a known candle type.

    Cheap (no byte is read), so a caller can refuse a bad path before it touches anything else.
    """
    _kind(Path(path))
    _open(Path(path)).close()


def _kind(path: Path) -> tuple[str, bool]:
    """``("csv" | "json", gzipped)`` from the file name."""
    name = path.name.lower()
    kind = name.removesuffix(".gz").rpartition(".")[2]
    if kind not in ("csv", "json"):
        raise CandleFileError(
            f"{path.name}: unknown candle file type; use .csv, .json, .csv.gz or .json.gz", field="path"
        )
    return kind, name.endswith(".gz")


def _open(path: Path) -> BinaryIO:
    """The file opened for reading, or one line saying why it cannot be (checked before opening,
    so a directory or a pipe is named as such instead of failing or blocking inside ``open``)."""
    where = f"{path}: cannot read file"
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise CandleFileError(f"{where}: is a directory, not a file", field="path")
        if not stat.S_ISREG(mode):
            raise CandleFileError(f"{where}: not a regular file (a device, pipe or socket)", field="path")
        return path.open("rb")
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise CandleFileError(f"{where}: file not found", field="path") from exc
    except PermissionError as exc:
        raise CandleFileError(f"{where}: permission denied", field="path") from exc
    except OSError as exc:
        raise CandleFileError(f"{where}: {exc.strerror or type(exc).__name__}", field="path") from exc


def _read_text(path: Path, *, compressed: bool) -> str:
    with _open(path) as handle:
        try:
            data = handle.read()
            if compressed:
                data = gzip.decompress(data)
        except OSError as exc:  # an I/O error mid-read, and gzip.BadGzipFile
            raise CandleFileError(f"{path.name}: cannot read file: {exc}", field="path") from exc
        except (EOFError, zlib.error) as exc:
            raise CandleFileError(f"{path.name}: truncated or corrupt gzip data: {exc}", field="path") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CandleFileError(
            f"{path.name}: not UTF-8 text (bad byte at offset {exc.start})", field="path", position=exc.start
        ) from exc


# A parsed row is (line, values) with values ordered time, open, high, low, close, volume, spread,
# or (line, Rejection) when the row could not even be split into those values.
_Row = tuple[int, Sequence[object] | Rejection]


def _json_rows(text: str, name: str) -> Iterable[_Row]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        truncated = exc.pos >= len(text.rstrip())
        what = "truncated JSON: unexpected end of data" if truncated else f"invalid JSON: {exc.msg}"
        raise CandleFileError(
            f"{name}: {what} at character {exc.pos} (line {exc.lineno}, column {exc.colno})",
            line=exc.lineno,
            position=exc.pos,
        ) from exc
    except RecursionError:
        raise CandleFileError(
            f"{name}: JSON nested too deeply to read; candle rows are [timestamp_ms, open, high, low, close, volume]",
            position=0,
        ) from None
    except ValueError as exc:  # an integer past Python's int-conversion limit
        raise CandleFileError(
            f"{name}: JSON holds an integer of more than {sys.get_int_max_str_digits()} digits", position=0
        ) from exc
    if not isinstance(data, list):
        raise CandleFileError(
            f"{name}: expected a JSON array of [timestamp_ms, open, high, low, close, volume] rows, "
            f"got {type(data).__name__}",
            position=0,
        )
    return _json_values(data)


def _json_values(data: list[object]) -> Iterable[_Row]:
    for index, item in enumerate(data, start=1):
        if not isinstance(item, list) or len(item) != JSON_FIELDS:
            got = f"{len(item)} fields" if isinstance(item, list) else type(item).__name__
            yield index, Rejection(index, None, f"expected {JSON_FIELDS} fields "
                                   f"[timestamp_ms, open, high, low, close, volume], got {got}")
            continue
        stamp = item[0]
        if isinstance(stamp, (int, float)) and not isinstance(stamp, bool):
            stamp = _to_seconds(stamp)  # anything else is rejected by name in _collect
        yield index, (stamp, item[1], item[2], item[3], item[4], item[5], None)


def _csv_rows(text: str, name: str) -> Iterable[_Row]:
    lines = _numbered(text, name)
    header_line, header = next(((n, row) for n, row in lines if any(cell.strip() for cell in row)), (1, []))
    columns = [cell.strip().lower() for cell in header]
    time_column = next((c for c in TIME_COLUMNS if c in columns), None)
    missing = (["time"] if time_column is None else []) + [c for c in PRICE_COLUMNS if c not in columns]
    if missing:
        hint = " (the file seems to have no header row)" if columns and _csv_time(columns[0]) is not None else ""
        raise CandleFileError(
            f"{name}: missing column {missing[0]!r} in the header (line {header_line}){hint}; need a time column "
            f"({', '.join(TIME_COLUMNS)}) and {', '.join(PRICE_COLUMNS)}",
            field=missing[0],
            line=header_line,
        )
    assert time_column is not None
    wanted = [columns.index(c) for c in (time_column, *PRICE_COLUMNS)]
    spread_at = columns.index("spread") if "spread" in columns else None
    return _csv_values(lines, len(columns), wanted, spread_at)


def _numbered(text: str, name: str) -> Iterator[tuple[int, list[str]]]:
    """CSV rows with the physical line each ends on (quoted cells may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise CandleFileError(f"{name}: unreadable CSV at line {reader.line_num}: {exc}",
                                  line=reader.line_num) from exc
        yield reader.line_num, row


def _csv_values(
    lines: Iterator[tuple[int, list[str]]], width: int, wanted: list[int], spread_at: int | None
) -> Iterable[_Row]:
    for line, row in lines:
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # blank line
        if len(row) != width:
            yield line, Rejection(line, None, f"expected {width} fields as in the header, got {len(row)}")
            continue
        values: list[object] = []
        bad: Rejection | None = None
        for position, column in zip(wanted, ("time", *PRICE_COLUMNS)):
            parsed = _csv_time(row[position]) if column == "time" else _csv_number(row[position])
            if parsed is None:
                expected = "epoch seconds, epoch milliseconds or ISO-8601" if column == "time" else "a number"
                bad = Rejection(line, column, f"{column} must be {expected}, got {excerpt(row[position])}")
                break
            values.append(parsed)
        spread: float | None = None
        if bad is None and spread_at is not None and row[spread_at].strip():
            spread = _csv_number(row[spread_at])
            if spread is None:
                bad = Rejection(line, "spread", f"spread must be a number, got {excerpt(row[spread_at])}")
        values.append(spread)
        yield line, bad if bad is not None else values


def _csv_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _csv_time(text: str) -> int | float | None:
    text = text.strip()
    try:
        return _to_seconds(int(text))
    except ValueError:
        pass
    try:
        return _to_seconds(float(text))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = moment.timestamp()
    return int(seconds) if seconds.is_integer() else seconds


def _to_seconds(stamp: int | float) -> int | float:
    """Epoch milliseconds become seconds; a fraction left over is for ``check_candle`` to reject."""
    if isinstance(stamp, float) and not math.isfinite(stamp):
        return stamp
    if abs(stamp) < _MILLISECONDS_FROM or abs(stamp) >= _TIME_LIMIT:
        return stamp  # seconds already, or out of range (rejected in _collect)
    if isinstance(stamp, int) and stamp % 1000 == 0:
        return stamp // 1000
    return stamp / 1000


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _collect(rows: Iterable[_Row], timeframe: Timeframe | None) -> CandleFileReport:
    candles: list[Candle] = []
    rejected: list[Rejection] = []
    seen: dict[int, int] = {}  # accepted time -> its line
    last_time: int | None = None
    last_line = 0
    count = 0
    for line, values in rows:
        count += 1
        if isinstance(values, Rejection):
            rejected.append(values)
            continue
        numbers = _numbers(line, values)
        if isinstance(numbers, Rejection):
            rejected.append(numbers)
            continue
        try:
            candle = check_candle(*numbers)
        except InvalidCandle as exc:
            rejected.append(Rejection(line, exc.field, str(exc)))
            continue
        t = candle.time
        if timeframe is not None and t % timeframe.seconds:
            rejected.append(Rejection(line, "time", f"time {t} ({_iso(t)}) is not aligned to {timeframe.value}"))
            continue
        if t in seen:
            rejected.append(
                Rejection(line, "time", f"duplicate timestamp {t} ({_iso(t)}): already on line {seen[t]}")
            )
            continue
        if last_time is not None and t < last_time:
            rejected.append(Rejection(
                line, "time",
                f"unsorted: {t} ({_iso(t)}) is earlier than previous row {last_time} ({_iso(last_time)}) "
                f"on line {last_line}",
            ))
            continue
        seen[t] = line
        last_time, last_line = t, line
        candles.append(candle)
    return CandleFileReport(candles, rejected, count)


def _numbers(line: int, values: Sequence[object]) -> Sequence[object] | Rejection:
    """The row's values as ``check_candle`` can take them, or the first that no candle may hold.

    ``check_candle`` converts integers to float and does arithmetic on times, so a 1 MB string, a
    nested list or a 400-digit integer is caught here (named with an excerpt) or made a float.
    """
    out: list[object] = []
    for name, value in zip(_FIELDS, values):
        if value is None and name == "spread":
            out.append(value)
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return Rejection(line, name, f"{name} must be a number, got {excerpt(value)}")
        if name == "time" and (isinstance(value, int) or math.isfinite(value)):
            if value >= _YEAR_10000:
                return Rejection(line, name, f"time is after the year 9999 (microseconds?), got {excerpt(value)}")
            if value <= -_TIME_LIMIT:
                return Rejection(line, name, f"time must be whole non-negative seconds, got {excerpt(value)}")
        if isinstance(value, int) and name != "time" and value.bit_length() > 64:
            try:
                value = float(value)  # exact enough, and its repr stays short
            except OverflowError:
                return Rejection(line, name, f"{name} must be finite, got {excerpt(value)}")
        out.append(value)
    return out
