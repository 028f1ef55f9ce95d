"""The Redis bus on the real local Redis: events cross processes' buses exactly once, as the same objects.

Two ``RedisBus`` instances with different worker ids stand for two workers (each runs its own
threads and connections, as a worker process does); the two-process test is ``test_workers.py``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tradewind.adapters import event_codec
from tradewind.adapters.redis_bus import RedisBus
from tradewind.adapters.scale_out import ScaleOut
from tradewind.analysts.base import AnalysisRequest
from tradewind.analysts.rules import RulesAnalyst
from tradewind.domain.bars import Bars, resample
from tradewind.domain.candle import Candle
from tradewind.domain.errors import StorageUnavailable
from tradewind.domain.events import (
    CandleClosed,
    DrawdownAlert,
    OrderFilled,
    PositionChanged,
    RiskDenied,
    SignalCreated,
    StatisticsUpdated,
    TradeClosed,
)
from tradewind.domain.orders import Fill, OrderIntent, Position, Trade
from tradewind.domain.signal import signal_record
from tradewind.domain.timeframe import Timeframe
from tradewind.signals.requests import bars_from_rows
from support.redis_db import redis_client
from support.waiting import wait_for

pytestmark = pytest.mark.redis


@pytest.fixture
def client() -> Iterator[tuple[redis.Redis, str]]:
    with redis_client() as pair:
        yield pair


DATA = Path(__file__).parent / "data"


def real_signal() -> SignalCreated:
    """A signal the rule-based analyst really made from stored candles (its extras hold NumPy values)."""
    bars = bars_from_rows(json.loads((DATA / "ETH_BTC-5m.json").read_text())).slice(0, 900)
    hourly, done = resample(bars, 3600, source_seconds=300)
    candles = {Timeframe.M5: bars.slice(-500), Timeframe.H1: Bars(*(c[done] for c in hourly))}
    request = AnalysisRequest(symbol="ETHBTC", candles=candles, timestamp_ms=int(bars.time[-1] + 300) * 1000)
    signal = RulesAnalyst().analyze(request)
    record = {**signal_record(signal), "symbol": "ETHBTC", "timeframe": "5m", "analyst": "rules"}
    return SignalCreated("sig_1", signal, record, "api", False)


def trading_events() -> list[object]:
    fill = Fill("tw_1", "BTCUSDT", "buy", 0.5, 64000.0, 1.25, 1_700_000_000.0, "signal")
    position = Position("BTCUSDT", "long", 0.5, 64000.0, 1_700_000_000.0, 63000.0, 66000.0, 640.0, 64100.0, 1.25)
    trade = Trade("BTCUSDT", "long", 0.5, 1_700_000_000.0, 64000.0, 1_700_003_600.0, 65000.0, 498.75, 2.5,
                  "take_profit")
    return [OrderFilled(fill, 10_498.75), PositionChanged("BTCUSDT", position, 50.0, 0.0), TradeClosed(trade),
            RiskDenied("BTCUSDT", "max_positions", "3 open", 1_700_000_000.0),
            DrawdownAlert(0.11, 0.1, 8900.0, False, 1_700_000_000.0),
            StatisticsUpdated("BTCUSDT", {"win_rate": 0.5, "trades": 2, "profit_factor": None})]


def test_every_event_round_trips_as_the_same_object() -> None:
    candle = CandleClosed("BTCUSDT", Timeframe.M5, Candle(1_700_000_100, 1.0, 2.0, 0.5, 1.5, 10.0, True, 0.01))
    for event in [real_signal(), candle, *trading_events()]:
        back = event_codec.decode(event_codec.encode(event))
        assert back == event and type(back) is type(event)
    assert type(event_codec.decode(event_codec.encode(real_signal())).signal.market_analysis.support_levels) is tuple
    numbers = StatisticsUpdated("BTCUSDT", {"pnl": np.float64(1.5), "trades": np.int64(3), "curve": np.arange(3.0)})
    assert event_codec.decode(event_codec.encode(numbers)).statistics == {"pnl": 1.5, "trades": 3, "curve": [0, 1, 2]}


def test_a_message_cannot_name_a_class_to_build() -> None:
    with pytest.raises(event_codec.CodecError, match="unknown event class"):
        event_codec.decode(b'{"__dc__": "Popen", "args": ["sh"]}')
    with pytest.raises(event_codec.CodecError, match="not an event class"):
        event_codec.encode(OrderIntent("enter", "long"))  # a dataclass the bus does not carry
    with pytest.raises(event_codec.CodecError, match="not serialisable"):
        event_codec.encode(RiskDenied("BTCUSDT", "x", threading.Lock(), 1.0))  # type: ignore[arg-type]
    with pytest.raises(event_codec.CodecError):
        event_codec.decode(b"{not json")


def test_events_reach_the_other_worker_once_and_never_echo(client: tuple[redis.Redis, str]) -> None:
    conn, prefix = client
    a = RedisBus(conn, worker="a", channel=prefix + "events")
    b = RedisBus(redis.Redis.from_url(_url(conn)), worker="b",
                 channel=prefix + "events")
    got: dict[str, list[object]] = {"a": [], "b": []}
    own: dict[str, list[object]] = {"a": [], "b": []}  # what /metrics counts: each worker's own events
    for name, bus in (("a", a), ("b", b)):
        for topic in (SignalCreated.topic, OrderFilled.topic, CandleClosed.topic, TradeClosed.topic):
            bus.subscribe(topic, got[name].append)
            bus.own.subscribe(topic, own[name].append)
    a.start()
    b.start()
    try:
        signal, events = real_signal(), trading_events()
        candle = CandleClosed("BTCUSDT", Timeframe.M1, Candle(1_700_000_040, 1.0, 2.0, 0.5, 1.5, 10.0, True))
        a.publish(SignalCreated.topic, signal)
        a.publish(CandleClosed.topic, candle)  # every worker closes its own candles: stays here
        b.publish(OrderFilled.topic, events[0])
        b.publish(TradeClosed.topic, events[2])
        wait_for(lambda: len(got["b"]) >= 2 and len(got["a"]) >= 4, timeout=5)
        time.sleep(0.3)  # anything duplicated or echoed would have arrived by now
    finally:
        a.close()
        b.close()
    assert got["a"] == [signal, candle, events[0], events[2]]  # its own at once, then b's
    assert got["b"] == [events[0], events[2], signal]  # its own, then a's signal; no candle
    assert own == {"a": [signal, candle], "b": [events[0], events[2]]}  # summed, each event counts once
    assert a.stats()["received"] == 2 and b.stats()["received"] == 1
    lag = b.stats()["lag_seconds"]
    assert 0 <= lag["last"] <= lag["max"] < 2 and 0 <= lag["mean"] <= lag["max"]


def _url(conn: redis.Redis) -> str:
    kw = conn.connection_pool.connection_kwargs
    return f"redis://{kw.get('host', '127.0.0.1')}:{kw.get('port', 6379)}/{kw.get('db', 0)}"


def test_publishing_never_waits_for_redis_and_lag_is_measured(client: tuple[redis.Redis, str]) -> None:
    conn, prefix = client
    sender = RedisBus(conn, worker="a", channel=prefix + "events")
    receiver = RedisBus(redis.Redis.from_url(_url(conn)), worker="b", channel=prefix + "events")
    seen: list[object] = []
    receiver.subscribe(RiskDenied.topic, seen.append)
    sender.start()
    receiver.start()
    try:
        events = [RiskDenied("BTCUSDT", "cooldown", str(i), float(i)) for i in range(2000)]
        started = time.perf_counter()
        for event in events:
            sender.publish(RiskDenied.topic, event)
        publish_seconds = time.perf_counter() - started
        wait_for(lambda: len(seen) == len(events), timeout=20)
    finally:
        sender.close()
        receiver.close()
    assert seen == events  # all of them, in order
    assert publish_seconds < 0.5  # queued, not sent, by the publisher: under 0.25 ms each
    stats = receiver.stats()
    assert stats["received"] == 2000 and stats["receive_errors"] == 0
    assert stats["lag_seconds"]["max"] >= stats["lag_seconds"]["mean"] >= 0
    assert stats["lag_seconds"]["max"] < 20


def test_a_failing_subscriber_or_a_foreign_message_does_not_stop_the_listener(client: tuple[redis.Redis, str]) -> None:
    conn, prefix = client
    bus = RedisBus(conn, worker="b", channel=prefix + "events")
    seen: list[object] = []

    def broken(event: object) -> None:
        raise RuntimeError("subscriber bug")

    bus.subscribe(RiskDenied.topic, broken)
    bus.subscribe(RiskDenied.topic, seen.append)
    bus.start()
    try:
        conn.publish(prefix + "events", b"not json at all")
        conn.publish(prefix + "events", b'{"worker": "x", "topic": "t", "published_at": 1, "event": {"__dc__": "os"}}')
        event = RiskDenied("ETHUSDT", "cooldown", "after a loss", 1.0)
        conn.publish(prefix + "events", b'{"worker": "x", "topic": "trading.risk_denied", "published_at": %f, "event": %s}'
                     % (time.time(), event_codec.encode(event)))
        wait_for(lambda: seen, timeout=5)
    finally:
        bus.close()
    assert seen == [event]
    assert bus.stats()["receive_errors"] == 2 and bus.stats()["subscriber_errors"] == 1


def test_an_unreachable_redis_stops_the_start_with_the_setting_named() -> None:
    dead = redis.Redis(host="127.0.0.1", port=1, socket_timeout=0.2, socket_connect_timeout=0.2,
                       retry=Retry(NoBackoff(), 0))  # nothing listens on port 1
    scale = ScaleOut("w", RedisBus(dead, worker="w"), dead)
    with pytest.raises(StorageUnavailable, match="TRADEWIND_REDIS_URL: Redis cannot be reached"):
        scale.start()
    scale.close()
    assert ScaleOut.single().status()["bus"] == {"kind": "in-process"}
