"""Typed settings from ``TRADEWIND_*`` environment variables and an optional ``.env`` file.

The environment is flat (``TRADEWIND_LLM_MODEL``, ``TRADEWIND_TRADING_CASH``: the names users set
and the README documents); each component reads its own typed, frozen part of it
(``settings.llm``, ``settings.trading``, ``settings.broker``), never the whole. Every key is a
``SecretStr``, so no repr, log or error shows it. Only ``bootstrap.py`` and ``cli.py`` read
settings; everything below receives plain arguments.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tradewind.domain import Timeframe, normalize_symbol, parse_timeframe
from tradewind.domain.excerpt import excerpt
from tradewind.domain.redact import mask_url, url_password

__all__ = [
    "DEFAULT_SYMBOLS",
    "AuthSettings",
    "LIVE_CONFIRMATION",
    "BrokerSettings",
    "LLMSettings",
    "Settings",
    "TradingSettings",
    "describe_settings_error",
    "load_settings",
    "weak_secret",
]

LIVE_CONFIRMATION = "I accept real-money risk"
"""What ``TRADEWIND_LIVE_TRADING_CONFIRM`` must say, besides ``TRADEWIND_LIVE_TRADING=true``."""

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
    redis_url: str | None = Field(
        default=None, max_length=500,
        description="redis://host:port/db: the bus, rate-limit counters and leases shared by several workers; "
                    "unset = all in this process",
    )
    # scale-out: several workers on one PostgreSQL and one Redis (the bus across workers and the
    # leases that run each timed job on one worker); used whenever TRADEWIND_REDIS_URL is set
    redis_prefix: str = Field(
        default="tradewind:", pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
        description="prefix of the Redis keys and the pub/sub channel: one per deployment sharing a Redis server",
    )
    lease_ttl_seconds: float = Field(
        default=10.0, ge=1, le=600,
        description="a dead worker's periodic analysis and trading move to another within this (keep it under "
                    "TRADEWIND_ANALYSIS_INTERVAL_MINUTES and the assets' intervals)",
    )
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
    alpaca_api_key: SecretStr | None = None
    alpaca_secret_key: SecretStr | None = None
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
    admin_token: SecretStr | None = Field(
        None, description="the dashboard's admin token: an alias of TRADEWIND_SERVICE_TOKEN (either grants admin)")
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

    max_file_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1024, le=512 * 1024 * 1024,
        description="largest file /v1/files accepts (it must also fit in max_body_bytes with the form around it)",
    )

    # Crash safety and overload: how much the server takes on at once, how long a request may wait
    # for its answer to begin, how long a stop (SIGTERM) drains, and how many backtests it keeps.
    max_connections: int | None = Field(
        default=512, ge=1, le=100_000,
        description="requests served at once; beyond it a 503 at once, in the path's error shape "
                    "(uvicorn caps connections, idle and WebSockets included, at twice this plus 64); unset = no cap",
    )
    request_timeout_seconds: float = Field(  # above an LLM analysis with its retries (30 s x 3 by default)
        default=120.0, ge=0, le=3600,
        description="a request whose answer has not begun after this gets 503 (streams, once begun, are not cut); 0 = off",
    )
    shutdown_timeout_seconds: float = Field(
        default=10.0, gt=0, le=600,
        description="on SIGTERM, how long requests in flight may take to finish before they are cut",
    )
    backtests_keep: int = Field(default=20, ge=1, le=10_000, description="finished API backtests kept (the newest)")

    analyst: Literal["rules", "llm"] = "rules"
    llm_base_url: str | None = Field(None, description="OpenAI-compatible server; unset = api.openai.com")
    llm_model: str = "gpt-4o-mini"
    llm_api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    openai_api_key: SecretStr | None = Field(None, validation_alias=AliasChoices("OPENAI_API_KEY", "TRADEWIND_OPENAI_API_KEY"))
    openai_backup_api_keys: Annotated[list[SecretStr], NoDecode] = Field(
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

    trading: bool = Field(default=True, description="run the trading engine (paper by default) in serve")
    trading_assets: Annotated[list[dict[str, Any]], NoDecode] = Field(
        default_factory=list,
        description='assets traded, JSON: [{"symbol": "BTCUSDT", "strategy": "sma-cross", "params": {"fast": 10}}]; '
                    "empty = every tracked symbol with the defaults below",
    )
    trading_strategy_paths: Annotated[list[Annotated[str, Field(max_length=200)]], NoDecode] = Field(
        default_factory=list, max_length=100,
        description="module:Class strategies the API may choose besides the built-ins (the assets' own are allowed)",
    )
    trading_timeframe: Timeframe = Timeframe.M15
    trading_interval_minutes: int = Field(default=15, ge=1, le=60)
    trading_strategy: str = "signal-follower"
    trading_analyst: Literal["rules", "llm"] = Field(default="rules", description="the default assets' analyst")
    trading_risk: str = "moderate"
    trading_cash: float = Field(default=10_000.0, gt=0, le=1e12)
    trading_fee: float = Field(default=0.001, ge=0, lt=0.5, description="fee per fill, a fraction of its value")
    trading_slippage: float = Field(default=0.0005, ge=0, lt=0.5, description="fill price moved against the trader")
    trading_reflect_every: int = Field(default=5, ge=0, le=1000, description="closed trades between reflections; 0 = never")
    broker: Literal["paper", "alpaca"] = "paper"
    alpaca_paper: bool = Field(default=True, description="Alpaca's paper endpoint; false trades real money")
    alpaca_trading_url: str | None = Field(None, description="another trading REST root (a proxy or a test server)")
    live_trading: bool = Field(default=False, description="allow a non-paper broker endpoint (real money)")
    live_trading_confirm: str | None = Field(None, description=f'must be "{LIVE_CONFIRMATION}" as well')

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    streamer_api_url: str = "http://127.0.0.1:8000"
    streamer_api_timeout: float = Field(default=1.0, gt=0)
    close_grace_seconds: float = Field(default=2.0, ge=0, le=60)

    # --- logs (api/log_format.py): how `serve` writes them; every line of a request carries its id ---
    log_format: Literal["text", "json"] = Field(default="text", description="json = one JSON object per line")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # --- rate limits (api/rate_limits.py): the seed's per-client table, shared through redis_url ---
    rate_limit_enabled: bool = Field(default=True, description="false = no request is counted or refused")
    rate_limits: dict[str, str | None] = Field(
        default_factory=dict,
        description='per route template or prefix*, laid over the seed\'s table, JSON: '
                    '{"/ai/analyze": "20/minute", "/v1/*": "120/minute", "/health": null}; null = not limited',
    )
    rate_limit_default: str | None = Field(default="60/minute", max_length=40,
                                           description="every other route; empty = not limited")
    rate_limit_scopes: dict[str, float | None] = Field(
        default_factory=dict,
        description='multiplier of every limit per key scope, the caller\'s highest counts, JSON: '
                    '{"trade": 2, "admin": null}; null = not limited',
    )
    rate_limit_namespace: str = Field(default="tradewind", min_length=1, max_length=64, pattern=r"^[\w.:-]+$",
                                      description="prefix of the counters' Redis keys (deployments sharing a Redis)")

    @field_validator("rate_limits")
    @classmethod
    def _rate_limits(cls, value: dict[str, str | None]) -> dict[str, str | None]:
        if len(value) > 200:
            raise ValueError("at most 200 routes")
        for route, rate in value.items():
            if not route.startswith("/") or len(route) > 200:
                raise ValueError(f"{excerpt(route)} is not a route template like /ai/analyze or a prefix like /v1/*")
            if rate:
                _check_rate(rate, route)
        return value

    @field_validator("rate_limit_default")
    @classmethod
    def _rate_default(cls, value: str | None) -> str | None:
        if value:
            _check_rate(value, "default", quote=False)  # the error's own line quotes it
        return value or None

    @field_validator("rate_limit_scopes")
    @classmethod
    def _rate_scopes(cls, value: dict[str, float | None]) -> dict[str, float | None]:
        for scope, factor in value.items():
            if scope not in ("read", "trade", "admin"):
                raise ValueError(f"unknown scope {excerpt(scope)}: use read, trade or admin")
            if factor is not None and not 0 < factor <= 1000:
                raise ValueError(f"the multiplier of {scope} must be above 0 and at most 1000 (null = not limited)")
        return value

    @field_validator("trading_strategy_paths", mode="before")
    @classmethod
    def _paths(cls, value: object) -> object:
        return _split(value)

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
        if "llm" in (self.analyst, self.trading_analyst) and self.llm_base_url is None and not self.api_keys():
            raise ValueError(
                "TRADEWIND_ANALYST=llm (or TRADEWIND_TRADING_ANALYST=llm) needs OPENAI_API_KEY (for OpenAI) or TRADEWIND_LLM_BASE_URL (a local server)"
            )
        return self

    def api_keys(self) -> list[str]:
        """The key pool in order: the seed's primary and backups, then TRADEWIND_LLM_API_KEYS."""
        keys = ([self.openai_api_key] if self.openai_api_key else []) + self.openai_backup_api_keys + self.llm_api_keys
        return list(dict.fromkeys(k.get_secret_value() for k in keys if k.get_secret_value()))

    @field_validator("trading_assets", mode="before")
    @classmethod
    def _assets(cls, value: object) -> object:
        if isinstance(value, str):
            if not value.strip():
                return []
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise ValueError(f"must be a JSON list of asset objects ({exc.msg})") from None
        if isinstance(value, list) and not all(isinstance(item, dict) for item in value):
            raise ValueError('must be a JSON list of objects like {"symbol": "BTCUSDT"}')
        return value

    @model_validator(mode="after")
    def _live_money(self) -> Settings:
        if self.broker == "alpaca" and not self.alpaca_paper and not (
            self.live_trading and self.live_trading_confirm == LIVE_CONFIRMATION
        ):
            raise ValueError(
                "TRADEWIND_ALPACA_PAPER=false trades real money: it also needs TRADEWIND_LIVE_TRADING=true and "
                f'TRADEWIND_LIVE_TRADING_CONFIRM="{LIVE_CONFIRMATION}"'
            )
        return self

    # --- authentication and authorisation (api/auth.py, api/access.py) ---------------------------
    env: Literal["development", "production"] = Field(
        default="development", description="production refuses weak secrets and auth off")
    auth: bool = Field(default=True, description="check credentials against the scope table; off only in development")
    public_reads: bool = Field(default=True, description="the seed's default: reads need no credential")
    jwt_secret: SecretStr | None = Field(None, description="HS256 secret of bearer JWTs; unset = no JWT accepted")
    jwt_audience: str | None = Field(None, max_length=200, description="required `aud` of JWTs, when set")
    service_token: SecretStr | None = Field(
        None, description="the seed's internal service token: Bearer <it> is principal `service` with admin")
    bootstrap_admin_key: bool = Field(
        default=True, description="on a start with no API key stored, create an admin key and print it once")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="origins allowed cross-origin (comma-separated); empty = none")

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        return _split(value)

    @model_validator(mode="after")
    def _production_secrets(self) -> Settings:
        if self.env != "production":
            return self
        if not self.auth:
            raise ValueError("TRADEWIND_AUTH=false is refused when TRADEWIND_ENV=production")
        for name in ("jwt_secret", "service_token", "admin_token"):
            secret = getattr(self, name)
            if secret is not None and (problem := weak_secret(secret.get_secret_value())):
                raise ValueError(f"TRADEWIND_{name.upper()} {problem} (TRADEWIND_ENV=production)")
        if "*" in self.cors_origins:
            raise ValueError("TRADEWIND_CORS_ORIGINS=* is refused when TRADEWIND_ENV=production: list the origins")
        return self

    def secret_values(self) -> list[str]:
        """Every secret these settings hold, for masking (``domain.redact``): keys, tokens, and the
        passwords inside the database and Redis URLs."""
        held = [self.jwt_secret, self.service_token, self.admin_token, self.alpaca_api_key, self.alpaca_secret_key]
        values = [s.get_secret_value() for s in held if s is not None] + self.api_keys()
        urls = (self.database_url, self.redis_url, self.llm_base_url, self.ccxt_base_url, self.alpaca_data_url,
                self.alpaca_trading_url)
        values += [p for p in map(url_password, urls) if p]
        return values

    def service_secret(self) -> str | None:
        """The internal service token: TRADEWIND_SERVICE_TOKEN, else the older TRADEWIND_ADMIN_TOKEN."""
        chosen = self.service_token or self.admin_token
        return chosen.get_secret_value() if chosen and chosen.get_secret_value() else None

    @property
    def auth_settings(self) -> AuthSettings:
        return AuthSettings(
            enabled=self.auth, public_reads=self.public_reads, jwt_secret=self.jwt_secret,
            jwt_audience=self.jwt_audience, service_token=SecretStr(s) if (s := self.service_secret()) else None,
        )

    # --- each component's part -------------------------------------------------------------------
    @property
    def llm(self) -> LLMSettings:
        return LLMSettings(
            model=self.llm_model, base_url=self.llm_base_url, api_keys=tuple(SecretStr(k) for k in self.api_keys()),
            timeout=self.llm_timeout, max_retries=self.llm_max_retries, request_delay=self.llm_request_delay,
            prices=dict(self.llm_prices), offline=self.llm_offline, prompt_budget=self.llm_prompt_budget or None,
            max_tokens=self.llm_max_tokens,
        )

    @property
    def trading_settings(self) -> TradingSettings:
        return TradingSettings(
            enabled=self.trading, assets=tuple(self.trading_assets), timeframe=self.trading_timeframe,
            interval_minutes=self.trading_interval_minutes, strategy=self.trading_strategy,
            analyst=self.trading_analyst, risk=self.trading_risk,
            cash=self.trading_cash, fee=self.trading_fee, slippage=self.trading_slippage,
            reflect_every=self.trading_reflect_every,
        )

    @property
    def broker_settings(self) -> BrokerSettings:
        return BrokerSettings(
            name=self.broker, alpaca_api_key=self.alpaca_api_key, alpaca_secret_key=self.alpaca_secret_key,
            alpaca_paper=self.alpaca_paper, alpaca_trading_url=self.alpaca_trading_url,
            live_confirmed=self.live_trading and self.live_trading_confirm == LIVE_CONFIRMATION,
        )


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


