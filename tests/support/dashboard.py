"""The service as a trader runs it for the dashboard's browser tests: the synthetic market on its
embedded defaults (SQLite, rule-based analyst, paper broker), sped up so its minutes last seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from support.fast_clock import FastClock
from support.server import serve

from tradewind.api.app import create_app
from tradewind.bootstrap import Container, build_container
from tradewind.settings import Settings

ADMIN_TOKEN = "dashboard-admin-token"
SPEED = 30.0  # a one-minute candle every 2 s


@contextmanager
def dashboard_server(directory: Path, *, speed: float = SPEED, **overrides: Any) -> Iterator[tuple[str, Container]]:
    options: dict[str, Any] = {
        "database_url": f"sqlite:///{directory / 'tw.db'}", "feed": "synthetic", "symbols": ["BTCUSDT", "ETHUSDT"],
        "timeframes": ["1m", "5m", "15m", "1h"], "analysis_timeframes": ["5m", "15m"], "admin_token": ADMIN_TOKEN,
        "history_hours": 24, "synthetic_tick_interval": 0.1,
    }
    options.update(overrides)
    container = build_container(Settings(**options), clock=FastClock(speed))
    with serve(create_app(container)) as url:
        yield url, container
