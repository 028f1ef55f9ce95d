"""``/api/ai-logs``: the AI decision log (seed 001): list, JSON and CSV exports, token and cost usage.

The list and both exports take the same filters (asset, analyst, model, a ``since``/``until``
window and a text search ``q``), parsed once by ``log_filter``, so an export holds exactly the rows
the list shows, all of them. Bad values answer 400 in the AI-seed error shape, naming the field.
Exports stream straight from the store's keyset-paged ``iterate``: Starlette pulls the sync
generator in its thread pool, so a large log neither blocks the event loop nor sits in memory.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response, StreamingResponse

from tradewind.analysts.decisions import Decision, DecisionFilter
from tradewind.api.deps import ContainerDep
from tradewind.domain.errors import ValidationError
from tradewind.domain.excerpt import excerpt
from tradewind.domain.symbol import MAX_SYMBOL_INPUT, SYMBOL_PATTERN, normalize_symbol

__all__ = ["CSV_COLUMNS", "MAX_LIMIT", "MAX_NAME", "MAX_TEXT", "TIME_PATTERN", "log_filter", "parse_limit", "parse_since", "parse_time",
           "router"]

router = APIRouter(prefix="/api/ai-logs", tags=["ai-logs"])

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MAX_TEXT = 200  # a search term, not a document: every remaining row's text is scanned for it
MAX_NAME = 255  # the analyst and model columns' size
CSV_COLUMNS = (
    "decision_id", "created_at", "analyst", "symbol", "timeframe", "model", "source", "latency_ms",
    "prompt_tokens", "completion_tokens", "total_tokens", "cost_usd", "error", "signal_id", "input_hash",
    "prompt_hash", "signal", "confidence", "raw_response", "attempt", "parent_id", "prompt_detail", "prompt_budget",
    "finish_reason",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_TIME_FORMS = "an ISO-8601 time (2026-11-21T06:00:00Z; no offset means UTC) or epoch milliseconds"
_DAY = ("(?:[1-9][0-9]{3}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)"
        "|(?:0[13578]|1[02])-31)|(?:[1-9][0-9](?:0[48]|[2468][048]|[13579][26])|(?:[13579][26]|[2468][048])00)-02-29)")
_CLOCK = "(?:T(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\\.[0-9]{3}(?:[0-9]{3})?)?)?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?)?"
TIME_PATTERN = f"^(?:|[0-9]{{1,14}}|{_DAY}{_CLOCK})$"
"""The times ``since`` and ``until`` take (blank is no bound); the document and the check are this one pattern."""

# Plain strings, parsed here, so a bad value answers 400 naming its field (not a generic 422).
SymbolQuery = Annotated[str | None, Query(max_length=MAX_SYMBOL_INPUT,
                                          json_schema_extra={"pattern": rf"^\s*$|{SYMBOL_PATTERN}"},  # blank: no filter
                                          description="asset filter; BTCUSDT, BTC/USDT and btc-usdt are one symbol")]
PRINTABLE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
"""Printable text: no control characters but tab and newlines (PostgreSQL cannot even hold a NUL)."""
AnalystQuery = Annotated[str | None, Query(
    max_length=MAX_NAME, pattern=PRINTABLE,
    description=f"analyst, exactly as logged: llm:gpt-4o-mini, assistant:<model> (at most {MAX_NAME} characters)")]
ModelQuery = Annotated[str | None, Query(
    max_length=MAX_NAME, pattern=PRINTABLE,
    description=f"model, exactly as logged: gpt-4o-mini, llama3.1:8b (at most {MAX_NAME} characters)")]
SinceQuery = Annotated[str | None, Query(pattern=TIME_PATTERN, max_length=40,
                                         description=f"only decisions at or after this time: {_TIME_FORMS}")]
UntilQuery = Annotated[str | None, Query(
    pattern=TIME_PATTERN, max_length=40,
    description=f"only decisions before this time (exclusive, after since): {_TIME_FORMS}")]
TextQuery = Annotated[str | None, Query(
    max_length=MAX_TEXT, pattern=PRINTABLE,
    description=f"text search: a case-insensitive substring of a prompt message or the raw response, taken "
                f"literally (% and _ are not wildcards); at most {MAX_TEXT} characters")]
LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"how many, 1 to {MAX_LIMIT}")]


def parse_limit(text: str | None) -> int:
    """``limit`` as an integer in 1..1000 (default 100), or a ``ValidationError`` naming it."""
    if text is None:
        return DEFAULT_LIMIT
    try:
        value = int(text.strip())
    except ValueError:
        raise ValidationError(
            f"limit must be an integer from 1 to {MAX_LIMIT} (got {excerpt(text)})", field="limit"
        ) from None
    if not 1 <= value <= MAX_LIMIT:
        raise ValidationError(f"limit must be from 1 to {MAX_LIMIT} (got {excerpt(value)})", field="limit")
    return value


def parse_time(text: str | None, *, field: str) -> datetime | None:
    """An aware UTC time from ISO-8601 (no offset means UTC) or epoch milliseconds; blank is None."""
    if text is None or not text.strip():
        return None
    raw = text.strip()
    try:
        if raw.lstrip("-").isdigit():
            return datetime.fromtimestamp(int(raw) / 1000, tz=timezone.utc)
        value = datetime.fromisoformat(raw)
    except (ValueError, OverflowError, OSError):
        raise ValidationError(f"{field} must be {_TIME_FORMS} (got {excerpt(text)})", field=field) from None
    return value.astimezone(timezone.utc) if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def parse_since(text: str | None) -> datetime | None:
    """``since`` as an aware UTC time (see ``parse_time``)."""
    return parse_time(text, field="since")


def _text(text: str | None, *, field: str, limit: int) -> str | None:
    """A search term, taken literally: blank is None; at most ``limit`` characters and no control
    characters but tab and newlines (PostgreSQL cannot even hold a NUL), else a ``ValidationError``."""
    if text is None or not text.strip():
        return None
    if len(text) > limit:
        raise ValidationError(f"{field} must be at most {limit} characters (got {len(text)})", field=field)
    if any((ord(c) < 32 and c not in "\t\n\r") or ord(c) == 127 for c in text):
        raise ValidationError(f"{field} must be printable text (got {excerpt(text)})", field=field)
    return text


def _name(text: str | None, *, field: str) -> str | None:
    """An analyst or model name as logged: the search term's rules, surrounding blanks dropped."""
    name = _text(text, field=field, limit=MAX_NAME)
    return name.strip() if name is not None else None


