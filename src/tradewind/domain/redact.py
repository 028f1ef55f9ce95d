"""Masking secrets out of text: what logs, errors, health pages and exports may show.

``Redactor`` knows the secret values themselves (API keys, the JWT secret, the service token,
broker keys, passwords in URLs) and replaces each occurrence with as many ``*`` as it has
characters: the length stays the same, so a masked HTTP body keeps its ``content-length`` and
a body streamed in chunks can be masked chunk by chunk. ``mask_url`` hides a URL's password.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["MIN_SECRET_CHARS", "Redactor", "mask_url", "url_password"]

MIN_SECRET_CHARS = 4
"""Shorter values are not masked: masking every "a" or "1" in a page would wreck it and hide nothing."""

_USERINFO = re.compile(r"^([a-zA-Z][\w+.-]*://[^:/@\s]*):([^@/\s]+)@")


def url_password(url: str | None) -> str | None:
    """The password in ``scheme://user:password@host/...``, if any."""
    found = _USERINFO.match(url or "")
    return found.group(2) if found else None


def mask_url(url: str) -> str:
    """The URL with its password (if any) shown as ``***``."""
    return _USERINFO.sub(r"\1:***@", url)


class Redactor:
    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        values = {s for s in secrets if s and len(s) >= MIN_SECRET_CHARS}
        self._text = sorted(values, key=len, reverse=True)  # a longer secret first: it may hold a shorter one
        self._bytes = [(s.encode(), b"*" * len(s.encode())) for s in self._text]

    def __bool__(self) -> bool:
        return bool(self._text)

    def text(self, value: str) -> str:
        for secret in self._text:
            if secret in value:
                value = value.replace(secret, "*" * len(secret))
        return value

    def data(self, value: bytes) -> bytes:
        for secret, stars in self._bytes:
            if secret in value:
                value = value.replace(secret, stars)
        return value
