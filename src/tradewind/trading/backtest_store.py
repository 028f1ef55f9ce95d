"""Where the API's backtests are kept: the ``BacktestStore`` port and an in-memory one.

A backtest is kept as its document (``BacktestJob.as_dict``), saved at each change of status, so
a restart still answers for it: a finished report survives, and one that was running when the
server died is found unfinished and marked failed with the reason. Each save names the worker
that runs the backtest (``runner``), so with several workers only a dead worker's backtests are
settled, never those another live worker runs. The store keeps only the newest ``keep`` finished
ones, so it stays bounded however many are run.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Protocol

__all__ = ["BacktestStore", "MemoryBacktestStore", "UNFINISHED"]

UNFINISHED = ("queued", "running")


class BacktestStore(Protocol):
    def save(self, document: Mapping[str, Any], runner: str | None = None) -> None:
        """Insert or replace the backtest ``document["id"]``, run by the worker ``runner``."""

    def get(self, job_id: str) -> dict[str, Any] | None: ...

    def recent(self, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` backtests, newest first."""

    def unfinished(self) -> list[tuple[dict[str, Any], str | None]]:
        """(document, runner) of the backtests still queued or running, oldest first."""

    def trim(self, keep: int) -> int:
        """Delete all but the newest ``keep`` finished backtests; how many went."""


class MemoryBacktestStore:
    """The store of a process that keeps nothing across restarts (tests, the CLI)."""

    def __init__(self) -> None:
        self._documents: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._runners: dict[str, str | None] = {}

    def save(self, document: Mapping[str, Any], runner: str | None = None) -> None:
        self._documents[document["id"]] = dict(document)
        self._runners[document["id"]] = runner

    def get(self, job_id: str) -> dict[str, Any] | None:
        document = self._documents.get(job_id)
        return dict(document) if document is not None else None

    def recent(self, limit: int) -> list[dict[str, Any]]:
        return [dict(d) for d in reversed(self._documents.values())][:limit]

    def unfinished(self) -> list[tuple[dict[str, Any], str | None]]:
        return [(dict(d), self._runners.get(key)) for key, d in self._documents.items() if d["status"] in UNFINISHED]

    def trim(self, keep: int) -> int:
        finished = [key for key, d in self._documents.items() if d["status"] not in UNFINISHED]
        gone = finished[: max(0, len(finished) - keep)]
        for key in gone:
            del self._documents[key]
            self._runners.pop(key, None)
        return len(gone)
