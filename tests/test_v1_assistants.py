"""The Assistants API v2 under ``/v1``, driven by the official ``openai`` SDK's ``client.beta`` unchanged.

One server on its embedded defaults (SQLite) replays real ETH/BTC 5m candles, so a run's trading
tools read live data. Each test uses its own API key, which makes it its own owner: what one key
creates another cannot see (404), and lists hold only the test's own objects.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from support.hostile import Client, hostile_bodies
from support.server import serve
from support.waiting import wait_for

from tradewind.api.app import create_app
from tradewind.bootstrap import Container, build_container
from tradewind.settings import Settings

DATA = Path(__file__).parent / "data"
MODEL = "tradewind-analyst"
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather at a place",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}
MARKET = {"type": "function", "function": {"name": "get_market_data"}}  # a built-in tool, enabled by its name

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # client.beta is deprecated, still shipped


def settings_for(path: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{path}", feed="replay", replay_path=DATA / "ETH_BTC-5m.json",
                    replay_symbol="ETHBTC", replay_timeframe="5m", replay_speed=100_000, symbols=["ETHBTC"],
                    timeframes=["5m", "15m", "1h"], analysis_timeframes=["15m", "1h"])


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Container]]:
    container = build_container(settings_for(tmp_path_factory.mktemp("assistants") / "tw.db"))
    with serve(create_app(container)) as url:
        wait_for(lambda: container.runtime.feed.played >= 300)  # type: ignore[attr-defined]
        yield url, container


def new_client(url: str, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key or f"sk-test-{uuid.uuid4().hex}", max_retries=0)


@pytest.fixture
def client(running: tuple[str, Container]) -> openai.OpenAI:
    return new_client(running[0])


def test_assistants_crud_and_the_deleted_shape(client: openai.OpenAI) -> None:
    created = client.beta.assistants.create(model=MODEL, name="Desk", instructions="Be brief.",
                                            tools=[MARKET, WEATHER], metadata={"desk": "fx"})  # type: ignore[list-item]
    assert created.id.startswith("asst_") and created.object == "assistant" and created.metadata == {"desk": "fx"}
    market = created.tools[0].function  # type: ignore[union-attr]
    assert market.name == "get_market_data" and "symbols" in market.parameters["properties"]  # the built-in schema
    assert client.beta.assistants.retrieve(created.id).instructions == "Be brief."
    changed = client.beta.assistants.update(created.id, name="Desk 2", metadata={"desk": "crypto"})
    assert (changed.name, changed.metadata, changed.model) == ("Desk 2", {"desk": "crypto"}, MODEL)
    deleted = client.beta.assistants.delete(created.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (created.id, "assistant.deleted", True)
    with pytest.raises(openai.NotFoundError) as gone:
        client.beta.assistants.retrieve(created.id)
    assert gone.value.param == "assistant_id"


def test_lists_page_by_cursor_and_stay_stable_within_one_second(client: openai.OpenAI) -> None:
    ids = [client.beta.assistants.create(model=MODEL, name=f"a{i}").id for i in range(5)]
    first = client.beta.assistants.list(limit=2, order="asc")
    assert [a.id for a in first.data] == ids[:2] and first.has_more
    assert (first.first_id, first.last_id) == (ids[0], ids[1])  # type: ignore[attr-defined]
    assert [a.id for a in client.beta.assistants.list(limit=2, order="asc", after=ids[1]).data] == ids[2:4]
    assert [a.id for a in client.beta.assistants.list(limit=2, order="asc", before=ids[4]).data] == ids[2:4]
    assert [a.id for a in client.beta.assistants.list(limit=2, before=ids[1]).data] == [ids[3], ids[2]]
    assert [a.id for a in client.beta.assistants.list(limit=2)] == ids[::-1]  # the SDK follows the pages
    last = client.beta.assistants.list(limit=3, order="asc", after=ids[2])
    assert [a.id for a in last.data] == ids[3:] and not last.has_more


def test_another_key_sees_nothing_of_ours(running: tuple[str, Container], client: openai.OpenAI) -> None:
    mine = client.beta.assistants.create(model=MODEL)
    thread = client.beta.threads.create()
    other = new_client(running[0])
    for call in (lambda: other.beta.assistants.retrieve(mine.id), lambda: other.beta.threads.retrieve(thread.id),
                 lambda: other.beta.assistants.delete(mine.id),
                 lambda: other.beta.threads.messages.list(thread.id)):
        with pytest.raises(openai.NotFoundError):
            call()
    assert other.beta.assistants.list().data == []
    assert client.beta.assistants.retrieve(mine.id).id == mine.id  # still there for its owner


def test_threads_and_messages(client: openai.OpenAI) -> None:
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "first"},
                                                  {"role": "user", "content": [{"type": "text", "text": "second"}]}],
                                        metadata={"user_id": "trader_001"})
    assert thread.metadata == {"user_id": "trader_001"}
    third = client.beta.threads.messages.create(thread.id, role="user", content="third", metadata={"k": "v"})
    listed = client.beta.threads.messages.list(thread.id, order="asc")
    assert [m.content[0].text.value for m in listed.data] == ["first", "second", "third"]  # type: ignore[union-attr]
    assert all(m.thread_id == thread.id and m.status == "completed" for m in listed.data)
    assert client.beta.threads.messages.retrieve(third.id, thread_id=thread.id).metadata == {"k": "v"}
    assert client.beta.threads.messages.update(third.id, thread_id=thread.id, metadata={"k": "w"}).metadata == {"k": "w"}
    deleted = client.beta.threads.messages.delete(third.id, thread_id=thread.id)
    assert (deleted.object, deleted.deleted) == ("thread.message.deleted", True)
    assert client.beta.threads.update(thread.id, metadata={"a": "b"}).metadata == {"a": "b"}
    assert [m.id for m in client.beta.threads.messages.list(thread.id)] == [m.id for m in listed.data[:2]][::-1]


def test_a_run_calls_a_built_in_tool_and_answers_from_it(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model=MODEL, instructions="Trading desk.", tools=[MARKET])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "What is ETH/BTC trading at?"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50)
    assert run.status == "completed" and run.completed_at and run.usage and run.usage.total_tokens > 0
    assert run.instructions == "Trading desk."
    steps = list(client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc"))
    assert [(s.type, s.status) for s in steps] == [("tool_calls", "completed"), ("message_creation", "completed")]
    (call,) = steps[0].step_details.tool_calls  # type: ignore[union-attr]
    assert call.function.name == "get_market_data"  # type: ignore[union-attr]
    output = json.loads(call.function.output)  # type: ignore[union-attr]
    price = output["result"]["markets"][0]["last_price"]
    answer = client.beta.threads.messages.list(thread.id, run_id=run.id).data
    assert len(answer) == 1 and answer[0].role == "assistant" and answer[0].assistant_id == assistant.id
    assert f"last price {price:.6g}" in answer[0].content[0].text.value  # type: ignore[union-attr]
    assert steps[1].step_details.message_creation.message_id == answer[0].id  # type: ignore[union-attr]
    assert client.beta.threads.runs.steps.retrieve(steps[0].id, thread_id=thread.id, run_id=run.id).id == steps[0].id


def test_the_assistants_own_function_waits_for_its_output(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model=MODEL, tools=[WEATHER])  # type: ignore[list-item]
    run = client.beta.threads.create_and_run_poll(
        assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "get weather for Oslo"}]},
        poll_interval_ms=50)
    assert run.status == "requires_action" and run.required_action is not None
    (call,) = run.required_action.submit_tool_outputs.tool_calls
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"location": "Oslo"}
    with pytest.raises(openai.BadRequestError) as unknown:
        client.beta.threads.runs.submit_tool_outputs(run.id, thread_id=run.thread_id,
                                                     tool_outputs=[{"tool_call_id": "call_nope", "output": "x"}])
    assert unknown.value.param == "tool_outputs[0].tool_call_id"
    done = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id, thread_id=run.thread_id, tool_outputs=[{"tool_call_id": call.id, "output": '{"celsius": -3}'}],
        poll_interval_ms=50)
    assert done.status == "completed"
    text = client.beta.threads.messages.list(run.thread_id).data[0].content[0].text.value  # type: ignore[union-attr]
    assert '"celsius": -3' in text
    with pytest.raises(openai.BadRequestError) as late:
        client.beta.threads.runs.submit_tool_outputs(run.id, thread_id=run.thread_id,
                                                     tool_outputs=[{"tool_call_id": call.id, "output": "x"}])
    assert late.value.code == "run_not_waiting"


def test_cancelling_a_waiting_run_and_a_finished_one(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model=MODEL, tools=[WEATHER])  # type: ignore[list-item]
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "get_weather in Rome"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50)
    assert run.status == "requires_action"
    cancelled = client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    assert cancelled.status == "cancelled" and cancelled.cancelled_at
    step = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id).data[0]
    assert step.status == "cancelled"
    with pytest.raises(openai.BadRequestError) as again:
        client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    assert again.value.code == "run_not_cancellable"


def test_streaming_a_run_sends_openais_events_in_order(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model=MODEL, tools=[MARKET])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "price of ETHBTC"}])
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
        events = [event.event for event in stream]
        final = stream.get_final_messages()
    assert events[:3] == ["thread.run.created", "thread.run.queued", "thread.run.in_progress"]
    assert events[-1] == "thread.run.completed"
    order = ["thread.run.step.created", "thread.run.step.completed", "thread.message.created", "thread.message.delta",
             "thread.message.completed"]
    positions = [events.index(name) for name in order]
    assert positions == sorted(positions), events
    assert "ETHBTC (15m): last price" in final[0].content[0].text.value  # type: ignore[union-attr]


def test_streaming_the_tool_path_ends_in_requires_action_then_continues(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model=MODEL, tools=[WEATHER])  # type: ignore[list-item]
    with client.beta.threads.create_and_run_stream(
            assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "get weather for Lima"}]}) as s:
        events = [event.event for event in s]
        run = s.current_run
    assert events[0] == "thread.created" and events[-1] == "thread.run.requires_action"
    assert run is not None and run.required_action is not None
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    with client.beta.threads.runs.submit_tool_outputs_stream(
            run_id=run.id, thread_id=run.thread_id, tool_outputs=[{"tool_call_id": call.id, "output": "sunny"}]) as s:
        after = [event.event for event in s]
        text = s.get_final_messages()[0].content[0].text.value  # type: ignore[union-attr]
    assert after[-1] == "thread.run.completed" and "sunny" in text


def test_raw_stream_ends_with_done(running: tuple[str, Container], client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model=MODEL)
    body = {"assistant_id": assistant.id, "stream": True, "thread": {"messages": [{"role": "user", "content": "hi"}]}}
    headers = {"Authorization": f"Bearer {client.api_key}"}
    with httpx.stream("POST", f"{running[0]}/v1/threads/runs", json=body, headers=headers) as response:
        lines = [line for line in response.iter_lines() if line]
    assert lines[-2:] == ["event: done", "data: [DONE]"]
    assert "event: thread.run.failed" not in lines and "event: thread.run.completed" in lines


def test_deleting_cascades(running: tuple[str, Container], client: openai.OpenAI) -> None:
    store = running[1].assistants.store
    owner = owner_of_key(client.api_key)
    assistant = client.beta.assistants.create(model=MODEL, tools=[MARKET])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "price of ETHBTC"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50)
    steps = [s.id for s in client.beta.threads.runs.steps.list(run.id, thread_id=thread.id)]
    messages = [m.id for m in client.beta.threads.messages.list(thread.id)]
    client.beta.assistants.delete(assistant.id)  # an assistant takes its runs (and their steps) with it
    assert store.get("run", owner, run.id) is None and all(store.get("run_step", owner, s) is None for s in steps)
    assert all(store.get("message", owner, m) is not None for m in messages)  # the conversation stays
    client.beta.threads.delete(thread.id)
    assert all(store.get("message", owner, m) is None for m in messages)


def owner_of_key(key: str) -> str:
    from tradewind.api.openai_v1 import owner_of

    return asyncio.run(owner_of(f"Bearer {key}"))


@pytest.mark.parametrize(("path", "body", "param", "code"), [
    ("/assistants", {"model": "nope"}, "model", "model_not_found"),
    ("/assistants", {}, "model", "missing_required_parameter"),
    ("/assistants", {"model": MODEL, "tools": [{"type": "code_interpreter"}]}, "tools[0].type", "unsupported_tool"),
    ("/assistants", {"model": MODEL, "tools": [{"type": "retrieval"}]}, "tools[0].type", "invalid_value"),
    ("/assistants", {"model": MODEL, "tools": [{"type": "function", "function": {"name": "f", "parameters": []}}]},
     "tools[0].function.parameters", "invalid_value"),
    ("/assistants", {"model": MODEL, "metadata": {str(i): "v" for i in range(17)}}, "metadata", "invalid_value"),
    ("/assistants", {"model": MODEL, "metadata": {"k": 1}}, "metadata.k", "invalid_value"),
    ("/assistants", {"model": MODEL, "name": "x" * 257}, "name", "string_above_max_length"),
    ("/assistants", {"model": MODEL, "temperature": 3}, "temperature", "invalid_value"),
    ("/assistants", {"model": MODEL, "colour": "red"}, "colour", "unknown_parameter"),
    ("/threads", {"messages": [{"role": "system", "content": "x"}]}, "messages[0].role", "invalid_value"),
    ("/threads", {"messages": [{"role": "user", "content": [{"type": "image_file"}]}]}, "messages[0].content[0].type",
     "invalid_value"),
    ("/threads", {"messages": [{"role": "user", "content": "x" * 200_001}]}, "messages[0].content",
     "string_above_max_length"),
    ("/threads", {"messages": [{"role": "user"}]}, "messages[0].content", "missing_required_parameter"),
    ("/threads/runs", {}, "assistant_id", "missing_required_parameter"),
    ("/threads/runs", {"assistant_id": "asst_x", "stream": "yes"}, "stream", "invalid_value"),
])
def test_bad_requests_get_openais_envelope(running: tuple[str, Container], path: str, body: dict[str, Any],
                                           param: str, code: str) -> None:
    response = httpx.post(f"{running[0]}/v1{path}", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["param"], error["code"], error["type"]) == (param, code, "invalid_request_error")
    assert len(response.content) < 2000


def test_bad_list_parameters_and_missing_objects(running: tuple[str, Container]) -> None:
    url = running[0]
    for query, param in (("limit=0", "limit"), ("limit=101", "limit"), ("limit=x", "limit"), ("order=up", "order"),
                         ("after=" + "a" * 65, "after")):
        response = httpx.get(f"{url}/v1/assistants?{query}")
        assert response.status_code == 400 and response.json()["error"]["param"] == param, (query, response.text)
    for path in ("/assistants/asst_missing", "/threads/thread_missing", "/threads/thread_missing/messages",
                 "/threads/thread_missing/runs/run_x", "/assistants/" + "x" * 5000):
        response = httpx.get(f"{url}/v1{path}")
        assert response.status_code in (404, 400) and "error" in response.json(), (path, response.text)
        assert len(response.content) < 2000


def test_a_run_cut_by_a_crash_ends_failed_at_the_next_start(tmp_path: Path) -> None:
    """The process died with a run in progress and another cancelling: the next start settles both."""
    settings = settings_for(tmp_path / "tw.db")
    first = build_container(settings)
    objects, store = first.assistants, first.assistants.store
    assistant = objects.create_assistant("me", {"model": MODEL})
    thread = objects.create_thread("me", {"messages": [{"role": "user", "content": "hi"}]})
    runs = [asyncio.run(first.runs.create("me", thread["id"], {"assistant_id": assistant["id"]})) for _ in range(2)]
    for run, status in zip(runs, ("in_progress", "cancelling")):
        store.replace("run", "me", {**run, "status": status, "started_at": run["created_at"]})
    first.database.dispose()  # no stop: as if the process had been killed

    second = build_container(settings)
    with serve(create_app(second)):  # up: its start has settled the runs
        failed = second.runs.store.get("run", "me", runs[0]["id"])
        cancelled = second.runs.store.get("run", "me", runs[1]["id"])
    assert failed is not None and failed["status"] == "failed" and failed["failed_at"]
    assert failed["last_error"]["code"] == "server_error" and "stopped" in failed["last_error"]["message"]
    assert cancelled is not None and cancelled["status"] == "cancelled"


def test_every_field_of_the_bodies_refuses_hostile_values(running: tuple[str, Container]) -> None:
    """Each hostile value in every place of an assistant, a thread and a run body: below 500, an error
    names its param, the answer stays small, the connection usable, and nothing half-written."""
    url, container = running
    key = f"sk-test-{uuid.uuid4().hex}"
    client = new_client(url, key)
    assistant = client.beta.assistants.create(model=MODEL)
    thread = client.beta.threads.create()
    notes = client.files.create(file=("notes.md", b"# Notes\nstaking yields"), purpose="assistants")
    bodies = {
        "/v1/assistants": {"model": MODEL, "name": "n", "instructions": "i", "tools": [
            WEATHER, MARKET, {"type": "file_search", "file_search": {"max_num_results": 5}}],
            "tool_resources": {"file_search": {"vector_stores": [{"file_ids": [notes.id]}]}},
            "metadata": {"k": "v"}, "temperature": 1},
        "/v1/threads": {"messages": [{"role": "user", "content": "hi", "metadata": {"k": "v"}, "attachments": [
            {"file_id": notes.id, "tools": [{"type": "file_search"}]}]}], "metadata": {"k": "v"}},
        "/v1/vector_stores": {"name": "n", "file_ids": [notes.id], "metadata": {"k": "v"}},
        f"/v1/threads/{thread.id}/runs": {"assistant_id": assistant.id, "instructions": "x", "metadata": {"k": "v"},
                                           "additional_messages": [{"role": "user", "content": "more"}]},
    }
    raw_client = Client(url)
    cases = 0
    for route, body in bodies.items():
        for path, kind, hostile, raw in hostile_bodies(body):
            status, data = raw_client.request("POST", route, raw, {"authorization": f"Bearer {key}"})
            cases += 1
            where = f"{route} {'.'.join(map(str, path))} ({kind}) = {hostile.name}"
            assert status < 500, f"{where}: {status} {data[:300]!r}"
            if status >= 400:  # an error quotes an excerpt; an accepted object may echo 100,000 characters back
                assert len(data) < 64 * 1024, f"{where}: a {len(data)}-byte error"
                error = json.loads(data)["error"]
                assert error["param"] and error["message"], where
    assert cases > 1000
    runs = client.beta.threads.runs.list(thread.id, limit=100).data
    assert all(r.status in ("completed", "queued", "in_progress") for r in runs)  # each accepted run is whole
    raw_client.close()
