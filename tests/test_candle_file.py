"""Candle files: the real Freqtrade data parses whole, and every kind of bad input is pinned down."""

from __future__ import annotations

import gzip
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tradewind.domain import Candle, Timeframe
from tradewind.domain.errors import ValidationError
from tradewind.market.candle_file import CandleFileError, CandleFileReport, Rejection, read_candle_file

DATA = Path(__file__).parent / "data"
ETH_5M = DATA / "ETH_BTC-5m.json"
ETH_1M = DATA / "ETH_BTC-1m.json"
HEADER = "time,open,high,low,close,volume"


def raw_rows(path: Path = ETH_5M) -> list[list[float]]:
    return json.loads(path.read_text())


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def csv_text(rows: list[list[float]], header: str = HEADER) -> str:
    return "\n".join([header, *(",".join(repr(v) for v in row) for row in rows)]) + "\n"


def seconds_rows(count: int) -> list[list[float]]:
    """The first real 5m rows with epoch-second times."""
    return [[row[0] // 1000, *row[1:]] for row in raw_rows()[:count]]


def only(report: CandleFileReport) -> Rejection:
    assert len(report.rejected) == 1, report.rejected
    return report.rejected[0]


def test_real_freqtrade_5m_file_parses_whole() -> None:
    rows = raw_rows()
    report = read_candle_file(ETH_5M, timeframe=Timeframe.M5)
    assert (report.rows, len(report.candles), report.rejected) == (5760, 5760, [])
    first, last = report.candles[0], report.candles[-1]
    assert first == Candle(rows[0][0] // 1000, *rows[0][1:])
    assert datetime.fromtimestamp(first.time, UTC) == datetime(2018, 1, 10, 4, 55, tzinfo=UTC)
    assert datetime.fromtimestamp(last.time, UTC) == datetime(2018, 1, 30, 4, 50, tzinfo=UTC)
    assert [c.close for c in report.candles] == [row[4] for row in rows]  # exact floats
    assert all(b.time - a.time == 300 for a, b in zip(report.candles, report.candles[1:]))


def test_real_1m_file_parses_fast() -> None:
    started = time.perf_counter()
    report = read_candle_file(ETH_1M, timeframe=Timeframe.M1)
    elapsed = time.perf_counter() - started
    assert (report.rows, len(report.candles), report.rejected) == (14397, 14397, [])
    assert elapsed < 1.0, f"{elapsed:.2f}s for 14k rows"


def test_gzipped_json_reads_like_the_plain_file(tmp_path: Path) -> None:
    packed = tmp_path / "ETH_BTC-5m.json.gz"
    packed.write_bytes(gzip.compress(ETH_5M.read_bytes()))
    assert read_candle_file(packed) == read_candle_file(ETH_5M)


@pytest.mark.parametrize("column", ["time", "timestamp", "Date"])
@pytest.mark.parametrize("form", ["seconds", "milliseconds", "iso", "iso-naive", "float"])
def test_csv_time_columns_and_formats(tmp_path: Path, column: str, form: str) -> None:
    rows = raw_rows()[:50]
    expected = read_candle_file(ETH_5M).candles[:50]

    def stamp(ms: int) -> str:
        moment = datetime.fromtimestamp(ms // 1000, UTC)
        return {
            "seconds": str(ms // 1000),
            "milliseconds": str(ms),
            "iso": moment.isoformat().replace("+00:00", "Z"),
            "iso-naive": moment.strftime("%Y-%m-%d %H:%M:%S"),
            "float": f"{ms / 1000:.1f}",
        }[form]

    lines = [f"{column},open,high,low,close,volume,extra"]
    lines += [",".join([stamp(row[0]), *(repr(v) for v in row[1:]), "ignored"]) for row in rows]
    report = read_candle_file(write(tmp_path, "c.csv", "\n".join(lines)), timeframe=Timeframe.M5)
    assert report.rejected == []
    assert report.candles == expected


def test_csv_optional_spread_and_blank_lines(tmp_path: Path) -> None:
    text = "timestamp,open,high,low,close,volume,spread\r\n\r\n1700000100,1,2,0.5,1.5,10,0.01\r\n1700000160,1,2,0.5,1.5,10,\r\n\r\n"
    report = read_candle_file(write(tmp_path, "s.csv", text))
    assert [c.spread for c in report.candles] == [0.01, None]
    assert (report.rows, report.rejected) == (2, [])


# CSV rows: line 1 is the header, so data row k is on line k + 1.
@pytest.mark.parametrize(
    ("line_no", "edit", "field", "words"),
    [
        (4, lambda r: r.__setitem__(4, float("nan")), "close", "must be finite"),
        (5, lambda r: r.__setitem__(2, float("inf")), "high", "must be finite"),
        (6, lambda r: r.__setitem__(2, r[3] * 0.99), "high", "below low"),
        (7, lambda r: r.__setitem__(2, max(r[1], r[4]) * 0.999999), "high", "below open or close"),
        (8, lambda r: r.__setitem__(5, -1.0), "volume", "must not be negative"),
        (9, lambda r: r.__setitem__(1, -0.5), "open", "must not be negative"),
        (10, lambda r: r.__setitem__(3, "abc"), "low", "must be a number"),
        (11, lambda r: r.__setitem__(0, "yesterday"), "time", "ISO-8601"),
        (12, lambda r: r.append(1.0), None, "expected 6 fields"),
        (13, lambda r: r.__setitem__(0, r[0] + 60), "time", "not aligned to 5m"),
    ],
    ids=["nan", "inf", "high<low", "high<close", "negative-volume", "negative-price", "non-numeric",
         "bad-time", "field-count", "misaligned"],
)
def test_csv_bad_rows_name_line_and_field(tmp_path: Path, line_no: int, edit, field: str | None, words: str) -> None:
    rows: list[list[object]] = [list(r) for r in seconds_rows(20)]
    edit(rows[line_no - 2])
    text = "\n".join([HEADER, *(",".join(str(v) for v in row) for row in rows)])
    report = read_candle_file(write(tmp_path, "bad.csv", text), timeframe=Timeframe.M5)
    rejection = only(report)
    assert (rejection.line, rejection.field) == (line_no, field)
    assert words in rejection.reason
    assert (report.rows, len(report.candles)) == (20, 19)


def test_unsorted_and_duplicate_rows(tmp_path: Path) -> None:
    rows = seconds_rows(10)
    between = [rows[3][0] + 30, *rows[3][1:]]  # never seen, but earlier than the row before it
    shuffled = rows[:5] + [rows[2], rows[5], rows[5], rows[6], between] + rows[7:]
    report = read_candle_file(write(tmp_path, "u.csv", csv_text(shuffled)))
    assert [(r.line, r.field) for r in report.rejected] == [(7, "time"), (9, "time"), (11, "time")]
    duplicate_of_kept, duplicate, earlier = (r.reason for r in report.rejected)
    assert duplicate_of_kept.startswith("duplicate timestamp") and "line 4" in duplicate_of_kept
    assert duplicate.startswith("duplicate timestamp") and "line 8" in duplicate
    assert earlier.startswith("unsorted:") and "earlier than previous row" in earlier
    assert [c.time for c in report.candles] == [r[0] for r in rows]
    assert report.rows == 13


def test_unsorted_row_that_is_not_a_duplicate(tmp_path: Path) -> None:
    rows = seconds_rows(6)
    rows.insert(3, [rows[0][0] - 300, *rows[0][1:]])  # earlier than all, never seen
    rejection = only(read_candle_file(write(tmp_path, "u.csv", csv_text(rows))))
    assert (rejection.line, rejection.field) == (5, "time")
    assert rejection.reason.startswith("unsorted:") and "2018-01-10T04:50:00Z" in rejection.reason


def test_json_bad_rows_use_one_based_row_index(tmp_path: Path) -> None:
    rows: list[object] = [list(r) for r in raw_rows()[:10]]
    rows[2][4] = float("nan")  # type: ignore[index]
    rows[4] = rows[4][:5]  # type: ignore[index]
    rows[6][5] = -3.0  # type: ignore[index]
    rows[8][1] = None  # type: ignore[index]
    path = write(tmp_path, "bad.json", json.dumps(rows))  # NaN is written as the NaN literal
    report = read_candle_file(path)
    assert [(r.line, r.field) for r in report.rejected] == [(3, "close"), (5, None), (7, "volume"), (9, "open")]
    assert "expected 6 fields" in report.rejected[1].reason
    assert (report.rows, len(report.candles)) == (10, 6)


def test_truncated_json_names_the_position(tmp_path: Path) -> None:
    text = ETH_5M.read_text()[:200_000]
    with pytest.raises(CandleFileError) as caught:
        read_candle_file(write(tmp_path, "cut.json", text))
    assert isinstance(caught.value, ValidationError)
    assert "truncated" in str(caught.value)
    assert f"character {len(text)}" in str(caught.value)
    assert caught.value.position == len(text)


def test_invalid_json_names_the_position(tmp_path: Path) -> None:
    text = "[[1, 2, 3, 4, 5, 6],\n [1, 2 3]]"
    with pytest.raises(CandleFileError) as caught:
        read_candle_file(write(tmp_path, "bad.json", text))
    assert f"character {text.index('2 3') + 2}" in str(caught.value) and "line 2" in str(caught.value)


def test_microsecond_timestamps_are_not_taken_for_milliseconds(tmp_path: Path) -> None:
    rejection = only(read_candle_file(write(tmp_path, "us.json", "[[1515560100000000, 1, 2, 0.5, 1.5, 10]]")))
    assert (rejection.line, rejection.field) == (1, "time")
    assert "after the year 9999" in rejection.reason


def test_csv_without_header_says_so(tmp_path: Path) -> None:
    with pytest.raises(CandleFileError, match="no header row") as caught:
        read_candle_file(write(tmp_path, "h.csv", "1515560100,1,2,0.5,1.5,10\n"))
    assert (caught.value.field, caught.value.line) == ("time", 1)


def test_json_that_is_not_an_array_of_rows(tmp_path: Path) -> None:
    with pytest.raises(CandleFileError, match="expected a JSON array"):
        read_candle_file(write(tmp_path, "cols.json", '{"date": {"0": 1}}'))


@pytest.mark.parametrize(
    ("header", "field"),
    [("time,open,high,low,close", "volume"), ("when,open,high,low,close,volume", "time"),
     ("time,open,hi,low,close,volume", "high")],
)
def test_missing_csv_column(tmp_path: Path, header: str, field: str) -> None:
    path = write(tmp_path, "m.csv", f"{header}\n1700000100,1,2,0.5,1.5,10\n")
    with pytest.raises(CandleFileError) as caught:
        read_candle_file(path)
    assert caught.value.field == field and caught.value.line == 1
    assert repr(field) in str(caught.value)


@pytest.mark.parametrize("name", ["empty.csv", "empty.json", "blank.csv"])
def test_empty_file(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, name, "\n  \n" if name.startswith("blank") else "")
    with pytest.raises(CandleFileError, match="empty"):
        read_candle_file(path)


def test_unknown_extension_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CandleFileError, match="unknown candle file type") as caught:
        read_candle_file(write(tmp_path, "c.parquet", "x"))
    assert caught.value.field == "path"
    with pytest.raises(CandleFileError, match="cannot read"):
        read_candle_file(tmp_path / "missing.json")


def test_corrupt_gzip(tmp_path: Path) -> None:
    packed = gzip.compress(ETH_5M.read_bytes())
    path = tmp_path / "cut.json.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(CandleFileError, match="gzip"):
        read_candle_file(path)


def test_rejection_reads_well() -> None:
    assert str(Rejection(7, "high", "high 1.0 is below low 2.0")) == "line 7, high: high 1.0 is below low 2.0"
