"""``RateLimits``: the AI-service seed's per-client table, as one pure ASGI middleware.

Each request counts against ``(client, route template)``: the client is
``principal.client_id`` (the credential when authentication found one, else the address), the
route is the template the router will reach, so ``/api/assets/BTCUSDT`` and ``/api/assets/ETHUSDT``
share one counter and a made-up path cannot create a counter of its own.

**Moving window** (``limits.MovingWindowRateLimiter``): "10 per minute" then holds for *every*
minute, as the seed's table reads. A fixed window lets a client send twice the limit across a
window boundary (10 at 0:59, 10 at 1:00); the moving window's price is one timestamp per counted
request (at most the limit, 60 by default) per client and route, small for these limits.

Counters live in memory in one process, or in Redis when ``TRADEWIND_REDIS_URL`` is set, so that
several workers share them. If Redis cannot be reached the limiter **fails open**: the request is
served without a limit (and without ``x-ratelimit-*`` headers), the first failure is logged once as
a warning, Redis is tried again after ``RETRY_SECONDS``, and the recovery is logged. Why open: the
limits protect capacity, not secrets (authentication and scopes do that), and a Redis outage
should not take the whole API down with it.

Answers: a limited response carries ``x-ratelimit-limit``, ``x-ratelimit-remaining`` and
``x-ratelimit-reset`` (seconds until a request is counted out of the window); ``/v1`` also carries
OpenAI's ``x-ratelimit-limit-requests``, ``x-ratelimit-remaining-requests`` and
``x-ratelimit-reset-requests`` (``"12s"``). A refusal is 429 with ``Retry-After`` and the seed's
body in the path's shape (``api/errors.py``). WebSockets are not counted here (one handshake
opens a long-lived connection; ``/ws`` has its own per-client queue limits).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tradewind.api.errors import error_response
from tradewind.api.principal import SCOPES, client_id, principal_of
from tradewind.api.route_template import route_template
from tradewind.settings import Settings

__all__ = ["DEFAULT_LIMIT", "EXCEEDED", "RETRY_SECONDS", "SEED_LIMITS", "RateLimitTable", "RateLimits", "install_rate_limits",
           "parse_limit"]

log = logging.getLogger(__name__)

EXCEEDED = "Rate limit exceeded. Please try again later."
DEFAULT_LIMIT = "60/minute"
SEED_LIMITS: dict[str, str | None] = {
    "/ai/analyze": "10/minute",
    "/debug/gpt4": "5/minute",
    "/ai/strategy-recommendations": "5/minute",
    "/ai/market-condition": "5/minute",
    "/ai/feedback": "20/minute",
    "/ai/storage/clear": "1/minute",
    # Static files of the dashboard: one page load fetches ~18 of them, each a revalidated file
    # read with no work behind it; counting them would spend a client's 60 on a single visit.
    "/dashboard/static*": None,
}
"""The seed's table (plus the static-file exemption); a value of None means not limited."""

RETRY_SECONDS = 5.0
"""How long the limiter serves without limits after Redis failed, before it tries Redis again."""


def parse_limit(text: str) -> RateLimitItem:
    """``"10/minute"``, ``"2/second"``, ``"100 per hour"`` as a ``limits`` item, or ValueError saying why."""
    try:
        return parse(text)
    except ValueError:
        raise ValueError(f'{text[:40]!r} is not a rate like "10/minute" or "2/second"') from None


@dataclass(frozen=True)
class RateLimitTable:
    """Which limit a route has, and how a caller's scope scales it.

    ``routes`` maps a route template (``/ai/analyze``, ``/api/assets/{symbol}``) or a prefix ending
    in ``*`` (``/v1/*``) to a rate or None (not limited); an exact template wins over prefixes,
    the longest prefix over shorter ones, ``default`` covers the rest. ``scopes`` maps a scope to a
    multiplier of every limit (``{"admin": 10}``), or None for no limit; a caller counts with its
    highest scope listed here.
    """

    routes: Mapping[str, RateLimitItem | None]
    default: RateLimitItem | None
    scopes: Mapping[str, float | None]

    @classmethod
    def build(cls, routes: Mapping[str, str | None] | None = None, *, default: str | None = DEFAULT_LIMIT,
              scopes: Mapping[str, float | None] | None = None) -> RateLimitTable:
        """The seed's table with ``routes`` laid over it."""
        merged = {**SEED_LIMITS, **(routes or {})}
        return cls({path: parse_limit(rate) if rate else None for path, rate in merged.items()},
                   parse_limit(default) if default else None, dict(scopes or {}))

    def limit_for(self, template: str, scopes: frozenset[str] = frozenset()) -> RateLimitItem | None:
        item = self._route(template)
        if item is None:
            return None
        factor = self._factor(scopes)
        if factor is None:
            return None
        if factor == 1:
            return item
        return type(item)(max(1, int(item.amount * factor)), item.multiples, f"x{factor:g}")

    def _route(self, template: str) -> RateLimitItem | None:
        if template in self.routes:
            return self.routes[template]
        prefixes = [p for p in self.routes if p.endswith("*") and template.startswith(p[:-1])]
        if prefixes:
            return self.routes[max(prefixes, key=len)]
        return self.default

    def _factor(self, scopes: frozenset[str]) -> float | None:
        for scope in reversed(SCOPES):  # the highest first
            if scope in scopes and scope in self.scopes:
                return self.scopes[scope]
        return 1.0


