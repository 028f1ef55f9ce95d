"""The Assistants API: a run end to end, the server's own cost per run, and paging a long thread.

1. ``create_and_poll`` (50 ms poll) of a run of ``tradewind-analyst`` with one ``get_market_data``
   call, through the official SDK against a server in its own process (embedded defaults, SQLite,
   pinned to one core): p50 and p99 end to end, a new thread each time. Goal p50 < 100 ms.
2. The server's own cost per run, model excluded: the same run executed in process on the same
   SQLite store, timed whole and minus the time inside the model and the tool. Goal < 10 ms.
3. A thread of 10,000 messages listed page by page (100 a page, following ``after``): ms per page
   over plain HTTP (the server's cost) and through the SDK (which adds building 100 pydantic models). Baseline in the same run: ``GET /v1/models`` (the HTTP round trip and JSON with no
   database). Goal < 10 ms per page.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import httpx
import openai
from loopback import free_port, pinned, wait_up

warnings.filterwarnings("ignore", category=DeprecationWarning)  # client.beta: deprecated, still shipped
TOOL = {"type": "function", "function": {"name": "get_market_data"}}
QUESTION = "What is BTCUSDT trading at?"


def settings(db: Path):  # type: ignore[no-untyped-def]
    from tradewind.settings import Settings

    return Settings(database_url=f"sqlite:///{db}", symbols=["BTCUSDT"], history_hours=24)


def serve(port: int, db: Path) -> None:
    import uvicorn

    from tradewind.api.app import create_app
    from tradewind.bootstrap import build_container

    uvicorn.run(create_app(build_container(settings(db))), host="127.0.0.1", port=port, log_level="warning",
                access_log=False)


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


def end_to_end(client: openai.OpenAI, runs: int) -> list[float]:
    assistant = client.beta.assistants.create(model="tradewind-analyst", tools=[TOOL])  # type: ignore[list-item]
    times = []
    for i in range(runs + 10):
        thread = client.beta.threads.create(messages=[{"role": "user", "content": QUESTION}])
        start = time.perf_counter()
        run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id,
                                                       poll_interval_ms=50)
        elapsed = time.perf_counter() - start
        if run.status != "completed":
            raise RuntimeError(f"run ended {run.status}: {run.last_error}")
        if i >= 10:  # the first ones warm the server up
            times.append(elapsed * 1000)
    return times


def paging(client: openai.OpenAI, http: httpx.Client, base: str,
           db: Path) -> tuple[list[float], list[float], list[float], int]:
    from tradewind.assistants.checks import new_id
    from tradewind.storage.assistants import SqlObjectStore
    from tradewind.storage.db import create_engine_for

    thread = client.beta.threads.create()
    owner = _owner(client.api_key)
    store = SqlObjectStore(create_engine_for(f"sqlite:///{db}"))
    now = int(time.time())
    store.insert_many([("message", owner, {
        "id": new_id("message"), "object": "thread.message", "created_at": now, "thread_id": thread.id,
        "status": "completed", "incomplete_details": None, "completed_at": now, "incomplete_at": None,
        "role": "user", "content": [{"type": "text", "text": {"value": f"message {i}", "annotations": []}}],
        "assistant_id": None, "run_id": None, "attachments": [], "metadata": {}}) for i in range(10_000)])
    pages, seen = [], 0
    for _ in range(3):
        after = None
        while True:
            start = time.perf_counter()
            page = client.beta.threads.messages.list(thread.id, limit=100, order="asc", **({"after": after} if after else {}))
            pages.append((time.perf_counter() - start) * 1000)
            seen += len(page.data)
            if not page.has_more:
                break
            after = page.data[-1].id
    raw = []  # the same pages over plain HTTP: what the server costs, without the SDK building its models
    headers = {"authorization": f"Bearer {client.api_key}"}
    for _ in range(3):
        after = None
        while True:
            start = time.perf_counter()
            body = http.get(f"{base}/v1/threads/{thread.id}/messages", headers=headers,
                            params={"limit": 100, "order": "asc", **({"after": after} if after else {})}).json()
            raw.append((time.perf_counter() - start) * 1000)
            if not body["has_more"]:
                break
            after = body["last_id"]
    baseline = []
    for _ in range(len(pages)):
        start = time.perf_counter()
        http.get(base + "/v1/models").raise_for_status()
        baseline.append((time.perf_counter() - start) * 1000)
    return pages, raw, baseline, seen // 3


def _owner(key: str) -> str:
    from tradewind.api.openai_v1 import owner_of

    return asyncio.run(owner_of(f"Bearer {key}"))


def in_process(db: Path, runs: int) -> tuple[list[float], list[float]]:
    """(whole run, run minus model and tool) in ms, on the server's own objects and store."""
    from tradewind.bootstrap import build_container

    container = build_container(settings(db))
    service = container.runs
    inside = [0.0]
    model = next(iter(service.models.values()))
    respond = model.respond
    tool = service.tools["get_market_data"]
    run_tool = tool.run

    def timed_respond(*args, **kwargs):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            return respond(*args, **kwargs)
        finally:
            inside[0] += time.perf_counter() - start

    async def timed_tool(args):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            return await run_tool(args)
        finally:
            inside[0] += time.perf_counter() - start

    model.respond = timed_respond  # type: ignore[method-assign]
    object.__setattr__(tool, "run", timed_tool)

    async def main() -> tuple[list[float], list[float]]:
        await container.start()
        try:
            while not container.runtime.running:
                await asyncio.sleep(0.05)
            objects = container.assistants
            assistant = objects.create_assistant("bench", {"model": "tradewind-analyst", "tools": [TOOL]})
            whole, overhead = [], []
            for i in range(runs + 10):
                thread = objects.create_thread("bench", {"messages": [{"role": "user", "content": QUESTION}]})
                inside[0] = 0.0
                start = time.perf_counter()
                run = await service.create("bench", thread["id"], {"assistant_id": assistant["id"]})
                await service._execute("bench", run["id"])
                elapsed = time.perf_counter() - start
                done = objects.get("run", "bench", run["id"])
                if done["status"] != "completed":
                    raise RuntimeError(f"run ended {done['status']}: {done['last_error']}")
                if i >= 10:
                    whole.append(elapsed * 1000)
                    overhead.append((elapsed - inside[0]) * 1000)
            return whole, overhead
        finally:
            await container.stop()

    return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.db)
        return
    db = Path(tempfile.mkdtemp()) / "bench.db"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(pinned([sys.executable, __file__, "--serve", str(port), "--db", str(db)], 0))
    try:
        wait_up(base + "/streamer/candles/BTCUSDT/15m?limit=5", server)
        client = openai.OpenAI(base_url=base + "/v1", api_key="sk-bench", max_retries=0)
        e2e = end_to_end(client, args.runs)
        pages, raw, baseline, per_pass = paging(client, httpx.Client(), base, db)
    finally:
        server.terminate()
        server.wait(timeout=30)
    whole, overhead = in_process(Path(tempfile.mkdtemp()) / "bench.db", args.runs)
    print(f"1. create_and_poll (50 ms poll), one get_market_data call, {args.runs} runs: p50 {statistics.median(e2e):.1f} ms, "
          f"p99 {percentile(e2e, 99):.1f} ms; goal p50 < 100 ms: {'met' if statistics.median(e2e) < 100 else 'NOT met'}")
    print(f"2. a run in process on SQLite: whole p50 {statistics.median(whole):.2f} ms; without the model and the tool "
          f"p50 {statistics.median(overhead):.2f} ms, p99 {percentile(overhead, 99):.2f} ms; goal < 10 ms: "
          f"{'met' if statistics.median(overhead) < 10 else 'NOT met'}")
    print(f"3. a 10,000-message thread, 100 a page ({per_pass} messages a pass, 3 passes): over HTTP p50 "
          f"{statistics.median(raw):.2f} ms per page, p99 {percentile(raw, 99):.2f} ms; through the SDK (its pydantic "
          f"models included) p50 {statistics.median(pages):.2f} ms; baseline GET /v1/models p50 "
          f"{statistics.median(baseline):.2f} ms ({statistics.median(raw) / statistics.median(baseline):.2f}x); "
          f"goal < 10 ms per page (the server's): {'met' if statistics.median(raw) < 10 else 'NOT met'}")

if __name__ == "__main__":
    main()
