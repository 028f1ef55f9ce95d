"""The in-process event bus of the embedded default: synchronous fan-out to subscribers.

A failing subscriber is logged and skipped so it cannot stop the others or the publisher.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable

__all__ = ["InProcessBus"]

log = logging.getLogger(__name__)


class InProcessBus:
    def __init__(self) -> None:
        self._handlers: dict[str, list[Callable[[object], None]]] = defaultdict(list)
        self.errors = 0

    def publish(self, topic: str, event: object) -> None:
        for handler in tuple(self._handlers.get(topic, ())):
            try:
                handler(event)
            except Exception:
                self.errors += 1
                log.exception("bus subscriber %r failed on %s", handler, topic)

    def subscribe(self, topic: str, handler: Callable[[object], None]) -> Callable[[], None]:
        self._handlers[topic].append(handler)

        def unsubscribe() -> None:
            if handler in self._handlers[topic]:
                self._handlers[topic].remove(handler)

        return unsubscribe
