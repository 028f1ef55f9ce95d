"""``/v1`` with a model behind the configured upstream: a local server speaking OpenAI's wire protocol
(function calling included, and its failures) stands in for OpenAI. Built-in tools run here; the
client's own come back to it; every upstream call is in the decision log; failures are named."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from fakes.openai_server import FakeOpenAI, count_tokens, render_template
from support.server import serve
from support.waiting import wait_for

from tradewind.api.app import create_app
from tradewind.bootstrap import Container, build_container
from tradewind.settings import Settings

DATA = Path(__file__).parent / "data"
UPSTREAM = "gpt-4o-mini"
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}}

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def upstream_model(request: dict[str, Any]) -> str | dict[str, Any]:
    """Calls a tool first (the one the user names), then answers from the tool's output."""
    messages = request["messages"]
    results = [m for m in messages if m.get("role") == "tool"]
    if results:
        return f"From the tool: {results[-1]['content'][:200]}"
    names = [t["function"]["name"] for t in request.get("tools", [])]
    wanted = "get_weather" if "weather" in messages[-1]["content"] else "get_market_data"
    if wanted not in names:
        return "no tool for that"
    arguments = {"location": "Oslo"} if wanted == "get_weather" else {"symbols": ["ETHBTC"]}
    return {"content": None, "tool_calls": [{"id": "call_up1", "type": "function",
                                             "function": {"name": wanted, "arguments": json.dumps(arguments)}}]}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(upstream_model, model=UPSTREAM).running() as server:
        yield server


@pytest.fixture(scope="module")
def running(fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Container]]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path_factory.mktemp('upstream') / 'tw.db'}", feed="replay",
        replay_path=DATA / "ETH_BTC-5m.json", replay_symbol="ETHBTC", replay_timeframe="5m", replay_speed=100_000,
        symbols=["ETHBTC"], timeframes=["5m", "15m", "1h"], analysis_timeframes=["15m", "1h"],
        llm_base_url=fake.base_url, llm_model=UPSTREAM, llm_api_keys=["sk-up"], llm_timeout=2, llm_max_retries=0,
    )
    container = build_container(settings)  # the analyst stays the rules: /v1 offers the model all the same
    with serve(create_app(container)) as url:
        wait_for(lambda: container.runtime.feed.played >= 300)  # type: ignore[attr-defined]
        yield url, container


@pytest.fixture(autouse=True)
def clean(fake: FakeOpenAI) -> Iterator[None]:
    fake.clear()
    yield
    fake.clear()


@pytest.fixture
def client(running: tuple[str, Container]) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{running[0]}/v1", api_key="sk-client", max_retries=0)


def test_the_upstream_model_is_listed(client: openai.OpenAI) -> None:
    models = {m.id: m.owned_by for m in client.models.list()}
    assert models == {"tradewind-analyst": "tradewind", UPSTREAM: "upstream"}


def test_a_built_in_tool_runs_here_and_the_upstream_answers_from_it(client: openai.OpenAI, fake: FakeOpenAI,
                                                                    running: tuple[str, Container]) -> None:
    completion = client.chat.completions.create(model=UPSTREAM, messages=[{"role": "user", "content": "ETHBTC?"}])
    (step,) = completion.model_extra["tool_steps"]
    assert step["name"] == "get_market_data" and "result" in step["output"]
    assert completion.choices[0].message.content.startswith("From the tool: ")
    calls = fake.chat_requests()
    assert len(calls) == 2
    sent = {t["function"]["name"]: t["function"] for t in calls[0].json["tools"]}
    assert "symbols" in sent["get_market_data"]["parameters"]["properties"]  # the built-in schemas go upstream
    assert calls[1].json["messages"][-1]["role"] == "tool"
    prompt = sum(count_tokens(render_template(c.json["messages"])) for c in calls)
    assert completion.usage.prompt_tokens == prompt  # the upstream's own counts, summed over both calls
    logged = [d for d in running[1].decisions.query(limit=10) if d.analyst == f"assistant:{UPSTREAM}"]
    assert len(logged) >= 2 and all(d.prompt_tokens and d.latency_ms is not None for d in logged[:2])


def test_the_clients_max_tokens_goes_upstream(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    """Found against the real model: without it a small model wrote the server's cap (1,024) every turn."""
    before = len(fake.chat_requests())
    client.chat.completions.create(model=UPSTREAM, max_tokens=40, messages=[{"role": "user", "content": "ETHBTC?"}])
    sent = fake.chat_requests()[before:]
    assert sent and all(c.json.get("max_tokens", c.json.get("max_completion_tokens")) == 40 for c in sent)


def test_the_clients_own_function_goes_back_to_the_client(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model=UPSTREAM, tools=[WEATHER],  # type: ignore[list-item]
                                                messages=[{"role": "user", "content": "weather please"}])
    assert completion.choices[0].finish_reason == "tool_calls"
    assert completion.choices[0].message.tool_calls[0].function.name == "get_weather"


def test_an_upstream_failure_is_named_not_hidden(client: openai.OpenAI, fake: FakeOpenAI,
                                                 running: tuple[str, Container]) -> None:
    fake.fail_next("500", None)
    with pytest.raises(openai.InternalServerError) as failed:
        client.chat.completions.create(model=UPSTREAM, messages=[{"role": "user", "content": "ETHBTC?"}])
    assert failed.value.status_code == 503 and failed.value.code == "upstream_error"
    assistant = client.beta.assistants.create(model=UPSTREAM, tools=[{"type": "function",
                                                                      "function": {"name": "get_market_data"}}])
    run = client.beta.threads.create_and_run_poll(assistant_id=assistant.id, poll_interval_ms=50,
                                                  thread={"messages": [{"role": "user", "content": "ETHBTC?"}]})
    assert run.status == "failed" and run.last_error is not None
    assert run.last_error.code == "server_error" and UPSTREAM in run.last_error.message


def test_a_run_on_the_upstream_model(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model=UPSTREAM, tools=[{"type": "function",
                                                                      "function": {"name": "get_market_data"}}])
    run = client.beta.threads.create_and_run_poll(assistant_id=assistant.id, poll_interval_ms=50,
                                                  thread={"messages": [{"role": "user", "content": "ETHBTC?"}]})
    assert run.status == "completed" and run.usage is not None and run.usage.total_tokens > 0
    text = client.beta.threads.messages.list(run.thread_id).data[0].content[0].text.value  # type: ignore[union-attr]
    assert text.startswith("From the tool: ")
