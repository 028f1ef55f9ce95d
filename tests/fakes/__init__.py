"""Fake venues for tests: real HTTP servers on 127.0.0.1 that the real SDKs talk to.

``FakeHTTPServer`` is the shared machinery (a stdlib threading server on port 0, a request log
and scripted failures); ``binance.FakeBinance`` and ``alpaca.FakeAlpaca`` speak the protocols.
Failures are scripted per request: ``server.fail_next("429", 2, retry_after=1)`` makes the next
two matching requests answer 429 with ``Retry-After: 1``.
"""

from __future__ import annotations

import bisect
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from typing_extensions import Self

__all__ = ["DATA_DIR", "FAILURE_KINDS", "FakeHTTPServer", "Failure", "MinuteSeries", "Recorded", "Reply", "load_rows"]

DATA_DIR = Path(__file__).resolve().parent.parent / "data"

FAILURE_KINDS = ("429", "500", "502", "503", "slow", "truncated", "nan_row", "negative_row")
"""``slow`` answers after ``slow_seconds``; ``truncated`` cuts the JSON body in half; the two
``*_row`` kinds are applied by the protocol subclass to one data row of a normal answer."""


def load_rows(name: str = "ETH_BTC-1m.json") -> list[list[float]]:
    """Real Freqtrade candles ``[[ts_ms, o, h, l, c, v], ...]`` from tests/data (see its README)."""
    with open(DATA_DIR / name, encoding="utf-8") as handle:
        return json.load(handle)


class MinuteSeries:
    """One market's 1-minute rows, served as any interval as of a given server time.

    Buckets opened after ``now`` do not exist yet; the bucket containing ``now`` is partial, its
    last minute's close moved from open toward the real close (and volume scaled) by the share
    of the minute elapsed, as an exchange's forming candle would be.
    """

    def __init__(self, rows: list[list[float]]) -> None:
        self.rows = rows
        self.opens = [int(r[0]) for r in rows]
        self._complete: dict[int, list[list[float]]] = {}

    def candles(self, interval_ms: int, now_ms: int) -> list[list[float]]:
        """``[open_ms, o, h, l, c, v, trades]`` for every bucket opened at or before ``now_ms``."""
        visible = bisect.bisect_right(self.opens, now_ms)
        if visible == 0:
            return []
        current = now_ms - now_ms % interval_ms
        out = [b for b in self._aggregated(interval_ms) if b[0] < current]
        parts = [list(r) for r in self.rows[bisect.bisect_left(self.opens, current):visible]]
        if parts:
            last = parts[-1]
            if last[0] + 60_000 > now_ms:
                share = (now_ms - last[0]) / 60_000
                close = last[1] + (last[4] - last[1]) * share
                parts[-1] = [last[0], last[1], max(last[1], close), min(last[1], close), close, last[5] * share]
            out.append(_combine(current, parts))
        return out

    def _aggregated(self, interval_ms: int) -> list[list[float]]:
        if interval_ms not in self._complete:
            groups: dict[int, list[list[float]]] = {}
            for row in self.rows:
                groups.setdefault(int(row[0]) - int(row[0]) % interval_ms, []).append(row)
            self._complete[interval_ms] = [_combine(start, rows) for start, rows in groups.items()]
        return self._complete[interval_ms]


def _combine(open_ms: int, rows: list[list[float]]) -> list[float]:
    if len(rows) == 1:
        r = rows[0]
        return [open_ms, r[1], r[2], r[3], r[4], r[5], 1 + int(r[5])]
    volume = sum(r[5] for r in rows)
    return [open_ms, rows[0][1], max(r[2] for r in rows), min(r[3] for r in rows), rows[-1][4], volume, len(rows) + int(volume)]


@dataclass(frozen=True, slots=True)
class Failure:
    kind: str
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    failure: str | None
    time: float


