"""`tradewind evaluate --analyst llm` against a fake OpenAI-compatible server: it estimates the
cost first, stops at --max-cost, logs every call, and replays offline for free."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fakes.openai_server import FakeOpenAI
from support.llm_answers import signal_answer

DATA = Path(__file__).parent / "data"


def evaluate(tmp_path: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TRADEWIND_", "OPENAI_"))}
    environ.update({"TRADEWIND_DATABASE_URL": f"sqlite:///{tmp_path / 'tw.db'}", "COLUMNS": "200", **env})
    command = [sys.executable, "-m", "tradewind", "evaluate", "--data", str(DATA / "ETH_BTC-5m.json"), "--symbol",
               "ETH/BTC", "--timeframe", "5m", "--higher", "1h", "--warmup", "200", "--step", "400", "--json", *extra]
    return subprocess.run(command, cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=120)


def test_estimate_budget_log_and_offline_replay(tmp_path: Path) -> None:
    with FakeOpenAI(signal_answer, model="gpt-4o-mini").running() as fake:
        env = {"TRADEWIND_LLM_BASE_URL": fake.base_url, "TRADEWIND_LLM_MODEL": "gpt-4o-mini"}
        stopped = evaluate(tmp_path, env, "--analyst", "llm", "--max-cost", "0.000001")
        assert stopped.returncode == 4 and "nothing was called" in stopped.stderr
        assert "14 analyses: 0 from the decision log, 14 calls to gpt-4o-mini" in stopped.stderr
        assert fake.chat_requests() == []

        first = evaluate(tmp_path, env, "--analyst", "llm", "--max-cost", "1")
        assert first.returncode == 0, first.stderr
        report = json.loads(first.stdout[first.stdout.index("{"):])
        assert report["predictions_made"] == 14 and set(report["by_analyst"]) == {"llm:gpt-4o-mini"}
        assert len(fake.chat_requests()) == 14

        again = evaluate(tmp_path, env, "--analyst", "llm", "--offline")
        assert again.returncode == 0 and "14 from the decision log, 0 calls" in again.stderr
        assert json.loads(again.stdout[again.stdout.index("{"):]) == report  # an exact replay
        assert len(fake.chat_requests()) == 14  # nothing called

    unconfigured = evaluate(tmp_path, {}, "--analyst", "llm")
    assert unconfigured.returncode == 2 and "OPENAI_API_KEY" in unconfigured.stderr
