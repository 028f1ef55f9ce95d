"""The in-process event bus of the embedded default: synchronous fan-out to subscribers.

Live, a failing subscriber is logged and skipped so it cannot stop the others or the publisher.
A backtest's bus is ``strict``: the first failure is kept and raised to the publisher, because a
run that silently skipped a fill or a decision would report figures nobody traded.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable

__all__ = ["InProcessBus"]

log = logging.getLogger(__name__)


class InProcessBus:
    def __init__(self, *, strict: bool = False) -> None:
        self._handlers: dict[str, list[Callable[[object], None]]] = defaultdict(list)
        self.errors = 0
        self.strict = strict
        self.failure: BaseException | None = None  # the first failure (strict)

    def publish(self, topic: str, event: object) -> None:
        for handler in tuple(self._handlers.get(topic, ())):
            try:
                handler(event)
            except Exception as exc:
                self.errors += 1
                if self.strict:
                    self.failure = self.failure or exc
                    raise
                log.exception("bus subscriber %r failed on %s", handler, topic)

    def subscribe(self, topic: str, handler: Callable[[object], None]) -> Callable[[], None]:
        self._handlers[topic].append(handler)

        def unsubscribe() -> None:
            if handler in self._handlers[topic]:
                self._handlers[topic].remove(handler)

        return unsubscribe
