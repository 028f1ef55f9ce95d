"""``/v1`` Models and Chat Completions, with the official ``openai`` SDK as the client.

One server on its embedded defaults (SQLite, rule-based analyst, paper broker) replays the real
ETH/BTC 5m candles at 100,000x real time, so the trading tools read live data: what the built-in
``tradewind-analyst`` answers is checked against what its tool calls returned and against the
services the REST routes use.
"""

from __future__ import annotations

import json
import re
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
from tradewind.domain.timeframe import Timeframe
from tradewind.settings import Settings

DATA = Path(__file__).parent / "data"
MODEL = "tradewind-analyst"
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather at a place",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Container]]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path_factory.mktemp('v1') / 'tw.db'}", feed="replay",
        replay_path=DATA / "ETH_BTC-5m.json", replay_symbol="ETHBTC", replay_timeframe="5m", replay_speed=100_000,
        symbols=["ETHBTC"], timeframes=["5m", "15m", "1h"], analysis_timeframes=["15m", "1h"],
    )
    container = build_container(settings)
    with serve(create_app(container)) as url:
        wait_for(lambda: container.runtime.feed.played >= 300)  # type: ignore[attr-defined]
        yield url, container


@pytest.fixture(scope="module")
def client(running: tuple[str, Container]) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{running[0]}/v1", api_key="unused", max_retries=0)


def ask(client: openai.OpenAI, text: str, **kwargs: Any) -> Any:
    return client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": text}], **kwargs)


def steps(completion: Any) -> list[dict[str, Any]]:
    return completion.model_extra["tool_steps"]  # type: ignore[no-any-return]


def test_models_list_the_built_in_analyst(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert MODEL in ids
    assert client.models.retrieve(MODEL).owned_by == "tradewind"
    assert "get_market_data" in client.models.retrieve(MODEL).model_extra["server_tools"]  # what runs here
    with pytest.raises(openai.NotFoundError) as missing:
        client.models.retrieve("gpt-9-nonexistent")
    assert missing.value.code == "model_not_found" and missing.value.param == "model"


def test_a_price_question_is_answered_from_the_market_data_tool(client: openai.OpenAI,
                                                                running: tuple[str, Container]) -> None:
    completion = ask(client, "What is the price of ETH/BTC right now?")
    (step,) = steps(completion)
    assert step["name"] == "get_market_data" and json.loads(step["arguments"]) == {"symbols": ["ETHBTC"]}
    (market,) = step["output"]["result"]["markets"]
    answer = completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"
    assert f"last price {market['last_price']:.6g}" in answer and "ETHBTC" in answer
    assert market["timeframe"] == "15m"  # the first analysis timeframe, when none is asked for
    candles = running[1].streamer.candles("ETHBTC", Timeframe.M15, 500)
    # a price the streamer really had: a close, or (the replay plays on) within the range of the
    # candle that was forming when the tool ran
    price = market["last_price"]
    assert price in [c.close for c in candles] or any(c.low <= price <= c.high for c in candles[-2:])
    usage = completion.usage
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_a_signal_question_runs_the_analyst_and_the_signal_is_stored(client: openai.OpenAI,
                                                                     running: tuple[str, Container]) -> None:
    completion = ask(client, "Should I buy ETHBTC?")
    (step,) = steps(completion)
    assert step["name"] == "generate_trading_signals"
    (signal,) = step["output"]["result"]["signals"]
    stored = running[1].kernel.stores.signals.get(signal["signal_id"])
    assert stored is not None and stored.signal == signal["signal"] and stored.confidence == signal["confidence"]
    answer = completion.choices[0].message.content
    assert f"ETHBTC: {signal['signal']} with confidence {signal['confidence']:.2f}" in answer
    assert signal["signal_id"] in answer


def test_positions_performance_and_risk_in_one_question(client: openai.OpenAI) -> None:
    completion = ask(client, "Show my positions, my performance and the risk (volatility) of ETHBTC")
    names = [s["name"] for s in steps(completion)]
    assert names == ["get_positions", "get_performance", "calculate_risk_metrics"]
    positions, performance, risk = (s["output"]["result"] for s in steps(completion))
    answer = completion.choices[0].message.content
    assert f"Equity {positions['portfolio']['equity']:,.2f}" in answer
    assert "trades" in answer and str(performance.get("trades", 0)) in answer
    assert risk["source"] == "holdings" and risk["returns"] >= 2
    assert f"annualised volatility {risk['volatility'] * 100:+.2f} %" in answer


def test_the_clients_own_function_comes_back_as_a_tool_call(client: openai.OpenAI) -> None:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Please call get_weather for Paris"}]
    first = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER])  # type: ignore[list-item]
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    (call,) = choice.message.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"location": "Paris"}  # what follows the name
    messages += [choice.message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"celsius": 21})}]
    second = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER])  # type: ignore[arg-type]
    assert second.choices[0].finish_reason == "stop"
    assert '"celsius": 21' in second.choices[0].message.content


