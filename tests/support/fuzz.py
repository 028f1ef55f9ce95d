"""A schemathesis campaign over a real server's own OpenAPI document, shared by the suite and bench/.

The server is the real app on small data: a synthetic market for one symbol with a few hours of
history (so analyses and backtests are cheap), SQLite, no periodic analysis. The campaign is
schemathesis's own CLI (every check, every phase) with a fixed seed; its JSON report is read back
and each failure is reduced to ``(check code, operation)``, the unit counted as one distinct failure.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["EXCLUDED", "SERVER_CODE", "Campaign", "run_campaign", "served", "write_config"]

SERVER_CODE = """
import sys, uvicorn
from tradewind.api.app import create_app
from tradewind.bootstrap import build_container
from tradewind.settings import Settings
settings = Settings(database_url=f"sqlite:///{sys.argv[2]}/fuzz.db", symbols=["BTCUSDT"], history_hours=12,
                    timeframes=["1m", "5m", "15m", "1h"], analysis_timeframes=["15m", "1h"],
                    analysis_interval_minutes=0, max_body_bytes=1024 * 1024)
uvicorn.run(create_app(build_container(settings)), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            access_log=False)
"""
"""The app under test, run as ``python -c SERVER_CODE PORT DIR`` (any checkout's ``tradewind`` will do)."""


_CANDLES = ("candle rules JSON Schema cannot state: high >= low, open and close within them, timestamps "
            "increasing on the timeframe's grid, current_price near the last close (trading.analysis_input)")
_V1_BODY = ("the body's fields are checked one by one by assistants.checks / chat_request (OpenAI's rules: "
            "known models, tools, roles, content parts); the document names it an object, not yet each field")
_REGISTRY = ("strategy, analyst and risk names and a strategy's params are checked against the registries this "
             "service runs with (GET /api/backtests/options lists them), not a fixed enumeration")
EXCLUDED: dict[tuple[str, str], str] = {
    ("GET /debug/gpt4", "checks.not_a_server_error"):
        "the seed fixes 500 with {status: failed, error, error_type} when no model is configured (documented)",
    ("GET /debug/llm", "checks.not_a_server_error"): "the same check as /debug/gpt4 under its own name (documented 500)",
    ("POST /ai/analyze", "checks.positive_data_acceptance"): _CANDLES,
    ("POST /ai/market-condition", "checks.positive_data_acceptance"): _CANDLES,
    ("POST /ai/strategy-recommendations", "checks.positive_data_acceptance"): _CANDLES,
    ("PATCH /api/assets/{symbol}", "checks.positive_data_acceptance"): _REGISTRY,
    ("POST /api/backtests", "checks.positive_data_acceptance"): _REGISTRY + "; and the stored candles' time range",
    ("POST /v1/assistants", "checks.positive_data_acceptance"): _V1_BODY,
    ("POST /v1/chat/completions", "checks.positive_data_acceptance"): _V1_BODY,
    ("POST /v1/files", "checks.positive_data_acceptance"):
        "an upload's content must be text, Markdown, CSV, JSON or PDF (assistants.file_text), which a schema cannot say",
    ("POST /v1/threads", "checks.positive_data_acceptance"): _V1_BODY,
    ("POST /v1/threads/runs", "checks.positive_data_acceptance"): _V1_BODY,
    ("POST /v1/vector_stores", "checks.positive_data_acceptance"): _V1_BODY,
}
"""(operation, ``checks.<check>`` or ``phases.<phase>``) the campaign does not run, each with the reason;
nothing else is left out."""


def write_config(path: Path, excluded: dict[tuple[str, str], str] = EXCLUDED) -> Path:
    """A ``schemathesis.toml`` turning off exactly the ``excluded`` checks and phases of their operations."""
    lines: list[str] = []
    for operation in sorted({operation for operation, _ in excluded}):  # one table per operation
        lines += ["[[operations]]", f"include-name = {json.dumps(operation)}"]
        for (name, key), reason in sorted(excluded.items()):
            if name == operation:
                lines += [f"# {reason}", f"{key}.enabled = false"]
        lines.append("")
    path.write_text("\n".join(lines))
    return path


@dataclass(frozen=True)
class Campaign:
    operations: int
    examples: int
    failures: frozenset[tuple[str, str]]
    """(check code and title, operation) pairs."""
    errors: tuple[str, ...]
    output: str = ""
    """schemathesis's own report (for the reproductions it prints)."""

    def lines(self) -> list[str]:
        return [f"{code}  {operation}" for code, operation in sorted(self.failures)]


def run_campaign(url: str, *, examples: int, seed: int, config: Path | None = None, workers: int = 1,
                 max_time: float | None = None, extra: tuple[str, ...] = ()) -> Campaign:
    """Run ``schemathesis run`` against ``url`` and read its JSON report.

    One worker: with several, hypothesis parses lambda sources with ``ast`` in concurrent threads and
    CPython 3.11 raises "AST constructor recursion depth mismatch" inside schemathesis's generator."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        command = [str(Path(sys.executable).parent / "schemathesis")]
    
        if config is not None:
            command += ["--config-file", str(config)]
        command += ["run", f"{url}/openapi.json", "-n", str(examples), "--seed", str(seed),  # every check by default
                    "-w", str(workers), "--no-color", "--generation-database", "none",
                    "--report", "json", "--report-json-path", str(report), *extra]
        if max_time is not None:
            command += ["--max-time", str(max_time)]
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=tmp)  # its cache stays there
        if not report.exists():
            raise RuntimeError(f"schemathesis wrote no report: {done.stdout[-3000:]}{done.stderr[-3000:]}")
        data = json.loads(report.read_text())
    failures = frozenset((f"{item['code']} {item['title']}", operation)
                         for item in data["failures"] for operation in item["operations"])
    errors = tuple(f"{item['title']} x{item['count']}" for item in data["errors"])
    return Campaign(operations=data["operations"]["tested"], examples=data["test_cases"]["generated"],
                    failures=failures, errors=errors, output=done.stdout)


@contextmanager
def served(port: int, directory: Path, *, env: Mapping[str, str] | None = None,
           timeout: float = 120.0) -> Iterator[str]:
    """``SERVER_CODE`` in its own process on ``port`` (data in ``directory``): its URL once it answers
    ``/health``; stopped on exit. The suite's test and the bench serve the app the same way."""
    process = subprocess.Popen([sys.executable, "-c", SERVER_CODE, str(port), str(directory)],
                               env=dict(env) if env is not None else None, cwd=directory)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the fuzzed server did not start (exit status {process.poll()})")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
