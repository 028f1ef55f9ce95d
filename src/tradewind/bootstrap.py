"""Composition root: the one place that reads settings and picks the concrete pieces.

Everything else receives what it needs as arguments, so tests and backtests can wire the same
code with a simulated clock, another feed or another database.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from tradewind.adapters.broadcast import BroadcastHub
from tradewind.adapters.memory_bus import InProcessBus
from tradewind.adapters.openai_client import OpenAIChatClient
from tradewind.analysts.llm import LLMAnalyst
from tradewind.analysts.llm_port import ChatClient, OfflineChatClient
from tradewind.analysts.pricing import DEFAULT_PRICES
from tradewind.analysts.rules import RulesAnalyst
from tradewind.analysts.spend import SpendLimit
from tradewind.domain.clock import Clock, SystemClock
from tradewind.domain.errors import ValidationError
from tradewind.domain.ports import CandleFeed
from tradewind.market.recorder import CandleRecorder
from tradewind.market.runtime import StreamerRuntime, cancel_tasks
from tradewind.market.service import StreamerService
from tradewind.market.streamer import MultiTimeframeStreamer
from tradewind.settings import Settings
from tradewind.storage.candles import SqlCandleStore
from tradewind.storage.db import create_engine_for
from tradewind.storage.decisions import SqlDecisionLog
from tradewind.storage.migrate import upgrade_database
from tradewind.storage.signals import SqlSignalStore
from tradewind.signals.outcomes import DEFAULT_HORIZONS
from tradewind.signals.periodic import PeriodicAnalysis
from tradewind.signals.queries import SignalQueries
from tradewind.signals.scoring import OutcomeScorer
from tradewind.signals.service import SignalService

__all__ = ["Container", "build_container", "build_feed", "build_llm_analyst"]

log = logging.getLogger(__name__)


@dataclass
class Container:
    """The wired application: what routes, CLI commands and background tasks use."""

    settings: Settings
    engine: Engine
    store: SqlCandleStore
    bus: InProcessBus
    streamer: MultiTimeframeStreamer
    feed: CandleFeed
    runtime: StreamerRuntime
    recorder: CandleRecorder
    streamer_service: StreamerService
    signals: SignalService
    queries: SignalQueries
    scorer: OutcomeScorer
    decisions: SqlDecisionLog  # the AI decision log
    hub: BroadcastHub  # WebSocket fan-out (/ws)
    scheduler: PeriodicAnalysis | None  # the periodic analysis; None when it is off
    llm_client: ChatClient | None  # None unless TRADEWIND_ANALYST=llm
    clock: Clock = field(default_factory=SystemClock)
    outcome_interval: float = 60.0
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        self.hub.bind(asyncio.get_running_loop())
        await self.runtime.start()
        self._tasks.append(asyncio.create_task(self._score_outcomes(), name="outcome-scoring"))
        if self.scheduler is not None:
            self._tasks.append(asyncio.create_task(self.scheduler.run(), name="periodic-analysis"))

    async def stop(self) -> None:
        await cancel_tasks(self._tasks)
        await self.runtime.stop()
        self.engine.dispose()

    async def _score_outcomes(self) -> None:
        """Score stored signals against the candles that followed them, once a minute."""
        while True:
            await asyncio.sleep(self.outcome_interval)
            try:
                await asyncio.to_thread(self.scorer.resolve_open)
            except Exception:
                log.exception("outcome scoring failed")


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
        )
    if settings.feed == "ccxt":
        from tradewind.market.feeds.ccxt_feed import CcxtFeed

        return CcxtFeed(
            settings.ccxt_exchange, poll_seconds=settings.ccxt_poll_seconds, base_url=settings.ccxt_base_url, clock=clock
        )
    from tradewind.market.feeds.alpaca_feed import AlpacaFeed

    return AlpacaFeed(
        settings.alpaca_api_key,
        settings.alpaca_secret_key,
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


def build_container(settings: Settings, *, clock: Clock | None = None, feed: CandleFeed | None = None) -> Container:
    clock = clock or SystemClock()
    upgrade_database(settings.database_url)
    engine = create_engine_for(settings.database_url)
    store = SqlCandleStore(engine)
    bus = InProcessBus()
    symbols = list(settings.symbols)
    if settings.feed == "replay" and settings.replay_symbol and settings.replay_symbol not in symbols:
        symbols.append(settings.replay_symbol)
    streamer = MultiTimeframeStreamer(
        symbols, settings.timeframes, buffer_size=settings.buffer_size, bus=bus, clock=clock
    )
    feed = feed or build_feed(settings, clock)
    recorder = CandleRecorder(store)
    runtime = StreamerRuntime(
        streamer,
        feed,
        store=store,
        recorder=recorder,
        clock=clock,
        history_seconds=settings.history_hours * 3600,
        close_grace=_close_grace(settings, feed),
    )
    streamer_service = StreamerService(streamer, runtime)
    decisions = SqlDecisionLog(engine)
    rules = RulesAnalyst()
    llm_client, analyst = None, rules
    if settings.analyst == "llm":
        llm_client, analyst = build_llm_analyst(settings, decisions=decisions, rules=rules, clock=clock)
    hub = BroadcastHub(
        queue_size=settings.ws_queue_size, send_timeout=settings.ws_send_timeout_seconds, clock=clock
    )
    signal_store = SqlSignalStore(engine)
    signals = SignalService(
        analyst=analyst,
        store=signal_store,
        clock=clock,
        cache_ttl_seconds=settings.analysis_cache_seconds,
        horizons={**DEFAULT_HORIZONS, **settings.outcome_horizons},
        market_view=rules,
        streamed_candles=lambda symbol, tfs: streamer_service.closed_bars(symbol, list(tfs or settings.analysis_timeframes)),
        streamed_marker=lambda symbol: streamer_service.closed_marker(symbol, settings.analysis_timeframes),
        max_candles=settings.analysis_max_candles,
        max_price_deviation=settings.analysis_max_price_deviation,
        bus=bus,
    )
    queries = SignalQueries(store=signal_store, service=signals, clock=clock)
    scorer = OutcomeScorer(store=signal_store, candles=store)
    scheduler = None
    if settings.analysis_interval_minutes > 0:
        scheduler = PeriodicAnalysis(
            signals,
            symbols=lambda: streamer.symbols,
            interval_seconds=settings.analysis_interval_minutes * 60,
            symbol_delay_seconds=settings.analysis_symbol_delay_seconds,
            ready=lambda: runtime.running,
            clock=clock,
        )
    return Container(
        settings, engine, store, bus, streamer, feed, runtime, recorder, streamer_service, signals, queries, scorer,
        decisions, hub, scheduler, llm_client, clock,
    )


def build_llm_analyst(
    settings: Settings, *, decisions: SqlDecisionLog, rules: RulesAnalyst, clock: Clock,
    client: ChatClient | None = None, limit: SpendLimit | None = None,
) -> tuple[ChatClient, LLMAnalyst]:
    """The LLM analyst on the configured OpenAI-compatible server (or on ``client``, e.g. an offline
    one), with the rules as its fallback and the configured prompt budget and output cap."""
    client = client or OpenAIChatClient(
        settings.llm_model,
        api_keys=settings.api_keys(),
        base_url=settings.llm_base_url,
        timeout=settings.llm_timeout,
        max_retries=settings.llm_max_retries,
        min_interval=settings.llm_request_delay,
    )
    analyst = LLMAnalyst(
        client, decisions=decisions, rules=rules, prices={**DEFAULT_PRICES, **settings.llm_prices}, clock=clock,
        offline=settings.llm_offline or isinstance(client, OfflineChatClient),
        prompt_budget=settings.llm_prompt_budget or None, max_tokens=settings.llm_max_tokens, limit=limit,
    )
    return client, analyst