def test_forced_and_disabled_tool_choice(client: openai.OpenAI) -> None:
    forced = ask(client, "ETHBTC", tool_choice={"type": "function", "function": {"name": "get_market_data"}})
    assert [s["name"] for s in steps(forced)] == ["get_market_data"]
    off = ask(client, "What is the price of ETHBTC?", tool_choice="none")
    assert steps(off) == [] and "Tools are off" in off.choices[0].message.content


def test_what_it_does_not_understand_it_says(client: openai.OpenAI) -> None:
    completion = ask(client, "Tell me a joke about <b>cats</b>")
    answer = completion.choices[0].message.content
    assert steps(completion) == []
    assert answer.startswith("I did not understand") and "ETHBTC" in answer


def test_streaming_sends_the_answer_in_pieces_then_the_usage(client: openai.OpenAI) -> None:
    chunks = list(ask(client, "What is the price of ETHBTC?", stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert re.search(r"ETHBTC \(15m\): last price [0-9.]+", text)
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finals == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    assert len({c.id for c in chunks}) == 1


def test_streaming_a_client_tool_call(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "get weather in Oslo"}],
                                            tools=[WEATHER], stream=True)  # type: ignore[list-item]
    chunks = list(stream)
    calls = [t for c in chunks for t in (c.choices[0].delta.tool_calls or [])]
    assert [t.function.name for t in calls] == ["get_weather"]
    assert json.loads(calls[0].function.arguments) == {"location": "Oslo"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_the_raw_stream_ends_with_done(running: tuple[str, Container]) -> None:
    body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "price of ETHBTC"}]}
    with httpx.stream("POST", f"{running[0]}/v1/chat/completions", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]" and all(line.startswith("data: ") for line in lines)


