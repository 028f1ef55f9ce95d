"""Authentication and authorisation, in one ASGI middleware in front of every route.

Each request's credential (``Authorization: Bearer``; for a WebSocket, which a browser cannot give
headers, also the subprotocol pair ``tradewind.bearer, <credential>``) resolves to a
``Principal``: an API key (``tw_<id>_<secret>``), an HS256 JWT, or the internal service token
(``TRADEWIND_SERVICE_TOKEN``, or the older ``TRADEWIND_ADMIN_TOKEN``). The route the request
will reach is looked up in the scope table (``api/access.py``): no credential where one is needed
is 401 with ``WWW-Authenticate: Bearer``, a refused credential 401 naming why (never quoting it),
too small a scope 403, each in the path's error shape. The principal is left on the ASGI scope
for everything after (rate limits, ownership of /v1 objects, the request log).

An API key not seen before costs an argon2 verification (about 0.1 s of a core, by design), and
authentication runs before the rate limits, so guessing secrets could burn the CPU: at most one
verification runs at a time in a process, and a client whose keys were refused
``FAILED_KEYS_PER_MINUTE`` times in the last minute gets 429 with ``Retry-After`` without any more
hashing. A key already verified (live or refused) is answered from memory and never waits.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI
from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from fastapi.routing import iter_route_contexts
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tradewind.adapters.api_keys import ApiKeys, looks_like_key
from tradewind.adapters.jwt_tokens import InvalidToken, verify_jwt
from tradewind.api.access import Access, needed_scope
from tradewind.api.errors import error_response
from tradewind.api.principal import SCOPES, Principal, client_id, set_principal
from tradewind.assistants.tools import CALLER_MAY_TRADE
from tradewind.settings import AuthSettings

__all__ = ["FAILED_KEYS_PER_MINUTE", "WS_PROTOCOL", "Authentication", "Authenticator", "Refused", "TooManyRefused",
           "install_auth", "owner_id", "route_template"]

WS_PROTOCOL = "tradewind.bearer"
"""The WebSocket subprotocol whose next offered value is the credential (browsers set no headers)."""

_MAX_CREDENTIAL = 4096
_EVERYTHING = frozenset(SCOPES)
FAILED_KEYS_PER_MINUTE = 10
"""Refused API keys a client may present in a minute before it is answered 429 without hashing."""


class Refused(Exception):
    """A credential was given and is not good: why, in words that do not quote it."""


class TooManyRefused(Exception):
    """This client presented too many refused API keys lately: no more hashing for it for now."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"{FAILED_KEYS_PER_MINUTE} refused API keys from this client in the last minute: "
                         f"retry after {retry_after} s")
        self.retry_after = retry_after


def owner_id(principal: Principal) -> str:
    """The owner of what a principal creates (at most 64 characters, the tables' owner column)."""
    if principal.kind == "service":
        return "service"
    owner = f"{principal.kind}:{principal.id}"
    return owner if len(owner) <= 64 else f"{principal.kind}:" + hashlib.sha256(principal.id.encode()).hexdigest()


class Authenticator:
    """A bearer credential -> the principal it proves (API key, JWT or the service token)."""

    def __init__(self, settings: AuthSettings, keys: ApiKeys) -> None:
        self.settings = settings
        self.keys = keys
        self._failures = MovingWindowRateLimiter(MemoryStorage())
        self._failure_limit = RateLimitItemPerMinute(FAILED_KEYS_PER_MINUTE)
        self._hashing: asyncio.Semaphore | None = None  # made in the serving loop, on first use

    async def principal(self, credential: str, client: str = "unknown") -> Principal:
        if not credential:
            raise Refused("the Authorization header must be 'Bearer <credential>'")
        if len(credential) > _MAX_CREDENTIAL:
            raise Refused(f"the credential is longer than {_MAX_CREDENTIAL} characters")
        service = self.settings.service_token
        if service is not None and secrets.compare_digest(credential.encode(), service.get_secret_value().encode()):
            return Principal("service", "service", frozenset({"admin"}))
        if looks_like_key(credential):
            info = self.keys.remembered(credential)
            if info is False:
                info = await self._verify(credential, client)
            if not info:
                raise Refused("the API key is unknown, malformed or revoked")
            return Principal("key", info.id, frozenset({info.scope}) & _EVERYTHING)  # type: ignore[arg-type]
        if credential.count(".") == 2:
            if self.settings.jwt_secret is None:
                raise Refused("JWTs are not accepted here (TRADEWIND_JWT_SECRET is not set)")
            try:
                claims = verify_jwt(credential, self.settings.jwt_secret.get_secret_value(),
                                    audience=self.settings.jwt_audience)
            except InvalidToken as exc:
                raise Refused(str(exc)) from None
            return Principal("jwt", claims.subject, claims.scopes & _EVERYTHING)  # type: ignore[arg-type]
        raise Refused("the credential is not an API key (tw_...), a JWT or the service token")

    async def _verify(self, credential: str, client: str) -> Any:
        """The slow path (argon2): one at a time per process, and not for a client refused too often."""
        if not self._failures.test(self._failure_limit, client):
            reset = self._failures.get_window_stats(self._failure_limit, client).reset_time
            raise TooManyRefused(max(1, int(reset - time.time()) + 1))
        if self._hashing is None:
            self._hashing = asyncio.Semaphore(1)
        async with self._hashing:
            info = await asyncio.to_thread(self.keys.verify, credential)
        if not info:
            self._failures.hit(self._failure_limit, client)
        return info


