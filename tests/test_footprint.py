"""An idle server's footprint: what its start imports (bench/idle.py measures the CPU and memory)."""

from __future__ import annotations

import json
import subprocess
import sys

# Resident megabytes each costs at import, and who needs it: none of them an idle default server.
DEFERRED = {"pandas": "41 MB, TA-Lib's Series wrappers", "pypdf": "15 MB, a PDF upload",
            "openai": "22 MB, a configured LLM"}


def test_the_app_starts_without_the_modules_only_some_requests_need() -> None:
    code = ("import json, sys; import tradewind.api.app, tradewind.bootstrap; "
            f"print(json.dumps([m for m in {sorted(DEFERRED)!r} if m in sys.modules]))")
    found = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                      timeout=120).stdout)
    assert found == [], {name: DEFERRED[name] for name in found}


def test_a_deferred_module_still_loads_when_used() -> None:
    code = ("import sys; from tradewind.adapters import openai_client; from tradewind.analysis import indicators; "
            "assert 'openai' not in sys.modules; openai_client.openai.OpenAIError; assert 'openai' in sys.modules; "
            "import pandas, talib; assert indicators.talib is talib and pandas.Series")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
