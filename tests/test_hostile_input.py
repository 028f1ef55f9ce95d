"""Hostile input over real HTTP: every POST route, every field of its body, every path parameter.

The cases are generated: each hostile value of a table is put in place of every field (and every
map key) of a valid body found by walking it, and whole bodies are replaced by hostile documents,
bad bytes and wrong content types; hypothesis adds random JSON. Whatever comes in, the service must
answer below 500, name the field of a 4xx, keep the answer under 64 KB, keep the keep-alive
connection usable, store nothing for a refused request, and not grow its memory for good.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings
from hypothesis import strategies as st
from support.hostile import Client, hostile_bodies
from support.server import serve

from tradewind.api.app import create_app
from tradewind.bootstrap import Container, build_container
from tradewind.settings import Settings

DATA = Path(__file__).parent / "data"
ROWS = json.loads((DATA / "ETH_BTC-5m.json").read_text())
KEYS = ("timestamp", "open", "high", "low", "close", "volume")
MAX_ERROR_BYTES = 64 * 1024
MAX_BODY = 1024 * 1024  # the service under test refuses bodies above 1 MiB


NOT_A_SYMBOL = {"empty string", "blank", "colon", "dots", "rich markup", "html", "path", "nul", "bidi", "zero",
                "null", "empty list", "empty object", "object", "long list"}
NOT_A_TIME = {"2^63", "-2^63-1", "1e20 int", "minus one", "fraction", "NaN", "Infinity", "-Infinity", "1e400",
              "1e308", "denormal", "empty string", "colon", "empty list", "object"}
NOT_A_NUMBER = {"NaN", "Infinity", "-Infinity", "1e400", "empty string", "colon", "empty list", "object"}
MUST_REFUSE: dict[str, set[str]] = {
    "symbol": NOT_A_SYMBOL,
    "timestamp": NOT_A_TIME,
    "current_price": NOT_A_NUMBER | {"zero", "minus one", "1e308", "denormal", "2^63"},
    "profit_loss": NOT_A_NUMBER,
    "open": NOT_A_NUMBER | {"zero", "minus one", "null"},
    "close": NOT_A_NUMBER | {"zero", "minus one", "null"},
    "volume": NOT_A_NUMBER | {"minus one", "null"},
    "signal_id": {"empty string", "blank", "colon", "zero", "empty list"},
    "risk_level": {"empty string", "colon", "html", "zero"},
    "predicted_signal": {"empty string", "html", "zero", "null"},
}
"""Per field name, the hostile values it must refuse (beyond those no field accepts)."""


def candles(rows: list[list[float]]) -> list[dict[str, float]]:
    return [dict(zip(KEYS, row)) for row in rows]


def bodies(signal_id: str) -> dict[str, dict[str, Any]]:
    """A valid body for every POST route (the seed's shapes, on real ETH/BTC candles)."""
    five = ROWS[100:400]
    return {
        "/ai/analyze": {
            "symbol": "ETHBTC", "timeframe_data": {"5m": candles(five)}, "current_price": five[-1][4],
            "volume_24h": 12.5, "timestamp": five[-1][0] + 300_000,
            "strategy_context": {"selected_strategies": ["RSI Strategy"], "market_condition": "Trending",
                                 "risk_level": "Moderate", "user_preferences": {"a": 1}},
        },
        "/ai/strategy-recommendations": {
            "symbol": "ETHBTC", "timeframe_data": {"5m": candles(five)}, "current_price": five[-1][4],
            "timestamp": five[-1][0] + 300_000, "available_strategies": ["RSI Strategy", "MACD Strategy"],
        },
        "/ai/market-condition": {
            "symbol": "ETHBTC", "timeframe_data": {"5m": candles(five)}, "current_price": five[-1][4],
            "volume_24h": 1.0, "timestamp": five[-1][0] + 300_000,
        },
        "/ai/feedback": {
            "signal_id": signal_id, "symbol": "ETHBTC", "predicted_signal": "Long", "actual_outcome": "PROFIT",
            "profit_loss": 12.5, "confidence_was_accurate": True, "feedback_notes": "fine", "timestamp": 1_700_000_000_000,
        },
    }


MAPS = ("timeframe_data", "user_preferences")  # fields whose keys are data, not field names
FREE_FORM = ("user_preferences",)  # a map whose values are the client's own, ignored by the analyst


def top_key(path: tuple[Any, ...]) -> str:
    return str(path[0])


def resident_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Container, str]]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'tw.db'}", feed="replay",
        replay_path=DATA / "ETH_BTC-5m.json", replay_symbol="ETHBTC", replay_timeframe="5m", symbols=["ETHBTC"],
        timeframes=["5m", "1h", "4h"], analysis_timeframes=["5m", "1h", "4h"], analysis_cache_seconds=0,
        max_body_bytes=MAX_BODY, admin_token="s3cret", trading=False,
    )
    container = build_container(settings)
    with serve(create_app(container)) as url:
        client = Client(url)
        for _ in range(600):  # the replay feeds the streamer in well under a second
            if container.runtime.running and container.runtime.feed_finished:
                break
            import time

            time.sleep(0.05)
        status, data = client.request("POST", "/ai/analyze", orjson.dumps(bodies("x")["/ai/analyze"]))
        assert status == 200, data
        client.close()
        yield url, container, orjson.loads(data)["signal_id"]


