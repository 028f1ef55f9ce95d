"""Overload: past its limits a real server answers at once (503, 413) instead of piling work up.

One ``python -m tradewind serve`` process with small limits (8 connections, a 3 s request
timeout, 2 KiB bodies) and an upstream model (a local fake of OpenAI's wire protocol) that takes
a second to answer: a flood of slow requests past the limit gets fast 503s while the admitted
ones are answered, repeated floods leave its resident memory where the first left it, a request
with no answer begun in time gets 503 in OpenAI's envelope, and bodies over the limit get 413,
declared or chunked.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from fakes.openai_server import FakeOpenAI
from support.process import Served, serving

DATA = Path(__file__).parent / "data"
UPSTREAM = "gpt-4o-mini"
LIMIT = 8  # TRADEWIND_MAX_CONNECTIONS
FLOOD = 40
MODEL_SECONDS = 1.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    def answer(request: dict[str, Any]) -> str:
        time.sleep(6 if "slower" in json.dumps(request["messages"]) else MODEL_SECONDS)
        return "answered"

    tmp = tmp_path_factory.mktemp("overload")
    with FakeOpenAI(answer, model=UPSTREAM).running() as fake:
        settings = {
            "database_url": f"sqlite:///{tmp / 'tw.db'}", "feed": "replay", "replay_path": str(DATA / "ETH_BTC-5m.json"),
            "replay_symbol": "ETHBTC", "replay_timeframe": "5m", "replay_speed": "1", "symbols": "ETHBTC",
            "timeframes": "5m,15m,1h", "analysis_timeframes": "15m,1h", "analysis_interval_minutes": "0",
            "trading": "false", "llm_base_url": fake.base_url, "llm_model": UPSTREAM, "llm_api_keys": "sk-up",
            "llm_max_retries": "0", "llm_timeout": "20", "max_connections": str(LIMIT),
            "request_timeout_seconds": "3", "max_body_bytes": "2048",
        }
        with serving(tmp, settings) as served:
            yield served


def ask(url: str, content: str = "hello", client: httpx.Client | None = None) -> tuple[int, float, str]:
    """One chat request: (status, seconds, body)."""
    started = time.monotonic()
    with httpx.Client(timeout=30) if client is None else contextlib.nullcontext(client) as http:
        response = http.post(f"{url}/v1/chat/completions", headers={"Authorization": "Bearer sk-client"},
                             json={"model": UPSTREAM, "messages": [{"role": "user", "content": content}]})
    return response.status_code, time.monotonic() - started, response.text


def flood(url: str) -> list[tuple[int, float, str]]:
    """FLOOD requests at once, each on a connection of its own."""
    gate = threading.Barrier(FLOOD)
    limits = httpx.Limits(max_connections=FLOOD, max_keepalive_connections=0)
    with httpx.Client(timeout=30, limits=limits) as client, ThreadPoolExecutor(FLOOD) as pool:
        def one(_: int) -> tuple[int, float, str]:
            gate.wait()  # all at once
            return ask(url, client=client)

        return list(pool.map(one, range(FLOOD)))


def test_a_flood_past_the_limit_gets_fast_503s_while_the_admitted_requests_are_answered(server: Served) -> None:
    results = flood(server.url)
    answered = [r for r in results if r[0] == 200]
    refused = [r for r in results if r[0] == 503]
    assert len(answered) + len(refused) == FLOOD, [r[:2] for r in results]
    assert 1 <= len(answered) <= LIMIT  # no more than the limit at once ...
    assert len(refused) >= FLOOD - LIMIT  # ... and the rest refused, not queued
    assert all(json.loads(body)["choices"][0]["message"]["content"] == "answered" for _, _, body in answered)
    for _, _, body in refused:  # OpenAI's envelope under /v1, naming the setting: not uvicorn's plain text
        error = json.loads(body)["error"]
        assert error["code"] == "overloaded" and "TRADEWIND_MAX_CONNECTIONS" in error["message"], body
    slowest_refusal = max(seconds for _, seconds, _ in refused)
    fastest_answer = min(seconds for _, seconds, _ in answered)
    assert fastest_answer >= MODEL_SECONDS
    assert slowest_refusal < fastest_answer, "a refusal waited as long as the work it refused"
    print(f"flood of {FLOOD} past {LIMIT}: {len(answered)} answered (fastest {fastest_answer:.2f} s), "
          f"{len(refused)} refused with 503 (slowest {slowest_refusal:.3f} s)")
    status, _, _ = ask(server.url)  # and once the flood is over, it serves again
    assert status == 200


def test_repeated_floods_do_not_grow_its_memory_for_good(server: Served) -> None:
    process = psutil.Process(server.process.pid)
    flood(server.url)  # warm: the pools and caches a flood fills
    settled = process.memory_info().rss
    for _ in range(2):
        flood(server.url)
    after = process.memory_info().rss
    print(f"resident memory after a warm-up flood {settled / 2**20:.1f} MiB, after two more {after / 2**20:.1f} MiB")
    assert after < settled * 1.05, f"resident memory grew from {settled >> 20} MiB to {after >> 20} MiB"


def test_a_request_with_no_answer_begun_in_time_gets_503_in_openais_envelope(server: Served) -> None:
    status, seconds, body = ask(server.url, "a slower question")
    assert status == 503 and seconds < 6
    error = json.loads(body)["error"]
    assert error["code"] == "request_timeout" and error["type"] == "server_error"
    assert "within 3 s" in error["message"]


def test_bodies_over_the_limit_get_413_declared_or_chunked_and_the_connection_stays_usable(server: Served) -> None:
    big = json.dumps({"symbol": "ETHBTC", "timeframe": "5m", "params": {"pad": "x" * 4000}}).encode()

    def chunked() -> Iterator[bytes]:  # no Content-Length: httpx sends it chunked
        for start in range(0, len(big), 512):
            yield big[start:start + 512]

    with httpx.Client(base_url=server.url, timeout=10) as client:
        declared = client.post("/api/backtests", content=big, headers={"Content-Type": "application/json"})
        assert declared.status_code == 413
        assert declared.json()["error_code"] == "BODY_TOO_LARGE" and declared.json()["field"] == "body"
        streamed = client.post("/api/backtests", content=chunked(), headers={"Content-Type": "application/json"})
        assert "content-length" not in streamed.request.headers
        assert streamed.request.headers["transfer-encoding"] == "chunked"
        assert streamed.status_code == 413 and streamed.json()["error_code"] == "BODY_TOO_LARGE"
        assert "more than 2048 sent" in streamed.json()["detail"]
        v1 = client.post("/v1/chat/completions", content=chunked(), headers={"Content-Type": "application/json"})
        assert v1.status_code == 413 and v1.json()["error"]["code"] == "body_too_large"
        small = client.post("/api/backtests", json={"symbol": "ETHBTC", "timeframe": "7m"})  # the same connection
        assert small.status_code == 400 and small.json()["field"] == "timeframe"  # read whole, and checked
