"""The broadcast hub: one publish, serialised once, queued to every subscriber of a channel.

The rules, per client:

- **Publishing never waits on a client.** A broadcast is queued without waiting; a client that
  already has ``queue_size`` broadcasts waiting is cut off ("client too slow: N messages behind")
  instead of slowing the publisher or the other clients.
- **Replies do not count against that limit.** Answers to the client's own messages (``Pong``,
  ``subscribed``, ``error``) have their own small allowance, ``REPLY_QUEUE_SIZE``, and the reader
  *waits* for room in it: a client that floods us with requests just has them read more slowly
  (natural backpressure, down to TCP), it is never cut off for asking.
- **A message that waits too long means the client is not reading.** Broadcasts and replies are
  written in the order they were queued, each stamped when queued. One that is still not written
  ``send_timeout`` seconds later (waiting in the queue plus inside the send call, which blocks once
  the kernel's socket buffers are full) cuts the client off ("client not reading: ..."). This is
  what catches a client that stopped reading while messages arrive too rarely to fill its queue.
  The writer checks a message's age when it takes it; a watchdog, ten times per ``send_timeout``
  while clients are connected, checks the message each writer is blocked on (one timer for the
  hub, not one per message: a ``wait_for`` around every send tripled the hub's cost of a
  broadcast to 1,000 clients).
- A cut-off client is closed with code 1008 and the reason, and both kinds of cut count in
  ``slow_clients_disconnected`` (the send-timeout ones also in ``slow_clients_not_reading``).

``publish`` may be called from any thread (the signal service runs in worker threads): off the
event loop it serialises in the calling thread and hops over with ``call_soon_threadsafe``.

Channels::

    signals                  every new signal (each client starts subscribed)
    candles:{SYMBOL}:{tf}    closed candles of one symbol and timeframe, e.g. candles:BTCUSDT:1m
    trading:{SYMBOL}         trading events of one symbol

One hub serves one process; with several workers each has its own hub (the Redis bus that fans
events out across workers is a later issue).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any, NamedTuple

import orjson

from tradewind.domain.clock import Clock, SystemClock
from tradewind.domain.errors import ValidationError
from tradewind.domain.excerpt import excerpt
from tradewind.domain.symbol import normalize_symbol
from tradewind.domain.timeframe import Timeframe, parse_timeframe

__all__ = [
    "REPLY_QUEUE_SIZE",
    "SIGNALS",
    "SLOW_CLIENT_CODE",
    "BroadcastHub",
    "Subscriber",
    "candles_channel",
    "parse_channel",
    "parse_channels",
    "trading_channel",
]

log = logging.getLogger(__name__)

SIGNALS = "signals"
SLOW_CLIENT_CODE = 1008  # policy violation: the client did not keep up
MAX_CHANNELS_PER_MESSAGE = 100
REPLY_QUEUE_SIZE = 16  # unwritten replies per client before its reader waits


def candles_channel(symbol: str, timeframe: Timeframe) -> str:
    return f"candles:{symbol}:{timeframe.value}"


def trading_channel(symbol: str) -> str:
    return f"trading:{symbol}"


def parse_channel(
    text: object,
    *,
    field: str = "channel",
    symbols: Collection[str] | None = None,
    timeframes: Collection[Timeframe] | None = None,
) -> str:
    """The canonical name of a channel, or ``ValidationError`` naming ``field``.

    With ``symbols``/``timeframes`` given, a channel of a symbol or timeframe that is not streamed
    is refused too: subscribing to it would silently never deliver anything.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("a channel must be a non-empty string", field=field)
    name = text.strip()
    if name.lower() == SIGNALS:
        return SIGNALS
    kind, _, rest = name.partition(":")
    kind = kind.lower()
    if kind == "candles":
        symbol_text, _, tf_text = rest.rpartition(":")
        if not symbol_text or not tf_text:
            raise ValidationError(
                f"invalid channel {excerpt(name)}: use candles:{{SYMBOL}}:{{timeframe}}", field=field
            )
        symbol = _symbol(symbol_text, field, symbols)
        timeframe = parse_timeframe(tf_text, field=field)
        if timeframes is not None and timeframe not in timeframes:
            streamed = ", ".join(tf.value for tf in timeframes)
            raise ValidationError(f"timeframe {timeframe.value} is not streamed (streamed: {streamed})", field=field)
        return candles_channel(symbol, timeframe)
    if kind == "trading" and rest:
        return trading_channel(_symbol(rest, field, symbols))
    raise ValidationError(
        f"unknown channel {excerpt(name)}: use signals, candles:{{SYMBOL}}:{{timeframe}} or trading:{{SYMBOL}}",
        field=field,
    )


