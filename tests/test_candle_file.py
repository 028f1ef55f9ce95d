"""Candle files: the real Freqtrade data parses whole, and every kind of bad input is pinned down."""

from __future__ import annotations

import gzip
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


# --- hostile files: every shape ends as a rejection or one CandleFileError, quoting only an excerpt ---------------

GOOD = [1_700_000_100_000, 1.0, 2.0, 0.5, 1.5, 10.0]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[" * 100_000, "nested too deeply"),
        ("[[" * 50_000 + "]]" * 50_000, "nested too deeply"),
        ("[[" + "7" * 5000 + ", 1, 2, 0.5, 1.5, 10]]", "integer of more than 4300 digits"),
    ],
    ids=["open-brackets", "balanced-nesting", "5000-digit-integer"],
)
def test_json_the_parser_cannot_take_is_one_clear_error(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(CandleFileError) as caught:
        read_candle_file(write(tmp_path, "hostile.json", text))
    assert words in str(caught.value) and len(str(caught.value)) < 200
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("row", "field", "words"),
    [
        ([GOOD[0], [1, [2]], *GOOD[2:]], "open", "open must be a number, got [1, [2]]"),
        ([GOOD[0], *GOOD[1:4], {"close": 1}, GOOD[5]], "close", "close must be a number, got {'close': 1}"),
        ([GOOD[0], *GOOD[1:5], "10"], "volume", "volume must be a number, got '10'"),
        ([GOOD[0], *GOOD[1:5], True], "volume", "volume must be a number, got True"),
        (["2024-01-01", *GOOD[1:]], "time", "time must be a number, got '2024-01-01'"),
        ([GOOD[0], float("inf"), *GOOD[2:]], "open", "must be finite"),
        ([GOOD[0], *GOOD[1:5], 10**4000], "volume", "volume must be finite, got an integer of about 4001 digits"),
        ([10**4000, *GOOD[1:]], "time", "after the year 9999 (microseconds?), got an integer of about 4001 digits"),
        ([-(10**4000), *GOOD[1:]], "time", "non-negative seconds, got an integer of about 4001 digits"),
        ([1e300, *GOOD[1:]], "time", "after the year 9999"),
        ([2**70 + 1, *GOOD[1:]], "time", "after the year 9999"),
    ],
    ids=["nested-list", "dict", "string", "bool", "iso-string-time", "inf", "4000-digit-volume", "4000-digit-time",
         "negative-4000-digit-time", "1e300-time", "odd-2**70-time"],
)
def test_json_values_no_candle_can_hold_are_rejected_by_field(tmp_path: Path, row: list[object], field: str,
                                                              words: str) -> None:
    text = json.dumps([GOOD, row, [GOOD[0] + 300_000, *GOOD[1:]]]).replace("Infinity", "1e400")
    report = read_candle_file(write(tmp_path, "values.json", text))
    rejection = only(report)
    assert (rejection.line, rejection.field) == (2, field)
    assert words in rejection.reason and len(rejection.reason) < 150
    assert len(report.candles) == 2


def test_huge_cells_are_quoted_as_an_excerpt(tmp_path: Path) -> None:
    megabyte = "x" * 1_000_000
    report = read_candle_file(write(tmp_path, "big.json", json.dumps([[GOOD[0], megabyte, *GOOD[2:]]])))
    reason = only(report).reason
    assert len(reason) < 120 and "(1000000 characters)" in reason
    cell = "9" * 50_000 + "x"  # under the csv module's field limit, so the row is read and rejected
    csv_report = read_candle_file(write(tmp_path, "big.csv", f"{HEADER}\n1700000100,{cell},2,0.5,1.5,10\n"))
    assert len(only(csv_report).reason) < 120 and "(50001 characters)" in only(csv_report).reason
    over_limit = "y" * 1_000_000  # past the csv field limit: the file as a whole is refused, briefly
    with pytest.raises(CandleFileError, match="field larger than field limit") as caught:
        read_candle_file(write(tmp_path, "huge.csv", f"{HEADER}\n1700000100,{over_limit},2,0.5,1.5,10\n"))
    assert len(str(caught.value)) < 150


