"""The LLM analyst against a real model on this machine: prompt tokens and seconds per analysis.

llama.cpp's llama-server with SmolLM2-135M-Instruct (``make llm-server`` builds it once), one slot,
an 8k context, on the CPU. The request is the service's default: 15m, 1h and 4h candles of real
ETH/BTC history (tests/data, 500/200/60 bars). Measured in the same run:

- before: the full prompt, no budget, the output cap out of the way (what every call did before
  the budget): its size in the server's own tokens, and what became of it;
- after: the default budget (``TRADEWIND_LLM_PROMPT_BUDGET``) and output cap, ``--runs`` analyses:
  prompt tokens, seconds per analysis, and how many were real LLM answers.

Goal: an LLM answer in under 30 s. Without the build the bench says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tradewind.adapters.openai_client import OpenAIChatClient  # noqa: E402
from tradewind.analysts.base import AnalysisRequest  # noqa: E402
from tradewind.analysts.llm import DEFAULT_MAX_TOKENS, DEFAULT_PROMPT_BUDGET, LLMAnalyst  # noqa: E402
from tradewind.domain.bars import resample  # noqa: E402
from tradewind.domain.timeframe import Timeframe  # noqa: E402
from tradewind.signals.requests import bars_from_rows  # noqa: E402


def request(shift: int) -> AnalysisRequest:
    """The default analysis timeframes over real ETH/BTC 1m candles, ``shift`` hours before the end."""
    one = bars_from_rows(json.loads((ROOT / "tests" / "data" / "ETH_BTC-1m.json").read_text()))
    one = one.slice(0, len(one) - 60 * shift)
    frames = {}
    for tf, count in ((Timeframe.M15, 500), (Timeframe.H1, 200), (Timeframe.H4, 60)):
        bars, complete = resample(one, tf.seconds, source_seconds=60)
        frames[tf] = bars.slice(-count - 1, -1) if not complete[-1] else bars.slice(-count)
    return AnalysisRequest(symbol="ETHBTC", candles=frames, timestamp_ms=int(one.time[-1] + 60) * 1000,
                           current_price=float(one.close[-1]))


def start_server() -> tuple[subprocess.Popen[bytes], str] | None:
    found = subprocess.run(["bash", str(ROOT / "scripts" / "llama_server.sh"), "paths"], capture_output=True, text=True)
    if found.returncode != 0:
        return None
    binary, model = found.stdout.split()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([binary, "-m", model, "--host", "127.0.0.1", "--port", str(port), "-np", "1", "-c",
                               "8192", "--alias", "smollm2-135m"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return server, f"http://127.0.0.1:{port}/v1"
        except httpx.HTTPError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("llama-server did not start")


def run(client: OpenAIChatClient, *, budget: int | None, max_tokens: int, shifts: list[int]) -> list[dict[str, object]]:
    analyst = LLMAnalyst(client, prompt_budget=budget, max_tokens=max_tokens)
    out = []
    for shift in shifts:
        req = request(shift)
        prompt, _ = analyst.prompt_for(req)
        tokens = client.count_tokens(prompt.messages)  # the server's own count, with or without a budget
        started = time.perf_counter()
        signal = analyst.analyze(req)
        out.append({"seconds": time.perf_counter() - started, "tokens": tokens, "detail": prompt.detail,
                    "source": signal.extras["source"], "reason": str(signal.extras.get("source_reason"))[:90]})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    started = start_server()
    if started is None:
        print("skipped: llama-server is not built (run `make llm-server` once)")
        return
    server, base_url = started
    try:
        client = OpenAIChatClient("smollm2-135m", api_keys=[], base_url=base_url, timeout=600, max_retries=0)
        before = run(client, budget=None, max_tokens=8192, shifts=[0])
        after = run(client, budget=DEFAULT_PROMPT_BUDGET, max_tokens=DEFAULT_MAX_TOKENS, shifts=list(range(args.runs)))
    finally:
        server.terminate()
        server.wait(timeout=30)
    print("llama-server, SmolLM2-135M-Instruct Q4_1, 1 slot, 8192-token context, CPU (2 cores); ETH/BTC 15m/1h/4h")
    b = before[0]
    print(f"before (full prompt, no budget): {b['tokens']} prompt tokens, {b['seconds']:.1f} s, {b['source']}: {b['reason']}")
    seconds = [float(r["seconds"]) for r in after]  # type: ignore[arg-type]
    answered = [r for r in after if r["source"] in ("llm", "llm_repaired")]
    tokens = sorted({int(r["tokens"]) for r in after})  # type: ignore[call-overload]
    print(f"after (budget {DEFAULT_PROMPT_BUDGET}, cap {DEFAULT_MAX_TOKENS}): {'/'.join(map(str, tokens))} prompt tokens "
          f"({after[0]['detail']}), {statistics.median(seconds):.1f} s per analysis (median; max {max(seconds):.1f}), "
          f"{len(answered)} of {len(after)} LLM answers ({', '.join(str(r['source']) for r in after)})")
    worst = max((float(r["seconds"]) for r in answered), default=float("nan"))  # type: ignore[arg-type]
    print(f"prompt tokens after / before: {tokens[-1] / int(b['tokens']):.2f}x; "  # type: ignore[call-overload]
          f"slowest LLM answer {worst:.1f} s (goal < 30 s): {'met' if answered and worst < 30 else 'NOT met'}")


if __name__ == "__main__":
    main()
