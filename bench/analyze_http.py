"""POST /ai/analyze on one worker with a 3 x 100-candle payload (real ETH/BTC 1m, 5m, 1h).

Uncached: every request names a new symbol, so each one is analysed and stored. Cached: the same
symbol within the TTL, answered from the stored result. Baseline in the same server process: a
bare FastAPI endpoint that parses the same payload into the same pydantic model and answers a
constant. Server pinned to one core, wrk (a Lua script varies the symbol) on the other.
Goals: uncached >= 200 req/s, cached >= 1,000 req/s.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from loopback import free_port, pinned

from tradewind.api.ai_schemas import AnalyzeBody  # module level: FastAPI resolves the annotation here

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
KEYS = ("timestamp", "open", "high", "low", "close", "volume")


def body(symbol: str) -> dict[str, object]:
    rows = json.loads((DATA / "ETH_BTC-1m.json").read_text())

    def bucket(seconds: int) -> list[list[float]]:
        out: dict[int, list[float]] = {}
        for t, o, h, lo, c, v in rows:
            key = t // (seconds * 1000) * seconds * 1000
            bar = out.setdefault(key, [key, o, h, lo, c, 0.0])
            bar[2], bar[3], bar[4], bar[5] = max(bar[2], h), min(bar[3], lo), c, bar[5] + v
        return list(out.values())[:-1]

    series = {"1m": rows[-101:-1], "5m": bucket(300)[-100:], "1h": bucket(3600)[-100:]}
    return {
        "symbol": symbol,
        "timeframe_data": {tf: [dict(zip(KEYS, row)) for row in data] for tf, data in series.items()},
        "current_price": rows[-2][4],
        "timestamp": rows[-1][0],
    }


def serve(port: int) -> None:
    import uvicorn
    from fastapi import Response

    from tradewind.api.app import create_app
    from tradewind.bootstrap import build_container
    from tradewind.settings import Settings

    tmp = tempfile.mkdtemp()
    settings = Settings(database_url=f"sqlite:///{tmp}/bench.db", symbols=["BTCUSDT"], history_hours=24)
    app = create_app(build_container(settings))

    @app.post("/bench/parse", include_in_schema=False)
    async def parse(payload: AnalyzeBody) -> Response:
        return Response(b'{"ok":true}', media_type="application/json")

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("%s", "r")
local template = f:read("*a")
f:close()
counter = 0
request = function()
  counter = counter + 1
  local symbol = %s
  local b = string.gsub(template, "__SYMBOL__", symbol)
  return wrk.format(nil, nil, nil, b)
end
"""


def wrk(url: str, template: Path, vary: bool, seconds: int, connections: int) -> float:
    script = template.with_suffix(f".{'vary' if vary else 'same'}.lua")
    script.write_text(LUA % (template, '"S" .. counter .. "X"' if vary else '"ETHBTC"'))
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url]
    cmd = pinned(cmd, 1)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        raise RuntimeError(f"{url}: {bad.group(1)} error responses")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    if not shutil.which("wrk"):
        raise SystemExit("this bench needs wrk (apt-get install wrk)")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, __file__, "--serve", str(port)]
    cmd = pinned(cmd, 0)
    server = subprocess.Popen(cmd)
    template = Path(tempfile.mkdtemp()) / "body.json"
    template.write_text(json.dumps(body("__SYMBOL__")))
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.post(base + "/ai/analyze", json=body("ETHBTC"), timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("server did not start")
            time.sleep(0.3)
        print(f"payload 3 x 100 candles, {template.stat().st_size} bytes; wrk {args.connections} connections, "
              f"{args.rounds} x {args.seconds}s")
        rates: dict[str, list[float]] = {"baseline": [], "uncached": [], "cached": []}
        for _ in range(args.rounds):
            rates["baseline"].append(wrk(base + "/bench/parse", template, False, args.seconds, args.connections))
            rates["uncached"].append(wrk(base + "/ai/analyze", template, True, args.seconds, args.connections))
            rates["cached"].append(wrk(base + "/ai/analyze", template, False, args.seconds, args.connections))
    finally:
        server.terminate()
        server.wait(timeout=30)
    baseline = statistics.median(rates["baseline"])
    print(f"{'endpoint':<44} {'req/s (median)':>15} {'vs baseline':>12} {'goal':>14}")
    print(f"{'baseline: bare endpoint parsing the payload':<44} {baseline:>15,.0f} {'1.00x':>12} {'':>14}")
    for name, goal in (("uncached", 200), ("cached", 1000)):
        rps = statistics.median(rates[name])
        verdict = f">= {goal}: {'met' if rps >= goal else 'NOT met'}"
        print(f"{'POST /ai/analyze ' + name:<44} {rps:>15,.0f} {rps / baseline:>11.2f}x {verdict:>14}")


if __name__ == "__main__":
    main()