class RateLimits:
    """The middleware: count, answer 429 when over, add the headers to what is let through."""

    def __init__(self, app: ASGIApp, *, table: RateLimitTable, redis_url: str | None = None,
                 namespace: str = "tradewind") -> None:
        self.app = app
        self.table = table
        self.storage: Storage = (
            RedisStorage(_async_uri(redis_url), implementation="redispy", key_prefix=f"{namespace}:ratelimit",
                         socket_timeout=0.5, socket_connect_timeout=0.5)
            if redis_url else MemoryStorage()
        )
        self.limiter = MovingWindowRateLimiter(self.storage)
        self._down_until: float | None = None  # monotonic time until which Redis is not tried

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        template = route_template(scope)
        principal = principal_of(scope)
        item = self.table.limit_for(template, principal.scopes if principal is not None else frozenset())
        counted = await self._hit(item, client_id(scope), template) if item is not None else None
        if counted is None:
            await self.app(scope, receive, send)
            return
        allowed, remaining, reset = counted
        path = scope.get("path", "")
        headers = _headers(item, remaining, reset, path)  # type: ignore[arg-type]
        if not allowed:
            headers["retry-after"] = str(max(1, math.ceil(reset)))
            response = error_response(429, EXCEEDED, "RATE_LIMIT_EXCEEDED", path=path, headers=headers)
            await response(scope, receive, send)
            return
        raw = [(name.encode(), value.encode()) for name, value in headers.items()]

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *raw]
            await send(message)

        await self.app(scope, receive, with_headers)

    async def _hit(self, item: RateLimitItem, client: str, template: str) -> tuple[bool, int, float] | None:
        """(allowed, remaining, seconds to reset), or None when the store is down (fail open)."""
        if self._down_until is not None and time.monotonic() < self._down_until:
            return None
        try:
            allowed = await self.limiter.hit(item, client, template)
            stats = await self.limiter.get_window_stats(item, client, template)
        except Exception as exc:  # redis.ConnectionError, TimeoutError, ...: whatever the client raises
            if self._down_until is None:
                log.warning("rate limits are off while their store is unreachable (failing open): %s: %s",
                            type(exc).__name__, str(exc)[:200])
            self._down_until = time.monotonic() + RETRY_SECONDS
            return None
        if self._down_until is not None:
            log.warning("rate limits are counted again: their store is back")
            self._down_until = None
        return allowed, max(0, stats.remaining), max(0.0, stats.reset_time - time.time())


def _headers(item: RateLimitItem, remaining: int, reset: float, path: str) -> dict[str, str]:
    seconds = str(max(0, math.ceil(reset)))
    headers = {"x-ratelimit-limit": str(item.amount), "x-ratelimit-remaining": str(remaining),
               "x-ratelimit-reset": seconds}
    if path == "/v1" or path.startswith("/v1/"):
        headers |= {"x-ratelimit-limit-requests": str(item.amount), "x-ratelimit-remaining-requests": str(remaining),
                    "x-ratelimit-reset-requests": f"{seconds}s"}
    return headers


def _async_uri(url: str) -> str:
    """``limits`` picks its async Redis storage by the ``async+`` scheme."""
    return url if url.startswith("async+") else f"async+{url}"


def install_rate_limits(app: Starlette, settings: Settings) -> None:
    """Add ``RateLimits`` as configured (nothing when ``TRADEWIND_RATE_LIMIT_ENABLED=false``).

    It must sit inside authentication (added before it), so that ``client_id`` sees the principal.
    """
    if not settings.rate_limit_enabled:
        return
    table = RateLimitTable.build(settings.rate_limits, default=settings.rate_limit_default,
                                 scopes=settings.rate_limit_scopes)
    app.add_middleware(RateLimits, table=table, redis_url=settings.redis_url,  # type: ignore[arg-type]
                       namespace=settings.rate_limit_namespace)
