"""`tradewind serve` as `make run` starts it: a real process on the embedded defaults."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tradewind.settings import DEFAULT_SYMBOLS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_on_embedded_defaults_then_restart_warm(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEWIND_")}
    env["TRADEWIND_HISTORY_HOURS"] = "30"  # a shorter backfill keeps the test quick
    base = f"http://127.0.0.1:{port}"

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "tradewind", "serve", "--port", str(port)],
            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )

    def wait_ready(process: subprocess.Popen[bytes]) -> dict:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            try:
                response = httpx.get(f"{base}/streamer/candles/BTCUSDT/1m", params={"limit": 500}, timeout=2)
                if response.status_code == 200:
                    return response.json()
                assert response.json()["error_code"] == "STREAMER_NOT_INITIALIZED"
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError("server did not become ready")

    first = start()
    try:
        body = wait_ready(first)
        assert body["count"] == 500 and body["candles"][-1]["closed"] is False
        assert body["candles"][0]["spread"] is not None
        hourly = httpx.get(f"{base}/streamer/candles/BTCUSDT/H1", params={"limit": 500}).json()
        assert hourly["timeframe"] == "H1" and hourly["count"] >= 30
        assert 10_000 < hourly["candles"][-1]["close"] < 1_000_000  # a bitcoin-like price level
        available = httpx.get(f"{base}/streamer/available").json()["symbols"]
        assert list(available) == list(DEFAULT_SYMBOLS)
        assert httpx.get(f"{base}/health").json()["status"] == "healthy"
        answer = httpx.post(f"{base}/ai/analyze", json={"symbol": "BTC/USDT"}, timeout=10).json()
        assert answer["signal"] in ("Long", "Short", "Neutral") and answer["signal_id"].startswith("sig_")
        assert "15m (score" in answer["reasoning"] and "4h (score" in answer["reasoning"]
        assert (tmp_path / "var" / "tradewind.db").exists()
        key = first_admin_key(first)  # auth is on by default: the first start printed an admin key, once
        pause = f"{base}/api/assets/BTCUSDT/pause"
        assert httpx.post(pause).status_code == 401  # reads are public by default, controls are not
        assert httpx.post(pause, headers={"Authorization": f"Bearer {key}"}).status_code == 200
        closed_before = [c for c in hourly["candles"] if c["closed"]]
    finally:
        first.send_signal(signal.SIGINT)
        first.wait(timeout=30)
    second = start()
    try:
        wait_ready(second)
        after = httpx.get(f"{base}/streamer/candles/BTCUSDT/H1", params={"limit": 500}).json()["candles"]
        closed_after = {c["time"]: c for c in after if c["closed"]}
        for candle in closed_before:  # nothing that closed is lost or changed by the restart
            assert closed_after[candle["time"]] == candle
    finally:
        second.send_signal(signal.SIGINT)
        second.wait(timeout=30)
    assert second.stderr is not None and b"tw_" not in second.stderr.read()  # printed once: not on a restart


def first_admin_key(process: subprocess.Popen[bytes]) -> str:
    """The admin key a first ``serve`` prints on stderr before its server starts."""
    assert process.stderr is not None
    for _ in range(500):
        found = re.search(rb"^\s+(tw_[0-9a-f]{12}_[\w-]+)\s*$", process.stderr.readline())
        if found:
            return found.group(1).decode()
    raise AssertionError("serve printed no admin key")
