"""The kernel: one builder for every environment (DESIGN.md, "One kernel").

``build_kernel`` takes a clock, a feed, a broker and the stores and wires the streamer, the signal
service, the trading engine and the portfolio on one bus. ``serve`` builds it with the system clock
and a live or synthetic feed; ``backtest`` and ``evaluate`` with a ``SimClock`` that a replay feed
advances. Nothing below chooses between them: only what it is given differs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tradewind.analysts.base import Analyst, MarketView
from tradewind.domain.clock import Clock
from tradewind.domain.lease import InProcessLease, Lease, LeaseFactory
from tradewind.domain.ports import Broker, CandleFeed, CandleStore, EventBus
from tradewind.domain.signal import Signal
from tradewind.domain.timeframe import Timeframe
from tradewind.market.recorder import CandleRecorder
from tradewind.market.runtime import StreamerRuntime, cancel_tasks
from tradewind.market.service import StreamerService
from tradewind.market.streamer import MultiTimeframeStreamer
from tradewind.signals.outcomes import DEFAULT_HORIZONS
from tradewind.signals.periodic import PeriodicAnalysis
from tradewind.signals.queries import SignalQueries
from tradewind.signals.records import SignalStore
from tradewind.signals.scoring import OutcomeScorer
from tradewind.signals.service import SignalService
from tradewind.trading.engine import Blocking, SignalSource, TradingEngine, inline
from tradewind.trading.portfolio import Portfolio
from tradewind.trading.records import AssetConfig, TradingStore
from tradewind.trading.reflections import Reflector
from tradewind.trading.risk import RiskProfile

__all__ = ["Kernel", "KernelConfig", "Stores", "build_kernel"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stores:
    signals: SignalStore
    trading: TradingStore
    candles: CandleStore | None = None  # None: nothing persisted (a backtest)


@dataclass(frozen=True)
class KernelConfig:
    """What differs between deployments besides the clock, the feed and the broker."""

    symbols: Sequence[str]
    timeframes: Sequence[Timeframe]
    assets: Sequence[AssetConfig] = ()
    buffer_size: int = 1000
    history_seconds: int = 0
    close_grace: float | None = None  # seconds after its end a quiet candle closes by the clock; None: never
    analysis_timeframes: Sequence[Timeframe] = (Timeframe.M15, Timeframe.H1, Timeframe.H4)
    cache_ttl_seconds: float = 300.0
    horizons: Mapping[Timeframe, int] = field(default_factory=lambda: dict(DEFAULT_HORIZONS))
    max_candles: int = 5000
    analysis_window: int = 500  # closed candles per timeframe an analyst sees of a streamed symbol
    max_price_deviation: float = 0.2
    periodic_minutes: float = 0.0  # 0: no periodic analysis
    symbol_delay_seconds: float = 0.0
    score_every_seconds: float | None = 60.0  # None: no background outcome scoring
    cash: float = 10_000.0
    settle_seconds: float = 0.0
    portfolio_risk: RiskProfile | None = None
    reflect_every: int = 5
    warmup: int = 0  # closed candles an asset needs before its first decision
    every: int = 1  # decide on every ``every``-th closed candle (evaluate's step)
    trade: bool = True  # False: no engine (the API's analysis alone)
    observe: bool = False  # the engine asks the analysts but places no order (evaluate)
    fail_fast: bool = False  # a failed cycle ends the run (a backtest) rather than being logged
    strategy_paths: Sequence[str] | None = None  # dotted-path strategies the API may switch an asset to (None: any)


@dataclass
class Kernel:
    clock: Clock
    bus: EventBus
    feed: CandleFeed
    broker: Broker
    streamer: MultiTimeframeStreamer
    runtime: StreamerRuntime
    recorder: CandleRecorder | None  # None: nothing recorded (a backtest)
    streamer_service: StreamerService
    signals: SignalService
    analysts: Mapping[str, SignalService]
    queries: SignalQueries
    scorer: OutcomeScorer
    portfolio: Portfolio
    engine: TradingEngine | None
    periodic: PeriodicAnalysis | None
    score_every_seconds: float | None
    stores: Stores
    # who runs the timed jobs: with one process always this one; with several workers the holder
    # of ``scheduler`` runs the periodic analysis and the outcome scoring, the holder of ``trading``
    # the engine (one lease for the whole book: cash, exposure and risk limits span its assets)
    scheduler_lease: Lease = field(default_factory=lambda: InProcessLease("scheduler"))
    trading_lease: Lease = field(default_factory=lambda: InProcessLease("trading"))
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _scheduled: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        """Warm up and start streaming, resume the book, start the timed loops (all on the clock)."""
        if self.engine is not None:
            await self.trading_lease.start(self._start_trading, self._stop_trading)
        await self.runtime.start()
        if self.score_every_seconds or self.periodic is not None:
            await self.scheduler_lease.start(self._start_scheduled, self._stop_scheduled)

    async def stop(self) -> None:
        await cancel_tasks(self._tasks)
        await self.scheduler_lease.stop()
        await self.trading_lease.stop()
        await self.runtime.stop()

    async def _start_trading(self) -> None:
        """This process now holds the book: load it from the store (as a restart does), trade."""
        assert self.engine is not None
        await asyncio.to_thread(self.engine.restore)
        await self.engine.start()

    async def _stop_trading(self) -> None:
        assert self.engine is not None
        await self.engine.stop()

    async def _start_scheduled(self) -> None:
        if self.score_every_seconds:
            self._scheduled.append(asyncio.create_task(self._score(self.score_every_seconds), name="outcome-scoring"))
        if self.periodic is not None:
            # a run another holder started less than an interval ago counts: no second one this interval
            last = await asyncio.to_thread(self.scheduler_lease.noted)
            not_before = None if last is None else last + self.periodic.interval_seconds
            self._scheduled.append(asyncio.create_task(self.periodic.run(not_before=not_before),
                                                       name="periodic-analysis"))

    async def _stop_scheduled(self) -> None:
        await cancel_tasks(self._scheduled)

    async def _score(self, every: float) -> None:
        """Score stored signals against the candles that followed them, every ``every`` seconds."""
        await self.clock.sleep(0)
        while True:
            await self.clock.sleep(every)
            try:
                await asyncio.to_thread(self.scorer.resolve_open)
            except Exception:
                log.exception("outcome scoring failed")


def build_kernel(
    config: KernelConfig,
    *,
    clock: Clock,
    feed: CandleFeed,
    broker: Broker,
    stores: Stores,
    bus: EventBus,
    analysts: Mapping[str, Analyst],
    default_analyst: str = "rules",
    market_view: MarketView | None = None,
    blocking: Blocking = inline,  # type: ignore[assignment]
    reflectors: Mapping[str, Reflector] | None = None,
    leases: LeaseFactory = InProcessLease,
) -> Kernel:
    """Wire one kernel; ``analysts`` maps names (``rules``, ``llm``) to analysts, ``default_analyst``
    answers the API and the periodic analysis; ``leases`` decides which process runs the timed jobs."""
    scheduler_lease, trading_lease = leases("scheduler"), leases("trading")
    symbols = list(dict.fromkeys([*config.symbols, *(a.symbol for a in config.assets)]))
    timeframes = list(config.timeframes)
    streamer = MultiTimeframeStreamer(symbols, timeframes, buffer_size=config.buffer_size, bus=bus, clock=clock)
    recorder = CandleRecorder(stores.candles) if stores.candles is not None else None
    runtime = StreamerRuntime(streamer, feed, store=stores.candles, recorder=recorder, clock=clock,
                              history_seconds=config.history_seconds, close_grace=config.close_grace)
    streamer_service = StreamerService(streamer, runtime)
    # the analysts see the streamed timeframes among those asked for (a replay of 5m streams no 1m)
    analysis = [tf for tf in config.analysis_timeframes if tf in timeframes] or timeframes

    def service(analyst: Analyst) -> SignalService:
        return SignalService(
            analyst=analyst, store=stores.signals, clock=clock, cache_ttl_seconds=config.cache_ttl_seconds,
            horizons={**DEFAULT_HORIZONS, **config.horizons}, market_view=market_view,
            streamed_candles=lambda symbol, tfs: streamer_service.closed_bars(symbol, list(tfs or analysis),
                                                                                 config.analysis_window),
            streamed_marker=lambda symbol: streamer_service.closed_marker(symbol, analysis),
            max_candles=config.max_candles, max_price_deviation=config.max_price_deviation, bus=bus,
        )

    services = {name: service(analyst) for name, analyst in analysts.items()}
    signals = services[default_analyst]
    portfolio = Portfolio(config.cash)
    engine = None
    if config.trade:
        engine = TradingEngine(
            assets=config.assets, candles=streamer_service.closed_series,
            newest=lambda symbol, tf: streamer_service.closed_marker(symbol, [tf])[0], signals=_sources(services),
            broker=broker, portfolio=portfolio, store=stores.trading, bus=bus, clock=clock,
            base_timeframe=streamer.timeframes[0], analysis_timeframes=analysis, settle_seconds=config.settle_seconds,
            blocking=blocking, portfolio_risk=config.portfolio_risk, reflect_every=config.reflect_every,
            reflectors=reflectors, lookback=config.buffer_size, warmup=config.warmup, every=config.every,
            observe=config.observe, fail_fast=config.fail_fast,
            strategy_paths=frozenset(config.strategy_paths) if config.strategy_paths is not None else None,
        )
    periodic = None
    if config.periodic_minutes > 0:
        periodic = PeriodicAnalysis(signals, symbols=lambda: streamer.symbols, interval_seconds=config.periodic_minutes * 60,
                                    symbol_delay_seconds=config.symbol_delay_seconds, ready=lambda: runtime.running,
                                    clock=clock, on_run=scheduler_lease.note)
    return Kernel(
        clock=clock, bus=bus, feed=feed, broker=broker, streamer=streamer, runtime=runtime, recorder=recorder,
        streamer_service=streamer_service, signals=signals, analysts=services,
        queries=SignalQueries(store=stores.signals, service=signals, clock=clock),
        scorer=OutcomeScorer(store=stores.signals, candles=stores.candles), portfolio=portfolio, engine=engine,
        periodic=periodic, score_every_seconds=config.score_every_seconds, stores=stores,
        scheduler_lease=scheduler_lease, trading_lease=trading_lease,
    )


def _sources(services: Mapping[str, SignalService]) -> dict[str, SignalSource]:
    """Each analyst as the engine asks it: a fresh, stored and announced signal from the streamer."""

    def source(service: SignalService) -> SignalSource:
        def ask(symbol: str, timeframes: Sequence[Timeframe]) -> Signal:
            request = service.request_from_payload(symbol=symbol, timeframe_data=None, timeframes=timeframes)
            result = service.analyze(request, use_cache=False, origin="engine", streamed=True)
            assert result.signal is not None
            return result.signal

        return ask

    return {name: source(service) for name, service in services.items()}

