"""Rate limits over real HTTP: the seed's table, its 429 in each path's shape, the official ``openai``
SDK on /v1, configuration per route and per key scope, and one count across two apps on the real Redis.

The suite runs with limits off (conftest); every app here turns them on. Windows that must pass in a
test are seconds long, never a real minute.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import redis
from pydantic import ValidationError
from support.server import serve

from tradewind.api import rate_limits
from tradewind.api.app import create_app
from tradewind.api.rate_limits import EXCEEDED, RateLimitTable
from tradewind.bootstrap import build_container
from tradewind.settings import Settings, describe_settings_error

REDIS_URL = os.environ.get("TRADEWIND_TEST_REDIS_URL", "redis://127.0.0.1:6379/12")
SEED_BODY = {"detail": EXCEEDED, "error_code": "RATE_LIMIT_EXCEEDED"}


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        database_url=f"sqlite:///{tmp_path / f'tw-{uuid.uuid4().hex[:6]}.db'}", symbols=["BTCUSDT"],
        timeframes=["1m"], analysis_timeframes=["1m"], history_hours=1, trading=False, rate_limit_enabled=True,
    )
    return Settings(**{**values, **overrides})


@contextmanager
def running(tmp_path: Path, **overrides: Any) -> Iterator[str]:
    app = create_app(build_container(settings(tmp_path, **overrides)))
    with serve(app) as url:
        yield url


@pytest.fixture
def namespace() -> Iterator[str]:
    """A Redis key prefix of this test's own on the suite's database; its keys are removed after."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{name}:*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_the_seeds_table_refuses_the_eleventh_analysis_with_its_body_and_headers(tmp_path: Path) -> None:
    with running(tmp_path, rate_limits={"/streamer/*": "1/minute"}) as url, httpx.Client(base_url=url) as http:
        seen = [http.post("/ai/analyze", json={}) for _ in range(10)]
        assert all(r.status_code != 429 for r in seen)  # refused as input (4xx), but counted
        assert [r.headers["x-ratelimit-remaining"] for r in seen] == [str(n) for n in range(9, -1, -1)]
        assert {r.headers["x-ratelimit-limit"] for r in seen} == {"10"}
        refused = http.post("/ai/analyze", json={})
        assert refused.status_code == 429
        assert refused.json() == SEED_BODY
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.headers["x-ratelimit-remaining"] == "0"
        assert 0 <= int(refused.headers["x-ratelimit-reset"]) <= 60
        # every route counts on its own: another one still has the seed's 60
        info = http.get("/ai/info")
        assert info.status_code == 200 and info.headers["x-ratelimit-limit"] == "60"
        assert info.headers["x-ratelimit-remaining"] == "59"
        # /ai/storage/clear: 1 a minute, whatever the first answer was
        assert http.post("/ai/storage/clear").status_code != 429
        assert http.post("/ai/storage/clear").json() == SEED_BODY
        # /streamer answers in the streamer's shape
        assert http.get("/streamer/health").status_code != 429
        streamer = http.get("/streamer/health")
        assert streamer.status_code == 429
        assert streamer.json() == {"success": False, "error": EXCEEDED, "error_code": "RATE_LIMIT_EXCEEDED"}
        # a page load's static files are not counted (and a path per symbol shares its route's counter)
        static = http.get("/dashboard/static/js/live.js")
        assert static.status_code == 200 and "x-ratelimit-limit" not in static.headers
        first = http.get("/api/assets/BTCUSDT").headers.get("x-ratelimit-remaining")
        second = http.get("/api/assets/ETHUSDT").headers.get("x-ratelimit-remaining")
        assert (first, second) == ("59", "58")


def test_v1_answers_429_in_openais_envelope_which_the_sdk_raises(tmp_path: Path) -> None:
    with running(tmp_path, rate_limits={"/v1/*": "2/minute"}) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        raw = client.models.with_raw_response.list()
        assert raw.headers["x-ratelimit-limit-requests"] == "2"
        assert raw.headers["x-ratelimit-remaining-requests"] == "1"
        assert raw.headers["x-ratelimit-reset-requests"].endswith("s")
        client.models.list()
        with pytest.raises(openai.RateLimitError) as refused:
            client.models.list()
        assert refused.value.status_code == 429
        assert refused.value.response.json() == {"error": {
            "message": EXCEEDED, "type": "rate_limit_error", "param": None, "code": "rate_limit_exceeded"}}
        assert refused.value.code == "rate_limit_exceeded"
        assert int(refused.value.response.headers["retry-after"]) >= 1


def test_a_route_of_its_own_and_a_moving_window_of_seconds(tmp_path: Path) -> None:
    with running(tmp_path, rate_limits={"/ai/info": "2/second", "/health": None}) as url, \
            httpx.Client(base_url=url) as http:
        assert [http.get("/ai/info").status_code for _ in range(3)] == [200, 200, 429]
        time.sleep(1.1)  # the window moved past both
        assert http.get("/ai/info").status_code == 200
        health = [http.get("/health") for _ in range(3)]
        assert all(r.status_code == 200 and "x-ratelimit-limit" not in r.headers for r in health)


