"""The dashboard on a service whose reads need a key too (Playwright on Debian's Chromium): the page
loads, asks for a key on the first 401, sends it as a bearer from then on (and on /ws as the
subprotocol), and asks again when a control answers 403 for a key that may only read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.browser import Watch
from support.dashboard import dashboard_server

from tradewind.bootstrap import Container


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Container, dict[str, str]]]:
    with dashboard_server(tmp_path_factory.mktemp("dashboard-auth"), auth=True, public_reads=False,
                          bootstrap_admin_key=False, admin_token=None) as (url, container):
        assert container.api_keys is not None
        keys = {scope: container.api_keys.create(name=f"browser {scope}", scope=scope)[0] for scope in ("read", "trade")}
        yield url, container, keys


def give(tab: Any, key: str) -> None:
    tab.wait_for_selector("#token-dialog[open]", timeout=15_000)
    tab.fill("#token-input", key)
    tab.click("#token-dialog button[value=ok]")


def test_the_page_asks_for_a_key_on_401_then_reads_trades_and_goes_live_with_it(
        locked: tuple[str, Container, dict[str, str]], page: tuple[Any, Watch]) -> None:
    url, container, keys = locked
    tab, watch = page
    watch.allowed_statuses.update({401, 403})  # provoked: before the key, and for the read-only key
    assert httpx.get(f"{url}/api/assets").status_code == 401
    tab.goto(f"{url}/dashboard/#/asset/ETHUSDT")
    give(tab, keys["read"])
    tab.wait_for_selector("#pause", timeout=15_000)  # the asset's reads answered with the key
    tab.wait_for_selector("#connection[data-state=open]", timeout=30_000)  # /ws took the key as its subprotocol
    assert container.hub.stats()["clients"] >= 1
    tab.click("#pause")  # a read key may not: 403, and the page asks for a better key
    give(tab, keys["trade"])
    tab.wait_for_selector("#asset-status.paused", timeout=15_000)
    assert container.engine is not None and container.engine.assets["ETHUSDT"].config.paused
    tab.click("#resume")  # the trade key is kept for the session: no dialog this time
    tab.wait_for_selector("#asset-status.running", timeout=15_000)
    assert not tab.is_visible("#token-dialog")
    unexpected = [e for e in watch.console_errors if "status of 401" not in e and "status of 403" not in e
                  and not ("WebSocket" in e and ("401" in e or "Authentication failed" in e))]  # before the key
    assert not unexpected, unexpected
    assert not watch.failed, watch.failed