@dataclass
class Tally:
    analyses_answered: int = 0
    feedback_answered: int = 0


def check_answer(status: int, data: bytes, *, where: str, expect_field: str | None, must_refuse: bool,
                 csv: bool = False) -> None:
    assert status < 500, f"{where}: {status} {data[:300]!r}"
    assert len(data) < MAX_ERROR_BYTES, f"{where}: a {len(data)}-byte answer"
    document = {} if csv and status == 200 else orjson.loads(data)  # JSON, never NaN (orjson refuses it)
    if must_refuse:
        assert 400 <= status < 500, f"{where}: accepted ({status})"
    if status >= 400:
        field = document.get("field")
        assert isinstance(field, str) and field, f"{where}: no field named in {document}"
        if expect_field is not None:
            assert field == "body" or field.split(".")[0].split("[")[0] == expect_field, f"{where}: field {field!r}"


def stored_counts(container: Container, signal_id: str) -> tuple[int, int]:
    return container.queries.storage_stats()["total"], len(container.signals.store.feedback_for(signal_id))


def test_every_field_of_every_post_route_refuses_hostile_values(service: tuple[str, Container, str]) -> None:
    url, container, signal_id = service
    client = Client(url)
    tally = Tally()
    before = stored_counts(container, signal_id)
    resident_before = resident_bytes()
    cases = 0
    for route, body in bodies(signal_id).items():
        for path, kind, hostile, raw in hostile_bodies(body):
            status, data = client.request("POST", route, raw)
            cases += 1
            where = f"{route} {'.'.join(map(str, path))} ({kind}) = {hostile.name}"
            # an unknown field of a model is ignored (clients may send more); a map's keys are data
            # and the values of a free-form map (the seed's user_preferences) may be any JSON
            free = kind == "value" and len(path) > 1 and path[-2] in FREE_FORM
            refuse = hostile.always_invalid and not free and (kind == "value" or (len(path) > 1 and path[-2] in MAPS))
            refuse = refuse or (kind == "value" and hostile.name in MUST_REFUSE.get(str(path[-1]), ()))
            check_answer(status, data, where=where, expect_field=top_key(path), must_refuse=refuse)
            if status == 200:
                tally.analyses_answered += route == "/ai/analyze"
                tally.feedback_answered += route == "/ai/feedback"
    assert cases > 1500  # every field of every route met every value
    after = stored_counts(container, signal_id)
    # only accepted requests stored anything (the cache is off, so each accepted analysis is one row)
    assert after == (before[0] + tally.analyses_answered, before[1] + tally.feedback_answered)
    assert client.request("GET", "/health")[0] == 200
    growth = resident_bytes() - resident_before
    print(f"resident memory grew by {growth / 2**20:.1f} MB over {cases} hostile requests")
    assert growth < 100 * 1024 * 1024, f"resident memory grew by {growth / 2**20:.0f} MB"
    client.close()


