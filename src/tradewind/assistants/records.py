"""The Assistants API's objects as stored: OpenAI documents, each with its owner and parents.

The service builds and changes the documents (``assistants.objects``); a store keeps them with the
columns that lists and cascades need. ``page`` lists by insertion order, so objects created in the
same second keep a stable order, and ``after`` / ``before`` are object ids as OpenAI's cursors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

__all__ = ["Kind", "ObjectStore", "Page"]

Kind = Literal["assistant", "thread", "message", "run", "run_step", "vector_store"]
PARENTS: dict[str, tuple[str, ...]] = {
    "assistant": (), "thread": (), "message": ("thread_id", "run_id"), "run": ("thread_id", "assistant_id"),
    "run_step": ("run_id", "thread_id"), "vector_store": (),
}
"""The columns besides the document each kind is stored with (taken from the document itself)."""


@dataclass(frozen=True)
class Page:
    data: list[dict[str, Any]]
    has_more: bool


class ObjectStore(Protocol):
    def insert(self, kind: Kind, owner: str, document: Mapping[str, Any]) -> None: ...

    def insert_many(self, items: Sequence[tuple[Kind, str, Mapping[str, Any]]], runner: str | None = None) -> None:
        """Several objects in one transaction (a thread with its first messages): all or none.
        A run among them is recorded as executed by the worker ``runner``."""
        ...

    def get(self, kind: Kind, owner: str, object_id: str) -> dict[str, Any] | None: ...

    def replace(self, kind: Kind, owner: str, document: Mapping[str, Any], runner: str | None = None) -> None:
        """Store a changed document (its id and parents unchanged); a run given a ``runner`` is
        executed by that worker from now on."""
        ...

    def delete(self, kind: Kind, owner: str, object_id: str) -> bool:
        """Delete one object and, by cascade, what hangs on it; False when there was none."""
        ...

    def page(self, kind: Kind, owner: str, *, where: Mapping[str, str], limit: int, order: str,
             after: str | None, before: str | None) -> Page: ...

    def unfinished_runs(self) -> list[tuple[str, dict[str, Any], str | None]]:
        """(owner, run, runner) of every run not in a terminal state, of every owner: what a
        restart settles when its runner is gone."""
        ...

    def runner(self, run_id: str) -> str | None:
        """The worker that executes the run (None when unknown)."""
        ...