def route_template(routes: Sequence[Any], scope: Scope) -> tuple[str, str] | None:
    """(method, path template) of the route a request will reach, the router's first full match;
    None when no route takes it (the router answers 404 or 405 itself)."""
    for route in routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            if scope["type"] == "websocket":
                return "WS", route.path
            return scope["method"], route.path
    return None


class Authentication:
    """The ASGI middleware that enforces the scope table (``api/access.py``) on every request."""

    def __init__(self, app: ASGIApp, *, authenticator: Authenticator, routes: Callable[[], list[BaseRoute]]) -> None:
        self.app = app
        self.authenticator = authenticator
        self.settings = authenticator.settings
        self._routes = routes
        self._flat: list[Any] | None = None

    def _flat_routes(self) -> list[Any]:
        if self._flat is None:  # built on the first request: every router is included by then
            self._flat = list(iter_route_contexts(self._routes()))
        return self._flat

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if not self.settings.enabled:
            set_principal(scope, Principal("anonymous", "local", _EVERYTHING))
            await self.app(scope, receive, send)
            return
        reads = frozenset({"read"}) if self.settings.public_reads else frozenset()
        anonymous = Principal("anonymous", "local", reads)  # type: ignore[arg-type]
        found = route_template(self._flat_routes(), scope)
        access: Access = (needed_scope(*found) or "admin") if found else "public"
        credential, protocol = _credential(scope)
        principal = anonymous
        if access != "public" and credential is not None:
            try:
                principal = await self.authenticator.principal(credential, client_id(scope))
            except TooManyRefused as exc:
                await _refuse(scope, receive, send, 429, str(exc), "Bearer", retry_after=exc.retry_after)
                return
            except Refused as exc:
                await _refuse(scope, receive, send, 401, f"Invalid credential: {exc}", 'Bearer error="invalid_token"')
                return
        open_read = access == "read" and self.settings.public_reads
        if access != "public" and not open_read:
            if principal.kind == "anonymous":
                await _refuse(scope, receive, send, 401, f"This endpoint needs a credential with the {access} "
                              "scope: Authorization: Bearer <API key, JWT or service token>", "Bearer")
                return
            if not principal.allows(access):  # type: ignore[arg-type]
                held = ", ".join(sorted(principal.scopes)) or "none"
                await _refuse(scope, receive, send, 403, f"This endpoint needs the {access} scope "
                              f"(the credential holds: {held})", f'Bearer error="insufficient_scope", scope="{access}"')
                return
        set_principal(scope, principal)
        CALLER_MAY_TRADE.set(principal.allows("trade"))
        if protocol:
            send = _choose_protocol(send)
        await self.app(scope, receive, send)



async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, message: str, challenge: str,
                  retry_after: int | None = None) -> None:
    """401, 403 or 429 in the path's error shape; a WebSocket handshake gets the same HTTP answer."""
    path = scope.get("path", "")
    code = {401: "invalid_api_key" if path.startswith("/v1") else "UNAUTHORIZED",
            429: "RATE_LIMIT_EXCEEDED"}.get(status, "INSUFFICIENT_SCOPE")
    headers = {"www-authenticate": challenge}
    if retry_after is not None:
        headers["retry-after"] = str(retry_after)
    response = error_response(status, message, code, field="authorization", path=path, headers=headers)
    if scope["type"] == "http":
        await response(scope, receive, send)
        return
    await receive()  # websocket.connect
    if "websocket.http.response" in scope.get("extensions", {}):
        await send({"type": "websocket.http.response.start", "status": status,
                    "headers": [(k.encode(), v.encode()) for k, v in response.headers.items()]})
        await send({"type": "websocket.http.response.body", "body": bytes(response.body)})
    else:  # the server cannot answer a handshake with a status: close with "policy violation"
        await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})


def _credential(scope: Scope) -> tuple[str | None, bool]:
    """The bearer credential of a request, and whether it came as a WebSocket subprotocol."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return (token.strip() if scheme.lower() == "bearer" and token.strip() else ""), False
    if scope["type"] == "websocket":
        offered = [p.strip() for p in scope.get("subprotocols", ()) if p]
        if WS_PROTOCOL in offered and offered.index(WS_PROTOCOL) + 1 < len(offered):
            return offered[offered.index(WS_PROTOCOL) + 1], True
    return None, False


def _choose_protocol(send: Send) -> Send:
    """Accept a browser's WebSocket with the auth subprotocol it offered (else it drops the socket)."""

    async def choosing(message: Message) -> None:
        if message["type"] == "websocket.accept" and not message.get("subprotocol"):
            message = {**message, "subprotocol": WS_PROTOCOL}
        await send(message)

    return choosing


def install_auth(app: FastAPI, *, settings: AuthSettings, keys: ApiKeys, cors_origins: Sequence[str]) -> None:
    """The authentication middleware, and outside it CORS for the allowed origins (none by default),
    so a browser's preflight is answered before any credential is asked for."""
    app.add_middleware(Authentication, authenticator=Authenticator(settings, keys), routes=lambda: app.routes)
    if cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins), allow_credentials=False,
                           allow_methods=["*"], allow_headers=["authorization", "content-type", "openai-beta"],
                           expose_headers=["retry-after", "www-authenticate"], max_age=600)
