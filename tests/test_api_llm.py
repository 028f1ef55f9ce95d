"""The service on TRADEWIND_ANALYST=llm against a fake OpenAI-compatible server, through the real
SDK: whatever the model does, /ai/analyze answers 200 with a valid signal whose ``source`` says
what happened, and the decision log holds the attempt."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fakes.openai_server import FakeOpenAI
from support.llm_answers import signal_answer
from support.server import serve

from tradewind.api.app import create_app
from tradewind.bootstrap import Container, build_container
from tradewind.settings import Settings

DATA = Path(__file__).parent / "data"
ROWS = json.loads((DATA / "ETH_BTC-5m.json").read_text())
KEYS = ("timestamp", "open", "high", "low", "close", "volume")


def body(end: int) -> dict[str, Any]:
    rows = ROWS[end - 200:end]
    return {"symbol": "ETHBTC", "timeframe_data": {"5m": [dict(zip(KEYS, r)) for r in rows]}, "current_price": rows[-1][4]}


class Model:
    """The fake model's behaviour, switchable per test."""

    def __init__(self) -> None:
        self.replies: list[str] = []

    def __call__(self, request: dict[str, Any]) -> str:
        return self.replies.pop(0) if self.replies else signal_answer(request)


@pytest.fixture(scope="module")
def model() -> Model:
    return Model()


@pytest.fixture(scope="module")
def fake(model: Model) -> Iterator[FakeOpenAI]:
    with FakeOpenAI(model, model="gpt-4o-mini", slow_seconds=1.5).running() as server:
        yield server


@pytest.fixture(scope="module")
def service(fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Container]]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path_factory.mktemp('llm') / 'tw.db'}", symbols=["BTCUSDT"], history_hours=2,
        analyst="llm", llm_base_url=fake.base_url, llm_model="gpt-4o-mini", llm_api_keys=["sk-primary", "sk-backup"],
        llm_timeout=0.5, llm_max_retries=1, analysis_cache_seconds=0, analysis_interval_minutes=0,
    )
    container = build_container(settings)
    with serve(create_app(container)) as url:
        yield url, container


@pytest.fixture(autouse=True)
def clean(fake: FakeOpenAI, model: Model) -> Iterator[None]:
    fake.clear()
    model.replies.clear()
    yield
    fake.clear()


_END = iter(range(400, 5700, 37))  # every analysis a new input: no cache hits unless a test wants one


def analyze(url: str, end: int | None = None) -> dict[str, Any]:
    response = httpx.post(f"{url}/ai/analyze", json=body(end or next(_END)), timeout=20)
    assert response.status_code == 200, response.text
    document = response.json()
    assert document["signal"] in ("Long", "Short", "Neutral") and 0 <= document["confidence"] <= 1
    return document


def last_log(url: str) -> dict[str, Any]:
    return httpx.get(f"{url}/api/ai-logs", params={"limit": 1}).json()[0]


def test_a_good_answer(service: tuple[str, Container], fake: FakeOpenAI) -> None:
    url, _ = service
    document = analyze(url)
    assert (document["source"], document["analyst"]) == ("llm", "llm:gpt-4o-mini")
    logged = last_log(url)
    assert logged["source"] == "llm" and logged["signal_id"] == document["signal_id"]
    assert logged["total_tokens"] > 0 and logged["cost_usd"] > 0 and logged["latency_ms"] > 0
    assert logged["prompt"][1]["content"].startswith("Market data") and logged["raw_response"]


def test_429_on_one_key_moves_to_the_next(service: tuple[str, Container], fake: FakeOpenAI) -> None:
    url, container = service
    fake.fail_next("429", 1, key="sk-primary", retry_after=1)
    document = analyze(url)
    assert document["source"] == "llm"
    assert fake.keys()[-2:] == ["sk-primary", "sk-backup"]
    assert container.llm_client.status()["keys_available"] == 1
    health = httpx.get(f"{url}/health").json()
    assert health["gpt4_available"] is True and health["llm"]["keys_available"] == 1
    time.sleep(1.1)
    assert container.llm_client.status()["keys_available"] == 2  # back after the reset it announced


def test_429_on_every_key_falls_back_with_the_seeds_message(service: tuple[str, Container], fake: FakeOpenAI) -> None:
    url, container = service
    fake.fail_next("429", None, reset_requests="1s")
    document = analyze(url)
    assert document["source"] == "rules_fallback" and document["analyst"] == "rules"
    assert "All API keys exhausted or rate limited" in document["source_reason"]
    assert last_log(url)["error"].startswith("rate_limited")
    assert httpx.get(f"{url}/health").json()["gpt4_available"] is False
    fake.clear()
    time.sleep(1.1)  # the reset the server announced has passed: the keys are back
    assert analyze(url)["source"] == "llm" and container.llm_client.status()["keys_available"] == 2


@pytest.mark.parametrize(("kind", "reason"), [("500", "server_error"), ("slow", "timeout"), ("truncated", "bad_response"),
                                               ("html", "bad_response")])
def test_failures_fall_back_to_the_rules(service: tuple[str, Container], fake: FakeOpenAI, kind: str, reason: str) -> None:
    url, _ = service
    fake.fail_next(kind, None)
    document = analyze(url)
    assert document["source"] == "rules_fallback" and document["source_reason"].startswith(reason)
    logged = last_log(url)
    assert logged["source"] == "rules_fallback" and logged["error"].startswith(reason) and logged["parsed"] is None


