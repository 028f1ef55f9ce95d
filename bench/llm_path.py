"""The LLM path without the model: prompt, HTTP through the official SDK to a fake OpenAI server
that answers at once, validation, decision log (SQLite), against the rule-based analysis alone.
Then the cache: the same requests replayed from the decision log (offline, no model call).

Goals: LLM-path overhead under 5 ms per analysis; cache replay >= 5,000 decisions/s.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakes.openai_server import FakeOpenAI  # noqa: E402
from support.llm_answers import signal_answer  # noqa: E402

from tradewind.adapters.openai_client import OpenAIChatClient  # noqa: E402
from tradewind.analysts.base import AnalysisRequest  # noqa: E402
from tradewind.analysts.llm import LLMAnalyst  # noqa: E402
from tradewind.analysts.rules import RulesAnalyst  # noqa: E402
from tradewind.domain import Timeframe  # noqa: E402
from tradewind.domain.bars import resample  # noqa: E402
from tradewind.storage.db import create_engine_for  # noqa: E402
from tradewind.storage.decisions import SqlDecisionLog  # noqa: E402
from tradewind.storage.migrate import upgrade_database  # noqa: E402
from tradewind.signals.requests import bars_from_rows  # noqa: E402


def requests(count: int) -> list[AnalysisRequest]:
    one = bars_from_rows(json.loads((ROOT / "tests" / "data" / "ETH_BTC-1m.json").read_text()))
    out = []
    for end in range(14_000 - count, 14_000):
        prefix = one.slice(0, end)
        five, _ = resample(prefix, 300, source_seconds=60)
        hour, _ = resample(prefix, 3600, source_seconds=60)
        out.append(AnalysisRequest(symbol="ETHBTC", timestamp_ms=int(prefix.time[-1]) * 1000 + 60_000, candles={
            Timeframe.M1: prefix.slice(-500), Timeframe.M5: five.slice(-500), Timeframe.H1: hour.slice(-200)}))
    return out


def serve_model(port_file: str) -> None:
    """The fake model in its own process, pinned to the other core: it is "the model", so its
    work must not count against (or share the interpreter lock with) the path being measured."""
    with FakeOpenAI(signal_answer).running() as server:
        Path(port_file).write_text(server.base_url)
        while True:
            time.sleep(3600)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve_model(sys.argv[2])
        return
    batch = requests(300)
    url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    upgrade_database(url)
    log = SqlDecisionLog(create_engine_for(url))
    rules = RulesAnalyst()
    port_file = Path(tempfile.mkdtemp()) / "url"
    command = [sys.executable, __file__, "--serve", str(port_file)]
    if shutil.which("taskset"):
        command = ["taskset", "-c", "1", *command]
    server = subprocess.Popen(command)
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text():
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("fake model server did not start")
            time.sleep(0.05)
        client = OpenAIChatClient("gpt-4o-mini", api_keys=["sk-bench"], base_url=port_file.read_text(), max_retries=0)
        llm = LLMAnalyst(client, decisions=log)
        llm.analyze(batch[0])  # warm the connection and the response-format tier
        rounds_rules, rounds_llm = [], []
        for _ in range(3):
            start = time.perf_counter()
            for request in batch[1:151]:
                rules.analyze(request)
            rounds_rules.append((time.perf_counter() - start) / 150)
        start = time.perf_counter()
        for request in batch[1:]:
            signal = llm.analyze(request)
            assert signal.extras["source"] == "llm", signal.extras
        rounds_llm.append((time.perf_counter() - start) / (len(batch) - 1))
        offline = LLMAnalyst(client, decisions=log, offline=True)
        replays = []
        for _ in range(3):
            start = time.perf_counter()
            for request in batch[1:]:
                assert offline.analyze(request).extras["source"] == "cache"
            replays.append((len(batch) - 1) / (time.perf_counter() - start))
    finally:
        server.terminate()
        server.wait(timeout=10)
    rules_ms = statistics.median(rounds_rules) * 1000
    llm_ms = statistics.median(rounds_llm) * 1000
    overhead = llm_ms - rules_ms
    print(f"{'path (3 timeframes: 500 x 1m, 500 x 5m, 200 x 1h)':<52} {'ms per analysis':>16}")
    print(f"{'baseline: rule-based analysis alone':<52} {rules_ms:>16.3f}")
    print(f"{'LLM path, model answering at once (fake server)':<52} {llm_ms:>16.3f}")
    print(f"{'overhead of the LLM path (goal < 5 ms)':<52} {overhead:>16.3f}   {'met' if overhead < 5 else 'NOT met'}")
    rate = statistics.median(replays)
    print(f"{'cache replay from the decision log (goal >= 5,000/s)':<52} {rate:>12,.0f} decisions/s   "
          f"{'met' if rate >= 5000 else 'NOT met'}")
    print(f"{'baseline: rule-based analysis of the same requests':<52} {1000 / rules_ms:>12,.0f} analyses/s")


if __name__ == "__main__":
    main()
