"""Typed settings from ``TRADEWIND_*`` environment variables and an optional ``.env`` file.

Only ``bootstrap.py`` and ``cli.py`` read them; everything below receives plain arguments.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tradewind.domain import Timeframe, normalize_symbol, parse_timeframe

__all__ = ["DEFAULT_SYMBOLS", "Settings", "describe_settings_error", "load_settings"]

DEFAULT_SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "ADAUSDT", "DOTUSDT", "XRPUSDT", "LINKUSDT")

FeedName = Literal["synthetic", "replay", "ccxt", "alpaca"]


def _split(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Everything tradewind can be told; defaults are the embedded, no-network setup."""

    model_config = SettingsConfigDict(env_prefix="TRADEWIND_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./var/tradewind.db"
    symbols: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(DEFAULT_SYMBOLS))
    timeframes: Annotated[list[Timeframe], NoDecode] = Field(default_factory=lambda: list(Timeframe))
    buffer_size: int = Field(default=1000, ge=10, le=100_000)
    history_hours: int = Field(default=520, ge=1, le=24 * 365, description="history backfilled at start")
    feed: FeedName = "synthetic"

    synthetic_seed: int = 7
    synthetic_tick_interval: float = Field(default=0.25, gt=0, le=60)

    replay_path: Path | None = None
    replay_symbol: str | None = None
    replay_timeframe: Timeframe = Timeframe.M1
    replay_speed: float = Field(default=0.0, ge=0, description="0 = as fast as possible, 1 = real time")

    ccxt_exchange: str = "binance"
    ccxt_poll_seconds: float = Field(default=5.0, gt=0)
    ccxt_base_url: str | None = None
    alpaca_api_key: str | None = None
    alpaca_secret_key: str | None = None
    alpaca_data_url: str | None = None
    alpaca_poll_seconds: float = Field(default=5.0, gt=0)

    analysis_timeframes: Annotated[list[Timeframe], NoDecode] = Field(
        default_factory=lambda: [Timeframe.M15, Timeframe.H1, Timeframe.H4]
    )
    analysis_cache_seconds: float = Field(default=300.0, ge=0, description="the seed's 5-minute cache; 0 = off")
    analysis_max_candles: int = Field(default=5000, ge=10, le=100_000)
    analysis_max_price_deviation: float = Field(default=0.2, gt=0, le=10)
    outcome_horizons: dict[Timeframe, int] = Field(
        default_factory=dict, description='scoring horizon in seconds per timeframe, JSON: {"1h": 43200}'
    )
    admin_token: SecretStr | None = None

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    streamer_api_url: str = "http://127.0.0.1:8000"
    streamer_api_timeout: float = Field(default=1.0, gt=0)
    close_grace_seconds: float = Field(default=2.0, ge=0, le=60)

    @field_validator("symbols", mode="before")
    @classmethod
    def _symbols(cls, value: object) -> object:
        items = _split(value)
        if isinstance(items, list):
            if not items:
                raise ValueError("at least one symbol is required")
            return list(dict.fromkeys(normalize_symbol(str(item)) for item in items))
        return items

    @field_validator("timeframes", "analysis_timeframes", mode="before")
    @classmethod
    def _timeframes(cls, value: object) -> object:
        items = _split(value)
        if isinstance(items, list):
            if not items:
                raise ValueError("at least one timeframe is required")
            return sorted(set(parse_timeframe(item) for item in items), key=lambda tf: tf.seconds)
        return items

    @field_validator("outcome_horizons", mode="before")
    @classmethod
    def _horizons(cls, value: object) -> object:
        if isinstance(value, dict):
            out: dict[Timeframe, int] = {}
            for key, seconds in value.items():
                if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds <= 0:
                    raise ValueError(f"horizon for {key} must be a positive number of seconds")
                out[parse_timeframe(key)] = seconds
            return out
        return value

    @field_validator("replay_symbol")
    @classmethod
    def _replay_symbol(cls, value: str | None) -> str | None:
        return normalize_symbol(value) if value else None

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must start with sqlite:// or postgresql://")
        return value


def describe_settings_error(error: ValidationError) -> str:
    """One line naming the first bad setting as its environment variable."""
    first = error.errors()[0]
    name = "TRADEWIND_" + str(first["loc"][0]).upper() if first["loc"] else "settings"
    message = str(first["msg"]).removeprefix("Value error, ")
    got = first.get("input")
    shown = f" (got {got!r})" if got is not None and not isinstance(got, (dict, list)) else ""
    return f"invalid setting {name}: {message}{shown}"


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
