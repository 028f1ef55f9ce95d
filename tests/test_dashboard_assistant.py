"""The dashboard's assistant page in headless Chromium, on the /v1 Assistants API of the real service
(the synthetic market sped up, the built-in tradewind-analyst model, and an upstream model whose
server is down, so a run can fail for real).

A question that needs a tool streams its answer delta by delta with the tool step shown (name,
arguments, output, as the API stored them); the thread is there again after a reload; a run that
waits for a function the server does not run asks for its output and goes on; a failed run and an
HTTP error in OpenAI's envelope are shown; a phone-width screen does not scroll sideways.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.browser import Watch, no_sideways_scroll, phone_page
from support.dashboard import dashboard_server

from tradewind.bootstrap import Container

BUILT_IN = ["get_market_data", "generate_trading_signals", "get_positions", "get_performance", "calculate_risk_metrics",
            "analyze_portfolio", "run_backtest"]
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather at a place",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}
ANSWER = ".chat-msg[data-role=assistant][data-message]"
# the cumulative length of the text each delta appends to the answer, as the page receives it
RECORD_GROWTH = """() => {
    window.__growth = [];
    window.__sendDisabled = [];
    let length = 0;
    new MutationObserver((records) => {
        for (const r of records) {
            const answer = r.target.closest && r.target.closest('.chat-msg[data-role=assistant] .chat-text');
            if (!answer || r.removedNodes.length) continue;  // the finished message replacing its pieces
            for (const node of r.addedNodes) if (node.nodeType === Node.TEXT_NODE) window.__growth.push(length += node.data.length);
        }
    }).observe(document.querySelector('.chat-log'), {childList: true, subtree: true});
    const send = document.getElementById('chat-send');
    new MutationObserver(() => { if (window.__sendDisabled.at(-1) !== send.disabled) window.__sendDisabled.push(send.disabled); })
        .observe(send, {attributes: true, attributeFilter: ['disabled']});
}"""


def closed_port() -> int:
    """A port nothing listens on: the upstream model's server is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Container]]:
    with dashboard_server(tmp_path_factory.mktemp("assistant"), llm_base_url=f"http://127.0.0.1:{closed_port()}/v1",
                          llm_model="upstream-test", llm_max_retries=0, llm_timeout=5) as served:
        yield served


def open_chat(tab: Any, url: str) -> None:
    tab.goto(f"{url}/dashboard/#/assistant")
    tab.wait_for_selector(".chat-log[data-ready]", state="attached", timeout=15_000)


def ask(tab: Any, text: str, answers: int) -> None:
    """Type ``text``, send it with Enter and wait for the ``answers``-th finished answer."""
    tab.fill("#chat-input", text)
    tab.press("#chat-input", "Enter")
    tab.wait_for_selector(f"{ANSWER} >> nth={answers - 1}", timeout=15_000)
    tab.wait_for_selector("#chat-send:not([disabled])")


def stored(tab: Any, key: str) -> str | None:
    return tab.evaluate(f"localStorage.getItem('tradewind.assistant.{key}')")


def test_a_chat_answer_streams_in_with_its_tool_step(served: tuple[str, Container], page: tuple[Any, Watch]) -> None:
    url, _ = served
    tab, watch = page
    open_chat(tab, url)
    assert tab.eval_on_selector_all("#chat-model option", "os => os.map(o => o.textContent)") == [
        "tradewind-analyst", "upstream-test (upstream)"]
    assert tab.input_value("#chat-model") == "tradewind-analyst"
    tab.evaluate(RECORD_GROWTH)
    ask(tab, "What is the price of BTCUSDT?", 1)
    # the assistant made on first use: the built-in model, the trading tools as functions the server runs
    assistant = httpx.get(f"{url}/v1/assistants/{stored(tab, 'id')}").json()
    assert assistant["model"] == "tradewind-analyst"
    assert [t["function"]["name"] for t in assistant["tools"]] == BUILT_IN
    assert all(t["function"]["description"] for t in assistant["tools"])  # the server's own specs
    thread = stored(tab, "thread")
    messages = httpx.get(f"{url}/v1/threads/{thread}/messages", params={"order": "asc"}).json()["data"]
    assert [m["role"] for m in messages] == ["user", "assistant"]
    answer = messages[1]["content"][0]["text"]["value"]
    assert tab.inner_text(".chat-msg[data-role=user] .chat-text") == "What is the price of BTCUSDT?"
    assert tab.inner_text(f"{ANSWER} .chat-text") == answer and "BTCUSDT" in answer and "last price" in answer
    # it grew delta by delta: the lengths the page saw rise to the whole answer
    growth = tab.evaluate("window.__growth")
    assert int(tab.get_attribute(ANSWER, "data-deltas")) == len(growth) >= 5, growth
    assert all(a < b for a, b in zip(growth, growth[1:])) and growth[-1] == len(answer), growth
    assert tab.evaluate("window.__sendDisabled") == [True, False]  # no second send while it streamed
    # the tool step, as the run stored it: name, arguments, output
    steps = httpx.get(f"{url}/v1/threads/{thread}/runs/{messages[1]['run_id']}/steps", params={"order": "asc"}).json()["data"]
    (call,) = steps[0]["step_details"]["tool_calls"]
    step = tab.locator(".chat-step[data-status=completed] .chat-call[data-tool=get_market_data]")
    assert step.count() == 1
    assert json.loads(step.locator(".chat-args").inner_text()) == json.loads(call["function"]["arguments"]) == {
        "symbols": ["BTCUSDT"]}
    assert json.loads(step.locator(".chat-output").text_content()) == json.loads(call["function"]["output"])
    price = json.loads(call["function"]["output"])["result"]["markets"][0]["last_price"]
    assert f"{price:,.2f}" in answer
    assert "tradewind-analyst" in tab.inner_text(f"{ANSWER} .chat-foot")
    # Shift+Enter is a new line, not a send
    tab.fill("#chat-input", "first line")
    tab.press("#chat-input", "Shift+Enter")
    assert tab.input_value("#chat-input") == "first line\n"
    assert tab.locator(".chat-msg").count() == 2
    watch.clean()


