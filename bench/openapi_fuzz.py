"""A longer schemathesis campaign over the service's own OpenAPI document, against its baseline.

The same app as the suite's ``tests/test_openapi_truth.py`` (``tests/support/fuzz.py``: one
synthetic symbol with a few hours of history, SQLite) is served in its own process and fuzzed by
schemathesis with every check and phase, ``--examples`` per operation and a fixed seed. It prints
the operations, the examples generated and the distinct failures, one ``(check, operation)`` pair
each: all of them, and those left once the suite's declared exclusions (each with its reason) are
applied (goal 0).

The baseline is the same campaign, same seed and examples, against the code before this work: a
temporary ``git worktree`` of ``--base`` (default ``6d2d9b4``, the branch's base) served with this
checkout's virtualenv. ``--no-base`` skips it.

    .venv/bin/python bench/openapi_fuzz.py --examples 30
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from loopback import free_port  # noqa: E402
from support.fuzz import EXCLUDED, Campaign, run_campaign, served, write_config  # noqa: E402


def campaign(source: Path, *, examples: int, seed: int, config: Path | None) -> tuple[Campaign, float]:
    """Serve ``source``'s tradewind (its ``src`` first on the path) and fuzz it."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(source / "src")}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            with served(port, Path(tmp), env=env, timeout=180) as url:
                started = time.perf_counter()
                result = run_campaign(url, examples=examples, seed=seed, config=config)
                return result, time.perf_counter() - started
        except RuntimeError as exc:
            raise SystemExit(f"{source}: {exc}") from None


def show(name: str, result: Campaign, seconds: float, excluded: set[tuple[str, str]]) -> None:
    left = {(code, op) for code, op in result.failures if (op, _check(code)) not in excluded}
    print(f"\n== {name}: {result.operations} operations, {result.examples} examples, {seconds:.0f} s")
    print(f"distinct failures (check, operation): {len(result.failures)}; "
          f"outside the suite's declared exclusions: {len(left)}; errors: {list(result.errors) or 'none'}")
    for code, operation in sorted(result.failures):
        mark = " " if (code, operation) in left else "x"
        print(f"  [{mark}] {code:45} {operation}")


_CODES = {"ST101": "not_a_server_error", "ST103": "status_code_conformance", "ST105": "content_type_conformance",
          "ST106": "response_headers_conformance", "ST108": "response_schema_conformance",
          "ST201": "negative_data_rejection", "ST202": "positive_data_acceptance"}


def _check(code: str) -> str:
    return "checks." + _CODES.get(code.split()[0], code)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=30, help="examples per operation and phase")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--base", default="6d2d9b4", help="the commit measured as the baseline")
    parser.add_argument("--no-base", action="store_true")
    args = parser.parse_args()
    excluded = set(EXCLUDED)
    print(f"schemathesis, every check and phase, {args.examples} examples per operation, seed {args.seed}; "
          f"[x] = a check the suite leaves out of that operation, with its reason (tests/support/fuzz.py)")
    if not args.no_base:
        with tempfile.TemporaryDirectory() as tmp:
            tree = Path(tmp) / "base"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), args.base],
                           check=True, capture_output=True)
            try:
                result, seconds = campaign(tree, examples=args.examples, seed=args.seed, config=None)
                show(f"baseline {args.base}", result, seconds, excluded)
            finally:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                               check=False, capture_output=True)
    result, seconds = campaign(ROOT, examples=args.examples, seed=args.seed, config=None)
    show("this checkout", result, seconds, excluded)
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp) / "st.toml")
        result, seconds = campaign(ROOT, examples=args.examples, seed=args.seed, config=config)
    show("this checkout, the suite's exclusions applied", result, seconds, excluded)


if __name__ == "__main__":
    main()