def test_csv_nul_bytes_and_out_of_range_numbers_are_rejections(tmp_path: Path) -> None:
    lines = [HEADER, "1700000100,1\x00,2,0.5,1.5,10", "1700000400,1e400,2,0.5,1.5,10",
             f"{'1' * 4000},1,2,0.5,1.5,10", f"1700000700,1,2,0.5,1.5,{'9' * 5000}", "1700001000,1,2,0.5,1.5,10"]
    report = read_candle_file(write(tmp_path, "odd.csv", "\n".join(lines) + "\n"))
    assert [(r.line, r.field) for r in report.rejected] == [(2, "open"), (3, "open"), (4, "time"), (5, "volume")]
    assert "'1\\x00'" in report.rejected[0].reason
    assert "after the year 9999" in report.rejected[2].reason and len(report.rejected[2].reason) < 120
    assert [c.time for c in report.candles] == [1_700_001_000]


def test_paths_that_are_not_readable_files_say_what_they_are(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(CandleFileError, match="is a directory, not a file"):
        read_candle_file(tmp_path / "folder.csv")
    with pytest.raises(CandleFileError, match="file not found$"):
        read_candle_file(tmp_path / "missing.csv")
    with pytest.raises(CandleFileError, match="file not found$"):
        read_candle_file(write(tmp_path, "plain.txt", "") / "under-a-file.csv")
    os.mkfifo(tmp_path / "pipe.csv")
    with pytest.raises(CandleFileError, match="not a regular file"):  # and does not block waiting for a writer
        read_candle_file(tmp_path / "pipe.csv")
    locked = write(tmp_path, "locked.csv", f"{HEADER}\n1700000100,1,2,0.5,1.5,10\n")
    locked.chmod(0)
    if os.geteuid() == 0:  # root reads any file: make the open fail as it would for anyone else
        def refuse(self: Path, *args: object, **kwargs: object) -> object:
            raise PermissionError(13, "Permission denied", str(self))

        monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(CandleFileError, match="locked.csv: cannot read file: permission denied") as caught:
        read_candle_file(locked)
    assert caught.value.field == "path"


def _read_or_reject(path: Path) -> None:
    """The property every candle file must keep: a report or a CandleFileError, each message short."""
    try:
        report = read_candle_file(path, timeframe=Timeframe.M1)
    except CandleFileError as exc:
        assert len(str(exc)) < 300, str(exc)[:300]
        return
    assert len(report.candles) + len(report.rejected) == report.rows
    for rejection in report.rejected:
        assert len(rejection.reason) < 300, rejection.reason[:300]


_json_leaf = st.one_of(
    st.none(), st.booleans(), st.floats(), st.text(max_size=30),
    st.integers(), st.integers(min_value=-(10**1000), max_value=10**1000),
    st.integers(min_value=1_000_000_000, max_value=2_000_000_000_000).map(lambda t: t // 60 * 60),
)
_json_value = st.recursive(_json_leaf, lambda inner: st.lists(inner, max_size=7) | st.dictionaries(
    st.text(max_size=4), inner, max_size=3), max_leaves=25)
_csv_cell = st.one_of(
    st.text(max_size=20), st.floats().map(repr), st.text(alphabet="0123456789", min_size=1, max_size=4500),
    st.sampled_from(["[/]", "[bold]", "\x00", "1e400", "-1e400", "nan", "", " ", '"', "\r", "2018-01-01T00:00:00+05:00",
                     "0001-01-01T00:00:00-05:00", "9999-12-31T23:59:59-14:00", "1700000100", "1700000100000"]),
)
_fuzz = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_fuzz
@given(rows=st.lists(st.lists(_json_value, min_size=5, max_size=7) | _json_value, max_size=6))
def test_any_json_rows_give_a_report_or_one_error(tmp_path: Path, rows: list[object]) -> None:
    _read_or_reject(write(tmp_path, "fuzz.json", json.dumps(rows)))


@_fuzz
@given(rows=st.lists(st.lists(_csv_cell, min_size=5, max_size=7), max_size=6), spread=st.booleans())
def test_any_csv_cells_give_a_report_or_one_error(tmp_path: Path, rows: list[list[str]], spread: bool) -> None:
    header = HEADER + (",spread" if spread else "")
    path = tmp_path / "fuzz.csv"
    path.write_bytes("\n".join([header, *(",".join(row) for row in rows)]).encode("utf-8", "surrogatepass"))
    _read_or_reject(path)


@_fuzz
@given(data=st.binary(max_size=400), name=st.sampled_from(["fuzz.json", "fuzz.csv", "fuzz.json.gz", "fuzz.csv.gz"]))
def test_any_bytes_give_a_report_or_one_error(tmp_path: Path, data: bytes, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    _read_or_reject(path)
