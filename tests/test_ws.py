"""``WS /ws`` over real connections: a uvicorn server on 127.0.0.1 and ``websockets`` clients."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
from support.server import serve
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tradewind.api.app import create_app
from tradewind.bootstrap import Container, build_container
from tradewind.domain import Candle, CandleClosed, Timeframe
from tradewind.settings import Settings

SEED_SIGNAL_KEYS = {"symbol", "signal", "confidence", "timestamp", "model_type", "timeframe", "reasoning",
                    "strategy_scores"}
QUEUE_SIZE = 8


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Container]]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path_factory.mktemp('ws') / 'tw.db'}", symbols=["BTCUSDT"], history_hours=30,
        analysis_interval_minutes=0, ws_queue_size=QUEUE_SIZE,
    )
    container = build_container(settings)
    with serve(create_app(container)) as url:
        deadline = time.monotonic() + 20
        while not container.runtime.running:
            assert time.monotonic() < deadline, "the streamer did not start"
            time.sleep(0.02)
        yield url, container


def ws_url(url: str) -> str:
    return "ws" + url.removeprefix("http") + "/ws"


async def receive(client: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    return orjson.loads(await asyncio.wait_for(client.recv(), timeout))  # type: ignore[no-any-return]


@pytest.fixture
async def client(running: tuple[str, Container]) -> AsyncIterator[ClientConnection]:
    async with connect(ws_url(running[0]), proxy=None) as ws:
        assert (await receive(ws))["type"] == "connection"
        yield ws


async def next_is_pong(ws: ClientConnection) -> None:
    """A ping's Pong comes back next only if nothing else was queued for ``ws`` before it."""
    await ws.send("ping")
    assert (await receive(ws))["type"] == "Pong"


async def test_connection_message_and_pong(running: tuple[str, Container]) -> None:
    async with connect(ws_url(running[0]), proxy=None) as ws:
        hello = await receive(ws)
        assert set(hello) == {"type", "message", "timestamp"}
        assert (hello["type"], hello["message"]) == ("connection", "Connected to AI Trading Service")
        assert datetime.fromisoformat(hello["timestamp"]).utcoffset() is not None
        for ping in ("ping", '{"type": "ping"}'):
            await ws.send(ping)
            pong = await receive(ws)
            assert set(pong) == {"type", "message", "timestamp"}
            assert (pong["type"], pong["message"]) == ("Pong", "Connection alive")


async def test_a_new_signal_reaches_every_client_once(running: tuple[str, Container]) -> None:
    url, container = running
    async with httpx.AsyncClient(base_url=url, timeout=10) as http, \
            connect(ws_url(url), proxy=None) as one, connect(ws_url(url), proxy=None) as two:
        for ws in (one, two):
            assert (await receive(ws))["type"] == "connection"
        await http.post("/ai/storage/clear")
        body = (await http.post("/ai/analyze", json={"symbol": "BTCUSDT"})).json()
        assert body["cached"] is False
        for ws in (one, two):
            message = await receive(ws)
            assert set(message) == {"type", "data", "timestamp"} and message["type"] == "AISignalReceived"
            data = message["data"]
            assert set(data) >= SEED_SIGNAL_KEYS
            assert (data["symbol"], data["signal"], data["signal_id"]) == ("BTCUSDT", body["signal"].lower(),
                                                                           body["signal_id"])
            assert data["signal"] in {"long", "short", "neutral"} and data["model_type"] == "rules"
            assert (data["confidence"], data["timestamp"], data["timeframe"], data["reasoning"]) == (
                body["confidence"], body["timestamp"], body["timeframe"], body["reasoning"])
            assert data["strategy_scores"] == body["strategy_scores"]
        published = container.hub.messages_published
        again = (await http.post("/ai/analyze", json={"symbol": "BTCUSDT"})).json()
        assert again["reasoning"].startswith("[RECENT] ") and again["signal_id"] == body["signal_id"]
        for ws in (one, two):
            await next_is_pong(ws)  # the cached answer was not broadcast
        assert container.hub.messages_published == published
        assert (await http.get("/ai/storage/stats")).json()["total_analyses"] == 1


def candle_event(ts: int, symbol: str = "BTCUSDT", timeframe: Timeframe = Timeframe.M1) -> CandleClosed:
    return CandleClosed(symbol, timeframe, Candle(ts, 100.0, 101.5, 99.5, 101.0, 12.5))


async def wait_for_candle(ws: ClientConnection, ts: int) -> dict[str, Any]:
    """The CandleClosed with open time ``ts`` (the live feed may close real candles meanwhile)."""
    while True:
        message = await receive(ws)
        assert message["type"] == "CandleClosed"
        if message["data"]["candle"]["time"] == ts:
            return message


