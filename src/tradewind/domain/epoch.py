"""The range of times tradewind accepts: from 1970 to the end of the year 9999 (UTC).

Every timestamp that crosses into storage or serialisation is checked against it first: a
JSON integer may be arbitrarily large, while SQL columns and orjson stop at 64 bits and
``datetime`` at the year 9999, and an overflow there would be a 500 instead of a 400.
"""

from __future__ import annotations

from tradewind.domain.errors import ValidationError
from tradewind.domain.excerpt import excerpt

__all__ = ["MAX_EPOCH_MS", "MAX_EPOCH_SECONDS", "check_epoch_ms"]

MAX_EPOCH_SECONDS = 253_402_300_799
"""9999-12-31T23:59:59Z, the last second ``datetime`` can show."""

MAX_EPOCH_MS = MAX_EPOCH_SECONDS * 1000 + 999


def check_epoch_ms(value: object, *, field: str) -> int:
    """``value`` as epoch milliseconds within 1970..9999, or a ``ValidationError`` naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_EPOCH_MS:
        raise ValidationError(
            f"{field} must be epoch milliseconds from 0 to {MAX_EPOCH_MS} (the year 9999), got {excerpt(value)}",
            field=field,
        )
    return value
