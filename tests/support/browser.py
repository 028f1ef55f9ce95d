"""Headless Chromium (Debian's ``chromium`` package) driven by Playwright, for the dashboard's tests.

The fixtures are imported once, by ``tests/conftest.py``, and live for one module: a second sync
Playwright cannot start while another runs in the same thread.

``.ci/run`` installs the browser with apt and sets ``TRADEWIND_REQUIRE_BROWSER=1``, so there a
missing browser fails the run; on a machine without it the browser tests are skipped with the
command that installs it. ``Watch`` records what a page must not do: log a console error, or have
a request fail or answer with an error status.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

CHROMIUM = os.environ.get("TRADEWIND_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def chromium_or_skip() -> str:
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    message = f"no Chromium at {CHROMIUM}: install it with `apt-get install -y chromium`"
    if os.environ.get("TRADEWIND_REQUIRE_BROWSER"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per test module, stopped with it: the sync Playwright runs an event loop in this
    thread while it lives, and the asyncio tests of the next modules need the thread free."""
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Watch:
    """Console errors, failed requests and error responses seen by one page."""

    console_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    allowed_statuses: set[int] = field(default_factory=set)

    def attach(self, page: Any) -> Any:
        page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.console_errors.append(f"uncaught: {e}"))
        page.on("requestfailed", lambda r: None if r.failure == "net::ERR_ABORTED" else  # a page that cancels
                self.failed.append(f"{r.method} {r.url}: {r.failure}"))  # its fetches on leaving does right
        page.on("response", lambda r: self.failed.append(f"{r.request.method} {r.url}: {r.status}")
                if r.status >= 400 and r.status not in self.allowed_statuses else None)
        return page

    def clean(self) -> None:
        """Nothing went wrong, but for the statuses a test provoked (Chromium logs those too)."""
        def provoked(error: str) -> bool:
            found = re.match(r"Failed to load resource: the server responded with a status of (\d+) ", error)
            return found is not None and int(found.group(1)) in self.allowed_statuses

        errors = [e for e in self.console_errors if not provoked(e)]
        assert not errors, errors
        assert not self.failed, self.failed


@contextmanager
def new_tab(browser: Any, **options: Any) -> Iterator[tuple[Any, Watch]]:
    """A tab with storage of its own (a new browser context) and what it has done wrong so far."""
    context = browser.new_context(**options)
    tab = context.new_page()
    watch = Watch()
    watch.attach(tab)
    try:
        yield tab, watch
    finally:
        context.close()


@pytest.fixture
def page(browser: Any) -> Iterator[tuple[Any, Watch]]:
    """A fresh 1280x800 tab that accepts downloads."""
    with new_tab(browser, viewport={"width": 1280, "height": 800}, accept_downloads=True) as pair:
        yield pair

PHONE = {"width": 390, "height": 844}


def phone_page(browser: Any) -> Any:
    """A tab the size of a phone (touch, mobile viewport) and its watch."""
    return new_tab(browser, viewport=PHONE, is_mobile=True, has_touch=True)

def no_sideways_scroll(tab: Any, where: str = "") -> None:
    """The page fits its viewport's width: nothing makes a phone scroll sideways."""
    width, inner = tab.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, (where, width, inner)