async def test_candle_channels(running: tuple[str, Container], client: ClientConnection) -> None:
    _, container = running
    await client.send(orjson.dumps({"type": "subscribe", "channels": ["candles:btc/usdt:M1"]}).decode())
    reply = await receive(client)
    assert (reply["type"], reply["channels"]) == ("subscribed", ["candles:BTCUSDT:1m", "signals"])
    async with connect(ws_url(running[0]), proxy=None) as other:
        assert (await receive(other))["type"] == "connection"
        await asyncio.to_thread(container.bus.publish, CandleClosed.topic, candle_event(946_684_800))
        message = await wait_for_candle(client, 946_684_800)
        assert set(message) == {"type", "data", "timestamp"}
        assert message["data"] == {"symbol": "BTCUSDT", "timeframe": "1m", "candle": {
            "time": 946_684_800, "open": 100.0, "high": 101.5, "low": 99.5, "close": 101.0, "volume": 12.5,
            "spread": None, "closed": True}}
        await next_is_pong(other)  # not subscribed: nothing for it
    await client.send('{"type": "unsubscribe", "channels": ["candles:BTCUSDT:1m"]}')
    reply = await receive(client)
    while reply["type"] == "CandleClosed":  # a real close that raced the unsubscribe
        reply = await receive(client)
    assert (reply["type"], reply["channels"]) == ("unsubscribed", ["signals"])
    container.bus.publish(CandleClosed.topic, candle_event(946_684_860))
    await next_is_pong(client)


@pytest.mark.parametrize(
    ("sent", "field", "needle"),
    [
        ({"type": "subscribe", "channels": ["signals", "candles:BTCUSDT:7m"]}, "channels[1]", "'7m'"),
        ({"type": "subscribe", "channels": ["candles:DOGEUSDT:1m"]}, "channels[0]", "DOGEUSDT is not streamed"),
        ({"type": "subscribe", "channels": ["candles:BTC$:1m"]}, "channels[0]", "invalid symbol"),
        ({"type": "subscribe", "channels": ["prices:BTCUSDT"]}, "channels[0]", "unknown channel"),
        ({"type": "subscribe", "channels": ["trading:BTCUSDT", 7]}, "channels[1]", "non-empty string"),
        ({"type": "subscribe", "channels": "signals"}, "channels", "non-empty list"),
        ({"type": "unsubscribe"}, "channels", "non-empty list"),
        ({"type": "dance"}, "type", "unknown message type"),
        ([1, 2], "type", '"type"'),
        ("{not json", None, "not valid JSON"),
        (b"\xff\xfe", None, "UTF-8"),
    ],
)
async def test_bad_messages_get_an_error_naming_the_field(
    client: ClientConnection, sent: object, field: str | None, needle: str
) -> None:
    await client.send(sent if isinstance(sent, (str, bytes)) else orjson.dumps(sent).decode())
    error = await receive(client)
    assert error["type"] == "error" and error["field"] == field and needle in error["message"]
    await next_is_pong(client)  # still open


async def test_a_valid_subscription_is_all_or_nothing(client: ClientConnection) -> None:
    await client.send('{"type": "subscribe", "channels": ["trading:BTCUSDT", "candles:BTCUSDT:2h"]}')
    assert (await receive(client))["field"] == "channels[1]"
    await client.send('{"type": "subscribe", "channels": ["trading:btc-usdt"]}')
    assert (await receive(client))["channels"] == ["signals", "trading:BTCUSDT"]


def slow_socket(url: str) -> socket.socket:
    """A connected socket with a tiny receive buffer, so a client that stops reading backs up fast."""
    parts = urlsplit(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((parts.hostname, parts.port))
    sock.setblocking(False)
    return sock


async def test_a_slow_client_is_cut_off_and_a_fast_one_gets_everything(running: tuple[str, Container]) -> None:
    url, container = running
    hub = container.hub
    cut_before = hub.slow_clients_disconnected
    pad = os.urandom(32 * 1024).hex()  # 64 KB that compression cannot shrink
    # the slow client stops reading once one frame waits in its queue; compression off to keep frames big
    async with connect(ws_url(url), proxy=None, compression=None) as fast, \
            connect(ws_url(url), proxy=None, compression=None, sock=slow_socket(url), max_queue=1) as slow:
        assert (await receive(fast))["type"] == "connection"
        sent = 0
        after_cut = 0
        while after_cut < 2 * QUEUE_SIZE:  # keep publishing well past the cut-off
            assert sent < 2000, "the slow client was never cut off"
            # from this (non-loop) thread: the hub hops onto the server's loop
            hub.publish("signals", "Load", {"seq": sent, "pad": pad})
            message = await receive(fast)
            assert (message["type"], message["data"]["seq"]) == ("Load", sent)
            sent += 1
            if hub.slow_clients_disconnected > cut_before:
                after_cut += 1
        assert hub.slow_clients_disconnected == cut_before + 1
        got: list[int] = []
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(10):
                assert orjson.loads(await slow.recv())["type"] == "connection"
                while True:
                    got.append(orjson.loads(await slow.recv())["data"]["seq"])
        assert got == list(range(len(got))) and len(got) < sent - QUEUE_SIZE
        received = closed.value.rcvd
        assert received is not None and received.code == 1008
        assert received.reason.startswith("client too slow: ") and received.reason.endswith(" messages behind")
        await next_is_pong(fast)
    async with httpx.AsyncClient() as http:
        stats = (await http.get(f"{url}/health")).json()["websocket"]
    assert stats["slow_clients_disconnected"] == cut_before + 1 and stats["queue_size"] == QUEUE_SIZE
