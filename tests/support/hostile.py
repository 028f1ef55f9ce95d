"""Hostile input, generated: a table of hostile JSON values put in place of every field (and every
map key) of a valid body, and a keep-alive client that checks each answer leaves the connection usable.
Shared by the hostile-input tests of the seed routes and of ``/v1``."""

from __future__ import annotations

import http.client
import json
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

@dataclass(frozen=True)
class Hostile:
    name: str
    raw: bytes  # the JSON text put in place of a value
    always_invalid: bool = False  # no field accepts it: the answer must be a 4xx


LONG = 100_000
HOSTILE_VALUES = [
    Hostile("null", b"null"),
    Hostile("true", b"true"),
    Hostile("zero", b"0"),
    Hostile("minus one", b"-1"),
    Hostile("fraction", b"1.5"),
    Hostile("2^63", b"9223372036854775808"),
    Hostile("-2^63-1", b"-9223372036854775809"),
    Hostile("1e20 int", b"100000000000000000000"),
    Hostile("400-digit int", b"1" + b"0" * 400, always_invalid=True),
    Hostile("NaN", b"NaN"),
    Hostile("Infinity", b"Infinity"),
    Hostile("-Infinity", b"-Infinity"),
    Hostile("1e400", b"1e400"),
    Hostile("1e308", b"1e308"),
    Hostile("denormal", b"1e-320"),
    Hostile("empty string", b'""'),
    Hostile("blank", b'"   "'),
    Hostile("colon", b'":"'),
    Hostile("dots", b'"...."'),
    Hostile("rich markup", b'"[/][bold]x"'),
    Hostile("html", b'"<script>alert(1)</script>"'),
    Hostile("path", b'"../../etc/passwd"'),
    Hostile("nul", b'"\\u0000"'),
    Hostile("bidi", '"\u202eTDSUCTB"'.encode()),
    Hostile("lone surrogate", b'"\\ud800"', always_invalid=True),
    Hostile("bad utf-8", b'"\xff\xfe"', always_invalid=True),
    Hostile("over-long string", b'"' + b"A" * LONG + b'"', always_invalid=True),
    Hostile("padded symbol", b'"' + b" " * LONG + b'BTCUSDT"', always_invalid=True),
    Hostile("empty list", b"[]"),
    Hostile("empty object", b"{}"),
    Hostile("object", b'{"a": 1}'),
    Hostile("deep nesting", b"[" * 5000 + b"]" * 5000, always_invalid=True),
    Hostile("long list", b"[" + b"1," * 50_000 + b"1]"),
]


def field_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Every place in a body: each value (``"value"``) and each map key (``"key"``); lists by their first item."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key), "key"
            yield (*path, key), "value"
            yield from field_paths(item, (*path, key))
    elif isinstance(value, list) and value:
        yield (*path, 0), "value"
        yield from field_paths(value[0], (*path, 0))


MARK = "\x00HOSTILE\x00"


def mutate(body: dict[str, Any], path: tuple[Any, ...], kind: str) -> dict[str, Any]:
    """A copy of ``body`` with ``MARK`` at ``path`` (as the value, or as the key's name)."""
    copy = json.loads(json.dumps(body))
    parent = copy
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if kind == "key":
        parent[MARK] = parent.pop(last)
    else:
        parent[last] = MARK
    return copy


def render(body: dict[str, Any], hostile: Hostile, kind: str) -> bytes | None:
    """The body as JSON bytes with the hostile text in place of the mark (keys must be strings)."""
    text = json.dumps(body).encode()
    if kind == "key":
        if not hostile.raw.startswith(b'"'):
            return None
        return text.replace(json.dumps(MARK).encode(), hostile.raw, 1)
    return text.replace(json.dumps(MARK).encode(), hostile.raw, 1)


def hostile_bodies(body: dict[str, Any]) -> Iterator[tuple[tuple[Any, ...], str, Hostile, bytes]]:
    """Every hostile value of the table in every place of ``body``: (path, "value" or "key", value, bytes)."""
    for path, kind in field_paths(body):
        mutated = mutate(body, path, kind)
        for hostile in HOSTILE_VALUES:
            raw = render(mutated, hostile, kind)
            if raw is not None:
                yield path, kind, hostile, raw


class Client:
    """One keep-alive connection; every answer is checked to leave it open and usable."""

    def __init__(self, base: str) -> None:
        parts = urllib.parse.urlsplit(base)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        self.connection.connect()
        self.socket = self.connection.sock

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        self.connection.request(method, path, body=body, headers={"content-type": "application/json",
                                                                  **(headers or {})})
        response = self.connection.getresponse()
        data = response.read()
        assert not response.will_close, f"{method} {path} closed the connection ({response.status})"
        assert self.connection.sock is self.socket, "the server dropped the keep-alive connection"
        return response.status, data

    def close(self) -> None:
        self.connection.close()