async def log_filter(
    symbol: SymbolQuery = None, analyst: AnalystQuery = None, model: ModelQuery = None,
    since: SinceQuery = None, until: UntilQuery = None, q: TextQuery = None,
) -> DecisionFilter:
    """The filters the list and both exports share, checked before anything is read or streamed."""
    start, end = parse_time(since, field="since"), parse_time(until, field="until")
    if start is not None and end is not None and end <= start:
        raise ValidationError(f"until must be after since (got since {start.isoformat()}, until {end.isoformat()})",
                              field="until")
    return DecisionFilter(symbol=_symbol(symbol), analyst=_name(analyst, field="analyst"),
                          model=_name(model, field="model"), since=start, until=end,
                          text=_text(q, field="q", limit=MAX_TEXT))


FilterDep = Annotated[DecisionFilter, Depends(log_filter)]


def _symbol(text: str | None) -> str | None:
    return normalize_symbol(text) if text is not None and text.strip() else None


def _document(decision: Decision) -> dict[str, Any]:
    return asdict(decision)


def _json_rows(rows: Iterator[Decision]) -> Iterator[bytes]:
    """A JSON array, one element per decision, written as the rows arrive."""
    yield b"["
    separator = b"\n"
    for decision in rows:
        yield separator + orjson.dumps(_document(decision))
        separator = b",\n"
    yield b"\n]\n"


def _cell(value: object) -> object:
    """Text a spreadsheet would run as a formula (model output is untrusted) is prefixed with ``'``."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv_row(decision: Decision) -> list[object]:
    parsed = decision.parsed if isinstance(decision.parsed, dict) else {}
    values = {**asdict(decision), "created_at": decision.created_at.isoformat(),
              "signal": parsed.get("signal"), "confidence": parsed.get("confidence")}
    return [_cell(values[name]) for name in CSV_COLUMNS]


def _csv_rows(rows: Iterator[Decision]) -> Iterator[str]:
    """A header, then one CSV record per decision, each encoded as it arrives."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for decision in rows:
        writer.writerow(_csv_row(decision))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def _attachment(extension: str) -> dict[str, str]:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return {"Content-Disposition": f'attachment; filename="ai-logs-{stamp}.{extension}"'}


@router.get("", summary="AI decision logs, newest first, filtered by asset, analyst, model, time and text")
async def list_logs(container: ContainerDep, where: FilterDep, limit: LimitQuery = DEFAULT_LIMIT) -> Response:
    rows = await asyncio.to_thread(lambda: container.decisions.query(**where, limit=limit))
    return Response(orjson.dumps([_document(row) for row in rows]), media_type="application/json")


@router.get("/export/json", summary="Every matching decision as a JSON array, oldest first (download)",
            response_class=StreamingResponse,
            responses={200: {"description": "Every matching decision",
                             "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}}})
async def export_json(container: ContainerDep, where: FilterDep) -> StreamingResponse:
    rows = container.decisions.iterate(**where)
    return StreamingResponse(_json_rows(rows), media_type="application/json", headers=_attachment("json"))


@router.get("/export/csv", summary="Every matching decision as CSV, one row each, oldest first (download)",
            response_class=StreamingResponse,
            responses={200: {"description": "A header row, then one record per decision",
                             "content": {"text/csv": {"schema": {"type": "string"}}}}})
async def export_csv(container: ContainerDep, where: FilterDep) -> StreamingResponse:
    rows = container.decisions.iterate(**where)
    return StreamingResponse(_csv_rows(rows), media_type="text/csv; charset=utf-8", headers=_attachment("csv"))


@router.get("/usage", summary="Calls, tokens and cost per model, per UTC day and in total")
async def usage(container: ContainerDep) -> dict[str, Any]:
    return await asyncio.to_thread(container.decisions.usage)
