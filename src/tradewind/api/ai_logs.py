"""``/api/ai-logs``: the AI decision log (seed 001): list, JSON and CSV exports, token and cost usage.

Bad ``limit``, ``since`` or ``symbol`` values answer 400 in the AI-seed error shape, naming the
field. Exports stream straight from the store's keyset-paged ``iterate``: Starlette pulls the sync
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
from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse

from tradewind.analysts.decisions import Decision
from tradewind.api.deps import ContainerDep
from tradewind.domain.errors import ValidationError
from tradewind.domain.excerpt import excerpt
from tradewind.domain.symbol import normalize_symbol

__all__ = ["CSV_COLUMNS", "MAX_LIMIT", "parse_limit", "parse_since", "router"]

router = APIRouter(prefix="/api/ai-logs", tags=["ai-logs"])

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
CSV_COLUMNS = (
    "decision_id", "created_at", "analyst", "symbol", "timeframe", "model", "source", "latency_ms",
    "prompt_tokens", "completion_tokens", "total_tokens", "cost_usd", "error", "signal_id", "input_hash",
    "prompt_hash", "signal", "confidence", "raw_response", "attempt", "parent_id", "prompt_detail", "prompt_budget",
    "finish_reason",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# Plain strings, parsed here, so a bad value answers 400 naming its field (not a generic 422).
SymbolQuery = Annotated[str | None, Query(description="asset filter; BTCUSDT, BTC/USDT and btc-usdt are one symbol")]
SinceQuery = Annotated[
    str | None, Query(description="only decisions at or after this time: ISO-8601 or epoch milliseconds")
]
LimitQuery = Annotated[str | None, Query(description=f"how many, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})")]


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


def parse_since(text: str | None) -> datetime | None:
    """``since`` as an aware UTC time from ISO-8601 (no offset means UTC) or epoch milliseconds."""
    if text is None or not text.strip():
        return None
    raw = text.strip()
    try:
        if raw.lstrip("-").isdigit():
            return datetime.fromtimestamp(int(raw) / 1000, tz=timezone.utc)
        value = datetime.fromisoformat(raw)
    except (ValueError, OverflowError, OSError):
        raise ValidationError(
            f"since must be an ISO-8601 time (2026-11-21T06:00:00Z) or epoch milliseconds (got {excerpt(text)})",
            field="since",
        ) from None
    return value.astimezone(timezone.utc) if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


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


@router.get("", summary="AI decision logs, newest first, filtered by asset and time")
async def list_logs(
    container: ContainerDep, symbol: SymbolQuery = None, limit: LimitQuery = None, since: SinceQuery = None
) -> Response:
    rows = await asyncio.to_thread(
        container.decisions.query, symbol=_symbol(symbol), since=parse_since(since), limit=parse_limit(limit)
    )
    return Response(orjson.dumps([_document(row) for row in rows]), media_type="application/json")


@router.get("/export/json", summary="Every matching decision as a JSON array (download)")
async def export_json(
    container: ContainerDep, symbol: SymbolQuery = None, since: SinceQuery = None
) -> StreamingResponse:
    rows = container.decisions.iterate(symbol=_symbol(symbol), since=parse_since(since))
    return StreamingResponse(_json_rows(rows), media_type="application/json", headers=_attachment("json"))


@router.get("/export/csv", summary="Every matching decision as CSV, one row each (download)")
async def export_csv(
    container: ContainerDep, symbol: SymbolQuery = None, since: SinceQuery = None
) -> StreamingResponse:
    rows = container.decisions.iterate(symbol=_symbol(symbol), since=parse_since(since))
    return StreamingResponse(_csv_rows(rows), media_type="text/csv; charset=utf-8", headers=_attachment("csv"))


@router.get("/usage", summary="Calls, tokens and cost per model, per UTC day and in total")
async def usage(container: ContainerDep) -> dict[str, Any]:
    return await asyncio.to_thread(container.decisions.usage)
