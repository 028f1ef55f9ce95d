"""The trading engine driven by hand: candles published on the bus, a simulated clock firing the cycles,
a fake analyst, the paper broker (or a market-only venue), the portfolio and the in-memory store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import pytest

from tradewind.domain.bus import InProcessBus
from tradewind.domain.bars import Bars, bars_from_candles
from tradewind.domain.candle import Candle
from tradewind.domain.clock import SimClock
from tradewind.domain.errors import NotFound, OrderRejected, ValidationError
from tradewind.domain.events import (
    CandleClosed,
    DrawdownAlert,
    OrderFilled,
    PositionChanged,
    ReflectionCreated,
    RiskDenied,
    StatisticsUpdated,
    TradeClosed,
)
from tradewind.domain.orders import Account, Fill, Order
from tradewind.domain.signal import MarketAnalysis, RiskAssessment, Signal
from tradewind.domain.timeframe import Timeframe
from tradewind.trading.engine import PORTFOLIO, TradingEngine
from tradewind.trading.paper import PaperBroker
from tradewind.trading.portfolio import Portfolio
from tradewind.trading.records import AssetConfig, MemoryTradingStore, RiskEvent
from tradewind.trading.risk import RiskProfile
from tradewind.trading.strategies import SmaCross

T0 = 1_700_000_000 // 3600 * 3600
SYMBOL = "BTCUSDT"
M1 = Timeframe.M1
TOPICS = [OrderFilled.topic, PositionChanged.topic, TradeClosed.topic, RiskDenied.topic, DrawdownAlert.topic,
          ReflectionCreated.topic, StatisticsUpdated.topic]


def signal(direction: str = "Neutral", *, stop: float | None = None, target: float | None = None,
           size: float = 1.0, confidence: float = 0.8) -> Signal:
    market = MarketAnalysis("Sideways", 0.5, (), (), "Low", "")
    return Signal(SYMBOL, direction, confidence, "test", {}, market,  # type: ignore[arg-type]
                  RiskAssessment("Low", 0.2, 0.2, size, stop, target), T0 * 1000)


NEUTRAL = signal()


class Market:
    """The closed candles the engine may read, as the streamer would serve them."""

    def __init__(self, candles: Sequence[Candle] = ()) -> None:
        self.closed = list(candles)

    def candles(self, symbol: str, timeframe: Timeframe, n: int) -> Bars:
        assert symbol == SYMBOL and timeframe is M1
        return bars_from_candles(self.closed[-n:])

    def newest(self, symbol: str, timeframe: Timeframe) -> int | None:
        return self.closed[-1].time if self.closed else None


class Analyst:
    """A signal source answering whatever the test set last."""

    def __init__(self) -> None:
        self.answer = NEUTRAL
        self.calls: list[tuple[str, tuple[Timeframe, ...]]] = []

    def __call__(self, symbol: str, timeframes: Sequence[Timeframe]) -> Signal:
        self.calls.append((symbol, tuple(timeframes)))
        return self.answer


class MarketOnlyVenue:
    """A broker that holds no stops: it records what it is sent and fills market orders at the next open."""

    name = "venue"
    protective_orders = False
    remote = False

    def __init__(self) -> None:
        self.submitted: list[Order] = []
        self.pending: list[Order] = []
        self.held: dict[str, float] = {}

    def submit(self, order: Order) -> None:
        if order.type != "market":
            raise OrderRejected("market orders only", reason="unsupported_order_type")
        if any(o.client_order_id == order.client_order_id for o in self.submitted):
            return
        self.submitted.append(order)
        self.pending.append(order)

    def cancel(self, client_order_id: str) -> None:
        self.pending = [o for o in self.pending if o.client_order_id != client_order_id]

    def on_candle(self, symbol: str, candle: Candle) -> list[Fill]:
        mine = [o for o in self.pending if o.symbol == symbol]
        self.pending = [o for o in self.pending if o.symbol != symbol]
        for o in mine:
            self.held[symbol] = self.held.get(symbol, 0.0) + (o.quantity if o.side == "buy" else -o.quantity)
        return [Fill(o.client_order_id, symbol, o.side, o.quantity, candle.open, 0.0, float(candle.time), o.reason)
                for o in mine]

    def account(self, prices: Mapping[str, float]) -> Account:
        return Account(0.0, 0.0, 0.0)

    def positions(self) -> dict[str, float]:
        return {s: q for s, q in self.held.items() if abs(q) > 1e-12}

    def open_orders(self) -> list[Order]:
        return list(self.pending)


class Rig:
    """One engine on one asset (1-minute candles), with everything it talks to in reach."""

    def __init__(self, *, broker: Any = None, store: MemoryTradingStore | None = None, market: Market | None = None,
                 start: float = T0, interval: int = 1, settle: float = 0.0, strategy: str = "signal-follower",
                 params: Mapping[str, Any] | None = None, risk: Mapping[str, Any] | None = None,
                 portfolio_risk: RiskProfile | None = None, reflect_every: int = 5, cash: float = 10_000.0) -> None:
        self.clock = SimClock(start)
        self.bus = InProcessBus()
        self.events: list[object] = []
        for topic in TOPICS:
            self.bus.subscribe(topic, self.events.append)
        self.market = market or Market()
        self.analyst = Analyst()
        self.broker = broker if broker is not None else PaperBroker(cash=cash)
        self.store = store or MemoryTradingStore()
        self.portfolio = Portfolio(cash)
        self.settle = settle
        asset = AssetConfig(SYMBOL, M1, interval, strategy, dict(params or {}), "rules", "moderate", dict(risk or {}))
        self.engine = TradingEngine(
            assets=[asset], candles=self.market.candles, newest=self.market.newest, signals={"rules": self.analyst},
            broker=self.broker, portfolio=self.portfolio, store=self.store, bus=self.bus, clock=self.clock,
            base_timeframe=M1, settle_seconds=settle, portfolio_risk=portfolio_risk, reflect_every=reflect_every,
        )

    @property
    def state(self) -> Any:
        return self.engine.assets[SYMBOL]

    async def start(self) -> None:
        await self.engine.start()
        await self.clock.advance_to(self.clock.now())  # each cycle loop takes its place on the schedule

    async def bar(self, open: float, high: float | None = None, low: float | None = None, close: float | None = None,
                  *, then: Signal | None = None) -> Candle:
        """The next candle closes: published on the bus at its close, then the clock runs to the cycle;
        ``then`` is what the analyst answers at that cycle."""
        t = int(self.clock.now() // 60 * 60)  # the candle of the clock's minute (after idle minutes: a gap)
        assert not self.market.closed or t > self.market.closed[-1].time
        close = open if close is None else close
        candle = Candle(t, open, max(open, close) if high is None else high, min(open, close) if low is None else low,
                        close, 1.0)
        if then is not None:
            self.analyst.answer = then
        self.market.closed.append(candle)
        self.clock.set(max(self.clock.now(), t + 60))
        self.bus.publish(CandleClosed.topic, CandleClosed(SYMBOL, M1, candle))
        await self.clock.advance_to(t + 60 + self.settle)
        return candle

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def statuses(self) -> dict[str, tuple[str, str, str | None]]:
        """client id -> (type, status, reason) of every order the store holds."""
        return {cid: (order.type, status, reason) for cid, (order, status, reason) in self.store.orders.items()}

    def healthy(self) -> None:
        assert self.bus.errors == 0, "a bus subscriber (the engine) failed"
        assert self.state.last_error is None, self.state.last_error


@pytest.fixture
async def rigs() -> AsyncIterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def make(**kwargs: Any) -> Rig:
        made.append(Rig(**kwargs))
        return made[-1]

    yield make
    for rig in made:
        await rig.engine.stop()
        rig.healthy()


LONG = signal("Long", stop=95.0, target=110.0)


async def opened(rig: Rig, long: Signal = LONG) -> None:
    """A long of 10 at 100 (10% of 10 000), its stop and target live at the broker."""
    await rig.start()
    await rig.bar(100, then=long)
    await rig.bar(100, then=NEUTRAL)
    assert rig.portfolio.positions[SYMBOL].quantity == pytest.approx(10)


# --- cycles --------------------------------------------------------------------------------------
async def test_a_cycle_decides_once_per_new_closed_candle(rigs: Callable[..., Rig]) -> None:
    rig = rigs()
    await rig.start()
    assert rig.state.next_cycle == T0 + 60
    await rig.clock.advance_to(T0 + 60)  # a boundary with no candle closed yet: nothing to decide on
    assert rig.state.cycles == 1 and rig.analyst.calls == []
    await rig.bar(100)
    assert rig.analyst.calls == [(SYMBOL, (M1,))]
    assert rig.state.last_decided == T0 + 60  # the candle of T0+60..T0+120
    await rig.clock.advance_to(T0 + 300)  # three more boundaries, the same newest candle
    assert rig.state.cycles == 5 and len(rig.analyst.calls) == 1
    await rig.bar(101)
    assert len(rig.analyst.calls) == 2 and rig.state.last_cycle == rig.clock.now()


async def test_cycles_wait_for_the_interval_boundary_plus_the_settle_time(rigs: Callable[..., Rig]) -> None:
    rig = rigs(interval=5, settle=10.0, start=T0 + 37)
    await rig.start()
    assert rig.state.next_cycle == T0 + 310
    rig.market.closed.append(Candle(T0 + 240, 100, 100, 100, 100, 1.0))  # the candle ending at the boundary
    await rig.clock.advance_to(T0 + 309)
    assert rig.state.cycles == 0 and rig.analyst.calls == []
    await rig.clock.advance_to(T0 + 310)
    assert rig.state.cycles == 1 and rig.state.last_cycle == T0 + 310 and len(rig.analyst.calls) == 1
    assert rig.state.next_cycle == T0 + 610


# --- entries and exits at the paper broker ---------------------------------------------------------
async def test_an_entry_sends_its_stop_and_target_and_a_stop_loss_closes_it(rigs: Callable[..., Rig]) -> None:
    rig = rigs()
    await rig.start()
    await rig.bar(100, then=LONG)
    entry, stop, target = rig.broker.open_orders()
    assert (entry.type, entry.side, entry.quantity, entry.parent_id) == ("market", "buy", pytest.approx(10), None)
    assert (stop.type, stop.side, stop.price, stop.quantity, stop.parent_id) == ("stop", "sell", 95.0, entry.quantity,
                                                                                 entry.client_order_id)
    assert (target.type, target.price, target.parent_id, target.reason) == ("limit", 110.0, entry.client_order_id,
                                                                           "take_profit")
    assert {status for _, status, _ in rig.statuses().values()} == {"open"}

    await rig.bar(101, 102, 100, 101, then=NEUTRAL)
    position = rig.portfolio.positions[SYMBOL]
    assert (position.entry_price, position.stop_loss, position.take_profit) == (101.0, 95.0, 110.0)
    assert rig.statuses()[entry.client_order_id][1] == "filled"

    rig.events.clear()
    await rig.bar(99, 99, 94, 96)
    assert SYMBOL not in rig.portfolio.positions
    [trade] = rig.store.trades()
    assert trade.exit_reason == "stop_loss" and trade.exit_price == 95.0
    fees = 10 * 101 * 0.001 + 10 * 95 * 0.001
    assert trade.pnl == pytest.approx((95 - 101) * 10 - fees) and trade.fees == pytest.approx(fees)
    assert rig.statuses()[stop.client_order_id][1] == "filled"
    assert rig.statuses()[target.client_order_id][1] == "cancelled"
    [filled] = rig.of(OrderFilled)
    assert filled.fill.client_order_id == stop.client_order_id and filled.equity == pytest.approx(rig.portfolio.equity())
    [changed] = rig.of(PositionChanged)
    assert changed.position is None and changed.realized_pnl == pytest.approx(trade.pnl)
    assert rig.of(TradeClosed) == [TradeClosed(trade)]
    assert rig.of(StatisticsUpdated)[0].statistics["trades"] == 1
    assert rig.broker.open_orders() == []


async def test_a_risk_denial_is_recorded_and_published(rigs: Callable[..., Rig]) -> None:
    rig = rigs(risk={"max_open_positions": 0})
    await rig.start()
    await rig.bar(100, then=LONG)
    event = RiskEvent(SYMBOL, "max_positions", "0 positions open (limit 0)", T0 + 60)
    assert rig.store.risk_events() == [event]
    assert rig.of(RiskDenied) == [RiskDenied(event.symbol, event.reason, event.detail, event.time)]
    assert rig.broker.open_orders() == [] and rig.store.orders == {}


class NoBuying(PaperBroker):
    def submit(self, order: Order) -> None:
        if order.side == "buy":
            raise OrderRejected("insufficient balance for the order", reason="insufficient_balance")
        super().submit(order)


async def test_a_broker_rejection_is_recorded_with_its_reason(rigs: Callable[..., Rig]) -> None:
    rig = rigs(broker=NoBuying())
    await rig.start()
    await rig.bar(100, then=LONG)
    [(order, status, reason)] = rig.store.orders.values()
    assert (order.type, order.side, status, reason) == ("market", "buy", "rejected", "insufficient_balance")
    [event] = rig.store.risk_events()
    assert (event.reason, event.detail) == ("broker_insufficient_balance", "insufficient balance for the order")
    assert [e.reason for e in rig.of(RiskDenied)] == ["broker_insufficient_balance"]
    assert rig.broker.open_orders() == []  # no stop or target for an entry that never went in
    with pytest.raises(ValidationError, match="broker_insufficient_balance") as error:
        rig.engine.enter(SYMBOL, "long")
    assert error.value.field == "risk"


# --- the drawdown alerts and the kill switch --------------------------------------------------------
async def test_drawdown_alerts_then_the_kill_switch_closes_everything_and_halts(rigs: Callable[..., Rig]) -> None:
    rig = rigs(broker=PaperBroker(fee_rate=0.0),
               risk={"position_size": 1.0, "max_exposure_per_asset": 1.0, "daily_loss_limit": 1.0},
               portfolio_risk=RiskProfile(max_drawdown=0.2, drawdown_alerts=(0.05, 0.10)))
    wide = signal("Long", stop=50.0, target=200.0)
    await rig.start()
    await rig.bar(100, then=wide)
    await rig.bar(100, 100, 94, 94, then=NEUTRAL)  # in at 100 with all of the equity; down 6%
    assert [(a.level, a.halted) for a in rig.of(DrawdownAlert)] == [(0.05, False)]
    await rig.bar(94, 94, 89, 89)
    assert [(a.level, a.halted) for a in rig.of(DrawdownAlert)] == [(0.05, False), (0.10, False)]
    assert rig.of(DrawdownAlert)[1].drawdown == pytest.approx(0.11)
    # down 21%: the kill switch; the analyst turning Short at the same close must not add a second exit
    await rig.bar(89, 89, 79, 79, then=signal("Short"))
    alert = rig.of(DrawdownAlert)[-1]
    assert (alert.level, alert.halted, alert.equity) == (0.2, True, pytest.approx(7_900))
    assert rig.portfolio.halted and rig.store.portfolio is not None and rig.store.portfolio.halted
    [kill] = [e for e in rig.store.risk_events() if e.symbol == PORTFOLIO]
    assert kill.reason == "max_drawdown" and "21.00%" in kill.detail and "20%" in kill.detail
    assert [(o.type, o.side, o.reason) for o in rig.broker.open_orders()] == [("market", "sell", "kill_switch")]

    await rig.bar(80, then=signal("Long", stop=50.0, target=200.0))
    [trade] = rig.store.trades()
    assert (trade.exit_reason, trade.exit_price, trade.pnl) == ("kill_switch", 80.0, pytest.approx(-2_000))
    assert rig.portfolio.positions == {}  # closed, and not reversed into a short
    assert rig.store.risk_events()[0].reason == "halted"  # the Long at that close was denied
    assert rig.broker.open_orders() == []

    rig.engine.resume(SYMBOL)  # lifting the kill switch by hand
    assert not rig.portfolio.halted and rig.portfolio.peak_equity == pytest.approx(8_000)
    assert not rig.store.portfolio.halted
    await rig.bar(80)  # the Long again: entered this time
    assert rig.broker.open_orders()[0].side == "buy"
    await rig.bar(80, 80, 75, 75, then=NEUTRAL)
    assert rig.portfolio.positions[SYMBOL].quantity == pytest.approx(100)
    # the alerts count from the new peak again
    assert [(a.level, a.halted) for a in rig.of(DrawdownAlert)][-1] == (0.05, False)


# --- manual control ---------------------------------------------------------------------------------
async def test_pause_resume_and_update(rigs: Callable[..., Rig]) -> None:
    rig = rigs()
    await rig.start()
    paused = rig.engine.pause("btc/usdt")
    assert paused.paused and rig.store.assets[SYMBOL].paused
    await rig.bar(100, then=LONG)
    assert rig.analyst.calls == [] and rig.broker.open_orders() == [] and rig.state.cycles == 1
    rig.engine.resume(SYMBOL)
    await rig.bar(100)
    assert len(rig.analyst.calls) == 1 and len(rig.broker.open_orders()) == 3

    before = rig.state.config
    for changes, field in (({"params": {"min_confidence": 2}}, "params.min_confidence"),
                           ({"params": {"nonsense": 1}}, "params.nonsense"),
                           ({"strategy": "no-such"}, "strategy"), ({"interval_minutes": 0}, "interval_minutes"),
                           ({"risk": "reckless"}, "risk"), ({"risk_overrides": {"position_size": 5}}, "risk_overrides.position_size"),
                           ({"analyst": "llm"}, "analyst"), ({"timeframe": Timeframe.H1}, "timeframe")):
        with pytest.raises(ValidationError) as error:
            rig.engine.update(SYMBOL, **changes)
        assert error.value.field == field
    assert rig.state.config == before and rig.store.assets[SYMBOL] == before
    with pytest.raises(NotFound):
        rig.engine.update("ETHUSDT", paused=True)

    old_task = rig.state.task
    rig.engine.update(SYMBOL, interval_minutes=5, params={"min_confidence": 0.5})
    await rig.clock.advance_to(rig.clock.now())
    assert old_task.cancelled() and rig.state.task is not old_task
    assert rig.state.next_cycle == T0 + 300 and rig.state.strategy.min_confidence == 0.5
    calls = len(rig.analyst.calls)
    for _ in range(3):  # candles closing at +180, +240: no boundary of the new interval
        await rig.bar(100)
        if rig.clock.now() < T0 + 300:
            assert len(rig.analyst.calls) == calls
    assert len(rig.analyst.calls) == calls + 1  # at +300
    rig.engine.update(SYMBOL, strategy="sma-cross", params={"fast": 2, "slow": 3})
    assert isinstance(rig.state.strategy, SmaCross) and rig.state.strategy.fast == 2


async def test_closing_by_hand_in_full_and_in_part(rigs: Callable[..., Rig]) -> None:
    rig = rigs()
    await opened(rig)
    first_protection = {o.client_order_id for o in rig.broker.open_orders()}
    order = rig.engine.close(SYMBOL, 0.4)
    assert order is not None and (order.quantity, order.reason) == (pytest.approx(4), "manual")
    statuses = rig.statuses()
    assert {statuses[cid][1] for cid in first_protection} == {"cancelled"}
    left = {o.type: o for o in rig.broker.open_orders()}
    assert (left["stop"].quantity, left["stop"].price) == (pytest.approx(6), 95.0)  # sized to what is left
    assert (left["limit"].quantity, left["limit"].price) == (pytest.approx(6), 110.0)
    await rig.bar(100)
    assert rig.portfolio.positions[SYMBOL].quantity == pytest.approx(6)
    assert rig.store.trades()[0].exit_reason == "manual" and rig.store.trades()[0].quantity == pytest.approx(4)
    await rig.bar(100, 100, 94, 96)  # the rest's stop fires
    assert rig.portfolio.positions == {}
    assert (rig.store.trades()[0].exit_reason, rig.store.trades()[0].quantity) == ("stop_loss", pytest.approx(6))

    for bad in (0, 1.5, True, "half"):
        with pytest.raises(ValidationError) as error:
            rig.engine.close(SYMBOL, bad)  # type: ignore[arg-type]
        assert error.value.field == "fraction"
    with pytest.raises(ValidationError) as flat:
        rig.engine.close(SYMBOL)
    assert flat.value.field == "symbol"
    with pytest.raises(NotFound):
        rig.engine.close("ETHUSDT")

    rig.engine.enter(SYMBOL, "long")
    await rig.bar(96)
    # half now, then the rest before the first half filled: two exits that add up to the position
    half = rig.portfolio.positions[SYMBOL].quantity / 2
    rig.engine.close(SYMBOL, 0.5)
    rig.engine.close(SYMBOL)
    assert [o.quantity for o in rig.broker.open_orders()] == [pytest.approx(half), pytest.approx(half)]
    await rig.bar(96)
    assert rig.portfolio.positions == {} and rig.broker.open_orders() == []
    assert [t.exit_reason for t in rig.store.trades(limit=2)] == ["manual", "manual"]


async def test_entering_by_hand_goes_through_risk(rigs: Callable[..., Rig]) -> None:
    rig = rigs()
    await rig.start()
    with pytest.raises(ValidationError, match="no price"):
        rig.engine.enter(SYMBOL, "long")
    await rig.bar(100)
    order = rig.engine.enter("btc-usdt", "short", size=0.5)
    assert order is not None and (order.side, order.quantity) == ("sell", pytest.approx(5))
    stop = next(o for o in rig.broker.open_orders() if o.type == "stop")
    assert stop.price == pytest.approx(102.0)  # the profile's default 2% stop
    await rig.bar(100)
    with pytest.raises(ValidationError) as already:
        rig.engine.enter(SYMBOL, "long")
    assert already.value.field == "symbol"
    for side, size, field in (("up", None, "side"), ("long", 0, "size"), ("long", 2.0, "size"), ("long", True, "size")):
        with pytest.raises(ValidationError) as error:
            rig.engine.enter(SYMBOL, side, size=size)  # type: ignore[arg-type]
        assert error.value.field == field
    rig.engine.close(SYMBOL)
    await rig.bar(100)
    rig.engine.update(SYMBOL, risk_overrides={"max_open_positions": 0})
    with pytest.raises(ValidationError, match=r"max_positions: 0 positions open \(limit 0\)") as denied:
        rig.engine.enter(SYMBOL, "long")
    assert denied.value.field == "risk"


async def test_liquidate_closes_every_position_at_its_last_price(rigs: Callable[..., Rig]) -> None:
    rig = rigs()
    await opened(rig)
    await rig.bar(100, 104, 99, 103)
    rig.engine.liquidate(fee_rate=0.001)
    [trade] = rig.store.trades()
    assert (trade.exit_reason, trade.exit_price) == ("end", 103.0)
    assert trade.pnl == pytest.approx(30 - 10 * 100 * 0.001 - 10 * 103 * 0.001)
    assert rig.portfolio.positions == {} and rig.broker.open_orders() == []
    assert {status for _, status, _ in rig.statuses().values()} == {"filled", "cancelled"}


async def test_a_reflection_follows_every_few_closed_trades(rigs: Callable[..., Rig]) -> None:
    rig = rigs(reflect_every=2)
    await rig.start()
    await rig.bar(100, then=LONG)
    await rig.bar(100, then=signal("Short"))  # in; then the opposite signal exits
    await rig.bar(102, then=LONG)
    assert len(rig.store.trades()) == 1 and rig.store.reflections() == []
    await rig.bar(102, then=signal("Short"))
    await rig.bar(101, then=NEUTRAL)
    assert [t.exit_reason for t in rig.store.trades()] == ["signal", "signal"]
    [reflection] = rig.store.reflections()
    assert (reflection.symbol, reflection.trades, reflection.analyst) == (SYMBOL, 2, "rules")
    assert "2 trades: 1 won, 1 lost" in reflection.text
    [created] = rig.of(ReflectionCreated)
    assert created.symbol == SYMBOL and created.reflection["text"] == reflection.text
    assert rig.engine.reflecting.since(SYMBOL) == 0
    await rig.bar(101, then=LONG)
    await rig.bar(103, then=signal("Short"))
    await rig.bar(103, then=NEUTRAL)
    assert len(rig.store.trades()) == 3 and rig.engine.reflecting.since(SYMBOL) == 1
    await rig.engine.stop()
    again = rigs(reflect_every=2, store=rig.store, market=Market(rig.market.closed), start=rig.clock.now())
    again.engine.restore()  # the cadence counts on: the next closed trade brings the next reflection
    assert again.engine.reflecting.since(SYMBOL) == 1


# --- a restart ----------------------------------------------------------------------------------------
async def test_a_restarted_engine_resumes_the_book_and_its_stops(rigs: Callable[..., Rig]) -> None:
    first = rigs()
    await opened(first)
    await first.engine.stop()
    store = first.store
    second = rigs(store=store, market=Market(first.market.closed), start=first.clock.now())
    second.engine.restore()
    assert second.portfolio.cash == pytest.approx(first.portfolio.cash)
    assert second.portfolio.positions == first.portfolio.positions
    assert second.broker.positions() == {SYMBOL: pytest.approx(10)} and second.broker.cash == second.portfolio.cash
    live = {o.type: o for o in second.broker.open_orders()}
    assert set(live) == {"stop", "limit"} and live["stop"].price == 95.0 and live["stop"].parent_id is None
    assert not [e for e in store.risk_events() if e.reason == "reconcile"]
    await second.start()
    await second.bar(99, 99, 90, 92)
    [trade] = store.trades()
    assert (trade.exit_reason, trade.exit_price) == ("stop_loss", 95.0)
    assert second.portfolio.positions == {} and second.broker.open_orders() == []
    assert {status for _, status, _ in second.statuses().values()} == {"filled", "cancelled"}


# --- a trailing stop --------------------------------------------------------------------------------
async def test_a_trailing_stop_moves_the_broker_s_stop_and_still_cancels_the_target(rigs: Callable[..., Rig]) -> None:
    rig = rigs(broker=PaperBroker(fee_rate=0.0), risk={"trailing_stop_pct": 0.05})
    await rig.start()
    await rig.bar(100, then=signal("Long", stop=90.0, target=110.0))
    await rig.bar(100, 106, 100, 106, then=NEUTRAL)  # in at 100, best 106: the stop trails to 101
    position = rig.portfolio.positions[SYMBOL]
    assert (position.trail_distance, position.best_price, position.stop_loss) == (5.0, 106.0, 101.0)
    stops = [o for o in rig.broker.open_orders() if o.type == "stop"]
    assert [s.price for s in stops] == [101.0]
    assert sorted(s for _, s, _ in rig.statuses().values()) == ["cancelled", "filled", "open", "open"]
    assert rig.store.portfolio is not None and rig.store.portfolio.positions[0].stop_loss == 101.0
    await rig.bar(105, 111, 100, 105)  # reaches both the trailed stop and the target: the stop, pessimistically
    [trade] = rig.store.trades()
    assert (trade.exit_reason, trade.exit_price) == ("stop_loss", 101.0)
    assert rig.portfolio.positions == {} and rig.broker.open_orders() == []


# --- a venue that holds no stops ----------------------------------------------------------------------
async def test_without_protective_orders_the_engine_watches_the_levels(rigs: Callable[..., Rig]) -> None:
    venue = MarketOnlyVenue()
    rig = rigs(broker=venue)
    await rig.start()
    await rig.bar(100, then=LONG)
    assert [(o.type, o.side) for o in venue.submitted] == [("market", "buy")]  # no stop, no limit
    await rig.bar(100, then=NEUTRAL)
    assert rig.portfolio.positions[SYMBOL].stop_loss == 95.0
    await rig.bar(99, 99, 94, 96, then=signal("Short"))  # the low passes the stop; the analyst turns too
    assert [(o.side, o.reason) for o in venue.submitted[1:]] == [("sell", "stop_loss")]  # one exit only
    await rig.bar(96, then=LONG)
    [trade] = rig.store.trades()
    assert (trade.exit_reason, trade.exit_price) == ("stop_loss", 96.0)  # a market order: the next open
    assert rig.portfolio.positions == {}
    await rig.bar(96, then=NEUTRAL)
    target = rig.portfolio.positions[SYMBOL].take_profit
    assert target == 110.0
    await rig.bar(100, 112, 99, 111)
    await rig.bar(111)
    assert rig.store.trades()[0].exit_reason == "take_profit" and rig.portfolio.positions == {}
    assert venue.positions() == {}


async def test_a_restart_before_the_entry_filled_keeps_its_levels_for_the_position(rigs: Callable[..., Rig]) -> None:
    first = rigs()
    await first.start()
    await first.bar(100, then=LONG)  # decided; the entry fills at the next open
    await first.engine.stop()
    entry = next(o for o in first.broker.open_orders() if o.type == "market")
    second = rigs(store=first.store, market=Market(first.market.closed), start=first.clock.now())
    second.engine.restore()
    waiting = {o.type: o.parent_id for o in second.broker.open_orders()}
    assert waiting == {"market": None, "stop": entry.client_order_id, "limit": entry.client_order_id}
    await second.start()
    await second.bar(100)
    position = second.portfolio.positions[SYMBOL]
    assert (position.quantity, position.stop_loss, position.take_profit) == (pytest.approx(10), 95.0, 110.0)
    second.engine.close(SYMBOL, 0.5)  # the rest is protected again, which needs the position's levels
    assert sorted((o.type, o.price) for o in second.broker.open_orders() if o.type != "market") == [
        ("limit", 110.0), ("stop", 95.0)]


async def test_an_engine_without_signal_sources_still_takes_setting_changes() -> None:
    store = MemoryTradingStore()
    asset = AssetConfig(SYMBOL, M1, 1, "sma-cross", {"fast": 2, "slow": 3})
    engine = TradingEngine(assets=[asset], candles=Market().candles, newest=Market().newest, signals={},
                           broker=PaperBroker(), portfolio=Portfolio(), store=store, bus=InProcessBus(),
                           clock=SimClock(T0), base_timeframe=M1)
    assert engine.pause(SYMBOL).paused
    assert engine.update(SYMBOL, interval_minutes=5).interval_minutes == 5
    again = TradingEngine(assets=[asset], candles=Market().candles, newest=Market().newest, signals={},
                          broker=PaperBroker(), portfolio=Portfolio(), store=store, bus=InProcessBus(),
                          clock=SimClock(T0), base_timeframe=M1)
    again.restore()
    assert again.assets[SYMBOL].config == store.assets[SYMBOL]


async def test_resuming_an_unknown_symbol_lifts_nothing(rigs: Callable[..., Rig]) -> None:
    rig = rigs()
    rig.portfolio.halted = True
    with pytest.raises(NotFound):
        rig.engine.resume("ETHUSDT")
    assert rig.portfolio.halted