def _symbol(text: str, field: str, symbols: Collection[str] | None) -> str:
    symbol = normalize_symbol(text, field=field)
    if symbols is not None and symbol not in symbols:
        raise ValidationError(f"symbol {symbol} is not streamed", field=field)
    return symbol


def parse_channels(
    value: object,
    *,
    field: str = "channels",
    symbols: Collection[str] | None = None,
    timeframes: Collection[Timeframe] | None = None,
) -> list[str]:
    """A client's channel list, all valid or refused as a whole (the first bad item is named)."""
    if not isinstance(value, list) or not value:
        raise ValidationError(f"{field} must be a non-empty list of channel names", field=field)
    if len(value) > MAX_CHANNELS_PER_MESSAGE:
        raise ValidationError(f"at most {MAX_CHANNELS_PER_MESSAGE} channels per message", field=field)
    return [
        parse_channel(item, field=f"{field}[{i}]", symbols=symbols, timeframes=timeframes)
        for i, item in enumerate(value)
    ]


class _Outgoing(NamedTuple):
    """One message to write; a broadcast's is shared by all its clients (no garbage per client)."""

    text: str
    queued_at: float  # hub clock, when it was queued
    reply: bool


class Subscriber:
    """One connected client: its channels and what waits to be written to it, in order."""

    __slots__ = (
        "_backlog", "_hub", "_outbox", "_reply_room", "_writing_since", "channels", "close_reason", "id", "kicked",
        "sent",
    )

    def __init__(self, hub: BroadcastHub, client_id: int) -> None:
        self.id = client_id
        self.channels: set[str] = set()
        self.kicked = asyncio.Event()  # set when the hub cuts the client off
        self.close_reason: str | None = None
        self.sent = 0
        self._hub = hub
        self._outbox: asyncio.Queue[_Outgoing] = asyncio.Queue()  # one line; its two limits are counted here
        self._backlog = 0  # broadcasts in the outbox, at most hub.queue_size
        self._reply_room = asyncio.Semaphore(REPLY_QUEUE_SIZE)
        self._writing_since: float | None = None  # queued_at of the message inside ``write``, for the watchdog

    @property
    def backlog(self) -> int:
        """Broadcasts queued and not yet taken by the writer."""
        return self._backlog

    async def deliver(self, write: Callable[[str], Awaitable[object]]) -> None:
        """Write this client's messages with ``write``, in order, until it is cut off.

        A message that has waited over ``send_timeout`` since it was queued cuts the client off as
        not reading: checked here when it is taken, and by the hub's watchdog while ``write``
        blocks (the caller then cancels this, as it does on any cut-off).
        """
        hub = self._hub
        while self.close_reason is None:
            item = await self._outbox.get()
            if item.reply:
                self._reply_room.release()
            else:
                self._backlog -= 1
            if hub.clock.now() - item.queued_at > hub.send_timeout:
                hub.cut_off_not_reading(self)
                return
            self._writing_since = item.queued_at
            await write(item.text)
            self._writing_since = None
            self.mark_sent()

    def mark_sent(self) -> None:
        self.sent += 1
        self._hub.messages_sent += 1

    def _offer(self, item: _Outgoing) -> bool:
        """Queue a broadcast without waiting; False when ``queue_size`` are already waiting."""
        if self._backlog >= self._hub.queue_size:
            return False
        self._backlog += 1
        self._outbox.put_nowait(item)
        return True

    async def _answer(self, text: str) -> None:
        """Queue a reply once there is room among this client's unwritten replies."""
        await self._reply_room.acquire()
        if self.close_reason is None:
            self._outbox.put_nowait(_Outgoing(text, self._hub.clock.now(), reply=True))

    def _discard(self) -> None:
        while not self._outbox.empty():  # never to be sent: free them now
            self._outbox.get_nowait()
        self._backlog = 0