def test_each_key_counts_alone_and_its_scope_scales_the_limit(tmp_path: Path) -> None:
    container = build_container(settings(tmp_path, auth=True, bootstrap_admin_key=False,
                                         rate_limits={"/ai/info": "2/minute"},
                                         rate_limit_scopes={"trade": 3, "admin": None}))
    assert container.api_keys is not None
    keys = {name: container.api_keys.create(name=name, scope=scope)[0]
            for name, scope in (("reader", "read"), ("other", "read"), ("trader", "trade"), ("root", "admin"))}
    with serve(create_app(container)) as url, httpx.Client(base_url=url) as http:

        def codes(name: str, n: int) -> list[int]:
            return [http.get("/ai/info", headers={"Authorization": f"Bearer {keys[name]}"}).status_code
                    for _ in range(n)]

        assert codes("reader", 3) == [200, 200, 429]
        assert codes("other", 2) == [200, 200]  # another credential from the same address
        assert codes("trader", 7) == [200] * 6 + [429]  # its highest scope counts: 2 x 3
        admin = [http.get("/ai/info", headers={"Authorization": f"Bearer {keys['root']}"}) for _ in range(5)]
        assert all(r.status_code == 200 and "x-ratelimit-limit" not in r.headers for r in admin)
        assert http.get("/ai/info").status_code == 200  # no credential: the address counts, on its own


def test_a_limit_counts_across_two_apps_sharing_redis(tmp_path: Path, namespace: str) -> None:
    shared = dict(redis_url=REDIS_URL, rate_limit_namespace=namespace, rate_limits={"/ai/info": "3/minute"})
    with ExitStack() as stack:
        one = stack.enter_context(running(tmp_path, **shared))
        two = stack.enter_context(running(tmp_path, **shared))
        codes = [httpx.get(f"{url}/ai/info").status_code for url in (one, two, one, two)]
        assert codes == [200, 200, 200, 429]
        assert httpx.get(f"{one}/ai/info").status_code == 429
    assert list(redis.Redis.from_url(REDIS_URL).scan_iter(match=f"{namespace}:*"))  # the counters were in Redis


def test_the_switch_turns_them_off(tmp_path: Path) -> None:
    with running(tmp_path, rate_limit_enabled=False, rate_limits={"/ai/info": "1/minute"}) as url:
        answers = [httpx.get(f"{url}/ai/info") for _ in range(3)]
    assert all(r.status_code == 200 and "x-ratelimit-limit" not in r.headers for r in answers)


def test_the_table_picks_exact_then_longest_prefix_then_default() -> None:
    table = RateLimitTable.build({"/v1/*": "100/minute", "/v1/chat/*": "30/minute", "/v1/models": "7/minute"},
                                 scopes={"trade": 0.5})
    assert table.limit_for("/ai/analyze").amount == 10  # type: ignore[union-attr]
    assert table.limit_for("/v1/models").amount == 7  # type: ignore[union-attr]
    assert table.limit_for("/v1/chat/completions").amount == 30  # type: ignore[union-attr]
    assert table.limit_for("/v1/threads").amount == 100  # type: ignore[union-attr]
    assert table.limit_for("/api/positions").amount == 60  # type: ignore[union-attr]
    assert table.limit_for("/api/positions", frozenset({"read", "trade"})).amount == 30  # type: ignore[union-attr]
    assert table.limit_for("/dashboard/static") is None


@pytest.mark.parametrize(("name", "value", "says"), [
    ("TRADEWIND_RATE_LIMITS", '{"/ai/analyze": "often"}', 'must read like "10/minute"'),
    ("TRADEWIND_RATE_LIMITS", '{"ai/analyze": "1/minute"}', "is not a route template"),
    ("TRADEWIND_RATE_LIMIT_SCOPES", '{"root": 2}', "unknown scope"),
    ("TRADEWIND_RATE_LIMIT_SCOPES", '{"admin": -1}', "above 0"),
    ("TRADEWIND_RATE_LIMIT_DEFAULT", "sixty", 'must read like "10/minute"'),
])
def test_a_bad_setting_is_named_with_the_reason(monkeypatch: pytest.MonkeyPatch, name: str, value: str,
                                                says: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as error:
        Settings()
    message = describe_settings_error(error.value)
    assert name in message and says in message


class _Relay:
    """A TCP relay to the real Redis on a port of its own that can go down and come back: a Redis
    that disappears under a running service. (A service with ``TRADEWIND_REDIS_URL`` set does not
    start without Redis: its bus and leases need it; the rate limits must outlive it going away.)"""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.open |= {client, upstream}
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            sink.close()

    def down(self) -> None:
        self.up = False
        with self.lock:
            for connection in self.open:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                connection.close()
            self.open.clear()

    def close(self) -> None:
        self.down()
        self.listener.close()


def test_redis_going_away_fails_open_says_so_once_and_counting_resumes_when_it_is_back(
        tmp_path: Path, namespace: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rate_limits, "RETRY_SECONDS", 0.2)
    caplog.set_level(logging.WARNING, logger="tradewind.api.rate_limits")
    target = redis.Redis.from_url(REDIS_URL).connection_pool.connection_kwargs
    database = REDIS_URL.rsplit("/", 1)[-1]
    relay = _Relay((target["host"], target["port"]))
    try:
        with running(tmp_path, redis_url=f"redis://127.0.0.1:{relay.port}/{database}", rate_limit_namespace=namespace,
                     rate_limits={"/ai/info": "3/minute"}) as url:
            counted = httpx.get(f"{url}/ai/info")
            assert counted.status_code == 200 and counted.headers["x-ratelimit-remaining"] == "2"
            relay.down()
            gone = [httpx.get(f"{url}/ai/info") for _ in range(4)]  # more than the limit: open while Redis is gone
            assert all(r.status_code == 200 and "x-ratelimit-limit" not in r.headers for r in gone)
            relay.up = True
            time.sleep(0.3)
            back = [httpx.get(f"{url}/ai/info").status_code for _ in range(3)]
            assert back == [200, 200, 429]  # the one counted before, two more, then the limit
    finally:
        relay.close()
    messages = [r.getMessage() for r in caplog.records if r.name == "tradewind.api.rate_limits"]
    assert len(messages) == 2 and "failing open" in messages[0] and "counted again" in messages[1], messages