@dataclass(slots=True)
class Reply:
    status: int
    body: object
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Script:
    failure: Failure
    remaining: int
    path_prefix: str


class LoopbackServer:
    """A stdlib HTTP server on 127.0.0.1 (a free port) in a daemon thread; ``running()`` for with-blocks."""

    _httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def _listen(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, args=(0.02,), name=type(self).__name__, daemon=True).start()

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @contextmanager
    def running(self) -> Iterator[Self]:
        self.start()
        try:
            yield self
        finally:
            self.stop()


def send(handler: BaseHTTPRequestHandler, reply: Reply, body: bytes) -> None:
    """Write ``reply`` with ``body`` (JSON bytes; a bodiless answer carries no content type)."""
    try:
        handler.send_response(reply.status)
        if body:
            handler.send_header("Content-Type", "application/json;charset=UTF-8")
        handler.send_header("Content-Length", str(len(body)))
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)
    except OSError:  # the client gave up (timeout) and closed the socket
        pass


class FakeHTTPServer(LoopbackServer):
    """A JSON HTTP server in a background thread; subclasses implement ``route``."""

    default_failure_prefix = "/"

    def __init__(self, *, now: Callable[[], float] = time.time, slow_seconds: float = 1.5) -> None:
        self.now = now
        self.slow_seconds = slow_seconds
        self.requests: list[Recorded] = []
        self._scripts: list[_Script] = []
        self._lock = threading.Lock()

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self) -> FakeHTTPServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else each header line waits on a delayed ACK (~40 ms)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                server._serve(self)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self._listen(Handler)
        return self

    # --- scripting -----------------------------------------------------------------------------
    def fail_next(self, kind: str, count: int = 1, *, retry_after: float | None = None, path_prefix: str | None = None) -> None:
        """Make the next ``count`` requests under ``path_prefix`` fail the way ``kind`` says."""
        if kind not in FAILURE_KINDS:
            raise ValueError(f"unknown failure kind {kind!r}")
        with self._lock:
            self._scripts.append(_Script(Failure(kind, retry_after), count, path_prefix or self.default_failure_prefix))

    def paths(self, prefix: str = "/") -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    def _take_failure(self, path: str) -> Failure | None:
        with self._lock:
            for script in self._scripts:
                if script.remaining > 0 and path.startswith(script.path_prefix):
                    script.remaining -= 1
                    return script.failure
        return None

    # --- protocol hooks ------------------------------------------------------------------------
    def route(self, path: str, query: dict[str, str], headers: dict[str, str], failure: Failure | None) -> Reply:
        raise NotImplementedError

    def rate_limited(self, failure: Failure) -> Reply:
        headers = {"Retry-After": f"{failure.retry_after:g}"} if failure.retry_after is not None else {}
        return Reply(429, {"message": "too many requests"}, headers)

    def server_error(self, status: int) -> Reply:
        return Reply(status, {"message": "internal server error"})

    # --- serving -------------------------------------------------------------------------------
    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        headers = {k: v for k, v in handler.headers.items()}
        failure = self._take_failure(parts.path)
        with self._lock:
            self.requests.append(Recorded("GET", parts.path, query, headers, failure and failure.kind, time.monotonic()))
        if failure is not None and failure.kind == "429":
            reply = self.rate_limited(failure)
        elif failure is not None and failure.kind in ("500", "502", "503"):
            reply = self.server_error(int(failure.kind))
        else:
            if failure is not None and failure.kind == "slow":
                time.sleep(self.slow_seconds)
            try:
                reply = self.route(parts.path, query, headers, failure)
            except Exception as exc:  # a bug in the fake must show, not hang the client
                reply = Reply(599, {"message": f"fake server error: {type(exc).__name__}: {exc}"})
        body = json.dumps(reply.body, separators=(",", ":")).encode()
        if failure is not None and failure.kind == "truncated":
            body = body[: max(1, len(body) // 2)]
        send(handler, reply, body)
