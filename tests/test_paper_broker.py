"""The paper broker: fills from closed candles, protective orders, idempotence, rejections and its ledger."""

from __future__ import annotations

import math

import pytest

from tradewind.domain.candle import Candle
from tradewind.domain.errors import OrderRejected
from tradewind.domain.orders import Fill, Order
from tradewind.trading.paper import PaperBroker
from tradewind.trading.portfolio import Portfolio

T = 1_700_000_000 // 60 * 60
SYMBOL = "BTCUSDT"


def candle(i: int, open: float, high: float, low: float, close: float) -> Candle:
    return Candle(T + 60 * i, open, high, low, close, 1.0)


def market(cid: str, side: str, quantity: float, symbol: str = SYMBOL) -> Order:
    return Order(cid, symbol, side, quantity, "market", T, reason="signal")  # type: ignore[arg-type]


def bracket(parent: str, side: str, quantity: float, stop: float, target: float) -> tuple[Order, Order]:
    return (Order(f"{parent}-sl", SYMBOL, side, quantity, "stop", T, stop, "stop_loss", parent),  # type: ignore[arg-type]
            Order(f"{parent}-tp", SYMBOL, side, quantity, "limit", T, target, "take_profit", parent))  # type: ignore[arg-type]


def long_with_bracket(broker: PaperBroker, stop: float = 95.0, target: float = 110.0) -> None:
    broker.submit(market("e1", "buy", 10))
    for order in bracket("e1", "sell", 10, stop, target):
        broker.submit(order)


def test_market_orders_fill_at_the_next_open_with_slippage_against_the_trader_and_fees() -> None:
    broker = PaperBroker(cash=10_000, fee_rate=0.001, slippage=0.01)
    broker.submit(market("b1", "buy", 10))
    broker.submit(market("s1", "sell", 2, symbol="ETHUSDT"))
    [buy] = broker.on_candle(SYMBOL, candle(0, 100, 105, 95, 102))
    assert buy == Fill("b1", SYMBOL, "buy", 10, pytest.approx(101.0), pytest.approx(1.01), T, "signal")  # type: ignore[arg-type]
    assert [o.client_order_id for o in broker.open_orders()] == ["s1"]  # another symbol waits for its own candle
    [sell] = broker.on_candle("ETHUSDT", candle(0, 50, 51, 49, 50))
    assert sell.price == pytest.approx(49.5) and sell.fee == pytest.approx(2 * 49.5 * 0.001)
    assert broker.on_candle(SYMBOL, candle(1, 100, 101, 99, 100)) == []  # filled once only


def test_protective_orders_wait_for_their_parent_then_may_fill_on_its_own_candle() -> None:
    broker = PaperBroker(fee_rate=0.0)
    for order in bracket("e1", "sell", 10, 95, 110):
        broker.submit(order)
    assert broker.on_candle(SYMBOL, candle(0, 100, 120, 80, 100)) == []  # the entry was never sent: inert
    broker.submit(market("e1", "buy", 10))
    entry, stop = broker.on_candle(SYMBOL, candle(1, 100, 101, 94, 96))  # fills, then the low reaches the stop
    assert (entry.client_order_id, entry.price) == ("e1", 100.0)
    assert (stop.client_order_id, stop.price, stop.reason) == ("e1-sl", 95.0, "stop_loss")
    assert broker.open_orders() == []  # its sibling went with it


@pytest.mark.parametrize("bar, filled, price", [
    ((100, 101, 94, 96), "e1-sl", 95.0),  # the low reaches the stop: its price
    ((92, 93, 90, 91), "e1-sl", 92.0),  # gapped through it: the open, which is worse
    ((100, 111, 99, 108), "e1-tp", 110.0),  # the high reaches the target: its price
    ((115, 116, 112, 113), "e1-tp", 115.0),  # gapped beyond it: the open, which is better
    ((100, 112, 93, 100), "e1-sl", 95.0),  # both in one candle: the stop first (pessimistic)
    ((111, 112, 93, 100), "e1-tp", 111.0),  # both, but it opened beyond the target: the target
])
def test_a_long_position_s_stop_and_target(bar: tuple[float, float, float, float], filled: str, price: float) -> None:
    broker = PaperBroker(fee_rate=0.0)
    long_with_bracket(broker)
    broker.on_candle(SYMBOL, candle(0, 100, 100, 100, 100))
    [fill] = broker.on_candle(SYMBOL, candle(1, *bar))
    assert (fill.client_order_id, fill.side, fill.price) == (filled, "sell", price)
    assert broker.open_orders() == [] and broker.positions() == {}


@pytest.mark.parametrize("bar, filled, price", [
    ((100, 106, 99, 104), "e1-sl", 105.0),
    ((108, 109, 107, 108), "e1-sl", 108.0),  # gapped up through the buy stop: worse
    ((100, 101, 89, 92), "e1-tp", 90.0),
    ((85, 87, 84, 86), "e1-tp", 85.0),  # gapped down beyond the buy limit: better
    ((100, 106, 89, 100), "e1-sl", 105.0),
    ((88, 106, 87, 100), "e1-tp", 88.0),
])
def test_a_short_position_s_stop_and_target_mirror_the_long(bar: tuple[float, float, float, float], filled: str,
                                                              price: float) -> None:
    broker = PaperBroker(fee_rate=0.0)
    broker.submit(market("e1", "sell", 10))
    for order in bracket("e1", "buy", 10, 105, 90):
        broker.submit(order)
    broker.on_candle(SYMBOL, candle(0, 100, 100, 100, 100))
    [fill] = broker.on_candle(SYMBOL, candle(1, *bar))
    assert (fill.client_order_id, fill.side, fill.price) == (filled, "buy", price)
    assert broker.positions() == {}


