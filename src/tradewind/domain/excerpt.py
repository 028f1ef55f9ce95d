"""``excerpt``: how an error quotes what it was given, at most a few dozen characters of it.

Errors quote the bad value so the caller can find it, but an error that echoes its input whole
turns one hostile 50 MB request into a 50 MB answer (and a 50 MB log line). Every message that
quotes input goes through here.
"""

from __future__ import annotations

__all__ = ["EXCERPT_CHARS", "excerpt"]

EXCERPT_CHARS = 40


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """``repr(value)`` cut to about ``limit`` characters, saying how long the whole was when cut."""
    if isinstance(value, (str, bytes, bytearray)):
        if len(value) <= limit:
            return repr(value)
        unit = "characters" if isinstance(value, str) else "bytes"
        return f"{value[:limit]!r}... ({len(value)} {unit})"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        # repr of an int past ~4300 digits raises ValueError; say its size instead
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    try:
        text = repr(value)
    except Exception:  # a repr that fails must not turn a 4xx into a 500
        return f"<{type(value).__name__}>"
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