def test_the_thread_is_there_after_a_reload_and_a_new_chat_starts_another(served: tuple[str, Container],
                                                                          page: tuple[Any, Watch]) -> None:
    url, _ = served
    tab, watch = page
    open_chat(tab, url)
    tab.wait_for_selector(".chat-empty")
    ask(tab, "What is the signal for ETHUSDT, and my positions?", 1)
    before = tab.inner_text(".chat-log")
    thread = stored(tab, "thread")
    tab.reload()
    tab.wait_for_selector(ANSWER)
    assert tab.inner_text(".chat-log") == before  # messages, the tool step with both calls, the tokens line
    assert tab.eval_on_selector_all(".chat-step .chat-call[data-done]", "cs => cs.map(c => c.dataset.tool)") == [
        "generate_trading_signals", "get_positions"]
    assert stored(tab, "thread") == thread
    tab.click("button:has-text('New chat')")
    tab.wait_for_selector(".chat-empty")
    assert stored(tab, "thread") is None
    ask(tab, "price of ETHUSDT", 1)
    fresh = stored(tab, "thread")
    assert fresh and fresh != thread
    assert len(httpx.get(f"{url}/v1/threads/{thread}/messages").json()["data"]) == 2  # the old one is kept
    assert tab.locator(".chat-msg").count() == 2
    watch.clean()


def test_a_run_waiting_for_a_function_the_server_does_not_run_asks_for_its_output(
        served: tuple[str, Container], page: tuple[Any, Watch]) -> None:
    url, _ = served
    tab, watch = page
    tools = [{"type": "function", "function": {"name": name}} for name in BUILT_IN] + [WEATHER]
    assistant = httpx.post(f"{url}/v1/assistants", json={"model": "tradewind-analyst", "tools": tools}).json()
    open_chat(tab, url)
    tab.evaluate(f"localStorage.setItem('tradewind.assistant.id', '{assistant['id']}')")  # one the page reuses
    tab.reload()
    tab.wait_for_selector(".chat-log[data-ready]", state="attached")
    tab.fill("#chat-input", "get weather for Oslo")
    tab.press("#chat-input", "Enter")
    action = tab.wait_for_selector(".chat-action")
    assert 'get_weather({"location": "Oslo"})' in action.inner_text()
    tab.fill(".chat-action textarea", '{"celsius": -3}')
    tab.click(".chat-action button:has-text('Send outputs')")
    tab.wait_for_selector(ANSWER)
    assert '"celsius": -3' in tab.inner_text(f"{ANSWER} .chat-text")
    run = httpx.get(f"{url}/v1/threads/{stored(tab, 'thread')}/runs").json()["data"][0]
    assert run["status"] == "completed" and run["assistant_id"] == assistant["id"]
    assert tab.is_disabled(".chat-action button:has-text('Send outputs')")
    watch.clean()


def test_a_failed_run_and_an_http_error_are_shown(served: tuple[str, Container], page: tuple[Any, Watch]) -> None:
    url, _ = served
    tab, watch = page
    watch.allowed_statuses.add(400)
    open_chat(tab, url)
    tab.select_option("#chat-model", "upstream-test")  # its server is down: the run fails, with the reason
    tab.fill("#chat-input", "hello")
    tab.press("#chat-input", "Enter")
    failed = tab.wait_for_selector("li.chat-error", timeout=15_000)
    run = httpx.get(f"{url}/v1/threads/{stored(tab, 'thread')}/runs").json()["data"][0]
    assert run["status"] == "failed" and run["model"] == "upstream-test"
    assert run["last_error"]["message"] in failed.inner_text() and "unreachable" in failed.inner_text()
    assert stored(tab, "model") == "upstream-test"  # the choice is kept
    # a model the server does not have: the 400's own message and field, in the banner; the text is kept
    tab.evaluate("""() => { const s = document.getElementById('chat-model');
        s.append(new Option('no-such-model', 'no-such-model')); s.value = 'no-such-model'; }""")
    tab.fill("#chat-input", "hello again")
    tab.click("#chat-send")
    banner = tab.wait_for_selector("#errors .error")
    text = banner.inner_text()
    assert "The model 'no-such-model' does not exist" in text and "(field: model)" in text and "[400]" in text
    tab.wait_for_selector("#chat-send:not([disabled])")
    assert tab.input_value("#chat-input") == "hello again"
    assert tab.eval_on_selector_all(".chat-msg[data-role=user]", "ms => ms.map(m => m.innerText)") == ["You\nhello"]
    watch.clean()


def test_phone_width_does_not_scroll_sideways(served: tuple[str, Container], browser: Any) -> None:
    url, _ = served
    with phone_page(browser) as (tab, watch):
        open_chat(tab, url)
        ask(tab, "What is the signal for BTCUSDT?", 1)
        tab.click(".chat-step summary")  # the long output, opened
        no_sideways_scroll(tab)
        watch.clean()
