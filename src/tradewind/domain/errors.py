"""The error tree every layer raises; the API maps it to status codes and error bodies.

    TradewindError
    ├── ValidationError            bad input; carries the offending ``field`` (HTTP 400/422)
    │   ├── InvalidTimeframe       unknown timeframe name
    │   ├── InvalidSymbol          empty or malformed symbol
    │   └── InvalidCandle          a candle that breaks OHLCV rules (``row`` says which)
    ├── NotFound                   something asked for does not exist (HTTP 404); may name the ``field``
    │   └── SymbolNotFound         the streamer does not track this symbol
    ├── Forbidden                  a credential is missing or wrong (HTTP 403)
    ├── Unavailable                a component is not ready (HTTP 503)
    │   ├── StreamerNotInitialized
    │   ├── StreamerNotRunning
    │   └── StorageUnavailable     the database cannot be reached, opened or written
    ├── FeedError                  a market-data feed failed (network, protocol, bad payload)
    ├── OrderRejected              a broker refused an order; ``reason`` says why (recorded, not raised to users)
    └── LLMError                   a language-model call failed; ``kind`` says how
        └── LLMRateLimited         every configured key is rate limited (``retry_at``: when one frees)
"""

from __future__ import annotations

__all__ = [
    "FeedError",
    "Forbidden",
    "InvalidCandle",
    "InvalidSymbol",
    "InvalidTimeframe",
    "LLMError",
    "LLMRateLimited",
    "NotFound",
    "OrderRejected",
    "StorageUnavailable",
    "StreamerNotInitialized",
    "StreamerNotRunning",
    "SymbolNotFound",
    "TradewindError",
    "Unavailable",
    "ValidationError",
]


class TradewindError(Exception):
    """Base of every error tradewind raises on purpose."""

    code = "INTERNAL_ERROR"


class ValidationError(TradewindError, ValueError):
    """Input that breaks a rule; ``field`` names where."""

    code = "VALIDATION_ERROR"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidTimeframe(ValidationError):
    code = "INVALID_TIMEFRAME"


class InvalidSymbol(ValidationError):
    code = "INVALID_SYMBOL"


class InvalidCandle(ValidationError):
    code = "INVALID_CANDLE"

    def __init__(self, message: str, *, field: str | None = None, row: int | None = None) -> None:
        super().__init__(message, field=field)
        self.row = row


class NotFound(TradewindError, LookupError):
    """``field`` names the input that pointed at nothing, when one did."""

    code = "NOT_FOUND"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class SymbolNotFound(NotFound):
    code = "SYMBOL_NOT_FOUND"

    def __init__(self, message: str, *, field: str | None = "symbol") -> None:
        super().__init__(message, field=field)


class Forbidden(TradewindError):
    code = "FORBIDDEN"


class Unavailable(TradewindError):
    code = "UNAVAILABLE"


class StreamerNotInitialized(Unavailable):
    code = "STREAMER_NOT_INITIALIZED"


class StreamerNotRunning(Unavailable):
    code = "STREAMER_NOT_RUNNING"


class StorageUnavailable(Unavailable):
    """The database is unreachable, refuses us, or its SQLite file cannot be created or written."""

    code = "STORAGE_UNAVAILABLE"


class FeedError(TradewindError):
    code = "FEED_ERROR"


class OrderRejected(TradewindError):
    code = "ORDER_REJECTED"

    def __init__(self, message: str, *, reason: str = "rejected") -> None:
        super().__init__(message)
        self.reason = reason


class LLMError(TradewindError):
    """``kind``: timeout, server_error, bad_response, bad_request, auth, unreachable, rate_limited,
    not_configured."""

    code = "LLM_ERROR"

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class LLMRateLimited(LLMError):
    code = "LLM_RATE_LIMITED"

    def __init__(self, message: str = "All API keys exhausted or rate limited", *, retry_at: float | None = None) -> None:
        super().__init__(message, kind="rate_limited")
        self.retry_at = retry_at
