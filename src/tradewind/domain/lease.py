"""Leases: which worker runs a timed job (the periodic analysis, the trading cycles) right now.

Several API workers share one database; a job that must run once per interval, not once per
worker, runs only where its lease is held. ``Lease.start(on_gain, on_lose)`` tries at once (so a
single process starts exactly as before), then keeps trying and renewing in the background: it
awaits ``on_gain`` when this worker becomes the holder and ``on_lose`` when it stops being one
(the lease could not be renewed in time, or ``stop``). ``note``/``noted`` leave one number for
the next holder, e.g. when the job last ran, so a takeover does not run it twice in one interval.

``InProcessLease`` is the embedded default: one process, always the holder. The Redis one lives
in ``adapters/redis_lease.py``; ``bootstrap.py`` chooses.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

__all__ = ["InProcessLease", "Lease", "LeaseFactory", "Transition"]

Transition = Callable[[], Awaitable[None]]
"""What to do on gaining or losing a lease (start or stop the job)."""


class Lease(Protocol):
    name: str

    @property
    def held(self) -> bool:
        """This worker holds the lease now."""
        ...

    async def start(self, on_gain: Transition, on_lose: Transition) -> None:
        """Try once now (awaiting ``on_gain`` if it is ours), then keep the lease in the background."""
        ...

    async def stop(self) -> None:
        """Stop keeping it: ``on_lose`` if held, then release it for another worker at once."""
        ...

    def note(self, value: float) -> None:
        """Leave ``value`` for whoever holds the lease next (best effort)."""
        ...

    def noted(self) -> float | None:
        """The last value noted by any holder, or None."""
        ...

    def status(self) -> dict[str, Any]: ...


LeaseFactory = Callable[[str], Lease]
"""A lease by name (``scheduler``, ``trading``)."""


class InProcessLease:
    """One process: always the holder, so the job runs exactly as without leases."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._held = False
        self._on_lose: Transition | None = None
        self._noted: float | None = None

    @property
    def held(self) -> bool:
        return self._held

    async def start(self, on_gain: Transition, on_lose: Transition) -> None:
        self._held, self._on_lose = True, on_lose
        await on_gain()

    async def stop(self) -> None:
        if self._held and self._on_lose is not None:
            self._held = False
            await self._on_lose()

    def note(self, value: float) -> None:
        self._noted = value

    def noted(self) -> float | None:
        return self._noted

    def status(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "in-process", "held": self._held}
