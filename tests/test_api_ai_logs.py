"""``/api/ai-logs`` over real HTTP: list filters and limit, JSON and CSV exports, usage, 400s."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from support.server import serve

from tradewind.analysts.decisions import Decision
from tradewind.analysts.pricing import cost_usd
from tradewind.api.ai_logs import CSV_COLUMNS
from tradewind.api.app import create_app
from tradewind.bootstrap import Container, build_container
from tradewind.settings import Settings

T0 = datetime(2026, 11, 21, 6, 0, tzinfo=timezone.utc)
COUNT = 30  # BTC on even indexes, ETH on odd; every fifth has no known cost


def decision(i: int) -> Decision:
    known = i % 5 != 0
    return Decision(
        decision_id=f"dec_{i:03d}", created_at=T0 + timedelta(minutes=i), analyst="llm:gpt-4o-mini",
        symbol="BTCUSDT" if i % 2 == 0 else "ETHUSDT", timeframe="1h", input_hash=f"{i:064x}",
        prompt_hash=f"{i + 1000:064x}", prompt=[{"role": "user", "content": f"analyse #{i}, \"quoted\", a,b"}],
        model="gpt-4o-mini" if known else "llama3.1:8b",
        raw_response='{"signal": "Long", "confidence": 0.6}\nsecond line' if i != 7 else "=HYPERLINK(\"x\")",
        parsed={"signal": "Long" if i % 3 else "Short", "confidence": 0.6}, source="llm", latency_ms=100.0 + i,
        prompt_tokens=1000 + i, completion_tokens=100, total_tokens=1100 + i,
        cost_usd=cost_usd("gpt-4o-mini", 1000 + i, 100) if known else None, error=None, signal_id=f"sig_{i:03d}",
    )


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Container]]:
    settings = Settings(database_url=f"sqlite:///{tmp_path_factory.mktemp('logs') / 'tw.db'}",
                        symbols=["BTCUSDT"], history_hours=2)
    container = build_container(settings)
    container.decisions.batch_size = 7  # exports span several keyset batches
    for i in range(COUNT):
        container.decisions.record(decision(i))
    with serve(create_app(container)) as url:
        yield url, container


def get(url: str, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{url}{path}", params=params, timeout=10)


def ids(body: list[dict[str, Any]]) -> list[str]:
    return [row["decision_id"] for row in body]


def test_list_is_newest_first_with_every_field(running: tuple[str, Container]) -> None:
    url, _ = running
    response = get(url, "/api/ai-logs")
    assert response.status_code == 200
    body = response.json()
    assert ids(body) == [f"dec_{i:03d}" for i in reversed(range(COUNT))]
    newest = body[0]
    assert set(newest) == set(Decision.__dataclass_fields__)
    assert newest["created_at"] == "2026-11-21T06:29:00+00:00" and newest["symbol"] == "ETHUSDT"
    assert newest["prompt_tokens"] == 1029 and newest["total_tokens"] == 1129
    assert newest["cost_usd"] == pytest.approx(cost_usd("gpt-4o-mini", 1029, 100))
    assert newest["parsed"] == {"signal": "Long", "confidence": 0.6} and newest["prompt"][0]["role"] == "user"
    unknown = next(row for row in body if row["decision_id"] == "dec_025")
    assert unknown["cost_usd"] is None and unknown["model"] == "llama3.1:8b"


def test_list_filters_by_asset_time_and_limit(running: tuple[str, Container]) -> None:
    url, _ = running
    assert ids(get(url, "/api/ai-logs", limit=3).json()) == ["dec_029", "dec_028", "dec_027"]
    btc = get(url, "/api/ai-logs", symbol="btc/usdt").json()
    assert ids(btc) == [f"dec_{i:03d}" for i in reversed(range(0, COUNT, 2))]
    since = T0 + timedelta(minutes=25)
    expected = ["dec_029", "dec_028", "dec_027", "dec_026", "dec_025"]
    assert ids(get(url, "/api/ai-logs", since=since.isoformat()).json()) == expected
    assert ids(get(url, "/api/ai-logs", since="2026-11-21T07:25:00+01:00").json()) == expected
    assert ids(get(url, "/api/ai-logs", since=str(int(since.timestamp() * 1000))).json()) == expected
    assert ids(get(url, "/api/ai-logs", symbol="ETHUSDT", since="2026-11-21T06:25:00Z", limit=2).json()) == [
        "dec_029", "dec_027"
    ]
    assert get(url, "/api/ai-logs", symbol="SOLUSDT").json() == []
    assert len(get(url, "/api/ai-logs", limit=1000).json()) == COUNT


LIMITS = [({"limit": "0"}, "limit", "INVALID_LIMIT"), ({"limit": "1001"}, "limit", "INVALID_LIMIT"),
          ({"limit": "ten"}, "limit", "INVALID_LIMIT")]
FILTERS = [
    ({"since": "yesterday"}, "since", "VALIDATION_ERROR"),
    ({"since": "2026-13-40"}, "since", "VALIDATION_ERROR"),
    ({"since": "99999999999999999999"}, "since", "VALIDATION_ERROR"),
    ({"symbol": "BTC$USDT"}, "symbol", "INVALID_SYMBOL"),
]
EXPORTS = ["/api/ai-logs/export/json", "/api/ai-logs/export/csv"]


@pytest.mark.parametrize(
    ("path", "params", "field", "code"),
    [("/api/ai-logs", *case) for case in LIMITS + FILTERS] + [(path, *case) for path in EXPORTS for case in FILTERS],
)
def test_bad_parameters_answer_400_naming_the_field(
    running: tuple[str, Container], path: str, params: dict[str, str], field: str, code: str
) -> None:
    url, _ = running
    response = get(url, path, **params)
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == field and body["error_code"] == code and field in body["detail"]
    assert set(body) == {"detail", "error_code", "field"}


def test_json_export_streams_every_row_oldest_first(running: tuple[str, Container]) -> None:
    url, container = running
    response = get(url, "/api/ai-logs/export/json")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;") and disposition.endswith('.json"')
    body = response.json()
    assert ids(body) == [f"dec_{i:03d}" for i in range(COUNT)]
    assert body == list(reversed(get(url, "/api/ai-logs").json()))  # the same documents as the list
    assert [row["total_tokens"] for row in body] == [1100 + i for i in range(COUNT)]
    assert sum(row["cost_usd"] is None for row in body) == COUNT // 5
    eth = get(url, "/api/ai-logs/export/json", symbol="eth-usdt", since="2026-11-21T06:20:00Z").json()
    assert ids(eth) == ["dec_021", "dec_023", "dec_025", "dec_027", "dec_029"]
    assert container.decisions.batch_size < COUNT


def test_csv_export_has_one_row_per_decision(running: tuple[str, Container]) -> None:
    url, _ = running
    response = get(url, "/api/ai-logs/export/csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment;")
    reader = csv.DictReader(io.StringIO(response.text))
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    rows = list(reader)
    assert [row["decision_id"] for row in rows] == [f"dec_{i:03d}" for i in range(COUNT)]
    for i, row in enumerate(rows):
        original = decision(i)
        assert datetime.fromisoformat(row["created_at"]) == original.created_at
        assert row["symbol"] == original.symbol and row["model"] == original.model
        assert int(row["prompt_tokens"]) == original.prompt_tokens
        assert int(row["completion_tokens"]) == original.completion_tokens
        assert int(row["total_tokens"]) == original.total_tokens
        assert row["cost_usd"] == ("" if original.cost_usd is None else repr(original.cost_usd))
        assert float(row["latency_ms"]) == original.latency_ms and row["error"] == ""
        assert row["signal"] == original.parsed["signal"] and float(row["confidence"]) == 0.6  # type: ignore[index]
        assert row["signal_id"] == original.signal_id and row["prompt_hash"] == original.prompt_hash
        if i != 7:
            assert row["raw_response"] == original.raw_response  # newlines and quotes survive
    assert rows[7]["raw_response"] == "'=HYPERLINK(\"x\")"  # a spreadsheet will not run model output
    btc = list(csv.DictReader(io.StringIO(get(url, "/api/ai-logs/export/csv", symbol="BTCUSDT").text)))
    assert len(btc) == COUNT // 2 and {row["symbol"] for row in btc} == {"BTCUSDT"}


def test_an_empty_export_is_still_well_formed(running: tuple[str, Container]) -> None:
    url, _ = running
    assert get(url, "/api/ai-logs/export/json", symbol="SOLUSDT").json() == []
    text = get(url, "/api/ai-logs/export/csv", symbol="SOLUSDT").text
    assert list(csv.reader(io.StringIO(text))) == [list(CSV_COLUMNS)]


def test_usage_per_model_and_day(running: tuple[str, Container]) -> None:
    url, _ = running
    response = get(url, "/api/ai-logs/usage")
    assert response.status_code == 200
    usage = response.json()
    known = [i for i in range(COUNT) if i % 5]
    by_model = {row["model"]: row for row in usage["by_model"]}
    assert set(by_model) == {"gpt-4o-mini", "llama3.1:8b"}
    mini = by_model["gpt-4o-mini"]
    assert mini["calls"] == len(known) and mini["unknown_cost_calls"] == 0
    assert mini["prompt_tokens"] == sum(1000 + i for i in known)
    assert mini["cost_usd"] == pytest.approx(sum(cost_usd("gpt-4o-mini", 1000 + i, 100) or 0 for i in known))
    local = by_model["llama3.1:8b"]
    assert local["calls"] == COUNT // 5 and local["cost_usd"] is None and local["unknown_cost_calls"] == COUNT // 5
    assert usage["by_day"] == [{**usage["total"], "day": "2026-11-21"}]
    total = usage["total"]
    assert total["calls"] == COUNT and total["total_tokens"] == sum(1100 + i for i in range(COUNT))
    assert total["cost_usd"] == pytest.approx(mini["cost_usd"]) and total["unknown_cost_calls"] == COUNT // 5


# --- the dashboard's filters: analyst, model, until, text search -----------------------------------
def test_list_and_exports_share_the_analyst_model_window_and_text_filters(running: tuple[str, Container]) -> None:
    url, _ = running
    local = [f"dec_{i:03d}" for i in range(COUNT) if i % 5 == 0]
    assert ids(get(url, "/api/ai-logs", model="llama3.1:8b").json()) == list(reversed(local))
    assert len(get(url, "/api/ai-logs", analyst="llm:gpt-4o-mini").json()) == COUNT
    assert get(url, "/api/ai-logs", analyst="llm:gpt-4o").json() == []
    window = {"since": "2026-11-21T06:10:00Z", "until": "2026-11-21T06:20:00Z"}  # until is exclusive
    assert ids(get(url, "/api/ai-logs", **window).json()) == [f"dec_{i:03d}" for i in reversed(range(10, 20))]
    until_ms = str(int((T0 + timedelta(minutes=3)).timestamp() * 1000))
    assert ids(get(url, "/api/ai-logs", until=until_ms).json()) == ["dec_002", "dec_001", "dec_000"]
    assert ids(get(url, "/api/ai-logs", q="#12,").json()) == ["dec_012"]  # a prompt's text
    assert ids(get(url, "/api/ai-logs", q="hyperlink").json()) == ["dec_007"]  # a raw response, any case
    assert len(get(url, "/api/ai-logs", q="SECOND LINE").json()) == COUNT - 1
    assert get(url, "/api/ai-logs", q="a_b").json() == [] and len(get(url, "/api/ai-logs", q="a,b").json()) == COUNT
    assert get(url, "/api/ai-logs", q="100%").json() == []  # % is literal, not "anything"
    combined = {"symbol": "BTCUSDT", "model": "llama3.1:8b", "q": "analyse", "since": "2026-11-21T06:05:00Z"}
    expected = ["dec_010", "dec_020"]  # BTC on even indexes, llama on every fifth, from minute 5
    assert ids(get(url, "/api/ai-logs", **combined).json()) == list(reversed(expected))
    assert ids(get(url, "/api/ai-logs/export/json", **combined).json()) == expected
    exported = list(csv.DictReader(io.StringIO(get(url, "/api/ai-logs/export/csv", **combined).text)))
    assert [row["decision_id"] for row in exported] == expected and {row["model"] for row in exported} == {"llama3.1:8b"}
    everything = get(url, "/api/ai-logs/export/json", **window).json()
    assert ids(everything) == [f"dec_{i:03d}" for i in range(10, 20)]  # exports have no limit: every match
    blank = get(url, "/api/ai-logs", q="", analyst=" ", model="", until="").json()
    assert len(blank) == COUNT  # a blank filter filters nothing


TEXT_FILTERS = [
    ({"q": "x" * 201}, "q"),
    ({"q": "nul\x00byte"}, "q"),
    ({"q": "bell\x07"}, "q"),
    ({"analyst": "a" * 256}, "analyst"),
    ({"model": "gpt\x00"}, "model"),
    ({"until": "tomorrow"}, "until"),
    ({"until": "2026-11-21T06:00:00Z", "since": "2026-11-21T06:00:00Z"}, "until"),
    ({"until": "2026-11-21T05:00:00Z", "since": "2026-11-21T06:00:00Z"}, "until"),
]


@pytest.mark.parametrize("path", ["/api/ai-logs", *EXPORTS])
@pytest.mark.parametrize(("params", "field"), TEXT_FILTERS)
def test_bad_filters_answer_400_naming_the_field_never_500(
    running: tuple[str, Container], path: str, params: dict[str, str], field: str
) -> None:
    url, _ = running
    response = get(url, path, **params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["field"] == field and body["error_code"] == "VALIDATION_ERROR" and field in body["detail"]
    assert len(body["detail"]) < 300  # the bad value is quoted in part, never whole


def test_a_search_of_the_longest_allowed_length_is_fine(running: tuple[str, Container]) -> None:
    url, _ = running
    assert get(url, "/api/ai-logs", q="é" * 200).json() == []
    assert get(url, "/api/ai-logs", q="tab\there").json() == []


def test_openapi_documents_every_filter_on_the_list_and_both_exports(running: tuple[str, Container]) -> None:
    url, _ = running
    paths = httpx.get(f"{url}/openapi.json", timeout=10).json()["paths"]
    for path in ("/api/ai-logs", *EXPORTS):
        params = {p["name"]: p for p in paths[path]["get"]["parameters"]}
        assert {"symbol", "analyst", "model", "since", "until", "q"} <= set(params), path
        assert all(params[name]["in"] == "query" and params[name]["description"] for name in params), path
        assert "200" in params["q"]["description"] and "exclusive" in params["until"]["description"]
    assert "limit" in {p["name"] for p in paths["/api/ai-logs"]["get"]["parameters"]}