MIN_SECRET_CHARS = 32
WEAK_SECRETS = frozenset({"changethis", "changeme", "secret", "password", "admin", "token", "test", "s3cret"})


def weak_secret(value: str) -> str | None:
    """Why ``value`` is too weak a secret for production, or None when it will do."""
    if value.strip().lower() in WEAK_SECRETS or "changethis" in value.lower():
        return "is a default or well-known value"
    if len(value) < MIN_SECRET_CHARS:
        return f"is shorter than {MIN_SECRET_CHARS} characters"
    if len(set(value)) < 8:
        return "repeats too few characters"
    return None


@dataclass(frozen=True)
class AuthSettings:
    enabled: bool
    public_reads: bool
    jwt_secret: SecretStr | None
    jwt_audience: str | None
    service_token: SecretStr | None


@dataclass(frozen=True)
class LLMSettings:
    model: str
    base_url: str | None
    api_keys: tuple[SecretStr, ...]
    timeout: float
    max_retries: int
    request_delay: float
    prices: dict[str, tuple[float, float]]
    offline: bool
    prompt_budget: int | None
    max_tokens: int


@dataclass(frozen=True)
class TradingSettings:
    enabled: bool
    assets: tuple[dict[str, Any], ...]
    timeframe: Timeframe
    interval_minutes: int
    strategy: str
    analyst: str
    risk: str
    cash: float
    fee: float
    slippage: float
    reflect_every: int


@dataclass(frozen=True)
class BrokerSettings:
    name: Literal["paper", "alpaca"]
    alpaca_api_key: SecretStr | None
    alpaca_secret_key: SecretStr | None
    alpaca_paper: bool
    alpaca_trading_url: str | None
    live_confirmed: bool


def _check_rate(rate: str, route: str, *, quote: bool = True) -> None:
    from limits import parse  # the rate grammar the limiter itself reads

    try:
        parse(rate)
    except ValueError:
        got = f" (got {excerpt(rate)})" if quote else ""
        raise ValueError(f'the rate of {excerpt(route)} must read like "10/minute" or "2/second"{got}') from None


def describe_settings_error(error: ValidationError) -> str:
    """One line naming the first bad setting as its environment variable."""
    first = error.errors()[0]
    message = str(first["msg"]).removeprefix("Value error, ")
    if not first["loc"]:
        return f"invalid settings: {message}"
    name = "TRADEWIND_" + str(first["loc"][0]).upper()
    got = first.get("input")
    if isinstance(got, str) and name.endswith("_URL"):
        got = mask_url(got)
    shown = f" (got {excerpt(got)})" if got is not None and not isinstance(got, (dict, list)) else ""
    return f"invalid setting {name}: {message}{shown}"


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
