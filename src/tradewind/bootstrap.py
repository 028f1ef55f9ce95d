"""Composition root: the one place that reads settings and picks the concrete pieces.

Everything else receives what it needs as arguments, so tests and backtests can wire the same
code with a simulated clock, another feed or another database.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.engine import Engine

from tradewind.adapters.api_keys import ApiKeys, first_key_notice
from tradewind.adapters.broadcast import BroadcastHub
from tradewind.adapters.openai_client import OpenAIChatClient
from tradewind.adapters.pdf_text import pdf_text
from tradewind.adapters.scale_out import ScaleOut
from tradewind.analysts.base import Analyst
from tradewind.assistants.builtin_model import BuiltinModel
from tradewind.assistants.chat import ChatModel, ChatService
from tradewind.assistants.files import FileService
from tradewind.assistants.objects import AssistantObjects
from tradewind.assistants.runs import RunService
from tradewind.assistants.tools import trading_tools
from tradewind.assistants.upstream_model import UpstreamModel
from tradewind.assistants.vector_stores import VectorStores
from tradewind.analysts.llm import LLMAnalyst
from tradewind.analysts.llm_port import ChatClient, OfflineChatClient
from tradewind.analysts.pricing import DEFAULT_PRICES
from tradewind.analysts.rules import RulesAnalyst
from tradewind.analysts.spend import SpendLimit
from tradewind.domain import normalize_symbol, parse_timeframe
from tradewind.domain.clock import Clock, SimClock, SystemClock
from tradewind.domain.errors import ValidationError
from tradewind.domain.excerpt import excerpt
from tradewind.domain.redact import Redactor
from tradewind.domain.ports import Broker, CandleFeed, EventBus
from tradewind.domain.timeframe import Timeframe
from tradewind.market.recorder import CandleRecorder
from tradewind.market.runtime import StreamerRuntime
from tradewind.market.service import StreamerService
from tradewind.market.streamer import MultiTimeframeStreamer
from tradewind.settings import Settings
from tradewind.signals.outcomes import DEFAULT_HORIZONS
from tradewind.signals.periodic import PeriodicAnalysis
from tradewind.signals.queries import SignalQueries
from tradewind.signals.scoring import OutcomeScorer
from tradewind.signals.service import SignalService
from tradewind.storage.api_keys import SqlApiKeyStore
from tradewind.storage.assistants import SqlObjectStore
from tradewind.storage.backtests import SqlBacktestStore
from tradewind.storage.files import SqlFileStore
from tradewind.storage.candles import SqlCandleStore
from tradewind.storage.db import create_engine_for
from tradewind.storage.decisions import SqlDecisionLog
from tradewind.storage.migrate import upgrade_database
from tradewind.storage.signals import SqlSignalStore
from tradewind.storage.trading import SqlTradingStore
from tradewind.trading.assets import check_asset
from tradewind.trading.engine import TradingEngine
from tradewind.trading.holdings import HoldingsAnalysis
from tradewind.trading.jobs import MAX_CANDLES, BacktestJobs
from tradewind.trading.kernel import Kernel, KernelConfig, Stores, build_kernel
from tradewind.trading.paper import PaperBroker
from tradewind.trading.records import AssetConfig
from tradewind.trading.reflections import ModelReflector, Reflector
from tradewind.trading.risk import risk_profile
from tradewind.trading.service import TradingService

__all__ = ["Container", "build_assets", "build_broker", "build_container", "build_feed", "build_llm_analyst",
           "build_scale_out"]

T = TypeVar("T")

log = logging.getLogger(__name__)


@dataclass
class Container:
    """The wired application: the kernel plus what only a server has (the database, the decision
    log, the WebSocket hub, the API's backtests). Routes, CLI commands and background tasks use it;
    each piece is typed by its port where one exists."""

    settings: Settings
    database: Engine
    kernel: Kernel
    candles: SqlCandleStore
    decisions: SqlDecisionLog  # the AI decision log
    hub: BroadcastHub  # WebSocket fan-out (/ws)
    llm_client: ChatClient | None  # None unless an LLM analyst is configured
    trading: TradingService | None  # None when trading is off (TRADEWIND_TRADING=false)
    backtests: BacktestJobs
    chat: ChatService  # /v1 chat completions and models, with the trading tools
    assistants: AssistantObjects  # /v1 assistants, threads and messages
    runs: RunService  # /v1 runs, executed in the background
    files: FileService  # /v1 files, searched by file_search
    vector_stores: VectorStores  # /v1 vector stores: the files an assistant or a thread searches
    wall_clock: Clock = field(default_factory=SystemClock)
    scale: ScaleOut = field(default_factory=ScaleOut.single)  # this worker, the bus and leases it shares
    api_keys: ApiKeys | None = None  # the hashed API keys authentication checks (api/auth.py)

    # the kernel's parts, by the names routes and tests use
    @property
    def clock(self) -> Clock:
        return self.kernel.clock

    @property
    def bus(self) -> EventBus:
        return self.kernel.bus

    @property
    def feed(self) -> CandleFeed:
        return self.kernel.feed

    @property
    def broker(self) -> Broker:
        return self.kernel.broker

    @property
    def streamer(self) -> MultiTimeframeStreamer:
        return self.kernel.streamer

    @property
    def runtime(self) -> StreamerRuntime:
        return self.kernel.runtime

    @property
    def recorder(self) -> CandleRecorder:
        assert self.kernel.recorder is not None  # a server always records
        return self.kernel.recorder

    @property
    def streamer_service(self) -> StreamerService:
        return self.kernel.streamer_service

    @property
    def signals(self) -> SignalService:
        return self.kernel.signals

    @property
    def queries(self) -> SignalQueries:
        return self.kernel.queries

    @property
    def scorer(self) -> OutcomeScorer:
        return self.kernel.scorer

    @property
    def scheduler(self) -> PeriodicAnalysis | None:
        return self.kernel.periodic

    @property
    def engine(self) -> TradingEngine | None:
        return self.kernel.engine

    @property
    def store(self) -> SqlCandleStore:
        return self.candles

    async def start(self) -> None:
        self.hub.bind(asyncio.get_running_loop())
        self._first_admin_key()
        await asyncio.to_thread(self.scale.start)
        await self.kernel.start()
        # runs and backtests a crash or a stop cut short end now, with the reason; with several
        # workers, also those of a worker that dies later (whoever holds the recovery lease sweeps)
        await self.scale.keep_alive(self._settle_runs, self._settle_backtests)
        if self.scale.book is not None and self.trading is not None:  # overrides other workers send the holder
            trading_lease = self.kernel.trading_lease
            self.scale.book.serve(self.trading.run_forwarded, lambda: trading_lease.held, asyncio.get_running_loop())

    async def _settle_runs(self) -> int:
        settled = await self.runs.recover()
        if settled:
            log.warning("%d assistant runs were cut short by a stopped worker: marked failed or cancelled", settled)
        return settled

    async def _settle_backtests(self) -> int:
        settled = await self.backtests.recover()
        if settled:
            log.warning("%d backtests were cut short by a stopped worker: marked failed", settled)
        return settled

    def _first_admin_key(self) -> None:
        """On a first start with authentication on and no key stored, an admin key, printed once
        to stderr (not to the log, which may be shipped elsewhere); only its hash is kept."""
        if not (self.settings.auth and self.settings.bootstrap_admin_key) or self.api_keys is None:
            return
        key = self.api_keys.ensure_first()
        if key is not None:
            sys.stderr.write(first_key_notice(key))
            sys.stderr.flush()

    async def stop(self) -> None:
        await self.scale.stop_keeping_alive()
        await self.backtests.stop()  # minutes of work cannot finish in a drain: cut now, ended failed
        await self.runs.stop(timeout=min(5.0, self.settings.shutdown_timeout_seconds))  # then cut, failed
        await self.scale.release_heartbeat()  # our work has ended: only now may others call us gone
        await self.kernel.stop()
        await asyncio.to_thread(self.scale.close)
        close = getattr(self.kernel.broker, "close", None)
        if callable(close):
            close()
        self.database.dispose()


def build_feed(settings: Settings, clock: Clock) -> CandleFeed:
    """The feed named by ``TRADEWIND_FEED``; optional ones are imported only when chosen."""
    if settings.feed == "synthetic":
        from tradewind.market.feeds.synthetic import SyntheticFeed

        return SyntheticFeed(settings.synthetic_seed, tick_interval=settings.synthetic_tick_interval, clock=clock)
    if settings.feed == "replay":
        from tradewind.market.feeds.replay import ReplayFeed

        if settings.replay_path is None:
            raise ValidationError("TRADEWIND_REPLAY_PATH is required when TRADEWIND_FEED=replay", field="replay_path")
        return ReplayFeed(
            settings.replay_path,
            symbol=settings.replay_symbol or settings.symbols[0],
            timeframe=settings.replay_timeframe,
            speed=settings.replay_speed,
            clock=clock if isinstance(clock, SimClock) else None,  # the replay is the simulated clock
        )
    if settings.feed == "ccxt":
        from tradewind.market.feeds.ccxt_feed import CcxtFeed

        return CcxtFeed(
            settings.ccxt_exchange, poll_seconds=settings.ccxt_poll_seconds, base_url=settings.ccxt_base_url, clock=clock
        )
    from tradewind.market.feeds.alpaca_feed import AlpacaFeed

    return AlpacaFeed(
        settings.alpaca_api_key.get_secret_value() if settings.alpaca_api_key else None,
        settings.alpaca_secret_key.get_secret_value() if settings.alpaca_secret_key else None,
        poll_seconds=settings.alpaca_poll_seconds,
        data_url=settings.alpaca_data_url,
        clock=clock,
    )


def _close_grace(settings: Settings, feed: CandleFeed) -> float | None:
    """Candles close by the clock only where the feed's time is the wall clock's, after the grace
    and, for a polling feed, two polls (the last one may bring the candle's final trades)."""
    caps = feed.capabilities
    if not caps.wall_clock:
        return None
    return settings.close_grace_seconds + 2 * (caps.poll_seconds or 0.0)


def build_container(settings: Settings, *, clock: Clock | None = None, feed: CandleFeed | None = None,
                    broker: Broker | None = None) -> Container:
    """Wire the server: the kernel on the system clock (on a simulated one that the replay
    advances when the feed is a replay of history), the SQL stores, the analysts, the broker."""
    if clock is None:
        clock = SimClock() if settings.feed == "replay" else SystemClock()
    upgrade_database(settings.database_url)
    database = create_engine_for(settings.database_url)
    candles = SqlCandleStore(database)
    scale = build_scale_out(settings)
    bus = scale.bus
    feed = feed or build_feed(settings, clock)
    secrets = Redactor(settings.secret_values())
    decisions = SqlDecisionLog(database, redact=secrets.text if secrets else None)  # no key in a stored error
    rules = RulesAnalyst()
    trading = settings.trading_settings
    assets = build_assets(settings)
    analysts: dict[str, Analyst] = {"rules": rules}
    reflectors: dict[str, Reflector] = {}
    llm_client: ChatClient | None = None
    if settings.analyst == "llm" or any(asset.analyst == "llm" for asset in assets):
        llm_client, llm = build_llm_analyst(settings, decisions=decisions, rules=rules, clock=SystemClock())
        analysts["llm"] = llm
        reflectors["llm"] = ModelReflector(llm.name, llm.review)
    broker = broker or build_broker(settings, clock)
    caps = feed.capabilities
    # what the API may name: the built-ins, the listed paths and the configured assets' own (trusted)
    paths = (*settings.trading_strategy_paths, *(a.strategy for a in assets if ":" in a.strategy))
    config = KernelConfig(
        symbols=_tracked(settings), timeframes=_timeframes(settings, assets), assets=assets,
        buffer_size=settings.buffer_size, history_seconds=settings.history_hours * 3600,
        close_grace=_close_grace(settings, feed), analysis_timeframes=settings.analysis_timeframes,
        cache_ttl_seconds=settings.analysis_cache_seconds, horizons={**DEFAULT_HORIZONS, **settings.outcome_horizons},
        max_candles=settings.analysis_max_candles, max_price_deviation=settings.analysis_max_price_deviation,
        periodic_minutes=settings.analysis_interval_minutes, symbol_delay_seconds=settings.analysis_symbol_delay_seconds,
        score_every_seconds=_score_every(settings, caps.wall_clock),
        cash=trading.cash,
        # a live candle closes a little after its period: decide once it has (the grace and two polls)
        settle_seconds=(_close_grace(settings, feed) or 0.0) + 1.0 if caps.wall_clock else 0.0,
        portfolio_risk=risk_profile(trading.risk), reflect_every=trading.reflect_every, trade=trading.enabled,
        strategy_paths=paths,
    )
    stores = Stores(signals=SqlSignalStore(database), trading=SqlTradingStore(database, clock=clock), candles=candles)
    kernel = build_kernel(config, clock=clock, feed=feed, broker=broker, stores=stores, bus=bus, analysts=analysts,
                          default_analyst=settings.analyst, market_view=rules, blocking=_in_thread,
                          reflectors=reflectors, leases=scale.lease)
    hub = BroadcastHub(queue_size=settings.ws_queue_size, send_timeout=settings.ws_send_timeout_seconds)
    service = None
    if kernel.engine is not None:
        service = TradingService(kernel.engine, stores.trading,
                                 lambda symbol, tf, limit: kernel.streamer.candles(symbol, tf, limit),
                                 signals=stores.signals, timeframes=kernel.streamer.timeframes,
                                 holds_book=None if scale.redis is None else lambda: kernel.trading_lease.held,
                                 forward=scale.book.forward if scale.book is not None else None)
    backtests = BacktestJobs(
        candles=lambda symbol, tf, start, end: candles.between(symbol, tf, start, end, limit=MAX_CANDLES + 1),
        analysts=lambda: analysts, clock=SystemClock(), strategy_paths=paths, stored=candles.coverage,
        store=SqlBacktestStore(database), keep=settings.backtests_keep, worker=scale.worker, alive=scale.alive,
    )
    upstream = llm_client  # /v1 also offers the configured model, when one is configured at all
    if upstream is None and (settings.llm_base_url is not None or settings.api_keys()):
        upstream = build_llm_client(settings)
    files = FileService(store=SqlFileStore(database), max_bytes=settings.max_file_bytes, read_pdf=pdf_text,
                        wall=time.time)
    chat = _chat(settings, kernel, service, backtests, upstream if isinstance(upstream, OpenAIChatClient) else None,
                 decisions, files)
    store = SqlObjectStore(database)
    vector_stores = VectorStores(store=store, files=files, wall=time.time)
    objects = AssistantObjects(store=store, models=lambda: list(chat.models), tools=chat.tools, files=files,
                               vector_stores=vector_stores, wall=time.time)
    runs = RunService(store=objects.store, objects=objects, models=chat.models, tools=chat.tools, wall=time.time,
                      worker=scale.worker, alive=scale.alive)
    return Container(settings, database, kernel, candles, decisions, hub, llm_client, service, backtests, chat,
                     objects, runs, files, vector_stores, scale=scale,
                     api_keys=ApiKeys(SqlApiKeyStore(database)))


def build_scale_out(settings: Settings) -> ScaleOut:
    """One process by default; with ``TRADEWIND_REDIS_URL`` the bus and the leases over Redis, so
    several workers (``serve --workers N``) share one stream of events and run each timed job once."""
    if settings.redis_url is None:
        return ScaleOut.single()
    return ScaleOut.over_redis(settings.redis_url, prefix=settings.redis_prefix,
                               lease_ttl_seconds=settings.lease_ttl_seconds)


def _chat(settings: Settings, kernel: Kernel, trading: TradingService | None, backtests: BacktestJobs,
          upstream: OpenAIChatClient | None, decisions: SqlDecisionLog, files: FileService) -> ChatService:
    """Chat Completions over the built-in model, with the trading tools on this kernel's services."""
    streamed = kernel.streamer.timeframes
    first = [tf for tf in settings.analysis_timeframes if tf in streamed]  # what the analysts read comes first
    ordered = [*first, *(tf for tf in streamed if tf not in first)]
    holdings = HoldingsAnalysis(
        closes=kernel.streamer_service.closed_series, default_timeframe=ordered[0],
        signal=lambda symbol: kernel.signals.analyze_payload(symbol=symbol, timeframe_data=None, origin="assistant").record)
    tools = trading_tools(streamer=kernel.streamer_service, signals=kernel.analysts, trading=trading,
                          holdings=holdings, backtests=backtests, timeframes=ordered, files=files)
    model = BuiltinModel(symbols=lambda: kernel.streamer.symbols, new_id=lambda: "call_" + uuid.uuid4().hex[:24])
    models: dict[str, ChatModel] = {model.id: model}
    if upstream is not None and upstream.model not in models:
        models[upstream.model] = UpstreamModel(upstream, decisions=decisions)
    return ChatService(models=models, tools=tools)


def _score_every(settings: Settings, wall_clock: bool) -> float:
    """Every minute, or every candle when candles are longer; on a replay every simulated hour (no
    signal resolves sooner than its horizon, and a replay played flat out would mostly be scoring)."""
    shortest = float(min(settings.timeframes, key=lambda tf: tf.seconds).seconds)
    return max(60.0, shortest) if wall_clock else max(3600.0, shortest)


async def _in_thread(work: Callable[[], T]) -> T:
    """Blocking work (an analysis, a model call) off the event loop."""
    return await asyncio.to_thread(work)


def _tracked(settings: Settings) -> list[str]:
    symbols = list(settings.symbols)
    if settings.feed == "replay" and settings.replay_symbol and settings.replay_symbol not in symbols:
        symbols.append(settings.replay_symbol)
    return symbols


def _timeframes(settings: Settings, assets: Sequence[AssetConfig]) -> list[Timeframe]:
    """The streamed timeframes and each asset's; with a replay only those its candles build
    (a timeframe shorter than the file's would never close a candle)."""
    wanted = {*settings.timeframes, *(asset.timeframe for asset in assets)}
    if settings.feed == "replay":
        base = settings.replay_timeframe.seconds
        wanted = {tf for tf in wanted if tf.seconds >= base and tf.seconds % base == 0} | {settings.replay_timeframe}
    return sorted(wanted, key=lambda tf: tf.seconds)


ASSET_KEYS = ("symbol", "timeframe", "interval_minutes", "strategy", "params", "analyst", "risk", "risk_overrides",
              "paused")


def build_assets(settings: Settings) -> list[AssetConfig]:
    """The traded assets: ``TRADEWIND_TRADING_ASSETS`` (each key checked and named), or every
    tracked symbol with the ``TRADEWIND_TRADING_*`` defaults."""
    trading = settings.trading_settings
    if not trading.enabled:
        return []
    defaults = {"timeframe": trading.timeframe, "interval_minutes": trading.interval_minutes,
                "strategy": trading.strategy, "params": {}, "analyst": trading.analyst, "risk": trading.risk,
                "risk_overrides": {}, "paused": False}
    given = trading.assets or tuple({"symbol": symbol} for symbol in _tracked(settings))
    assets: dict[str, AssetConfig] = {}
    analysts = ("rules", "llm") if "llm" in (settings.analyst, trading.analyst) or any(
        a.get("analyst") == "llm" for a in given) else ("rules",)
    for index, raw in enumerate(given):
        where = f"TRADEWIND_TRADING_ASSETS[{index}]"
        unknown = [key for key in raw if key not in ASSET_KEYS]
        if unknown:
            raise ValidationError(f"{where}: unknown key {excerpt(unknown[0])} (use {', '.join(ASSET_KEYS)})",
                                  field="trading_assets")
        if "symbol" not in raw:
            raise ValidationError(f"{where}: symbol is required", field="trading_assets")
        values = {**defaults, **raw}
        try:
            values["symbol"] = normalize_symbol(str(values["symbol"]))
            values["timeframe"] = parse_timeframe(values["timeframe"], field="timeframe")
            for key in ("params", "risk_overrides"):
                if not isinstance(values[key], dict):
                    raise ValidationError(f"{key} must be an object", field=key)
            config = AssetConfig(**values)
            check_asset(config, analysts=analysts)
        except ValidationError as exc:
            raise ValidationError(f"{where}: {exc}", field="trading_assets") from None
        if config.symbol in assets:
            raise ValidationError(f"{where}: {config.symbol} is listed twice", field="trading_assets")
        assets[config.symbol] = config
    return list(assets.values())


def build_broker(settings: Settings, clock: Clock) -> Broker:
    """The paper broker by default; Alpaca's (paper unless live money is confirmed twice)."""
    trading, chosen = settings.trading_settings, settings.broker_settings
    if chosen.name == "paper":
        return PaperBroker(cash=trading.cash, fee_rate=trading.fee, slippage=trading.slippage)
    from tradewind.adapters.alpaca_broker import AlpacaBroker

    if chosen.alpaca_api_key is None or chosen.alpaca_secret_key is None:
        raise ValidationError("TRADEWIND_BROKER=alpaca needs TRADEWIND_ALPACA_API_KEY and TRADEWIND_ALPACA_SECRET_KEY",
                              field="broker")
    return AlpacaBroker(chosen.alpaca_api_key.get_secret_value(), chosen.alpaca_secret_key.get_secret_value(),
                        paper=chosen.alpaca_paper, live_confirmed=chosen.live_confirmed,
                        base_url=chosen.alpaca_trading_url, clock=clock)


def build_llm_client(settings: Settings) -> OpenAIChatClient:
    """The client of the configured OpenAI-compatible server (key pool, pacing, retries)."""
    return OpenAIChatClient(
        settings.llm_model,
        api_keys=settings.api_keys(),
        base_url=settings.llm_base_url,
        timeout=settings.llm_timeout,
        max_retries=settings.llm_max_retries,
        min_interval=settings.llm_request_delay,
    )


def build_llm_analyst(
    settings: Settings, *, decisions: SqlDecisionLog, rules: RulesAnalyst, clock: Clock,
    client: ChatClient | None = None, limit: SpendLimit | None = None,
) -> tuple[ChatClient, LLMAnalyst]:
    """The LLM analyst on the configured OpenAI-compatible server (or on ``client``, e.g. an offline
    one), with the rules as its fallback and the configured prompt budget and output cap."""
    client = client or build_llm_client(settings)
    analyst = LLMAnalyst(
        client, decisions=decisions, rules=rules, prices={**DEFAULT_PRICES, **settings.llm_prices}, clock=clock,
        offline=settings.llm_offline or isinstance(client, OfflineChatClient),
        prompt_budget=settings.llm_prompt_budget or None, max_tokens=settings.llm_max_tokens, limit=limit,
    )
    return client, analyst
