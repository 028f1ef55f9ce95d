"""A streamed chat completion with one server-side tool, built-in model: time to the first token.

The server (embedded defaults: SQLite, synthetic market, rules analyst, paper broker) runs in its
own process pinned to one core; the client, the official ``openai`` SDK, on the other. Each request
asks "What is the price of BTCUSDT?", so ``tradewind-analyst`` calls ``get_market_data`` on the live
streamer before it answers. The first token is the first chunk with content. Baseline in the same
server process: a bare FastAPI endpoint streaming the same chunks (same sizes, same SSE framing)
with no model and no tool, read the same way. Goal: first token p50 under 20 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

import httpx
import openai
from loopback import free_port, pinned, wait_up

QUESTION = "What is the price of BTCUSDT?"


def serve(port: int) -> None:
    import orjson
    import uvicorn
    from fastapi.responses import StreamingResponse

    from tradewind.api.app import create_app
    from tradewind.bootstrap import build_container
    from tradewind.settings import Settings

    settings = Settings(database_url=f"sqlite:///{tempfile.mkdtemp()}/bench.db", symbols=["BTCUSDT"],
                        history_hours=24)
    app = create_app(build_container(settings))
    pieces = ["BTCUSDT", " (15m):", " last", " price", " 43,210.12,", " +0.12", " %", " over", " the", " last",
              " 50", " candles", " (high", " 43,500.00,", " low", " 42,900.00)."]

    @app.post("/bench/stream", include_in_schema=False)
    async def stream() -> StreamingResponse:
        def events():  # type: ignore[no-untyped-def]
            base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": "bench"}
            yield b"data: " + orjson.dumps({**base, "choices": [{"index": 0, "delta": {"role": "assistant",
                                                                                         "content": ""}}]}) + b"\n\n"
            for piece in pieces:
                yield b"data: " + orjson.dumps({**base, "choices": [{"index": 0, "delta": {"content": piece}}]}) + b"\n\n"
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def first_token(client: openai.OpenAI) -> tuple[float, float, int]:
    """(seconds to the first content chunk, to the last, tool steps) of one streamed completion."""
    start = time.perf_counter()
    first = None
    stream = client.chat.completions.create(model="tradewind-analyst", stream=True,
                                            messages=[{"role": "user", "content": QUESTION}])
    text = ""
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            first = first or time.perf_counter() - start
            text += chunk.choices[0].delta.content
    if "last price" not in text:
        raise RuntimeError(f"unexpected answer: {text[:200]}")
    return first or float("nan"), time.perf_counter() - start, 1


def baseline(http: httpx.Client, url: str) -> float:
    start = time.perf_counter()
    with http.stream("POST", url) as response:
        for line in response.iter_lines():
            if '"content":"B' in line:
                return time.perf_counter() - start
    raise RuntimeError("the baseline stream sent no content")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    import subprocess

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(pinned([sys.executable, __file__, "--serve", str(port)], 0))
    try:
        wait_up(base + "/streamer/candles/BTCUSDT/15m?limit=5", server)
        client = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0)
        http = httpx.Client()
        for _ in range(20):  # warm-up: imports, first analyses, connections
            first_token(client)
            baseline(http, base + "/bench/stream")
        ours, whole, bare = [], [], []
        for _ in range(args.requests):  # interleaved, so both see the same machine
            t1, t2, _ = first_token(client)
            ours.append(t1 * 1000)
            whole.append(t2 * 1000)
            bare.append(baseline(http, base + "/bench/stream") * 1000)
    finally:
        server.terminate()
        server.wait(timeout=30)

    def p(values: list[float], q: float) -> float:
        return statistics.quantiles(values, n=100)[int(q) - 1]

    print(f"{args.requests} streamed completions, one get_market_data call each (built-in model), server on core 0")
    print(f"first token    p50 {statistics.median(ours):6.2f} ms  p99 {p(ours, 99):6.2f} ms  "
          f"(whole answer p50 {statistics.median(whole):6.2f} ms)")
    print(f"baseline       p50 {statistics.median(bare):6.2f} ms  p99 {p(bare, 99):6.2f} ms  "
          "(bare SSE endpoint, same chunks, no model, no tool)")
    print(f"first token / baseline p50: {statistics.median(ours) / statistics.median(bare):.2f}x; goal p50 < 20 ms: "
          f"{'met' if statistics.median(ours) < 20 else 'NOT met'}")


if __name__ == "__main__":
    main()