def test_a_wrong_schema_is_repaired_once_then_falls_back(service: tuple[str, Container], model: Model) -> None:
    url, _ = service
    model.replies = [json.dumps({"verdict": "buy"})]
    repaired = analyze(url)
    assert repaired["source"] == "llm_repaired"
    assert last_log(url)["total_tokens"] > 0
    model.replies = ["I think it goes up.", json.dumps({"signal": "Long", "confidence": 2})]
    document = analyze(url)
    assert document["source"] == "rules_fallback" and "after one repair" in document["source_reason"]


def test_the_same_input_is_answered_from_the_log(service: tuple[str, Container], fake: FakeOpenAI) -> None:
    url, _ = service
    first = analyze(url, end=5699)
    calls = len(fake.chat_requests())
    again = analyze(url, end=5699)
    assert len(fake.chat_requests()) == calls and again["source"] == "cache"
    assert (again["signal"], again["confidence"], again["reasoning"]) == (first["signal"], first["confidence"], first["reasoning"])


def test_debug_endpoints_check_the_model_live(service: tuple[str, Container], fake: FakeOpenAI) -> None:
    url, _ = service
    for path in ("/debug/gpt4", "/debug/llm"):
        ok = httpx.get(url + path, timeout=10)
        assert ok.status_code == 200
        assert (ok.json()["status"], ok.json()["test_response"], ok.json()["model_used"]) == ("success", "SUCCESS", "gpt-4o-mini")
        assert fake.chat_requests()[-1].json["max_tokens"] == 8  # a tiny capped request
    fake.fail_next("502", None)
    failed = httpx.get(f"{url}/debug/gpt4", timeout=10)
    assert failed.status_code == 500 and failed.json()["status"] == "failed" and failed.json()["client_initialized"] is True


def test_without_an_llm_the_debug_check_says_so(tmp_path: Path) -> None:
    container = build_container(Settings(database_url=f"sqlite:///{tmp_path / 'r.db'}", symbols=["BTCUSDT"], history_hours=1,
                                         analysis_interval_minutes=0))
    with serve(create_app(container)) as url:
        response = httpx.get(f"{url}/debug/gpt4")
        assert response.status_code == 500
        assert response.json()["error"] == "OpenAI client not initialized" and response.json()["client_initialized"] is False
        assert httpx.get(f"{url}/health").json()["llm"]["configured"] is False


def test_health_tells_the_last_calls_outcome(service: tuple[str, Container], fake: FakeOpenAI) -> None:
    url, _ = service
    analyze(url)
    health = httpx.get(f"{url}/health").json()
    assert health["gpt4_available"] is True and health["llm"]["last_call"]["ok"] is True
    fake.fail_next("500", None)
    assert analyze(url)["source"] == "rules_fallback"
    health = httpx.get(f"{url}/health").json()
    assert health["gpt4_available"] is False and health["llm"]["available"] is False
    assert health["llm"]["last_call"]["error_kind"] == "server_error" and health["llm"]["recent"]["errors"] >= 1
    fake.clear()
    analyze(url)
    assert httpx.get(f"{url}/health").json()["gpt4_available"] is True


def test_the_root_names_the_analyst_that_answers(service: tuple[str, Container]) -> None:
    url, _ = service
    described = httpx.get(f"{url}/").json()["endpoints"]["analyze"]
    assert "LLM analyst (gpt-4o-mini" in described and "rule-based analyst as its fallback" in described


@pytest.fixture(scope="module")
def cached(fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Container]]:
    """The same service with the seed's 5-minute cache on."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path_factory.mktemp('llm-cache') / 'tw.db'}", symbols=["BTCUSDT"],
        history_hours=6, analyst="llm", llm_base_url=fake.base_url, llm_model="gpt-4o-mini", llm_timeout=0.5,
        llm_max_retries=0, analysis_interval_minutes=0, analysis_timeframes=["5m", "15m"],
    )
    container = build_container(settings)
    with serve(create_app(container)) as url:
        deadline = time.monotonic() + 30
        while not container.runtime.running and time.monotonic() < deadline:
            time.sleep(0.05)
        yield url, container


def post(url: str, payload: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{url}/ai/analyze", json=payload, timeout=20)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_cache_answers_the_same_input_not_the_same_symbol(cached: tuple[str, Container], fake: FakeOpenAI) -> None:
    url, _ = cached
    streamed = post(url, {"symbol": "BTCUSDT"})
    assert streamed["cached"] is False and streamed["source"] == "llm"
    again = post(url, {"symbol": "BTC/USDT"})  # the same streamed candles: the seed's [RECENT]
    assert again["cached"] is True and again["reasoning"].startswith("[RECENT] ") and again["signal_id"] == streamed["signal_id"]
    own = {**body(3000), "symbol": "BTCUSDT"}  # the seed's body with its own candles, same symbol
    fresh = post(url, own)
    assert fresh["cached"] is False and fresh["signal_id"] != streamed["signal_id"]
    repeat = post(url, own)
    assert repeat["cached"] is True and repeat["signal_id"] == fresh["signal_id"]
    other = post(url, {**body(3037), "symbol": "BTCUSDT"})
    assert other["cached"] is False and other["signal_id"] not in (fresh["signal_id"], streamed["signal_id"])
    context = post(url, {"symbol": "BTCUSDT", "strategy_context": {"risk_level": "Aggressive"}})
    assert context["cached"] is False  # another context is another question


def test_a_fallback_from_a_passing_failure_is_not_pinned(cached: tuple[str, Container], fake: FakeOpenAI) -> None:
    url, _ = cached
    payload = body(4000)
    fake.fail_next("503", None)
    fallback = post(url, payload)
    assert fallback["source"] == "rules_fallback" and fallback["cached"] is False
    fake.clear()
    answered = post(url, payload)  # asked again at once, not the fallback for five minutes
    assert answered["source"] == "llm" and answered["cached"] is False
    assert post(url, payload)["cached"] is True
