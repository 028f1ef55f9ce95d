"""``RequestTimeout`` on a real server: no answer begun in time is a 503 in the path's error shape;
an answer that has begun (a stream) is never cut; WebSockets are not timed at all."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI, WebSocket
from fastapi.responses import StreamingResponse
from support.server import serve
from websockets.sync.client import connect

from tradewind.api.request_timeout import RequestTimeout

LIMIT = 0.5


def app() -> FastAPI:
    api = FastAPI()

    @api.get("/api/slow")
    @api.get("/streamer/slow")
    @api.get("/v1/slow")
    async def slow() -> dict[str, bool]:
        await asyncio.sleep(5)
        return {"late": True}

    @api.get("/api/quick")
    async def quick() -> dict[str, bool]:
        return {"quick": True}

    @api.get("/api/stream")
    async def stream() -> StreamingResponse:
        async def parts() -> AsyncIterator[bytes]:
            for i in range(4):  # 1.2 s in all, well past the limit, but begun at once
                yield f"data: {i}\n\n".encode()
                await asyncio.sleep(0.3)

        return StreamingResponse(parts(), media_type="text/event-stream")

    @api.websocket("/ws")
    async def ws(socket: WebSocket) -> None:
        await socket.accept()
        await asyncio.sleep(LIMIT * 2)
        await socket.send_text("still here")
        await socket.close()

    api.add_middleware(RequestTimeout, seconds=LIMIT)
    return api


def test_no_answer_begun_in_time_is_a_503_in_each_paths_shape_and_a_begun_stream_is_not_cut() -> None:
    with serve(app()) as url:
        started = time.monotonic()
        rest = httpx.get(f"{url}/api/slow", timeout=10)
        took = time.monotonic() - started
        assert rest.status_code == 503 and took < 3
        assert rest.headers["retry-after"] == "1"
        assert rest.json()["error_code"] == "REQUEST_TIMEOUT" and "within 0.5 s" in rest.json()["detail"]
        streamer = httpx.get(f"{url}/streamer/slow", timeout=10).json()
        assert streamer["success"] is False and streamer["error_code"] == "REQUEST_TIMEOUT"
        v1 = httpx.get(f"{url}/v1/slow", timeout=10).json()["error"]
        assert v1["type"] == "server_error" and v1["code"] == "request_timeout"
        assert httpx.get(f"{url}/api/quick").json() == {"quick": True}
        streamed = httpx.get(f"{url}/api/stream", timeout=10)
        assert streamed.status_code == 200 and streamed.text.count("data:") == 4
        with connect(url.replace("http", "ws") + "/ws") as socket:
            assert socket.recv(timeout=10) == "still here"
