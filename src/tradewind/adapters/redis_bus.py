"""``RedisBus``: the ``EventBus`` port across worker processes, over Redis pub/sub.

Subscribers always get an event from their own process first (an ``InProcessBus`` inside), so a
worker behaves exactly as a single process would. What crosses to the other workers:

- everything made by one worker only: a signal from ``POST /ai/analyze`` on whichever worker
  took the request, the periodic analysis' signals (the scheduler lease's holder), the trading
  engine's fills, positions, trades, denials and alerts (the trading lease's holder);
- not ``candle.closed`` (``local_topics``): every worker runs its own streamer on the same feed
  and closes the same candles itself (the synthetic market is a pure function of time; a polled
  exchange gives each worker the same candles), so sending them over would deliver each twice.

Each worker skips the messages it sent itself (they name its ``worker`` id), so every client of
every worker gets each event exactly once. ``publish`` never blocks the caller: the event is
stamped (``published_at``, wall clock) and queued to a sender thread that encodes it
(``event_codec``) and publishes it. A listener thread decodes the others' events and hands them
to the local subscribers; the hub and the engine already take events from any thread. The lag
(receive time minus the stamp) is kept per worker: ``stats()``. ``own`` carries only the events
this worker published, for counters that are summed across workers (``/metrics``): counting the
others' events too would count each event once per worker.

Redis pub/sub is at most once: an event published while a listener is reconnecting is not
replayed (the signals and trades themselves are in the database; the WebSocket is the live view).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Collection
from typing import Any

import orjson
import redis

from tradewind.adapters import event_codec
from tradewind.domain.bus import InProcessBus
from tradewind.domain.events import CandleClosed

__all__ = ["LOCAL_TOPICS", "RedisBus"]

log = logging.getLogger(__name__)

LOCAL_TOPICS = frozenset({CandleClosed.topic})  # every worker makes these itself
_STOP = object()


class RedisBus:
    def __init__(self, client: redis.Redis, *, worker: str, channel: str = "tradewind:events",
                 local_topics: Collection[str] = LOCAL_TOPICS, wall: Callable[[], float] = time.time) -> None:
        self.worker = worker
        self.channel = channel
        self.local_topics = frozenset(local_topics)
        self._client = client
        self._wall = wall
        self._local = InProcessBus()
        self.own = InProcessBus()  # only what this worker published
        self._outbox: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._pubsub: Any = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self.sent = 0
        self.received = 0
        self.send_errors = 0
        self.receive_errors = 0
        self.last_error: str | None = None
        self.lag_last: float | None = None
        self.lag_max: float | None = None
        self._lag_total = 0.0

    # --- the port -----------------------------------------------------------------------------------
    def publish(self, topic: str, event: object) -> None:
        self._local.publish(topic, event)
        self.own.publish(topic, event)
        if topic not in self.local_topics and not self._stopping.is_set():
            self._outbox.put((topic, event, self._wall()))

    def subscribe(self, topic: str, handler: Callable[[object], None]) -> Callable[[], None]:
        return self._local.subscribe(topic, handler)

    # --- life cycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Subscribe now (events published after this returns reach us), then start both threads."""
        if self._threads:
            return
        self._stopping.clear()
        self._pubsub = self._subscribe()
        for target, name in ((self._send_loop, "redis-bus-send"), (self._listen_loop, "redis-bus-listen")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def close(self, timeout: float = 2.0) -> None:
        """Send what is queued (for up to ``timeout``), then stop both threads."""
        if not self._threads:
            return
        self._stopping.set()
        self._outbox.put(_STOP)
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []
        if self._pubsub is not None:
            try:
                self._pubsub.close()
            except redis.RedisError:
                pass

    def _subscribe(self) -> Any:
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(self.channel)
        return pubsub

    # --- threads ------------------------------------------------------------------------------------
    def _send_loop(self) -> None:
        while True:
            item = self._outbox.get()
            if item is _STOP:
                return
            topic, event, stamp = item  # type: ignore[misc]
            try:
                message = orjson.dumps({"worker": self.worker, "topic": topic, "published_at": stamp,
                                        "event": orjson.Fragment(event_codec.encode(event))})
                self._client.publish(self.channel, message)
                self.sent += 1
            except (redis.RedisError, event_codec.CodecError, TypeError) as exc:
                self.send_errors += 1
                self._error("send", exc)

    def _listen_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                message = self._pubsub.get_message(timeout=0.2)
            except (redis.RedisError, OSError, ValueError) as exc:
                if self._stopping.is_set():
                    return
                self.receive_errors += 1
                self._error("listen", exc)
                self._reconnect()
                continue
            if message is not None and message.get("type") == "message":
                self._deliver(message["data"])

    def _reconnect(self) -> None:
        while not self._stopping.wait(0.5):
            try:
                self._pubsub = self._subscribe()
                return
            except redis.RedisError as exc:
                self._error("reconnect", exc)

    def _deliver(self, data: bytes) -> None:
        try:
            envelope = orjson.loads(data)
            if envelope.get("worker") == self.worker:
                return  # ours: the local subscribers had it when it was published
            topic, stamp = envelope["topic"], float(envelope["published_at"])
            event = event_codec.rebuild(envelope["event"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            self.receive_errors += 1
            self._error("decode", exc)
            return
        lag = max(0.0, self._wall() - stamp)
        self.received += 1
        self.lag_last = lag
        self.lag_max = lag if self.lag_max is None else max(self.lag_max, lag)
        self._lag_total += lag
        self._local.publish(topic, event)

    def _error(self, step: str, exc: BaseException) -> None:
        self.last_error = f"{step}: {type(exc).__name__}: {exc}"[:300]
        log.warning("redis bus %s", self.last_error)

    # --- figures ------------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Counts and the lag of the events received from the other workers (seconds, null before any)."""
        mean = self._lag_total / self.received if self.received else None
        return {"kind": "redis", "worker": self.worker, "channel": self.channel, "sent": self.sent,
                "received": self.received, "queued": self._outbox.qsize(), "send_errors": self.send_errors,
                "receive_errors": self.receive_errors, "subscriber_errors": self._local.errors,
                "last_error": self.last_error,
                "lag_seconds": {"last": self.lag_last, "mean": mean, "max": self.lag_max}}
