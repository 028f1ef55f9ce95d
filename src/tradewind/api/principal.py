"""Who is calling: the one value authentication leaves on a request for everything after it.

Authentication (``api/auth.py``) resolves the credential of a request, if any, to a
``Principal`` and keeps it in the ASGI scope's ``state``; authorisation, rate limits, ownership
of /v1 objects and the request log all read it from there, so none of them parses a header.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["ANONYMOUS_SCOPES", "SCOPES", "Principal", "Scope", "client_id", "principal_of", "set_principal"]

Scope = Literal["read", "trade", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "trade", "admin")
"""Ordered: each scope implies the ones before it (``admin`` may trade, ``trade`` may read)."""

ANONYMOUS_SCOPES: frozenset[Scope] = frozenset()

Kind = Literal["key", "jwt", "service", "anonymous"]


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller (or the anonymous one): ``id`` is stable per credential (an API
    key's id, a JWT's ``sub``, ``service`` for the internal token) and names the owner of what it
    creates; ``scopes`` are what it may do."""

    kind: Kind
    id: str
    scopes: frozenset[Scope]

    def allows(self, needed: Scope) -> bool:
        """Whether this caller holds ``needed`` or a scope above it."""
        rank = SCOPES.index(needed)
        return any(SCOPES.index(scope) >= rank for scope in self.scopes)


def set_principal(scope: dict[str, Any], principal: Principal) -> None:
    """Keep ``principal`` on an ASGI scope (``request.state.principal`` reads it back)."""
    scope.setdefault("state", {})["principal"] = principal


def principal_of(scope: Mapping[str, Any]) -> Principal | None:
    """The principal authentication left on an ASGI scope (``request.scope``), or None before it ran."""
    state = scope.get("state")
    found = state.get("principal") if isinstance(state, Mapping) else None
    return found if isinstance(found, Principal) else None


def client_id(scope: Mapping[str, Any]) -> str:
    """The caller a rate limit counts: its credential when it has one, else its address."""
    principal = principal_of(scope)
    if principal is not None and principal.kind != "anonymous":
        return f"{principal.kind}:{principal.id}"
    client = scope.get("client")
    return f"ip:{client[0] if client else 'unknown'}"