class BroadcastHub:
    """Channels of subscribers; clients are added and removed on the loop, publishing is from anywhere."""

    def __init__(self, *, queue_size: int = 100, send_timeout: float = 3.0, clock: Clock | None = None) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        if send_timeout <= 0:
            raise ValueError("send_timeout must be positive")
        self.queue_size = queue_size
        self.send_timeout = send_timeout
        self.clock = clock or SystemClock()
        self.messages_published = 0  # publishes that reached at least one subscriber
        self.messages_queued = 0  # per-client deliveries queued
        self.messages_sent = 0  # per-client deliveries written to the connection
        self.slow_clients_disconnected = 0  # every cut-off
        self.slow_clients_not_reading = 0  # of those, cut by the send timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watchdog: asyncio.TimerHandle | None = None  # scheduled while clients are connected
        self._clients: set[Subscriber] = set()
        self._channels: dict[str, set[Subscriber]] = {}
        self._ids = itertools.count(1)

    # --- clients (on the event loop) -----------------------------------------------------------
    def bind(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Attach to the loop the clients live on (the running one by default)."""
        if self._watchdog is not None:  # it belongs to the previous loop
            self._watchdog.cancel()
            self._watchdog = None
        self._loop = loop or asyncio.get_running_loop()

    def connect(self, channels: Iterable[str] = (SIGNALS,)) -> Subscriber:
        if self._loop is None:
            self.bind()
        client = Subscriber(self, next(self._ids))
        self._clients.add(client)
        self.subscribe(client, channels)
        if self._watchdog is None:
            self._watch()
        return client

    def disconnect(self, client: Subscriber) -> None:
        self._clients.discard(client)
        self.unsubscribe(client, tuple(client.channels))

    def subscribe(self, client: Subscriber, channels: Iterable[str]) -> None:
        if client not in self._clients:
            return
        for channel in channels:
            client.channels.add(channel)
            self._channels.setdefault(channel, set()).add(client)

    def unsubscribe(self, client: Subscriber, channels: Iterable[str]) -> None:
        for channel in channels:
            client.channels.discard(channel)
            members = self._channels.get(channel)
            if members is not None:
                members.discard(client)
                if not members:
                    del self._channels[channel]

    async def reply(self, client: Subscriber, type_: str, **fields: Any) -> None:
        """A message to one client only (an answer to it), behind what is already queued for it.

        Waits while ``REPLY_QUEUE_SIZE`` replies to it are unwritten; never cuts it off.
        """
        if client.close_reason is None:
            await client._answer(self.message(type_, **fields))

    def cut_off_not_reading(self, client: Subscriber) -> None:
        """A message to ``client`` waited longer than ``send_timeout``: it is not reading."""
        self.slow_clients_not_reading += 1
        self._cut_off(client, f"client not reading: a message waited over {self.send_timeout:g} s to be written")

    def _watch(self) -> None:
        """Cut off each client whose writer is blocked on a message queued over ``send_timeout`` ago."""
        now = self.clock.now()
        for client in tuple(self._clients):
            since = client._writing_since
            if since is not None and now - since > self.send_timeout:
                self.cut_off_not_reading(client)
        if self._clients and self._loop is not None:
            self._watchdog = self._loop.call_later(self.send_timeout / 10, self._watch)
        else:
            self._watchdog = None

    # --- publishing (any thread) ---------------------------------------------------------------
    def message(self, type_: str, **fields: Any) -> str:
        """``{"type": ..., **fields, "timestamp": ISO}`` as JSON text."""
        body = {"type": type_, **fields, "timestamp": self.now_iso()}
        return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY).decode()

    def now_iso(self) -> str:
        return datetime.fromtimestamp(self.clock.now(), timezone.utc).isoformat(timespec="microseconds")

    def publish(self, channel: str, type_: str, data: Mapping[str, Any]) -> None:
        """Queue ``{"type", "data", "timestamp"}`` to every subscriber of ``channel``; never blocks."""
        loop = self._loop
        if loop is None or not self._channels.get(channel):
            return  # nobody listens: do not even serialise
        payload = self.message(type_, data=data)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._fanout(channel, payload)
            return
        try:
            loop.call_soon_threadsafe(self._fanout, channel, payload)
        except RuntimeError:  # the loop is closed: no client is left to tell
            pass

    def _fanout(self, channel: str, payload: str) -> None:
        members = self._channels.get(channel)
        if not members:
            return
        self.messages_published += 1
        item = _Outgoing(payload, self.clock.now(), reply=False)
        for client in tuple(members):
            if client.close_reason is not None:
                continue
            if client._offer(item):
                self.messages_queued += 1
            else:
                self._cut_off(client, f"client too slow: {client.backlog + 1} messages behind")

    def _cut_off(self, client: Subscriber, reason: str) -> None:
        client.close_reason = reason
        self.slow_clients_disconnected += 1
        log.warning("websocket client %d cut off: %s", client.id, reason)
        self.disconnect(client)
        client._discard()
        client.kicked.set()

    # --- figures -------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        return {
            "clients": len(self._clients),
            "queue_size": self.queue_size,
            "reply_queue_size": REPLY_QUEUE_SIZE,
            "send_timeout_seconds": self.send_timeout,
            "messages_published": self.messages_published,
            "messages_queued": self.messages_queued,
            "messages_sent": self.messages_sent,
            "slow_clients_disconnected": self.slow_clients_disconnected,
            "slow_clients_not_reading": self.slow_clients_not_reading,
            "channels": {channel: len(members) for channel, members in sorted(self._channels.items())},
        }