@pytest.mark.parametrize(("body", "param", "code"), [
    ({"model": "nope", "messages": [{"role": "user", "content": "hi"}]}, "model", "model_not_found"),
    ({"messages": [{"role": "user", "content": "hi"}]}, "model", "missing_required_parameter"),
    ({"model": MODEL}, "messages", "missing_required_parameter"),
    ({"model": MODEL, "messages": []}, "messages", "invalid_value"),
    ({"model": MODEL, "messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role", "invalid_value"),
    ({"model": MODEL, "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, "messages[0].content[0].type",
     "invalid_value"),
    ({"model": MODEL, "messages": [{"role": "user", "content": "x" * 200_001}]}, "messages[0].content",
     "string_above_max_length"),
    ({"model": MODEL, "messages": [{"role": "tool", "tool_call_id": "call_x", "content": "{}"}]},
     "messages[0].tool_call_id", "invalid_value"),
    ({"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "code_interpreter"}]},
     "tools[0].type", "invalid_value"),
    ({"model": MODEL, "messages": [{"role": "user", "content": "hi"}],
      "tools": [{"type": "function", "function": {"name": "bad name!"}}]}, "tools[0].function.name", "invalid_value"),
    ({"model": MODEL, "messages": [{"role": "user", "content": "hi"}],
      "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "array"}}}]},
     "tools[0].function.parameters", "invalid_value"),
    ({"model": MODEL, "messages": [{"role": "user", "content": "hi"}],
      "tools": [{"type": "function", "function": {"name": "get_positions"}}]}, "tools[0].function.name",
     "invalid_value"),
    ({"model": MODEL, "messages": [{"role": "user", "content": "hi"}],
      "tool_choice": {"type": "function", "function": {"name": "undeclared"}}}, "tool_choice", "invalid_value"),
    ({"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream_options": {"include_usage": True}},
     "stream_options", "invalid_value"),
    ({"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "n": 3}, "n", "invalid_value"),
])
def test_bad_requests_get_openais_error_envelope(running: tuple[str, Container], body: dict[str, Any],
                                                 param: str, code: str) -> None:
    response = httpx.post(f"{running[0]}/v1/chat/completions", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["param"], error["code"], error["type"]) == (param, code, "invalid_request_error")
    assert len(response.content) < 2000  # an excerpt, never the input echoed back


def test_the_sdk_raises_its_own_errors(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])
    assert bad.value.code == "model_not_found" and bad.value.param == "model"


def test_non_json_bodies_and_unknown_paths(running: tuple[str, Container]) -> None:
    url = running[0]
    broken = httpx.post(f"{url}/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"})
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_json"
    form = httpx.post(f"{url}/v1/chat/completions", data={"a": "b"})
    assert form.status_code == 415 and form.json()["error"]["param"] == "content-type"
    missing = httpx.get(f"{url}/v1/nothing-here")
    assert missing.status_code == 404 and "error" in missing.json()


def test_every_field_of_a_chat_body_refuses_hostile_values(running: tuple[str, Container]) -> None:
    """Each hostile value in every place of a valid body: below 500, an error names its param, the
    answer stays small and the keep-alive connection usable."""
    body = {"model": MODEL, "messages": [{"role": "user", "content": "price of ETHBTC"}], "tools": [WEATHER],
            "tool_choice": "auto", "stream": False, "max_tokens": 200}
    client = Client(running[0])
    cases = refused = 0
    for path, kind, hostile, raw in hostile_bodies(body):
        status, data = client.request("POST", "/v1/chat/completions", raw)
        where = f"{'.'.join(map(str, path))} ({kind}) = {hostile.name}"
        cases += 1
        assert status < 500, f"{where}: {status} {data[:300]!r}"
        assert len(data) < 64 * 1024, f"{where}: a {len(data)}-byte answer"
        if status >= 400:
            refused += 1
            error = json.loads(data)["error"]
            assert error["type"] == "invalid_request_error" and error["message"], where
            assert error["param"], f"{where}: no param named in {error}"
        elif hostile.always_invalid and kind == "value" and not (path[-1] == "content" and hostile.name in ("over-long string", "padded symbol")):
            raise AssertionError(f"{where}: accepted")  # 100,000 characters is a fair prompt; 200,001 is not
    assert cases > 500 and refused > cases // 3
    client.close()


def test_a_portfolio_question_runs_the_health_analysis(client: openai.OpenAI) -> None:
    completion = ask(client, "Analyze my portfolio: 2.5 ETH/BTC, how healthy is it?")
    names = [s["name"] for s in steps(completion)]
    assert "analyze_portfolio" in names
    step = next(s for s in steps(completion) if s["name"] == "analyze_portfolio")
    assert json.loads(step["arguments"]) == {"holdings": [{"symbol": "ETHBTC", "quantity": 2.5}]}
    health = step["output"]["result"]
    assert health["weights"] == {"ETHBTC": 1.0} and health["components"]["diversification"] == pytest.approx(0.2)
    answer = completion.choices[0].message.content
    assert f"Portfolio health {health['health_score']:.1f} of 10, risk level {health['risk_level']}" in answer


def test_a_backtest_question_runs_one_on_the_recorded_candles(client: openai.OpenAI,
                                                              running: tuple[str, Container]) -> None:
    wait_for(lambda: len(running[1].candles.between("ETHBTC", Timeframe.M15, None, None, limit=100)) >= 60)
    completion = ask(client, "Backtest rsi-reversion on ETHBTC")
    (step,) = steps(completion)
    assert step["name"] == "run_backtest"
    assert json.loads(step["arguments"]) == {"symbol": "ETHBTC", "strategy": "rsi-reversion"}
    result = step["output"]["result"]
    assert result["status"] == "done" and result["spec"]["strategy"] == "rsi-reversion"
    assert running[1].backtests.get(result["id"]).status == "done"  # the API's own backtest, by its id
    assert f"Backtest {result['id']}: rsi-reversion on ETHBTC 15m" in completion.choices[0].message.content
