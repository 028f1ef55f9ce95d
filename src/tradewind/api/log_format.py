"""How ``serve`` logs: today's text lines, or one JSON object per line (``TRADEWIND_LOG_FORMAT=json``).

A JSON line holds ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message`` and ``request_id``
(null outside a request), plus ``exception`` with the trace when there is one: what a log shipper
needs to index and to join every line of one request. uvicorn's own loggers (its access log among
them) go through the same handler. The configuration is a ``logging.config`` dictionary handed to
uvicorn, so each worker process applies it at its start (a parent's ``basicConfig`` does not reach
spawned workers).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Literal

import orjson

from tradewind.api.request_id import current_request_id

__all__ = ["TEXT_FORMAT", "JsonFormatter", "RequestIdFilter", "logging_config"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RequestIdFilter(logging.Filter):
    """Puts the current request's id (or None) on every record as ``request_id``."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or current_request_id(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def logging_config(log_format: Literal["text", "json"], level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dictionary: the root and uvicorn's loggers on one stderr handler."""
    formatter: dict[str, Any] = {"()": JsonFormatter} if log_format == "json" else {"format": TEXT_FORMAT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"main": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "main", "filters": ["request_id"],
                                "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {name: {"handlers": [], "propagate": True, "level": level}
                    for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
    }