WHOLE_BODIES = [
    ("empty", b"", "application/json", 422),
    ("array", b"[]", "application/json", 422),
    ("string", b'"BTCUSDT"', "application/json", 422),
    ("number", b"12", "application/json", 422),
    ("null", b"null", "application/json", 422),
    ("truncated", b'{"symbol": "BTC', "application/json", 422),
    ("deep", b"[" * 100_000, "application/json", 422),
    ("bad utf-8", b'{"symbol": "\xc3\x28"}', "application/json", 422),
    ("garbage", bytes(range(256)) * 3000, "application/json", 422),
    ("NaN body", b"NaN", "application/json", 422),
    ("form", b"symbol=BTCUSDT", "application/x-www-form-urlencoded", 415),
    ("xml", b"<symbol>BTCUSDT</symbol>", "application/xml", 415),
    ("multipart", b"--x\r\n\r\n--x--", "multipart/form-data; boundary=x", 415),
    ("long content type", b"{}", "application/" + "x" * 10_000, 415),
    ("too large", b'{"symbol": "' + b"A" * (MAX_BODY + 10) + b'"}', "application/json", 413),
]


@pytest.mark.parametrize("route", ["/ai/analyze", "/ai/strategy-recommendations", "/ai/market-condition", "/ai/feedback"])
def test_whole_bodies_of_the_wrong_kind(service: tuple[str, Container, str], route: str) -> None:
    url, container, signal_id = service
    client = Client(url)
    before = stored_counts(container, signal_id)
    for name, raw, media, expected in WHOLE_BODIES:
        status, data = client.request("POST", route, raw, {"content-type": media})
        assert status == expected, f"{route} {name}: {status} {data[:200]!r}"
        check_answer(status, data, where=f"{route} {name}", expect_field=None, must_refuse=True)
        if expected == 415:
            assert orjson.loads(data)["field"] == "content-type"
        if expected == 413:
            assert orjson.loads(data)["error_code"] == "BODY_TOO_LARGE"
    assert stored_counts(container, signal_id) == before
    client.close()


def test_a_chunked_body_past_the_limit_is_refused_and_the_connection_lives(service: tuple[str, Container, str]) -> None:
    url, container, _ = service
    client = Client(url)

    def chunks() -> Iterator[bytes]:
        yield b'{"symbol": "'
        for _ in range(40):
            yield b"A" * 65536  # 2.5 MiB in all, no Content-Length
        yield b'"}'

    connection = client.connection
    connection.request("POST", "/ai/analyze", body=chunks(), headers={"content-type": "application/json"},
                       encode_chunked=True)
    response = connection.getresponse()
    data = response.read()
    assert response.status == 413 and orjson.loads(data)["field"] == "body"
    assert client.request("GET", "/health")[0] == 200
    client.close()


PATH_VALUES = ["%00", "%ff", "..%2F..%2Fetc%2Fpasswd", "..", ":", "....", "A" * 10_000, "%20" * 3000 + "BTCUSDT",
               "%5B%2F%5D", "%3Cscript%3E", "%ED%A0%80", "1" * 400, "-1", "NaN"]


def test_path_and_query_parameters_of_every_get_route(service: tuple[str, Container, str]) -> None:
    url, _, signal_id = service
    client = Client(url)
    templates = [
        "/streamer/candles/{v}/5m", "/streamer/candles/ETHBTC/{v}", "/streamer/candles/ETHBTC/5m?limit={v}",
        "/streamer/candles/ETHBTC/5m?format={v}", "/ai/signals/{v}", "/api/ai-logs?symbol={v}",
        "/api/ai-logs?limit={v}", "/api/ai-logs?since={v}", "/api/ai-logs/export/json?symbol={v}",
        "/api/ai-logs/export/csv?since={v}", "/{v}",
    ]
    for template in templates:
        for value in PATH_VALUES:
            path = template.format(v=value)
            status, data = client.request("GET", path)
            check_answer(status, data, where=f"GET {path[:80]}", expect_field=None, must_refuse=False,
                         csv="export/csv" in path)
            if status == 200:
                assert value in ("-1",) or "ai-logs" in path, f"GET {path[:80]} accepted {value[:20]!r}"
    assert client.request("GET", f"/ai/signals/{signal_id}")[0] == 200
    client.close()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5),
    max_leaves=30,
)


@pytest.mark.parametrize("route", ["/ai/analyze", "/ai/strategy-recommendations", "/ai/market-condition", "/ai/feedback"])
def test_random_json_bodies(service: tuple[str, Container, str], route: str) -> None:
    url, _, signal_id = service
    client = Client(url)
    base = bodies(signal_id)[route]

    @hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.dictionaries(st.sampled_from(sorted(base)), json_values, max_size=len(base)), st.booleans())
    def check(overrides: dict[str, Any], merged: bool) -> None:
        body = {**base, **overrides} if merged else overrides
        status, data = client.request("POST", route, json.dumps(body).encode())
        check_answer(status, data, where=f"{route} {str(body)[:200]}", expect_field=None, must_refuse=False)

    check()
    client.close()


