"""``WS /ws``: the AI-service seed's real-time channel over the broadcast hub.

Server to client: ``connection`` on connect, ``AISignalReceived`` for every new signal,
``CandleClosed`` on ``candles:{SYMBOL}:{tf}``, ``Pong``, ``subscribed``/``unsubscribed`` and
``error`` replies. Client to server: ``ping`` (text) or ``{"type": "ping"}``,
``{"type": "subscribe" | "unsubscribe", "channels": [...]}``. A bad message gets an ``error``
reply naming the field (quoting at most an excerpt of what was sent) and the connection stays open.

One task reads, one writes (``Subscriber.deliver``: the hub's rules on slow clients live in
``adapters/broadcast.py``). The reader waits for room for its replies, so a client that floods us
is read more slowly, never cut off for it. When the hub cuts a client off, both tasks end and the
client is closed with 1008 and the reason; the close frame gets one send timeout like any message,
and then the connection is dropped whether it got out or not: uvicorn's own close waits for the
peer to take every buffered byte first, which a client that never reads never does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from tradewind.adapters.broadcast import (
    SIGNALS,
    SLOW_CLIENT_CODE,
    BroadcastHub,
    Subscriber,
    candles_channel,
    parse_channels,
    trading_channel,
)
from tradewind.api.signal_documents import signal_message
from tradewind.bootstrap import Container
from tradewind.domain.errors import ValidationError
from tradewind.domain.events import (
    CandleClosed,
    DrawdownAlert,
    OrderFilled,
    PositionChanged,
    ReflectionCreated,
    RiskDenied,
    SignalCreated,
    StatisticsUpdated,
    TradeClosed,
)
from tradewind.domain.excerpt import excerpt
from tradewind.domain.ports import EventBus
from tradewind.trading.analytics import trade_dict
from tradewind.trading.engine import PORTFOLIO
from tradewind.trading.service import position_dict

__all__ = ["bridge", "router", "trading_bridge"]

router = APIRouter(tags=["websocket"])

CONNECTED = "Connected to AI Trading Service"


def bridge(bus: EventBus, hub: BroadcastHub, symbols: Callable[[], Iterable[str]] = tuple) -> Callable[[], None]:
    """Put the bus's events on the hub's channels in the seeds' shapes; returns the unsubscribe.

    New signals go to ``signals`` as ``AISignalReceived``, closed candles to ``candles:{SYMBOL}:{tf}``
    as ``CandleClosed``, the engine's events to ``trading:{SYMBOL}`` (see ``trading_bridge``). Only
    the API does this: a backtest's kernel has no one to tell.
    """

    def on_signal(event: object) -> None:
        if isinstance(event, SignalCreated):
            hub.publish(SIGNALS, "AISignalReceived", signal_message(event))

    def on_candle(event: object) -> None:
        if isinstance(event, CandleClosed):
            data = {"symbol": event.symbol, "timeframe": event.timeframe.value, "candle": event.candle.to_dict()}
            hub.publish(candles_channel(event.symbol, event.timeframe), "CandleClosed", data)

    undo = [bus.subscribe(SignalCreated.topic, on_signal), bus.subscribe(CandleClosed.topic, on_candle),
            *trading_bridge(bus, hub, symbols)]

    def unsubscribe() -> None:
        for step in undo:
            step()

    return unsubscribe


def trading_bridge(bus: EventBus, hub: BroadcastHub, symbols: Callable[[], Iterable[str]]) -> list[Callable[[], None]]:
    """The engine's events on ``trading:{SYMBOL}``, each with its ``type``: ``TradeOpened``,
    ``TradeClosed``, ``OrderFilled``, ``PositionUpdate`` (after a fill and at every closed candle:
    the P&L), ``StatisticsUpdate``, ``RiskDenied``, ``DrawdownAlert`` and ``ReflectionCreated``.
    What concerns the whole book (the kill switch, drawdown alerts) goes to every traded symbol."""
    holding: set[str] = set()

    def send(symbol: str, type_: str, data: dict[str, Any]) -> None:
        targets = list(symbols()) if symbol == PORTFOLIO else [symbol]
        for target in targets:
            hub.publish(trading_channel(target), type_, data)

    def on_fill(event: object) -> None:
        if isinstance(event, OrderFilled):
            fill = event.fill
            send(fill.symbol, "OrderFilled", {
                "symbol": fill.symbol, "client_order_id": fill.client_order_id, "side": fill.side,
                "quantity": fill.quantity, "price": fill.price, "fee": fill.fee, "time": fill.time,
                "reason": fill.reason, "equity": event.equity})

    def on_position(event: object) -> None:
        if not isinstance(event, PositionChanged):
            return
        position = event.position
        data = {"symbol": event.symbol, "unrealized_pnl": event.unrealized_pnl, "realized_pnl": event.realized_pnl,
                "position": position_dict(position, None) if position is not None else None}
        if position is not None and event.symbol not in holding:
            holding.add(event.symbol)
            send(event.symbol, "TradeOpened", data)
        elif position is None:
            holding.discard(event.symbol)
        send(event.symbol, "PositionUpdate", data)

    def on_trade(event: object) -> None:
        if isinstance(event, TradeClosed):
            send(event.trade.symbol, "TradeClosed", trade_dict(event.trade))

    def on_statistics(event: object) -> None:
        if isinstance(event, StatisticsUpdated):
            send(event.symbol, "StatisticsUpdate", {"symbol": event.symbol, "statistics": dict(event.statistics)})

    def on_risk(event: object) -> None:
        if isinstance(event, RiskDenied):
            send(event.symbol, "RiskDenied", {"symbol": event.symbol, "reason": event.reason,
                                              "detail": event.detail, "time": event.time})

    def on_drawdown(event: object) -> None:
        if isinstance(event, DrawdownAlert):
            send(PORTFOLIO, "DrawdownAlert", {"drawdown": event.drawdown, "level": event.level,
                                              "equity": event.equity, "halted": event.halted, "time": event.time})

    def on_reflection(event: object) -> None:
        if isinstance(event, ReflectionCreated):
            send(event.symbol, "ReflectionCreated", dict(event.reflection))

    return [bus.subscribe(OrderFilled.topic, on_fill), bus.subscribe(PositionChanged.topic, on_position),
            bus.subscribe(TradeClosed.topic, on_trade), bus.subscribe(StatisticsUpdated.topic, on_statistics),
            bus.subscribe(RiskDenied.topic, on_risk), bus.subscribe(DrawdownAlert.topic, on_drawdown),
            bus.subscribe(ReflectionCreated.topic, on_reflection)]


@router.websocket("/ws")
async def ws(websocket: WebSocket) -> None:
    """Real-time AI signals (and candle channels on request)."""
    container: Container = websocket.app.state.container
    hub = container.hub
    await websocket.accept()
    client = hub.connect()
    await hub.reply(client, "connection", message=CONNECTED)
    tasks = [
        asyncio.create_task(_read(websocket, hub, client, container)),
        asyncio.create_task(_write(websocket, client)),
        asyncio.create_task(client.kicked.wait()),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        hub.disconnect(client)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if client.close_reason is not None:
        await _close(websocket, client.close_reason, hub.send_timeout)


async def _write(websocket: WebSocket, client: Subscriber) -> None:
    with contextlib.suppress(WebSocketDisconnect, OSError):
        await client.deliver(websocket.send_text)


async def _close(websocket: WebSocket, reason: str, timeout: float) -> None:
    """Close with 1008 and ``reason``; ``timeout`` later the connection is dropped, closed or not."""
    transport = _transport(websocket)
    if transport is not None:  # a no-op when the close handshake is over by then
        asyncio.get_running_loop().call_later(timeout, transport.abort)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(websocket.close(SLOW_CLIENT_CODE, reason), timeout)


def _transport(websocket: WebSocket) -> asyncio.Transport | None:
    """The connection's transport, where the server lets us reach it, else None.

    ASGI has no call that drops a connection. Under uvicorn ``receive`` is a method of the
    connection's protocol object, which holds the transport; under another server this finds
    nothing and that server's own timeouts apply.
    """
    protocol = getattr(websocket._receive, "__self__", None)
    transport = getattr(protocol, "transport", None)
    return transport if callable(getattr(transport, "abort", None)) else None


async def _read(websocket: WebSocket, hub: BroadcastHub, client: Subscriber, container: Container) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is None:
            try:
                text = (message.get("bytes") or b"").decode()
            except UnicodeDecodeError:
                await hub.reply(client, "error", message="a message must be UTF-8 JSON text",
                                error_code="VALIDATION_ERROR", field=None)
                continue
        await _answer(text, hub, client, container)


async def _answer(text: str, hub: BroadcastHub, client: Subscriber, container: Container) -> None:
    """Act on one client message; every outcome is a reply, never an exception."""
    if text.strip().lower() == "ping":
        await hub.reply(client, "Pong", message="Connection alive")
        return
    try:
        body = orjson.loads(text)
    except orjson.JSONDecodeError as exc:  # orjson's message gives the position, never the text
        await hub.reply(client, "error", message=f"message is not valid JSON: {exc}", error_code="VALIDATION_ERROR",
                        field=None)
        return
    kind = body.get("type") if isinstance(body, dict) else None
    if not isinstance(kind, str):
        await hub.reply(client, "error", message='a message must be a JSON object with a string "type"',
                        error_code="VALIDATION_ERROR", field="type")
        return
    kind = kind.lower()
    if kind == "ping":
        await hub.reply(client, "Pong", message="Connection alive")
    elif kind in ("subscribe", "unsubscribe"):
        try:
            channels = parse_channels(
                body.get("channels"), symbols=container.streamer.symbols, timeframes=container.streamer.timeframes
            )
        except ValidationError as exc:
            await hub.reply(client, "error", message=str(exc), error_code=exc.code, field=exc.field)
            return
        if kind == "subscribe":
            hub.subscribe(client, channels)
        else:
            hub.unsubscribe(client, channels)
        await hub.reply(client, kind + "d", channels=sorted(client.channels))
    else:
        await hub.reply(client, "error", error_code="VALIDATION_ERROR", field="type",
                        message=f"unknown message type {excerpt(body['type'])}: use ping, subscribe or unsubscribe")
