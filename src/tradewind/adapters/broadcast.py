"""The broadcast hub: one publish, serialised once, queued to every subscriber of a channel.

Publishing never waits on a client. Each subscriber owns a bounded ``asyncio.Queue`` filled with
``put_nowait``; a subscriber whose queue is full is cut off ("client too slow: N messages
behind", close code 1008) instead of slowing the publisher or the other clients. ``publish`` may be
called from any thread (the signal service runs in worker threads): off the event loop it
serialises in the calling thread and hops over with ``call_soon_threadsafe``.

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
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

import orjson

from tradewind.domain.clock import Clock, SystemClock
from tradewind.domain.errors import ValidationError
from tradewind.domain.events import CandleClosed
from tradewind.domain.symbol import normalize_symbol
from tradewind.domain.timeframe import Timeframe, parse_timeframe

__all__ = [
    "SIGNALS",
    "SLOW_CLIENT_CODE",
    "BroadcastHub",
    "Subscriber",
    "candles_channel",
    "parse_channel",
    "parse_channels",
    "signal_message_data",
    "trading_channel",
]

log = logging.getLogger(__name__)

SIGNALS = "signals"
SLOW_CLIENT_CODE = 1008  # policy violation: the client did not keep up
MAX_CHANNELS_PER_MESSAGE = 100


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
            raise ValidationError(f"invalid channel {name!r}: use candles:{{SYMBOL}}:{{timeframe}}", field=field)
        symbol = _symbol(symbol_text, field, symbols)
        timeframe = parse_timeframe(tf_text, field=field)
        if timeframes is not None and timeframe not in timeframes:
            streamed = ", ".join(tf.value for tf in timeframes)
            raise ValidationError(f"timeframe {timeframe.value} is not streamed (streamed: {streamed})", field=field)
        return candles_channel(symbol, timeframe)
    if kind == "trading" and rest:
        return trading_channel(_symbol(rest, field, symbols))
    raise ValidationError(
        f"unknown channel {name!r}: use signals, candles:{{SYMBOL}}:{{timeframe}} or trading:{{SYMBOL}}", field=field
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


def signal_message_data(symbol: str, document: Mapping[str, Any]) -> dict[str, Any]:
    """The seed's ``AISignalReceived`` data from a stored signal document (plus its ``signal_id``)."""
    return {
        "symbol": symbol,
        "signal": str(document.get("signal", "")).lower(),
        "confidence": document.get("confidence"),
        "timestamp": document.get("timestamp"),
        "model_type": document.get("analyst"),
        "timeframe": document.get("timeframe"),
        "reasoning": document.get("reasoning"),
        "strategy_scores": document.get("strategy_scores", {}),
        "signal_id": document.get("signal_id"),
    }


class Subscriber:
    """One connected client: its channels and its bounded queue of serialised messages."""

    __slots__ = ("_hub", "channels", "close_reason", "id", "kicked", "queue", "sent")

    def __init__(self, hub: BroadcastHub, client_id: int, queue_size: int) -> None:
        self.id = client_id
        self.channels: set[str] = set()
        self.queue: asyncio.Queue[str] = asyncio.Queue(queue_size)
        self.kicked = asyncio.Event()  # set when the hub cuts the client off
        self.close_reason: str | None = None
        self.sent = 0
        self._hub = hub

    async def next(self) -> str:
        return await self.queue.get()

    def mark_sent(self) -> None:
        self.sent += 1
        self._hub.messages_sent += 1


class BroadcastHub:
    """Channels of subscribers; clients are added and removed on the loop, publishing is from anywhere."""

    def __init__(self, *, queue_size: int = 100, clock: Clock | None = None) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self.queue_size = queue_size
        self.clock = clock or SystemClock()
        self.messages_published = 0  # publishes that reached at least one subscriber
        self.messages_queued = 0  # per-client deliveries queued
        self.messages_sent = 0  # per-client deliveries written to the connection
        self.slow_clients_disconnected = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clients: set[Subscriber] = set()
        self._channels: dict[str, set[Subscriber]] = {}
        self._ids = itertools.count(1)

    # --- clients (on the event loop) -----------------------------------------------------------
    def bind(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Attach to the loop the clients live on (the running one by default)."""
        self._loop = loop or asyncio.get_running_loop()

    def connect(self, channels: Iterable[str] = (SIGNALS,)) -> Subscriber:
        if self._loop is None:
            self.bind()
        client = Subscriber(self, next(self._ids), self.queue_size)
        self._clients.add(client)
        self.subscribe(client, channels)
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

    def send(self, client: Subscriber, type_: str, **fields: Any) -> None:
        """A message to one client only (a reply), behind what is already queued for it."""
        self._enqueue(client, self.message(type_, **fields))

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

    def publish_signal(self, symbol: str, document: Mapping[str, Any]) -> None:
        """The signal service's ``on_signal``: a new signal as the seed's ``AISignalReceived``."""
        self.publish(SIGNALS, "AISignalReceived", signal_message_data(symbol, document))

    def on_candle_closed(self, event: object) -> None:
        """Bus subscriber: a closed candle to ``candles:{SYMBOL}:{tf}``."""
        if isinstance(event, CandleClosed):
            data = {"symbol": event.symbol, "timeframe": event.timeframe.value, "candle": event.candle.to_dict()}
            self.publish(candles_channel(event.symbol, event.timeframe), "CandleClosed", data)

    def _fanout(self, channel: str, payload: str) -> None:
        members = self._channels.get(channel)
        if not members:
            return
        self.messages_published += 1
        for client in tuple(members):
            self._enqueue(client, payload)

    def _enqueue(self, client: Subscriber, payload: str) -> None:
        if client.close_reason is not None:
            return
        try:
            client.queue.put_nowait(payload)
        except asyncio.QueueFull:
            self._cut_off(client)
        else:
            self.messages_queued += 1

    def _cut_off(self, client: Subscriber) -> None:
        behind = client.queue.qsize() + 1
        client.close_reason = f"client too slow: {behind} messages behind"
        self.slow_clients_disconnected += 1
        log.warning("websocket client %d cut off: %s", client.id, client.close_reason)
        self.disconnect(client)
        while not client.queue.empty():  # never to be sent: free them now
            client.queue.get_nowait()
        client.kicked.set()

    # --- figures -------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        return {
            "clients": len(self._clients),
            "queue_size": self.queue_size,
            "messages_published": self.messages_published,
            "messages_queued": self.messages_queued,
            "messages_sent": self.messages_sent,
            "slow_clients_disconnected": self.slow_clients_disconnected,
            "channels": {channel: len(members) for channel, members in sorted(self._channels.items())},
        }