def test_a_bad_stored_row_never_stops_the_scoring_of_the_others(service: tuple[str, Container, str]) -> None:
    """Rows an older version stored (a symbol that normalises to nothing, an unknown timeframe) are
    marked unscorable once; the good ones around them are scored and /ai/performance answers."""
    from dataclasses import replace

    url, container, signal_id = service
    store = container.signals.store
    good = store.get(signal_id)
    assert good is not None and good.entry_time is not None
    bad = [replace(good, signal_id=f"sig_bad{i}", symbol=symbol, timeframe=timeframe, entry_time=good.entry_time - 1)
           for i, (symbol, timeframe) in enumerate([(":", "5m"), ("....", "5m"), ("ETHBTC", "7m"), ("ETHBTC", None)])]
    for row in bad:
        store.save(row)
    fresh = Client(url)
    status, data = fresh.request("POST", "/ai/analyze", orjson.dumps(bodies(signal_id)["/ai/analyze"]))
    assert status == 200
    new_id = orjson.loads(data)["signal_id"]
    status, data = fresh.request("GET", "/ai/performance")
    assert status == 200, data[:300]
    report = orjson.loads(data)
    assert report["unscorable"] == 3  # the row without a timeframe has nothing to score and is left open
    assert report["resolved"] >= 2
    for scored in (signal_id, new_id):  # real candles follow both entries in the replayed file
        assert container.queries.signal_detail(scored)["outcome"]["status"] in ("take_profit", "stop_loss", "horizon")
    assert container.queries.signal_detail("sig_bad0")["outcome"]["status"] == "unscorable"
    assert container.scorer.resolve_open() == 0  # marked rows are not retried
    assert fresh.request("GET", "/ai/performance")[0] == 200
    fresh.close()


def test_an_unexpected_error_is_a_500_that_keeps_the_connection(
    service: tuple[str, Container, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, container, _ = service

    def broken(**payload: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(container.signals, "market_condition", broken)
    client = Client(url)  # asserts the keep-alive connection survives every answer
    status, data = client.request("POST", "/ai/market-condition", orjson.dumps(bodies("x")["/ai/market-condition"]))
    assert status == 500 and orjson.loads(data) == {"detail": "Internal error: RuntimeError", "error_code": "INTERNAL_ERROR"}
    assert client.request("GET", "/health")[0] == 200
    client.close()


@pytest.mark.parametrize("media", ["application/json", "application/json; charset=utf-8", "text/plain",
                                   "text/plain;charset=UTF-8", "application/vnd.api+json", None])
def test_every_post_route_reads_json_under_every_json_content_type(
    service: tuple[str, Container, str], media: str | None
) -> None:
    url, _, signal_id = service
    client = Client(url)
    for route, body in bodies(signal_id).items():
        headers = {"content-type": media} if media else {}
        if media is None:
            client.connection.request("POST", route, body=orjson.dumps(body))  # no content-type at all
            response = client.connection.getresponse()
            status, data = response.status, response.read()
        else:
            status, data = client.request("POST", route, orjson.dumps(body), headers)
        assert status == 200, f"{route} as {media}: {status} {data[:200]!r}"
    client.close()


def test_feedback_takes_the_symbol_aliases_every_other_route_takes(service: tuple[str, Container, str]) -> None:
    url, container, signal_id = service
    client = Client(url)
    for alias in ("ETH/BTC", "eth-btc", "ETH_BTC", "ethbtc"):
        body = {**bodies(signal_id)["/ai/feedback"], "symbol": alias}
        status, data = client.request("POST", "/ai/feedback", orjson.dumps(body))
        assert status == 200, data
    assert {f.symbol for f in container.signals.store.feedback_for(signal_id)} == {"ETHBTC"}
    status, data = client.request("POST", "/ai/feedback", orjson.dumps({**bodies(signal_id)["/ai/feedback"],
                                                                        "symbol": "BTC/USDT"}))
    assert status == 400 and orjson.loads(data)["field"] == "symbol"
    client.close()
