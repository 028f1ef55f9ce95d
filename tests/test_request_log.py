"""Request ids and JSON logs: ``X-Request-ID`` kept when sane, made when not, echoed; and a real
``tradewind serve`` process on ``TRADEWIND_LOG_FORMAT=json`` writing one JSON object per line, each
line of a request (uvicorn's access line, the service's own warnings) carrying that request's id."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from support.server import serve

from tradewind.api.app import create_app
from tradewind.bootstrap import build_container
from tradewind.settings import Settings


def test_a_sane_request_id_is_echoed_and_any_other_replaced(tmp_path: Path) -> None:
    container = build_container(Settings(database_url=f"sqlite:///{tmp_path / 'tw.db'}", symbols=["BTCUSDT"],
                                         timeframes=["1m"], analysis_timeframes=["1m"], history_hours=1, trading=False))
    with serve(create_app(container)) as url, httpx.Client(base_url=url) as http:
        assert http.get("/health", headers={"X-Request-ID": "edge-7f3a:01.b_c"}).headers["x-request-id"] == (
            "edge-7f3a:01.b_c")
        made = [http.get("/health").headers["x-request-id"] for _ in range(2)]
        assert made[0] != made[1] and all(len(m) == 32 and int(m, 16) >= 0 for m in made)
        for hostile in ("a" * 129, "two words", "x\u00e9", "id\tforged"):
            echoed = http.get("/health", headers={"X-Request-ID": hostile.encode("utf-8")}).headers["x-request-id"]
            assert echoed != hostile and len(echoed) == 32
        refused = http.get("/made/up", headers={"X-Request-ID": "on-404"})  # errors carry it too
        assert refused.status_code == 404 and refused.headers["x-request-id"] == "on-404"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_writes_json_lines_carrying_the_request_id(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEWIND_")}
    env |= {"TRADEWIND_LOG_FORMAT": "json", "TRADEWIND_HISTORY_HOURS": "1", "TRADEWIND_SYMBOLS": "BTCUSDT",
            "TRADEWIND_TIMEFRAMES": "1m", "TRADEWIND_ANALYSIS_TIMEFRAMES": "1m", "TRADEWIND_TRADING": "false",
            "TRADEWIND_ANALYSIS_INTERVAL_MINUTES": "0",
            "TRADEWIND_BOOTSTRAP_ADMIN_KEY": "false"}  # the first key's notice is plain text on stderr, by design
    process = subprocess.Popen([sys.executable, "-m", "tradewind", "serve", "--port", str(port)], cwd=tmp_path,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None and time.monotonic() < deadline, "the server did not start"
            try:
                httpx.get(f"{base}/metrics", timeout=2, headers={"X-Request-ID": "warm-up"})
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert httpx.get(f"{base}/health", headers={"X-Request-ID": "probe-42"}).status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    lines = [json.loads(line) for line in err.decode().splitlines() if line.strip()]  # every line is JSON
    assert lines and all(set(line) >= {"time", "level", "logger", "message", "request_id"} for line in lines)
    assert all(line["time"].endswith("+00:00") for line in lines)
    access = [line for line in lines if line["logger"] == "uvicorn.access" and "/health" in line["message"]]
    assert [line["request_id"] for line in access] == ["probe-42"]
    warm_up = [line for line in lines if line["logger"] == "uvicorn.access" and "/metrics" in line["message"]]
    assert warm_up and {line["request_id"] for line in warm_up} == {"warm-up"}
    startup = [line for line in lines if line["logger"] == "uvicorn.error" and "started" in line["message"].lower()]
    assert startup and all(line["request_id"] is None for line in startup)
