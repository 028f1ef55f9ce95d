"""The route template a request will reach (``/api/assets/{symbol}``), known before routing runs.

Rate limits count per route and metrics label by route; both need the template, never the raw
path, so a caller cannot mint a counter per symbol or per made-up URL. Middleware runs before the
router has matched, so the match is made here the way the router will make it: the first route
that fully matches (path and method), else the first that matches the path only (the router's 405).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi.routing import iter_route_contexts
from starlette.routing import Mount, compile_path

__all__ = ["UNMATCHED", "route_template"]

UNMATCHED = "<unmatched>"
"""Every path no route knows (the 404s): one label, one counter, whatever the path."""

_CACHE_SIZE = 4096
_Entry = tuple[re.Pattern[str], frozenset[str] | None, str]
_tables: dict[int, tuple[Sequence[Any], int, list[_Entry]]] = {}
_cache: dict[tuple[int, str, str], str] = {}


def route_template(scope: Mapping[str, Any]) -> str:
    """The template of the route ``scope`` (an HTTP request on a Starlette app) will reach, or ``UNMATCHED``."""
    app = scope.get("app")
    if app is None or not hasattr(app, "routes"):
        return UNMATCHED
    method, path = scope.get("method", ""), scope.get("path", "")
    key = (id(app), method, path)
    found = _cache.get(key)
    if found is not None:
        return found
    partial: str | None = None
    for regex, methods, template in _table(app):
        if regex.match(path):
            if methods is None or method in methods:
                found = template
                break
            partial = partial or template
    found = found or partial or UNMATCHED
    if len(_cache) >= _CACHE_SIZE:  # raw paths are unbounded: keep the cache small, not clever
        _cache.clear()
    _cache[key] = found
    return found


def _table(app: Any) -> list[_Entry]:
    """The app's HTTP routes flattened (FastAPI includes routers lazily), compiled once per app."""
    routes = app.routes
    known = _tables.get(id(app))
    if known is not None and known[0] is routes and known[1] == len(routes):
        return known[2]
    entries: list[_Entry] = []
    for context in iter_route_contexts(routes):
        template = context.path_format or context.path
        if not template:
            continue
        if isinstance(context.original_route, Mount):  # its files: one template, the mount's own
            template = context.path or template
            regex = re.compile("^" + re.escape(template.rstrip("/")) + "(/.*)?$")
            entries.append((regex, None, template))
            continue
        methods = context.methods
        if methods is None:  # a WebSocket route: not an HTTP request's
            continue
        regex, _, _ = compile_path(template)
        entries.append((regex, frozenset(methods) | ({"HEAD"} if "GET" in methods else set()), template))
    _tables[id(app)] = (routes, len(routes), entries)
    return entries
