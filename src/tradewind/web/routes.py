"""``/dashboard``: the single page and its static files, with headers that keep it to itself.

The page is plain ES modules under ``static/`` (lightweight-charts vendored from its npm package),
so ``make run`` needs no Node and no network. Every update after the first load comes over the
JSON API and ``/ws``. The Content-Security-Policy allows nothing from elsewhere: no CDN, no inline
script, and what the API returns is only ever put in the page as text. Inline *styles* are allowed
because lightweight-charts sets style attributes on the elements it builds (a style cannot run code).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["STATIC", "dashboard_redirect", "install_dashboard", "wants_html"]

STATIC = Path(__file__).parent / "static"
PREFIX = "/dashboard"
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}

router = APIRouter(include_in_schema=False)


def wants_html(request: Request) -> bool:
    """A browser navigating (HTML before JSON in its Accept header), not an API client."""
    accept = request.headers.get("accept", "")[:1024].lower()
    if "text/html" not in accept:
        return False
    json_at = accept.find("application/json")
    return json_at < 0 or accept.find("text/html") < json_at


@router.get(PREFIX)
@router.get(f"{PREFIX}/")
async def page() -> Response:
    response = FileResponse(STATIC / "index.html", media_type="text/html")
    response.headers.update(SECURITY_HEADERS)
    response.headers["cache-control"] = "no-cache"
    return response


class _StaticHeaders:
    """The static files with the same headers as the page; revalidated, never stale after an upgrade."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: dict) -> None:  # type: ignore[type-arg]
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                headers.append((b"cache-control", b"no-cache"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_dashboard(app: FastAPI) -> None:
    app.include_router(router)
    app.mount(f"{PREFIX}/static", _StaticHeaders(StaticFiles(directory=STATIC)), name="dashboard-static")


def dashboard_redirect() -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/", status_code=303)
