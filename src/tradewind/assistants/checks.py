"""The checks every Assistants API object shares: ids, metadata, unknown parameters, list cursors.

They are OpenAI's (metadata: at most 16 string pairs; a parameter the endpoint does not take is a
400 naming it; ``limit`` 1-100) and each names the parameter it refuses.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from tradewind.assistants.chat_request import InvalidRequest
from tradewind.assistants.records import Page
from tradewind.domain.excerpt import excerpt

__all__ = ["MAX_METADATA", "check_metadata", "list_envelope", "list_params", "new_id", "reject_unknown"]

MAX_METADATA = 16
_PREFIX = {"assistant": "asst_", "thread": "thread_", "message": "msg_", "run": "run_", "run_step": "step_",
           "vector_store": "vs_"}


def new_id(kind: str) -> str:
    return _PREFIX[kind] + uuid.uuid4().hex[:24]


def check_metadata(value: Any, field: str = "metadata") -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_METADATA:
        raise InvalidRequest(f"{field} must be an object of at most {MAX_METADATA} pairs", field=field)
    for key, item in value.items():
        if not isinstance(key, str) or not 0 < len(key) <= 64:
            raise InvalidRequest(f"{field} keys must be strings of at most 64 characters, got {excerpt(key)}",
                                 field=field)
        if not isinstance(item, str) or len(item) > 512:
            raise InvalidRequest(f"{field}.{key[:64]} must be a string of at most 512 characters, got {excerpt(item)}",
                                 field=f"{field}.{key[:64]}")
    return dict(value)


def reject_unknown(body: Mapping[str, Any], allowed: set[str], prefix: str = "") -> None:
    """OpenAI's 400 for a parameter it does not take, naming it (``body`` when the name is empty)."""
    unknown = sorted(str(k) for k in set(body) - allowed)
    if unknown:
        name = unknown[0][:64]
        raise InvalidRequest(f"Unrecognized request argument supplied: {excerpt(name)}",
                             field=f"{prefix}{name}" if name else (prefix.rstrip(".") or "body"),
                             code="unknown_parameter")


def list_params(limit: Any, order: Any, after: Any, before: Any) -> tuple[int, str, str | None, str | None]:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
        raise InvalidRequest(f"limit must be an integer from 1 to 100, got {excerpt(limit)}", field="limit")
    if order not in ("asc", "desc"):
        raise InvalidRequest(f"order must be asc or desc, got {excerpt(order)}", field="order")
    for name, cursor in (("after", after), ("before", before)):
        if cursor is not None and (not isinstance(cursor, str) or not 0 < len(cursor) <= 64):
            raise InvalidRequest(f"{name} must be an object id", field=name)
    return limit, order, after, before


def list_envelope(page: Page) -> dict[str, Any]:
    """OpenAI's list object around a page."""
    return {"object": "list", "data": page.data, "first_id": page.data[0]["id"] if page.data else None,
            "last_id": page.data[-1]["id"] if page.data else None, "has_more": page.has_more}