def test_a_stop_slips_against_the_trader_and_a_limit_does_not() -> None:
    broker = PaperBroker(fee_rate=0.0, slippage=0.001)
    long_with_bracket(broker)
    broker.on_candle(SYMBOL, candle(0, 100, 100, 100, 100))
    [stop] = broker.on_candle(SYMBOL, candle(1, 99, 99, 94, 95))
    assert stop.price == pytest.approx(95 * 0.999)
    broker = PaperBroker(fee_rate=0.0, slippage=0.001)
    long_with_bracket(broker)
    broker.on_candle(SYMBOL, candle(0, 100, 100, 100, 100))
    [limit] = broker.on_candle(SYMBOL, candle(1, 105, 111, 104, 110))
    assert limit.price == 110.0


def test_resubmitting_an_id_is_ignored_and_cancel_removes_an_order() -> None:
    broker = PaperBroker(fee_rate=0.0)
    broker.submit(market("b1", "buy", 1))
    broker.submit(market("b1", "buy", 1))
    stop, limit = bracket("b1", "sell", 1, 90, 120)
    broker.submit(stop)
    broker.submit(limit)
    broker.cancel("b1-tp")
    broker.cancel("never-sent")  # unknown ids are no error
    assert sorted(o.client_order_id for o in broker.open_orders()) == ["b1", "b1-sl"]
    [fill] = broker.on_candle(SYMBOL, candle(0, 100, 125, 99, 120))  # the cancelled target is not there to fill
    assert fill.client_order_id == "b1" and broker.positions() == {SYMBOL: 1}
    broker.submit(market("b1", "buy", 1))  # filled ids stay known too
    broker.cancel("b2")
    assert broker.on_candle(SYMBOL, candle(1, 100, 101, 99, 100)) == []
    broker.cancel("b1-sl")
    assert broker.open_orders() == []


@pytest.mark.parametrize("order, reason", [
    (Order("q0", SYMBOL, "buy", 0.0, "market", T), "invalid_quantity"),
    (Order("qn", SYMBOL, "buy", -1.0, "market", T), "invalid_quantity"),
    (Order("qnan", SYMBOL, "buy", math.nan, "market", T), "invalid_quantity"),
    (Order("qinf", SYMBOL, "buy", math.inf, "market", T), "invalid_quantity"),
    (Order("p0", SYMBOL, "sell", 1.0, "stop", T), "invalid_price"),
    (Order("p1", SYMBOL, "sell", 1.0, "limit", T, price=-3.0), "invalid_price"),
    (Order("p2", SYMBOL, "sell", 1.0, "stop", T, price=math.nan), "invalid_price"),
])
def test_rejections_say_why_and_leave_nothing_behind(order: Order, reason: str) -> None:
    broker = PaperBroker()
    with pytest.raises(OrderRejected) as error:
        broker.submit(order)
    assert error.value.reason == reason
    assert broker.open_orders() == []
    fixed = Order(order.client_order_id, SYMBOL, "buy", 1.0, "market", T)
    broker.submit(fixed)  # a rejected id was never taken: the corrected order goes in
    assert broker.open_orders() == [fixed]


@pytest.mark.parametrize("name", ["fee_rate", "slippage"])
def test_fee_and_slippage_are_checked(name: str) -> None:
    for value in (-0.1, 0.5, math.nan):
        with pytest.raises(OrderRejected) as error:
            PaperBroker(**{name: value})  # type: ignore[arg-type]
        assert error.value.reason == "config" and name in str(error.value)


def test_the_ledger_follows_the_fills_long_and_short() -> None:
    broker = PaperBroker(cash=10_000, fee_rate=0.001)
    broker.submit(market("b1", "buy", 10))
    broker.submit(market("s1", "sell", 5, symbol="ETHUSDT"))
    broker.on_candle(SYMBOL, candle(0, 100, 100, 100, 100))
    broker.on_candle("ETHUSDT", candle(0, 50, 50, 50, 50))
    assert broker.positions() == {SYMBOL: 10, "ETHUSDT": -5}
    cash = 10_000 - 1_000 - 1.0 + 250 - 0.25
    account = broker.account({SYMBOL: 110.0, "ETHUSDT": 40.0})
    assert account.cash == pytest.approx(cash)
    assert account.equity == pytest.approx(cash + 10 * 110 - 5 * 40)
    assert account.buying_power == pytest.approx(cash)
    broker.submit(market("s2", "sell", 10))
    broker.on_candle(SYMBOL, candle(1, 110, 110, 110, 110))
    assert broker.positions() == {"ETHUSDT": -5}  # a closed position is not reported


def test_sync_makes_the_ledger_what_the_book_holds() -> None:
    book = Portfolio(10_000)
    book.apply(Fill("a", SYMBOL, "buy", 3, 100.0, 0.3, T))
    book.apply(Fill("b", "ETHUSDT", "sell", 2, 50.0, 0.1, T))
    broker = PaperBroker(cash=1.0)
    broker.sync(book)
    assert broker.cash == book.cash
    assert broker.positions() == {SYMBOL: 3, "ETHUSDT": -2}
    assert broker.account({SYMBOL: 100.0, "ETHUSDT": 50.0}).equity == pytest.approx(book.equity())
