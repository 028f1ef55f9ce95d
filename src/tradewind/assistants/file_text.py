"""The searchable text of an uploaded file, and the passages ``file_search`` indexes and cites.

What ``file_search`` reads: plain text, Markdown, CSV, JSON (UTF-8) and PDF (its text layer, by
``adapters.pdf_text``). A file that is none of these, or does not decode as what its name says, is refused
at upload with the reason, so a search never meets a file it cannot read. Passages are about
``PASSAGE_CHARS`` long and end at a line break where one is near; a CSV passage starts with the
header row, so a cited passage says what its columns are.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

from tradewind.assistants.chat_request import InvalidRequest
from tradewind.domain.excerpt import excerpt

__all__ = ["PASSAGE_CHARS", "SEARCHABLE", "PdfReader", "csv_rows", "extract_text", "kind_of", "passages"]

PASSAGE_CHARS = 800
SEARCHABLE = (".txt", ".md", ".markdown", ".csv", ".json", ".pdf")
MAX_TEXT_CHARS = 2_000_000  # what one file may add to the index
PdfReader = Callable[[bytes, int], str]
"""The port to a PDF parser: (bytes, most characters to read) -> text (``adapters.pdf_text``)."""


def kind_of(filename: str) -> str:
    lowered = filename.lower()
    for suffix in SEARCHABLE:
        if lowered.endswith(suffix):
            return {".md": "markdown", ".markdown": "markdown"}.get(suffix, suffix[1:])
    raise InvalidRequest(f"file {excerpt(filename)} is not one tradewind can search: the name must end in "
                         f"{', '.join(SEARCHABLE)}", field="file", code="unsupported_file")


def extract_text(filename: str, data: bytes, read_pdf: PdfReader) -> str:
    """The file's text, checked to be what its name says."""
    kind = kind_of(filename)
    if kind == "pdf":
        text = read_pdf(data, MAX_TEXT_CHARS)
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidRequest(f"file {excerpt(filename)} is not UTF-8 text (byte {exc.start} cannot be decoded)",
                                 field="file", code="invalid_file") from None
        if "\x00" in text:
            raise InvalidRequest(f"file {excerpt(filename)} holds NUL bytes: it is not text", field="file",
                                 code="invalid_file")
        if kind == "json":
            try:
                json.loads(text)
            except ValueError as exc:
                raise InvalidRequest(f"file {excerpt(filename)} is not valid JSON: {str(exc)[:120]}", field="file",
                                     code="invalid_file") from None
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidRequest(f"file {excerpt(filename)} holds {len(text)} characters of text; at most "
                             f"{MAX_TEXT_CHARS} are indexed", field="file", code="file_too_large")
    return text


def passages(filename: str, text: str) -> list[str]:
    """The text cut into passages of about ``PASSAGE_CHARS`` (CSV: whole rows under the header)."""
    if kind_of(filename) == "csv":
        return _csv_passages(text)
    out: list[str] = []
    start = 0
    while start < len(text):
        end = min(start + PASSAGE_CHARS, len(text))
        if end < len(text):
            cut = text.rfind("\n", start + PASSAGE_CHARS // 2, end)
            if cut < 0:
                cut = text.rfind(" ", start + PASSAGE_CHARS // 2, end)
            end = cut + 1 if cut >= 0 else end
        piece = text[start:end].strip()
        if piece:
            out.append(piece)
        start = end
    return out


def _csv_passages(text: str) -> list[str]:
    lines = text.splitlines()
    if not lines:
        return []
    header, out, current = lines[0], [], [lines[0]]
    size = len(header)
    for line in lines[1:]:
        if size + len(line) > PASSAGE_CHARS and len(current) > 1:
            out.append("\n".join(current))
            current, size = [header], len(header)
        current.append(line[:PASSAGE_CHARS])
        size += len(current[-1]) + 1
    if len(current) > 1 or not out:
        out.append("\n".join(current))
    return out


def csv_rows(text: str, limit: int) -> list[dict[str, str]]:
    """The rows of a CSV file as dicts by (lower-cased, trimmed) header, at most ``limit``."""
    reader = csv.DictReader(io.StringIO(text))
    rows = []
    for index, row in enumerate(reader):
        if index >= limit:
            break
        rows.append({str(k).strip().lower(): (v or "").strip() for k, v in row.items() if k is not None})
    return rows
