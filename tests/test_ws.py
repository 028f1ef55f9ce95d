"""``WS /ws`` over real connections: a uvicorn server on 127.0.0.1 and ``websockets`` clients."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
from support.server import serve
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tradewind.adapters.broadcast import SIGNALS, BroadcastHub
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


BURST = 300


@pytest.mark.parametrize(
    ("request_text", "answer"),
    [
        ("ping", "Pong"),
        ('{"type": "ping"}', "Pong"),
        ('{"type": "subscribe", "channels": ["trading:BTCUSDT"]}', "subscribed"),
    ],
)
async def test_a_burst_of_requests_is_answered_not_cut_off(
    running: tuple[str, Container], client: ClientConnection, request_text: str, answer: str
) -> None:
    """Replies do not count against the broadcast queue (8 here): 300 requests get 300 answers."""
    url, container = running
    hub = container.hub
    cut_before = hub.slow_clients_disconnected
    async with connect(ws_url(url), proxy=None) as other:
        assert (await receive(other))["type"] == "connection"
        answers: list[dict[str, Any]] = []
        signals: dict[str, list[int]] = {"burst": [], "other": []}

        async def read(ws: ClientConnection, name: str) -> None:
            while True:
                message = await receive(ws)
                if message["type"] == "AISignalReceived":
                    signals[name].append(int(message["data"]["signal_id"].removeprefix("burst-")))
                elif name == "burst":
                    answers.append(message)

        readers = [asyncio.create_task(read(client, "burst")), asyncio.create_task(read(other, "other"))]
        for i in range(BURST):
            await client.send(request_text)
            if i % 50 == 0:  # broadcasts go on during the burst (fewer than the queue holds: no test of speed)
                hub.publish(SIGNALS, "AISignalReceived", flood_document(i // 50, "burst"))
        published = list(range(BURST // 50))
        async with asyncio.timeout(10):
            while len(answers) < BURST or any(len(got) < len(published) for got in signals.values()):
                await asyncio.sleep(0.01)
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        assert [message["type"] for message in answers] == [answer] * BURST
        assert signals == {"burst": published, "other": published}
        assert hub.slow_clients_disconnected == cut_before
        await next_is_pong(client)  # still open


def flood_document(seq: int, prefix: str = "flood", reasoning: int = 240) -> dict[str, Any]:
    """A stored signal document (a few hundred bytes by default), told apart by its ``signal_id``."""
    return {"signal": "LONG", "confidence": 0.7, "timestamp": "2026-01-01T00:00:00+00:00", "analyst": "rules",
            "timeframe": "1m", "reasoning": "x" * reasoning, "strategy_scores": {"trend": 0.5},
            "signal_id": f"{prefix}-{seq}"}


SEND_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def deep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Container]]:
    """A server whose broadcast queue is too deep to fill in a test: only the send timeout can cut."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path_factory.mktemp('ws-deep') / 'tw.db'}", symbols=["BTCUSDT"],
        history_hours=2, analysis_interval_minutes=0, ws_queue_size=100_000, ws_send_timeout_seconds=SEND_TIMEOUT,
    )
    container = build_container(settings)
    with serve(create_app(container)) as url:
        yield url, container


