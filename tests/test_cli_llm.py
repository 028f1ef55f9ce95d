"""`tradewind evaluate --analyst llm` against a fake OpenAI-compatible server with llama.cpp's
tokenizer endpoints and a priced model: it estimates from the real prompt first, never passes
--max-cost (even when the model needs more calls than estimated), logs one row per model call,
and replays offline to the identical report without a call or a row."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from fakes.openai_server import FakeOpenAI
from support.llm_answers import signal_answer
from typer.testing import CliRunner

from tradewind.cli import app

DATA = Path(__file__).parent / "data"


def arguments(*extra: str, warmup: str = "200") -> list[str]:
    return ["evaluate", "--data", str(DATA / "ETH_BTC-5m.json"), "--symbol", "ETH/BTC", "--timeframe", "5m",
            "--higher", "1h", "--warmup", warmup, "--step", "400", "--json", *extra]


def evaluate(tmp_path: Path, env: dict[str, str], *extra: str, warmup: str = "200") -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TRADEWIND_", "OPENAI_"))}
    environ.update({"TRADEWIND_DATABASE_URL": f"sqlite:///{tmp_path / 'tw.db'}", "COLUMNS": "200", **env})
    command = [sys.executable, "-m", "tradewind", *arguments(*extra, warmup=warmup)]
    return subprocess.run(command, cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=120)


def evaluate_here(tmp_path: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    """The same command and environment run in this process, for the runs that stop before any model
    call (an estimate over the cap, a missing model): a new interpreter would spend most of their time
    importing tradewind. The runs that call the model, log and replay stay real processes."""
    environ: dict[str, str | None] = {k: None for k in os.environ if k.startswith(("TRADEWIND_", "OPENAI_"))}
    environ.update({"TRADEWIND_DATABASE_URL": f"sqlite:///{tmp_path / 'tw.db'}", "COLUMNS": "200", **env})
    with contextlib.chdir(tmp_path):
        result = CliRunner().invoke(app, arguments(*extra), env=environ)
    return subprocess.CompletedProcess(arguments(*extra), result.exit_code, result.stdout, result.stderr)


def report_of(run: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    return json.loads(run.stdout[run.stdout.index("{"):])


def logged(tmp_path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(tmp_path / "tw.db") as db:
        return db.execute("SELECT attempt, parent_id, prompt_tokens, cost_usd, prompt_detail FROM ai_decision_logs "
                          "ORDER BY id").fetchall()


def junk_first(request: dict[str, Any]) -> str:
    """A model that needs a repair every time: nonsense first, a valid answer when told what is wrong."""
    if any("unusable" in m["content"] for m in request["messages"]):
        return signal_answer(request)
    return '{"signal": "Up", "confidence": 7}'


def test_estimate_cap_log_and_offline_replay(tmp_path: Path) -> None:
    with FakeOpenAI(signal_answer, model="gpt-4o-mini", tokenizer=True).running() as fake:
        env = {"TRADEWIND_LLM_BASE_URL": fake.base_url, "TRADEWIND_LLM_MODEL": "gpt-4o-mini"}
        stopped = evaluate_here(tmp_path, env, "--analyst", "llm", "--max-cost", "0.000001")
        assert stopped.returncode == 4 and "nothing was called" in stopped.stderr
        assert "14 analyses: 0 from the decision log, 14 to gpt-4o-mini" in stopped.stderr
        assert "counted by the server" in stopped.stderr  # the real prompt, measured by its tokenizer
        assert fake.chat_requests() == []

        first = evaluate(tmp_path, env, "--analyst", "llm", "--max-cost", "1")
        assert first.returncode == 0, first.stderr
        report = report_of(first)
        assert report["predictions_made"] == 14 and set(report["by_analyst"]) == {"llm:gpt-4o-mini"}
        assert set(report["by_source"]) == {"llm"}
        assert len(fake.chat_requests()) == 14
        rows = logged(tmp_path)
        assert len(rows) == 14 and all(attempt == 1 and parent is None for attempt, parent, *_ in rows)
        assert {detail for *_, detail in rows} <= {"full", "compact", "minimal"}
        # the prompt tokens the server reported are the ones its tokenizer counted for the estimate
        assert all(tokens <= 2000 + 16 for _, _, tokens, _, _ in rows)

        again = evaluate(tmp_path, env, "--analyst", "llm", "--offline")
        assert again.returncode == 0, again.stderr
        assert "all from the decision log: no call" in again.stderr
        assert report_of(again) == report  # an exact replay
        assert len(fake.chat_requests()) == 14 and len(logged(tmp_path)) == 14  # nothing called, nothing written

    unconfigured = evaluate_here(tmp_path, {}, "--analyst", "llm")
    assert unconfigured.returncode == 2 and "OPENAI_API_KEY" in unconfigured.stderr


def test_the_cap_holds_when_the_model_needs_more_calls_than_estimated(tmp_path: Path) -> None:
    """The estimate trusts the log's history (no repairs so far); this time every answer needs one,
    so the run costs about twice the estimate. The spend limit stops it before the cap, measured."""
    with FakeOpenAI(signal_answer, model="gpt-4o-mini", tokenizer=True).running() as fake:
        env = {"TRADEWIND_LLM_BASE_URL": fake.base_url, "TRADEWIND_LLM_MODEL": "gpt-4o-mini"}
        history = evaluate(tmp_path, env, "--analyst", "llm", warmup="300")  # other candles: no cache hits later
        assert history.returncode == 0, history.stderr
        before = len(logged(tmp_path))

        fake.handler = junk_first
        estimate = evaluate_here(tmp_path, env, "--analyst", "llm", "--max-cost", "0.000001")
        line = next(text for text in estimate.stderr.splitlines() if text.startswith("estimate:"))
        estimated = float(line.rsplit("$", 1)[1])
        cap = estimated * 1.3  # above the estimate, below what this model will really cost
        run = evaluate(tmp_path, env, "--analyst", "llm", "--max-cost", f"{cap:.6f}")
        assert run.returncode == 4 and "before a call that could pass the cap" in run.stderr, run.stderr
        calls = logged(tmp_path)[before:]
        spent = sum(cost for _, _, _, cost, _ in calls)
        assert 4 <= len(calls) < 28 and spent <= cap
        assert spent + max(cost for *_, cost, _ in calls) > estimated  # it did go past the estimate
        repairs = [row for row in calls if row[0] == 2]
        assert repairs and all(row[1] is not None for row in repairs)  # each repair names its first call
        assert len(fake.chat_requests()) == before + len(calls)  # every call is a row, every row a call
