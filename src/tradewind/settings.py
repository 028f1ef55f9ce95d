"""Typed settings from ``TRADEWIND_*`` environment variables and an optional ``.env`` file.

Only ``bootstrap.py`` and ``cli.py`` read them; everything below receives plain arguments.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tradewind.domain import Timeframe, normalize_symbol, parse_timeframe
from tradewind.domain.excerpt import excerpt

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
    analysis_interval_minutes: float = Field(
        default=5.0, ge=0, le=24 * 60, description="the seed's periodic analysis of every tracked symbol; 0 = off"
    )
    analysis_symbol_delay_seconds: float = Field(
        default=0.0, ge=0, le=3600, description="pause between symbols in a periodic run (the seed: 10 s for an LLM)"
    )
    ws_queue_size: int = Field(
        default=100, ge=1, le=100_000, description="messages a WebSocket client may fall behind before it is cut off"
    )
    ws_send_timeout_seconds: float = Field(
        default=3.0, gt=0, le=300,
        description="how long a message may wait to be written to a WebSocket client before it is cut off (1008)",
    )
    ws_max_message_bytes: int = Field(
        default=64 * 1024, ge=1024, le=16 * 1024 * 1024, description="largest WebSocket message a client may send"
    )
    max_body_bytes: int = Field(
        default=8 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024,
        description="largest request body accepted; larger ones get 413 before they are read",
    )

    analyst: Literal["rules", "llm"] = "rules"
    llm_base_url: str | None = Field(None, description="OpenAI-compatible server; unset = api.openai.com")
    llm_model: str = "gpt-4o-mini"
    llm_api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    openai_api_key: SecretStr | None = Field(None, validation_alias=AliasChoices("OPENAI_API_KEY", "TRADEWIND_OPENAI_API_KEY"))
    openai_backup_api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=AliasChoices("OPENAI_BACKUP_API_KEYS", "TRADEWIND_OPENAI_BACKUP_API_KEYS")
    )
    llm_timeout: float = Field(default=30.0, gt=0, le=3600, description="seconds per model call; a CPU server may need minutes")
    llm_prompt_budget: int = Field(
        default=2000, ge=0, le=1_000_000,
        description="prompt tokens the analysis is fitted to (compact detail for small contexts); 0 = the full prompt",
    )
    llm_max_tokens: int = Field(default=600, ge=16, le=100_000, description="output cap of every model call")
    llm_max_retries: int = Field(default=2, ge=0, le=10)
    llm_request_delay: float = Field(
        default=0.0, ge=0, le=600, validation_alias=AliasChoices("TRADEWIND_LLM_REQUEST_DELAY", "OPENAI_REQUEST_DELAY"),
        description="the seed's minimum seconds between model requests",
    )
    llm_prices: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description='USD per 1M input/output tokens, JSON: {"my-model": [0.2, 0.8]}'
    )
    llm_offline: bool = Field(default=False, description="answer only from the decision log's cache")

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

    @field_validator("llm_api_keys", "openai_backup_api_keys", mode="before")
    @classmethod
    def _keys(cls, value: object) -> object:
        return _split(value)

    @model_validator(mode="after")
    def _llm_reachable(self) -> Settings:
        if self.analyst == "llm" and self.llm_base_url is None and not self.api_keys():
            raise ValueError(
                "TRADEWIND_ANALYST=llm needs OPENAI_API_KEY (for OpenAI) or TRADEWIND_LLM_BASE_URL (a local server)"
            )
        return self

    def api_keys(self) -> list[str]:
        """The key pool in order: the seed's primary and backups, then TRADEWIND_LLM_API_KEYS."""
        primary = [self.openai_api_key.get_secret_value()] if self.openai_api_key else []
        return list(dict.fromkeys(k for k in primary + self.openai_backup_api_keys + self.llm_api_keys if k))

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
    message = str(first["msg"]).removeprefix("Value error, ")
    if not first["loc"]:
        return f"invalid settings: {message}"
    name = "TRADEWIND_" + str(first["loc"][0]).upper()
    got = first.get("input")
    shown = f" (got {excerpt(got)})" if got is not None and not isinstance(got, (dict, list)) else ""
    return f"invalid setting {name}: {message}{shown}"


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