class RawClient:
    """A WebSocket client on a bare socket with a tiny receive buffer: it reads only when told to."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect((parts.hostname, parts.port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(f"GET /ws HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(4096)
        head, _, self.buffer = head.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 ")

    def read_frames(self, timeout: float) -> tuple[list[tuple[int, bytes]], str]:
        """``(opcode, payload)`` of every frame up to a close frame or the end of the stream, and
        which ended it: "close", "eof", "reset" or "timeout"."""
        frames: list[tuple[int, bytes]] = []
        self.sock.settimeout(timeout)
        while True:
            frames += self._parse()
            if frames and frames[-1][0] == 0x8:
                return frames, "close"
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                return frames, "reset"
            except TimeoutError:
                return frames, "timeout"
            if not data:
                return frames, "eof"
            self.buffer += data

    def _parse(self) -> list[tuple[int, bytes]]:
        frames = []
        while len(self.buffer) >= 2:
            length, head = self.buffer[1] & 0x7F, 2
            if length > 125:
                head = 4 if length == 126 else 10
                if len(self.buffer) < head:
                    break
                length = int.from_bytes(self.buffer[2:head], "big")
            if len(self.buffer) < head + length:
                break
            frames.append((self.buffer[0] & 0x0F, self.buffer[head:head + length]))
            self.buffer = self.buffer[head + length:]
        return frames

    def held_by_server(self) -> bool:
        """Whether a process still holds the server's end of this connection open (Linux: an
        orphaned socket, one whose owner closed or aborted it, shows inode 0 in /proc/net/tcp)."""
        server_port, client_port = self.sock.getpeername()[1], self.sock.getsockname()[1]
        for line in Path("/proc/self/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, inode = int(fields[1].split(":")[1], 16), int(fields[2].split(":")[1], 16), fields[9]
            if (local, remote) == (server_port, client_port):
                return inode != "0"
        return False


class Flood:
    """Signals to every client, ~1,000 a second, published from this thread (the hub hops onto the
    server's loop), and a reading client that must get every one.

    Each signal carries 8 KB of reasoning: the kernel lets a connection's send buffer grow to
    ``tcp_wmem``'s maximum (4 MB here), so signals of a few hundred bytes take about 6 s just to
    fill it; 8 MB a second fills it in under a second. The reading client's permessage-deflate
    makes its copies small; the raw clients take no extension, so theirs stay whole.
    """

    def __init__(self, hub: BroadcastHub, reader: ClientConnection) -> None:
        self.hub = hub
        self.reader = reader
        self.published = 0
        self.received: list[int] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Flood:
        self.tasks = [asyncio.create_task(self._publish()), asyncio.create_task(self._read())]
        return self

    async def _publish(self) -> None:
        while True:
            for _ in range(10):
                self.hub.publish(SIGNALS, "AISignalReceived", flood_document(self.published, reasoning=8000))
                self.published += 1
            await asyncio.sleep(0.01)

    async def _read(self) -> None:
        while True:
            message = await receive(self.reader)
            if message["type"] == "AISignalReceived":
                self.received.append(int(message["data"]["signal_id"].removeprefix("flood-")))

    async def __aexit__(self, *exc_info: object) -> None:
        self.tasks[0].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.tasks[0]
        async with asyncio.timeout(5):  # the reader catches up with the last publish
            while len(self.received) < self.published and not self.tasks[1].done():
                await asyncio.sleep(0.01)
        self.tasks[1].cancel()
        await asyncio.gather(self.tasks[1], return_exceptions=True)


async def wait_for_cut(hub: BroadcastHub, before: int, timeout: float = 8.0) -> float:
    """The ``time.monotonic()`` at which the hub had cut one more client than ``before``."""
    async with asyncio.timeout(timeout):
        while hub.slow_clients_disconnected == before:
            await asyncio.sleep(0.005)
    return time.monotonic()


async def test_a_client_that_stops_reading_is_cut_within_the_send_timeout(deep: tuple[str, Container]) -> None:
    url, container = deep
    hub = container.hub
    before, not_reading = hub.slow_clients_disconnected, hub.slow_clients_not_reading
    stalled = await asyncio.to_thread(RawClient, url)
    async with connect(ws_url(url), proxy=None) as reading:
        assert (await receive(reading))["type"] == "connection"
        started = time.monotonic()
        async with Flood(hub, reading) as flood:
            cut = await wait_for_cut(hub, before) - started
            # it reads again at once: what the buffers held, in order, then the close frame
            frames, ending = await asyncio.to_thread(stalled.read_frames, 5.0)
            await asyncio.sleep(0.5)  # the reading client goes on receiving after the cut
        assert SEND_TIMEOUT - 0.1 < cut < 5.0, f"cut off after {cut:.2f} s"
        assert (hub.slow_clients_disconnected, hub.slow_clients_not_reading) == (before + 1, not_reading + 1)
        assert flood.received == list(range(flood.published)) and flood.published > 500
        assert ending == "close"
        code, reason = int.from_bytes(frames[-1][1][:2], "big"), frames[-1][1][2:].decode()
        assert (code, reason) == (1008, "client not reading: a message waited over 2 s to be written")
        messages = [orjson.loads(payload) for opcode, payload in frames[:-1]]
        assert all(opcode == 0x1 for opcode, _ in frames[:-1]) and messages[0]["type"] == "connection"
        got = [int(message["data"]["signal_id"].removeprefix("flood-")) for message in messages[1:]]
        assert got == list(range(len(got))) and 0 < len(got) < flood.published
        await next_is_pong(reading)
    stalled.sock.close()
    async with httpx.AsyncClient() as http:
        stats = (await http.get(f"{url}/health")).json()["websocket"]
    assert (stats["slow_clients_disconnected"], stats["slow_clients_not_reading"]) == (before + 1, not_reading + 1)
    assert stats["send_timeout_seconds"] == SEND_TIMEOUT


@pytest.mark.skipif(not Path("/proc/self/net/tcp").exists(), reason="reads the server's sockets in /proc/net/tcp")
async def test_a_cut_client_that_never_reads_is_dropped(deep: tuple[str, Container]) -> None:
    url, container = deep
    hub = container.hub
    before = hub.slow_clients_disconnected
    silent = await asyncio.to_thread(RawClient, url)
    async with connect(ws_url(url), proxy=None) as reading:
        assert (await receive(reading))["type"] == "connection"
        assert silent.held_by_server()
        async with Flood(hub, reading) as flood:
            cut = await wait_for_cut(hub, before)
            # the close frame cannot get out (the buffers are full); one send timeout later it is dropped
            assert silent.held_by_server()
            async with asyncio.timeout(SEND_TIMEOUT + 3):
                while silent.held_by_server():
                    await asyncio.sleep(0.02)
            dropped = time.monotonic() - cut
        assert SEND_TIMEOUT - 0.1 < dropped < SEND_TIMEOUT + 1.5, f"dropped {dropped:.2f} s after the cut"
        assert flood.received == list(range(flood.published))
    # what the kernel still held arrives, then the end of the stream, and never a close frame
    frames, ending = await asyncio.to_thread(silent.read_frames, 5.0)
    silent.sock.close()
    assert ending in ("eof", "reset") and all(opcode == 0x1 for opcode, _ in frames)


async def test_error_replies_quote_an_excerpt_not_the_input(client: ClientConnection) -> None:
    for sent, needle in [
        ({"type": "d" * 50_000}, "(50000 characters)"),
        ({"type": "subscribe", "channels": ["prices:" + "p" * 50_000]}, "(50007 characters)"),
        ({"type": "subscribe", "channels": ["candles:" + "q" * 50_000]}, "(50008 characters)"),
        ({"type": "subscribe", "channels": ["candles:BTCUSDT:" + "9" * 50_000]}, "(50000 characters)"),
    ]:
        await client.send(orjson.dumps(sent).decode())
        error = await receive(client)
        assert error["type"] == "error" and needle in error["message"] and len(error["message"]) < 200


async def test_a_message_over_the_size_limit_closes_only_its_sender(running: tuple[str, Container]) -> None:
    url, container = running
    async with connect(ws_url(url), proxy=None) as big, connect(ws_url(url), proxy=None) as other:
        for ws in (big, other):
            assert (await receive(ws))["type"] == "connection"
        await big.send(orjson.dumps({"type": "ping", "pad": "z" * 1024 * 1024}).decode())
        with pytest.raises(ConnectionClosed) as closed:
            await receive(big)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009  # uvicorn: message too big
        container.hub.publish(SIGNALS, "AISignalReceived", flood_document(0, "after-big"))
        message = await receive(other)
        assert (message["type"], message["data"]["signal_id"]) == ("AISignalReceived", "after-big-0")
        await next_is_pong(other)
