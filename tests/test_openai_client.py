"""OpenAIChatClient against a real HTTP fake of the chat-completions protocol, through the real SDK.

Time is injected: ``FakeTime.clock`` is what the key pool and pacing read, ``FakeTime.sleep``
records each wait and moves the clock, so backoff and rate-limit resets run instantly.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from email.utils import formatdate

import openai
import pytest

from fakes.openai_server import FakeOpenAI
from tradewind.adapters.openai_client import NO_KEY, OpenAIChatClient, parse_reset
from tradewind.domain.errors import LLMError, LLMRateLimited

KEYS = ["sk-primary-7f3a9c", "sk-backup-1-b41d2e", "sk-backup-2-c09e77"]
ASK = [{"role": "system", "content": "You are a trading analyst. Answer in JSON."},
       {"role": "user", "content": "BTCUSDT 1h: RSI 28, MACD crossing up."}]
SCHEMA = {"type": "object", "properties": {"signal": {"enum": ["Long", "Short", "Neutral"]},
                                           "confidence": {"type": "number"}}, "required": ["signal", "confidence"]}


class FakeTime:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI().running() as fake:
        yield fake


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def make_client(server: FakeOpenAI, fake_time: FakeTime, **overrides: object) -> OpenAIChatClient:
    options: dict[str, object] = {"api_keys": KEYS[:2], "base_url": server.base_url, "timeout": 5.0,
                                  "clock": fake_time.clock, "sleep": fake_time.sleep}
    options.update(overrides)
    return OpenAIChatClient("gpt-4o-mini", **options)  # type: ignore[arg-type]


# --- good answers ------------------------------------------------------------------------------
def test_good_answer_fills_the_result_from_the_response(server: FakeOpenAI, fake_time: FakeTime) -> None:
    client = make_client(server, fake_time)
    result = client.complete(ASK, schema=SCHEMA, max_tokens=200)

    assert json.loads(result.text) == {"signal": "Neutral", "confidence": 0.5, "reasoning": "fake"}
    assert result.model == "fake-gpt-4o-mini"  # as the server reported it
    assert result.response_format == "json_schema"
    assert result.latency_ms > 0
    usage = result.raw["usage"]
    assert (result.prompt_tokens, result.completion_tokens, result.total_tokens) == (
        usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"])
    assert result.raw["object"] == "chat.completion" and result.raw["choices"][0]["message"]["content"] == result.text

    [request] = server.chat_requests()
    assert request.key == KEYS[0]
    assert request.json is not None
    assert request.json["model"] == "gpt-4o-mini" and request.json["messages"] == ASK
    assert request.json["max_tokens"] == 200 and request.json["temperature"] == 0.0
    assert request.json["response_format"] == {
        "type": "json_schema", "json_schema": {"name": "trading_signal", "schema": SCHEMA, "strict": False}}


def test_ping_asks_for_success_without_a_response_format(server: FakeOpenAI, fake_time: FakeTime) -> None:
    result = make_client(server, fake_time).ping()
    assert result.text == "SUCCESS" and result.response_format == "text"
    [request] = server.chat_requests()
    assert request.json is not None and "response_format" not in request.json
    assert request.json["messages"] == [{"role": "user", "content": "Reply with SUCCESS"}]


def test_no_usage_gives_none_tokens(server: FakeOpenAI, fake_time: FakeTime) -> None:
    server.fail_next("no_usage")
    result = make_client(server, fake_time).complete(ASK)
    assert result.text == "SUCCESS"
    assert (result.prompt_tokens, result.completion_tokens, result.total_tokens) == (None, None, None)


def test_content_of_the_wrong_schema_is_returned_verbatim(server: FakeOpenAI, fake_time: FakeTime) -> None:
    server.fail_next("wrong_schema")
    result = make_client(server, fake_time).complete(ASK, schema=SCHEMA)
    assert json.loads(result.text) == {"unexpected": "shape", "items": [1, 2, 3]}  # validating it is the analyst's job


def test_an_empty_key_list_works_for_a_local_server(server: FakeOpenAI, fake_time: FakeTime) -> None:
    client = make_client(server, fake_time, api_keys=[])
    assert client.complete(ASK).text == "SUCCESS"
    assert server.keys() == [NO_KEY]
    status = client.status()
    assert status["keys_configured"] == 0 and status["key_placeholder"] is True and status["keys_available"] == 1


def test_no_key_for_openai_itself_is_not_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(LLMError) as caught:
        OpenAIChatClient("gpt-4o-mini", api_keys=["", "  "])
    assert caught.value.kind == "not_configured"


# --- the key pool ------------------------------------------------------------------------------
def test_429_on_one_key_moves_to_the_next_and_parks_it_until_its_reset(server: FakeOpenAI, fake_time: FakeTime) -> None:
    client = make_client(server, fake_time)
    server.fail_next("429", None, key=KEYS[0], retry_after=30)

    assert client.complete(ASK).text == "SUCCESS"
    assert server.keys() == [KEYS[0], KEYS[1]]
    status = client.status()
    assert status["limited_until"] == [30.0, None] and status["keys_available"] == 1

    fake_time.now += 10
    client.complete(ASK)
    assert server.keys()[-1] == KEYS[1]  # the parked key is not even tried
    assert len(server.keys()) == 3

    server.clear()
    fake_time.now += 20.5  # past the reset
    client.complete(ASK)
    assert server.keys()[-1] == KEYS[0]  # the primary is back
    assert client.status()["limited_until"] == [None, None]
    assert fake_time.sleeps == []  # switching keys never waits


def test_429_on_every_key_raises_rate_limited_at_the_earliest_reset(
        server: FakeOpenAI, fake_time: FakeTime, caplog: pytest.LogCaptureFixture) -> None:
    client = make_client(server, fake_time, api_keys=KEYS)
    server.fail_next("429", None, key=KEYS[0], reset_requests="6m0s")
    server.fail_next("429", None, key=KEYS[1], reset_tokens="1m30s")
    server.fail_next("429", None, key=KEYS[2], retry_after=formatdate(time.time() + 600, usegmt=True))

    with caplog.at_level(logging.ERROR), pytest.raises(LLMRateLimited) as caught:
        client.complete(ASK)
    assert str(caught.value) == "All API keys exhausted or rate limited"
    assert caught.value.kind == "rate_limited"
    assert caught.value.retry_at == pytest.approx(fake_time.now + 90)
    assert "All API keys exhausted or rate limited" in caplog.text
    assert server.keys() == KEYS

    with pytest.raises(LLMRateLimited):  # nothing is sent while every key is parked
        client.complete(ASK)
    assert len(server.keys()) == 3
    assert client.status()["keys_available"] == 0


def test_429_with_no_reset_headers_parks_for_the_default(server: FakeOpenAI, fake_time: FakeTime) -> None:
    client = make_client(server, fake_time, api_keys=KEYS[:1])
    server.fail_next("429")
    with pytest.raises(LLMRateLimited) as caught:
        client.complete(ASK)
    assert caught.value.retry_at == pytest.approx(fake_time.now + 60)


def test_insufficient_quota_parks_the_key_for_an_hour(server: FakeOpenAI, fake_time: FakeTime) -> None:
    client = make_client(server, fake_time)
    server.fail_next("insufficient_quota", key=KEYS[0], retry_after=1)
    client.complete(ASK)
    assert client.status()["limited_until"][0] == 3600.0


def test_reset_header_formats() -> None:
    assert parse_reset({"Retry-After": "12"}) == 12
    assert parse_reset({"retry-after-ms": "1500", "Retry-After": "2"}) == 1.5
    assert parse_reset({"Retry-After": formatdate(1_000_030, usegmt=True)}, now_wall=1_000_000) == 30
    assert parse_reset({"x-ratelimit-reset-requests": "6m0s"}) == 360
    assert parse_reset({"x-ratelimit-reset-requests": "20ms"}) == pytest.approx(0.02)
    assert parse_reset({"x-ratelimit-reset-tokens": "1h2m3.5s"}) == pytest.approx(3723.5)
    both = {"x-ratelimit-reset-requests": "1s", "x-ratelimit-reset-tokens": "40s"}
    assert parse_reset(both) == 40  # unknown which limit: the later
    assert parse_reset(both | {"x-ratelimit-remaining-requests": "0", "x-ratelimit-remaining-tokens": "900"}) == 1
    assert parse_reset({"x-ratelimit-reset-requests": "soon"}) is None
    assert parse_reset({}) is None


def test_rejected_key_leaves_the_rotation(server: FakeOpenAI, fake_time: FakeTime) -> None:
    client = make_client(server, fake_time)
    server.valid_keys = {KEYS[1]}
    assert client.complete(ASK).text == "SUCCESS"
    client.complete(ASK)
    assert server.keys() == [KEYS[0], KEYS[1], KEYS[1]]
    assert client.status()["keys_rejected"] == [0]


def test_every_key_rejected_is_an_auth_error(server: FakeOpenAI, fake_time: FakeTime) -> None:
    client = make_client(server, fake_time)
    server.valid_keys = set()
    with pytest.raises(LLMError) as caught:
        client.complete(ASK)
    assert caught.value.kind == "auth"
    assert not any(key in str(caught.value) for key in KEYS)
    with pytest.raises(LLMError) as again:
        client.complete(ASK)
    assert again.value.kind == "auth" and len(server.keys()) == 2


def test_status_never_contains_a_key(server: FakeOpenAI, fake_time: FakeTime) -> None:
    client = make_client(server, fake_time, api_keys=KEYS)
    server.fail_next("429", key=KEYS[0], retry_after=5)
    server.fail_next("401", key=KEYS[1])
    client.complete(ASK)
    status = client.status()
    text = json.dumps(status)
    assert not any(key in text for key in KEYS)
    assert status["keys_configured"] == 3 and status["keys_available"] == 1
    assert status["model"] == "gpt-4o-mini" and status["base_url"].startswith(server.base_url)
    assert status["requests"] == 3
    assert status["errors"] == {"rate_limited": 1, "auth": 1}


# --- transient failures ------------------------------------------------------------------------
def test_5xx_twice_then_success_backs_off_exponentially(server: FakeOpenAI, fake_time: FakeTime) -> None:
    client = make_client(server, fake_time)
    server.fail_next("503", 1)
    server.fail_next("502", 1)  # an HTML page from a proxy
    assert client.complete(ASK).text == "SUCCESS"
    assert fake_time.sleeps == [0.5, 1.0]
    assert server.keys() == [KEYS[0]] * 3  # a 5xx is the server's fault, not the key's


def test_5xx_beyond_max_retries_is_a_server_error(server: FakeOpenAI, fake_time: FakeTime) -> None:
    client = make_client(server, fake_time, max_retries=3)
    server.fail_next("500", None)
    with pytest.raises(LLMError) as caught:
        client.complete(ASK)
    assert caught.value.kind == "server_error"
    assert fake_time.sleeps == [0.5, 1.0, 2.0]
    assert len(server.chat_requests()) == 4


def test_slow_answer_past_the_timeout(server: FakeOpenAI, fake_time: FakeTime) -> None:
    client = make_client(server, fake_time, timeout=0.3)
    server.fail_next("slow")
    started = time.perf_counter()
    with pytest.raises(LLMError) as caught:
        client.complete(ASK)
    assert caught.value.kind == "timeout"
    assert time.perf_counter() - started < 0.9
    assert len(server.chat_requests()) == 1  # the time is spent: no retry


def test_connection_refused_is_unreachable(fake_time: FakeTime) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = OpenAIChatClient("local", api_keys=[], base_url=f"http://127.0.0.1:{port}/v1", timeout=2.0,
                              max_retries=1, clock=fake_time.clock, sleep=fake_time.sleep)
    with pytest.raises(LLMError) as caught:
        client.complete(ASK)
    assert caught.value.kind == "unreachable"
    assert fake_time.sleeps == [0.5]


@pytest.mark.parametrize("kind", ["truncated", "html", "no_content"])
def test_malformed_body_is_a_bad_response(server: FakeOpenAI, fake_time: FakeTime, kind: str) -> None:
    server.fail_next(kind)
    with pytest.raises(LLMError) as caught:
        make_client(server, fake_time).complete(ASK)
    assert caught.value.kind == "bad_response"


# --- structured-output tiers -------------------------------------------------------------------
@pytest.mark.parametrize("style", ["llamacpp", "vllm", "ollama", "fastapi422"])
def test_json_schema_rejected_falls_back_to_json_object_and_remembers(
        server: FakeOpenAI, fake_time: FakeTime, style: str) -> None:
    server.reject_formats = {"json_schema"}
    server.reject_style = style
    client = make_client(server, fake_time)

    first = client.complete(ASK, schema=SCHEMA)
    assert first.response_format == "json_object"
    assert [r.json["response_format"]["type"] for r in server.chat_requests() if r.json] == ["json_schema", "json_object"]

    second = client.complete(ASK, schema=SCHEMA)
    assert second.response_format == "json_object"
    assert len(server.chat_requests()) == 3  # straight to the tier that works
    assert client.status()["response_format"] == "json_object"


def test_no_json_mode_at_all_falls_back_to_text(server: FakeOpenAI, fake_time: FakeTime) -> None:
    server.reject_formats = {"json_schema", "json_object"}
    client = make_client(server, fake_time)
    result = client.complete(ASK, schema=SCHEMA)
    assert result.response_format == "text"
    last = server.chat_requests()[-1].json
    assert last is not None and "response_format" not in last


def test_allowed_tiers_limit_the_fallback(server: FakeOpenAI, fake_time: FakeTime) -> None:
    server.reject_formats = {"json_schema"}
    client = make_client(server, fake_time, response_formats=("json_schema",))
    with pytest.raises(LLMError) as caught:
        client.complete(ASK, schema=SCHEMA)
    assert caught.value.kind == "bad_request"


def test_reasoning_model_parameters_are_adapted(server: FakeOpenAI, fake_time: FakeTime) -> None:
    server.reject_params = {"temperature", "max_tokens"}
    client = make_client(server, fake_time)
    client.complete(ASK, max_tokens=300)
    client.complete(ASK, max_tokens=300)
    bodies = [r.json for r in server.chat_requests()]
    assert len(bodies) == 4  # two refusals, then two straight answers
    assert bodies[-1] is not None and bodies[-1]["max_completion_tokens"] == 300
    assert "max_tokens" not in bodies[-1] and "temperature" not in bodies[-1]


# --- pacing ------------------------------------------------------------------------------------
def test_min_interval_spaces_requests(server: FakeOpenAI, fake_time: FakeTime) -> None:
    client = make_client(server, fake_time, min_interval=20)
    for _ in range(3):
        client.complete(ASK)
    assert fake_time.sleeps == [20, 20]
    fake_time.now += 100  # a long pause needs no wait
    client.complete(ASK)
    assert fake_time.sleeps == [20, 20]


def test_min_interval_is_shared_by_threads(server: FakeOpenAI) -> None:
    waits: list[float] = []
    lock = threading.Lock()

    def record(seconds: float) -> None:  # the clock stands still: each thread must take its own slot
        with lock:
            waits.append(seconds)

    client = OpenAIChatClient("m", api_keys=KEYS[:1], base_url=server.base_url, min_interval=5,
                              clock=lambda: 50.0, sleep=record)
    threads = [threading.Thread(target=client.complete, args=(ASK,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(waits) == [5, 10, 15]
    assert len(server.chat_requests()) == 4


def test_the_fake_speaks_models_to_the_sdk(server: FakeOpenAI) -> None:
    sdk = openai.OpenAI(api_key="x", base_url=server.base_url, max_retries=0)
    assert [m.id for m in sdk.models.list()] == ["fake-gpt-4o-mini"]


def test_an_answer_cut_by_the_cap_reports_its_finish_reason(server: FakeOpenAI, fake_time: FakeTime) -> None:
    server.handler = lambda request: "word " * 400
    client = make_client(server, fake_time)
    result = client.complete(ASK, max_tokens=20)
    assert result.finish_reason == "length" and result.completion_tokens == 20
    assert server.chat_requests()[-1].json["max_tokens"] == 20
    assert client.complete(ASK, max_tokens=2000).finish_reason == "stop"


def test_the_prompt_is_counted_by_the_servers_tokenizer_where_it_has_one(fake_time: FakeTime) -> None:
    from fakes.openai_server import count_tokens, render_template

    with FakeOpenAI(tokenizer=True).running() as llama:
        client = make_client(llama, fake_time)
        assert client.count_tokens(ASK) == count_tokens(render_template(ASK))
        assert [r.path for r in llama.requests] == ["/apply-template", "/tokenize"]  # at the root, not under /v1
        usage = client.complete(ASK).prompt_tokens
        assert usage == client.count_tokens(ASK)  # what it counts is what the model is billed
        assert client.status()["tokenizer"] is True
    with FakeOpenAI().running() as openai_like:  # no such endpoints: 404 once, then not asked again
        client = make_client(openai_like, fake_time)
        assert client.count_tokens(ASK) is None and client.count_tokens(ASK) is None
        assert len(openai_like.requests) == 1 and client.status()["tokenizer"] is False


def test_status_tells_the_last_call_and_the_recent_errors(server: FakeOpenAI, fake_time: FakeTime) -> None:
    client = make_client(server, fake_time, api_keys=[], max_retries=0)
    assert client.status()["last_call"] is None and client.status()["recent"]["calls"] == 0
    client.complete(ASK)
    status = client.status()
    assert status["last_call"]["ok"] is True and status["last_call"]["finish_reason"] == "stop"
    server.fail_next("500", 3)
    for _ in range(3):
        with pytest.raises(LLMError):
            client.complete(ASK)
    status = client.status()
    assert status["last_call"] == {**status["last_call"], "ok": False, "error_kind": "server_error"}
    assert status["recent"] == {"calls": 4, "errors": 3, "by_kind": {"server_error": 3}}


def test_a_ping_is_capped_at_a_few_tokens(server: FakeOpenAI, fake_time: FakeTime) -> None:
    server.handler = lambda request: "SUCCESS and then a great deal more " * 100
    result = make_client(server, fake_time).ping()
    assert server.chat_requests()[-1].json["max_tokens"] == 8 and result.finish_reason == "length"
