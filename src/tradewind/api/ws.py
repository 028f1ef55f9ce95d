"""``WS /ws``: the AI-service seed's real-time channel over the broadcast hub.

Server to client: ``connection`` on connect, ``AISignalReceived`` for every new signal,
``CandleClosed`` on ``candles:{SYMBOL}:{tf}``, ``Pong``, ``subscribed``/``unsubscribed`` and
``error`` replies. Client to server: ``ping`` (text) or ``{"type": "ping"}``,
``{"type": "subscribe" | "unsubscribe", "channels": [...]}``. A bad message gets an ``error``
reply naming the field and the connection stays open. One task writes (draining the client's
queue), one reads; the hub cutting a slow client off ends both and closes with code 1008.
"""

from __future__ import annotations

import asyncio
import contextlib

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from tradewind.adapters.broadcast import SLOW_CLIENT_CODE, BroadcastHub, Subscriber, parse_channels
from tradewind.bootstrap import Container
from tradewind.domain.errors import ValidationError

__all__ = ["router"]

router = APIRouter(tags=["websocket"])

CONNECTED = "Connected to AI Trading Service"
CLOSE_TIMEOUT = 10.0  # how long a cut-off client gets to take its close frame


@router.websocket("/ws")
async def ws(websocket: WebSocket) -> None:
    """Real-time AI signals (and candle channels on request)."""
    container: Container = websocket.app.state.container
    hub = container.hub
    await websocket.accept()
    client = hub.connect()
    hub.send(client, "connection", message=CONNECTED)
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
        with contextlib.suppress(Exception):
            await asyncio.wait_for(websocket.close(SLOW_CLIENT_CODE, client.close_reason), CLOSE_TIMEOUT)


async def _write(websocket: WebSocket, client: Subscriber) -> None:
    with contextlib.suppress(WebSocketDisconnect, OSError):
        while True:
            await websocket.send_text(await client.next())
            client.mark_sent()


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
                hub.send(client, "error", message="a message must be UTF-8 JSON text", error_code="VALIDATION_ERROR",
                         field=None)
                continue
        _answer(text, hub, client, container)


def _answer(text: str, hub: BroadcastHub, client: Subscriber, container: Container) -> None:
    """Act on one client message; every outcome is a reply, never an exception."""
    if text.strip().lower() == "ping":
        hub.send(client, "Pong", message="Connection alive")
        return
    try:
        body = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        hub.send(client, "error", message=f"message is not valid JSON: {exc}", error_code="VALIDATION_ERROR",
                 field=None)
        return
    kind = body.get("type") if isinstance(body, dict) else None
    if not isinstance(kind, str):
        hub.send(client, "error", message='a message must be a JSON object with a string "type"',
                 error_code="VALIDATION_ERROR", field="type")
        return
    kind = kind.lower()
    if kind == "ping":
        hub.send(client, "Pong", message="Connection alive")
    elif kind in ("subscribe", "unsubscribe"):
        try:
            channels = parse_channels(
                body.get("channels"), symbols=container.streamer.symbols, timeframes=container.streamer.timeframes
            )
        except ValidationError as exc:
            hub.send(client, "error", message=str(exc), error_code=exc.code, field=exc.field)
            return
        if kind == "subscribe":
            hub.subscribe(client, channels)
        else:
            hub.unsubscribe(client, channels)
        hub.send(client, kind + "d", channels=sorted(client.channels))
    else:
        hub.send(client, "error", message=f"unknown message type {body['type']!r}: use ping, subscribe or unsubscribe",
                 error_code="VALIDATION_ERROR", field="type")
