"""AlpacaBroker against a fake Alpaca trading API on 127.0.0.1: real alpaca-py, real HTTP."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator

import pytest
from fakes.alpaca_trading import API_KEY, SECRET_KEY, FakeAlpacaTrading

from tradewind.adapters.alpaca_broker import LIVE_TRADING_REFUSED, AlpacaBroker
from tradewind.domain import Candle, SimClock
from tradewind.domain.errors import OrderRejected, TradewindError
from tradewind.domain.orders import Fill, Order

T0 = 1_714_564_800  # 2024-05-01T12:00:00Z
TIMEOUT = 0.3  # per request; the fake's "slow" answers come after SLOW
SLOW = TIMEOUT + 0.5
CANDLE = Candle(T0, 65000.0, 65100.0, 64900.0, 65050.0, 12.0)
ORDERS = "/v2/orders"


@pytest.fixture
def clock() -> SimClock:
    return SimClock(T0)


@pytest.fixture
def fake(clock: SimClock) -> Iterator[FakeAlpacaTrading]:
    with FakeAlpacaTrading(now=clock.now, slow_seconds=SLOW).running() as server:
        server.set_price("BTC/USD", 65000.0)
        server.set_price("ETH/USD", 3000.0)
        server.set_price("AAPL", 190.0)
        yield server  # type: ignore[misc]


def make_broker(fake: FakeAlpacaTrading, clock: SimClock | None = None, **options: object) -> AlpacaBroker:
    settings = {"timeout": TIMEOUT, "retries": 2, "retry_wait": 0.01, "max_retry_wait": 1.0} | options
    return AlpacaBroker(API_KEY, SECRET_KEY, base_url=fake.url, clock=clock, **settings)  # type: ignore[arg-type]


@pytest.fixture
def broker(fake: FakeAlpacaTrading, clock: SimClock) -> Iterator[AlpacaBroker]:
    made = make_broker(fake, clock)
    yield made
    made.close()


def order(cid: str = "tw-1", side: str = "buy", quantity: float = 0.5, symbol: str = "BTCUSD", **fields: object) -> Order:
    return Order(cid, symbol, side, quantity, fields.pop("type", "market"), T0, **fields)  # type: ignore[arg-type]


def posts(fake: FakeAlpacaTrading) -> list[object]:
    return [r for r in fake.paths(ORDERS) if r.method == "POST"]


# --- submit and fill -------------------------------------------------------------------------------
def test_a_buy_then_a_sell_fill_and_are_reported_once_each(broker: AlpacaBroker, fake: FakeAlpacaTrading) -> None:
    broker.submit(order("tw-buy", "buy", 0.5))
    assert fake.order_bodies == [{"symbol": "BTC/USD", "qty": 0.5, "side": "buy", "type": "market",
                                  "time_in_force": "gtc", "client_order_id": "tw-buy"}]
    assert broker.on_candle("BTCUSD", CANDLE) == [Fill("tw-buy", "BTCUSD", "buy", 0.5, 65000.0, 0.0, T0)]
    assert broker.on_candle("BTCUSD", CANDLE) == []

    fake.set_price("BTC/USD", 66000.0)
    broker.submit(order("tw-sell", "sell", 0.5, reason="signal"))
    assert broker.on_candle("BTCUSD", CANDLE) == [Fill("tw-sell", "BTCUSD", "sell", 0.5, 66000.0, 0.0, T0, "signal")]
    assert broker.on_candle("BTCUSD", CANDLE) == []
    assert broker.positions() == {}
    assert broker.account({}).cash == pytest.approx(100_500.0)


def test_positions_and_account_after_fills(broker: AlpacaBroker, fake: FakeAlpacaTrading) -> None:
    broker.submit(order("a", "buy", 0.5))
    broker.submit(order("b", "buy", 2.0, symbol="ETH/USD"))
    fake.set_price("BTC/USD", 70000.0)
    assert broker.positions() == {"BTCUSD": 0.5, "ETHUSD": 2.0}
    account = broker.account({"BTCUSD": 1.0})  # the venue marks positions itself
    assert account.cash == pytest.approx(100_000 - 32_500 - 6_000)
    assert account.equity == pytest.approx(account.cash + 35_000 + 6_000)
    assert account.buying_power == pytest.approx(account.cash)


def test_fills_of_other_symbols_wait_for_their_own_candle(broker: AlpacaBroker) -> None:
    broker.submit(order("btc", "buy", 0.1))
    assert broker.on_candle("ETHUSD", CANDLE) == []
    assert [f.client_order_id for f in broker.on_candle("BTC/USD", CANDLE)] == ["btc"]


def test_partial_fills_are_reported_as_their_increments(broker: AlpacaBroker, fake: FakeAlpacaTrading) -> None:
    fake.auto_fill = False
    broker.submit(order("p", "buy", 1.0))
    assert broker.on_candle("BTCUSD", CANDLE) == []
    fake.fill_pending(0.4)
    first = broker.on_candle("BTCUSD", CANDLE)
    assert [(f.quantity, f.price) for f in first] == [(0.4, 65000.0)]
    fake.set_price("BTC/USD", 66000.0)
    fake.fill_pending()
    second = broker.on_candle("BTCUSD", CANDLE)
    assert len(second) == 1 and second[0].quantity == 0.6 and second[0].price == pytest.approx(66000.0)
    assert sum(f.quantity * f.price for f in first + second) == pytest.approx(0.4 * 65000 + 0.6 * 66000)
    polls = len(fake.paths("/v2/orders/"))
    assert broker.on_candle("BTCUSD", CANDLE) == []
    assert len(fake.paths("/v2/orders/")) == polls  # a finished order is not polled again


def test_stocks_go_day_orders_and_may_be_sold_short(fake: FakeAlpacaTrading, clock: SimClock) -> None:
    broker = make_broker(fake, clock, asset_class="stock")
    broker.submit(order("s", "sell", 10, symbol="AAPL"))
    assert fake.order_bodies[-1]["time_in_force"] == "day" and fake.order_bodies[-1]["symbol"] == "AAPL"
    assert [f.quantity for f in broker.on_candle("AAPL", CANDLE)] == [10]
    assert broker.positions() == {"AAPL": -10.0}


# --- idempotency -----------------------------------------------------------------------------------
def test_a_resubmitted_order_is_not_placed_twice(broker: AlpacaBroker, fake: FakeAlpacaTrading, clock: SimClock) -> None:
    broker.submit(order("same"))
    broker.submit(order("same"))
    assert len(posts(fake)) == 1
    restarted = make_broker(fake, clock)  # knows nothing: Alpaca's 422 says it is placed already
    restarted.submit(order("same"))
    assert len(posts(fake)) == 2 and len(fake.placed("same")) == 1
    assert [f.quantity for f in restarted.on_candle("BTCUSD", CANDLE)] == [0.5]
    assert restarted.on_candle("BTCUSD", CANDLE) == []


def test_a_client_id_taken_by_another_order_is_refused(broker: AlpacaBroker, fake: FakeAlpacaTrading, clock: SimClock) -> None:
    broker.submit(order("taken", "buy", 0.1))
    with pytest.raises(OrderRejected) as caught:
        make_broker(fake, clock).submit(order("taken", "buy", 0.1, symbol="ETHUSD"))
    assert caught.value.reason == "duplicate_client_order_id"


def test_an_answer_lost_after_placing_is_retried_without_a_second_order(broker: AlpacaBroker, fake: FakeAlpacaTrading) -> None:
    for kind in ("slow", "truncated"):
        fake.fail_next(kind, 1, path_prefix=ORDERS)
        cid = f"lost-{kind}"
        started = time.monotonic()
        broker.submit(order(cid, "buy", 0.1))
        assert time.monotonic() - started < TIMEOUT + 1.0
        assert len(fake.placed(cid)) == 1 and len([b for b in fake.order_bodies if b["client_order_id"] == cid]) == 2
        assert [f.client_order_id for f in broker.on_candle("BTCUSD", CANDLE)] == [cid]


# --- rejections ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("sent", "reason", "quoted"), [
    (order("big", "buy", 10.0), "insufficient_balance", "insufficient balance for USD"),
    (order("short", "sell", 0.1), "insufficient_balance", "insufficient balance for BTC"),
    (order("unknown", "buy", 1.0, symbol="DOGEUSD"), "invalid_order", "asset not found"),
])
def test_the_venues_refusals_carry_a_reason(broker: AlpacaBroker, fake: FakeAlpacaTrading, sent: Order, reason: str,
                                            quoted: str) -> None:
    with pytest.raises(OrderRejected) as caught:
        broker.submit(sent)
    assert caught.value.reason == reason and quoted in str(caught.value) and len(str(caught.value)) < 300
    assert fake.placed() == [] and len(posts(fake)) == 1  # a refusal is not retried


def test_a_wash_trade_is_refused(broker: AlpacaBroker, fake: FakeAlpacaTrading) -> None:
    broker.submit(order("held", "buy", 1.0))
    fake.auto_fill = False
    broker.submit(order("open-buy", "buy", 0.1))
    with pytest.raises(OrderRejected) as caught:
        broker.submit(order("sell", "sell", 0.5))
    assert caught.value.reason == "wash_trade"


@pytest.mark.parametrize(("sent", "reason"), [
    (order("stop", "sell", 0.1, type="stop", price=60000.0), "unsupported_order_type"),
    (order("limit", "buy", 0.1, type="limit", price=60000.0), "unsupported_order_type"),
    (order("zero", "buy", 0.0), "invalid_quantity"),
    (order("nan", "buy", float("nan")), "invalid_quantity"),
    (order("x" * 129, "buy", 0.1), "invalid_order"),
    (order("pair", "buy", 0.1, symbol="BTCXYZ"), "unknown_symbol"),
])
def test_orders_alpaca_cannot_take_are_refused_without_a_request(broker: AlpacaBroker, fake: FakeAlpacaTrading,
                                                                 sent: Order, reason: str) -> None:
    with pytest.raises(OrderRejected) as caught:
        broker.submit(sent)
    assert caught.value.reason == reason and len(str(caught.value)) < 300
    assert fake.requests == []


# --- cancel and open orders ------------------------------------------------------------------------
def test_cancel_an_open_order_and_ignore_the_rest(broker: AlpacaBroker, fake: FakeAlpacaTrading) -> None:
    fake.auto_fill = False
    broker.submit(order("c", "buy", 1.0))
    fake.fill_pending(0.25)
    broker.cancel("c")
    assert fake.placed("c")[0].status == "canceled"
    broker.cancel("c")  # already cancelled: Alpaca's 422 is ignored
    broker.cancel("never-sent")  # unknown: Alpaca's 404 is ignored
    assert [f.quantity for f in broker.on_candle("BTCUSD", CANDLE)] == [0.25]  # the part that filled
    assert broker.on_candle("BTCUSD", CANDLE) == [] and broker.open_orders() == []

    fake.auto_fill = True
    broker.submit(order("done", "buy", 0.1))
    broker.cancel("done")  # filled already: nothing to cancel
    assert fake.placed("done")[0].status == "filled"


def test_cancel_by_client_id_of_an_order_another_instance_placed(broker: AlpacaBroker, fake: FakeAlpacaTrading,
                                                                 clock: SimClock) -> None:
    fake.auto_fill = False
    make_broker(fake, clock).submit(order("elsewhere", "buy", 0.1))
    broker.cancel("elsewhere")
    assert fake.placed("elsewhere")[0].status == "canceled"


def test_open_orders_are_the_venues(broker: AlpacaBroker, fake: FakeAlpacaTrading, clock: SimClock) -> None:
    fake.auto_fill = False
    mine = order("mine", "buy", 0.2, reason="signal")
    broker.submit(mine)
    make_broker(fake, clock).submit(order("theirs", "buy", 1.0, symbol="ETH/USD"))
    got = {o.client_order_id: o for o in broker.open_orders()}
    assert got["mine"] == mine
    assert got["theirs"] == Order("theirs", "ETHUSD", "buy", 1.0, "market", float(T0))
    assert fake.paths(ORDERS)[-1].query == {"status": "open", "limit": "500"}


# --- the venue failing ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["429", "500", "502", "503", "truncated", "malformed", "reset", "slow"])
def test_one_failure_is_retried(broker: AlpacaBroker, fake: FakeAlpacaTrading, kind: str) -> None:
    fake.fail_next(kind, 1)
    broker.submit(order("r", "buy", 0.1))
    assert len(fake.placed("r")) == 1
    fake.fail_next(kind, 1)
    assert broker.positions() == {"BTCUSD": 0.1}


@pytest.mark.parametrize("kind", ["429", "500", "503", "truncated", "malformed", "reset"])
def test_a_failure_that_lasts_ends_in_broker_unavailable(broker: AlpacaBroker, fake: FakeAlpacaTrading, kind: str) -> None:
    fake.fail_next(kind, 3)
    with pytest.raises(OrderRejected) as caught:
        broker.account({})
    assert type(caught.value) is OrderRejected and caught.value.reason == "broker_unavailable"
    assert "3 attempt(s)" in str(caught.value) and len(str(caught.value)) < 400
    assert len(fake.paths("/v2/account")) == 3
    assert broker.account({}).cash == 100_000.0  # and it works again after


@pytest.mark.parametrize("call", ["submit", "cancel", "positions", "open_orders"])
@pytest.mark.parametrize("kind", ["503", "reset"])  # failures before the request is carried out
def test_every_call_ends_in_broker_unavailable_when_the_venue_keeps_failing(
    broker: AlpacaBroker, fake: FakeAlpacaTrading, call: str, kind: str
) -> None:
    fake.fail_next(kind, 3)
    run = {"submit": lambda: broker.submit(order()), "cancel": lambda: broker.cancel("tw-1"),
           "positions": broker.positions, "open_orders": broker.open_orders}[call]
    with pytest.raises(OrderRejected) as caught:
        run()
    assert type(caught.value) is OrderRejected and caught.value.reason == "broker_unavailable"


def test_an_order_that_fails_before_reaching_the_venue_is_not_placed(broker: AlpacaBroker, fake: FakeAlpacaTrading) -> None:
    fake.fail_next("503", 3)
    with pytest.raises(OrderRejected) as caught:
        broker.submit(order("down", "buy", 0.1))
    assert caught.value.reason == "broker_unavailable" and fake.placed() == []
    broker.submit(order("down", "buy", 0.1))  # not remembered as placed: the retry goes out
    assert len(fake.placed("down")) == 1


def test_timeouts_are_bounded(fake: FakeAlpacaTrading) -> None:
    broker = make_broker(fake, retries=1)
    fake.fail_next("slow", 2, path_prefix="/v2/positions")
    started = time.monotonic()
    with pytest.raises(OrderRejected) as caught:
        broker.positions()
    assert caught.value.reason == "broker_unavailable" and "no answer within" in str(caught.value)
    assert time.monotonic() - started < 2 * TIMEOUT + 0.5


def test_a_long_rate_limit_is_not_waited_out(broker: AlpacaBroker, fake: FakeAlpacaTrading) -> None:
    fake.fail_next("429", 1, retry_after=30)
    started = time.monotonic()
    with pytest.raises(OrderRejected) as caught:
        broker.submit(order("limited", "buy", 0.1))
    assert caught.value.reason == "broker_unavailable" and "rate limited" in str(caught.value)
    assert time.monotonic() - started < 0.5 and len(posts(fake)) == 1


def test_an_unreachable_venue_is_broker_unavailable(fake: FakeAlpacaTrading) -> None:
    url = fake.url
    fake.stop()
    broker = AlpacaBroker(API_KEY, SECRET_KEY, base_url=url, timeout=TIMEOUT, retries=1, retry_wait=0.01)
    with pytest.raises(OrderRejected) as caught:
        broker.submit(order())
    assert caught.value.reason == "broker_unavailable" and "cannot reach" in str(caught.value)


def test_fills_are_late_not_lost_when_polling_fails(broker: AlpacaBroker, fake: FakeAlpacaTrading) -> None:
    broker.submit(order("late", "buy", 0.1))
    fake.fail_next("503", 3, path_prefix="/v2/orders/")
    assert broker.on_candle("BTCUSD", CANDLE) == []
    assert [f.client_order_id for f in broker.on_candle("BTCUSD", CANDLE)] == ["late"]
    assert broker.on_candle("BTCUSD", CANDLE) == []


# --- live money and secrets ------------------------------------------------------------------------
def test_live_trading_needs_the_confirmation(fake: FakeAlpacaTrading) -> None:
    with pytest.raises(TradewindError) as caught:
        AlpacaBroker(API_KEY, SECRET_KEY, paper=False, base_url=fake.url)
    assert str(caught.value) == LIVE_TRADING_REFUSED and "\n" not in str(caught.value)
    live = AlpacaBroker(API_KEY, SECRET_KEY, paper=False, live_confirmed=True, base_url=fake.url)
    assert live.name == "alpaca" and live.protective_orders is False
    assert fake.requests == []


def test_the_keys_appear_in_no_repr_error_or_log(fake: FakeAlpacaTrading, clock: SimClock,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    broker = make_broker(fake, clock)
    texts = [repr(broker), str(vars(broker).get("_scrub"))]
    fake.server_error = lambda status: __import__("fakes").Reply(status, {"message": f"bad key {API_KEY}/{SECRET_KEY}"})
    fake.fail_next("500", 3)
    with pytest.raises(OrderRejected) as down:
        broker.submit(order())
    wrong = AlpacaBroker(API_KEY, "not-the-secret", base_url=fake.url, timeout=TIMEOUT)
    with pytest.raises(OrderRejected) as refused:
        wrong.account({})
    assert refused.value.reason == "unauthorized"
    texts += [str(down.value), str(refused.value), caplog.text, repr(wrong)]
    for text in texts:
        assert API_KEY not in text and SECRET_KEY not in text and "not-the-secret" not in text
    assert "***" in str(down.value)


def test_plain_http_to_a_remote_host_is_refused() -> None:
    with pytest.raises(TradewindError, match="https"):
        AlpacaBroker(API_KEY, SECRET_KEY, base_url="http://paper-api.example.com")
    with pytest.raises(TradewindError, match="api_key"):
        AlpacaBroker("", SECRET_KEY)


def test_without_the_extra_the_error_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "alpaca.trading.client", None)
    with pytest.raises(TradewindError, match=r"tradewind\[alpaca\]"):
        AlpacaBroker(API_KEY, SECRET_KEY)


# --- the fake itself -------------------------------------------------------------------------------
def test_the_fake_answers_what_alpaca_pys_models_require(fake: FakeAlpacaTrading) -> None:
    from alpaca.trading.client import TradingClient
    from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce
    from alpaca.trading.requests import MarketOrderRequest

    client = TradingClient(API_KEY, SECRET_KEY, url_override=fake.url)  # parses into pydantic models
    placed = client.submit_order(MarketOrderRequest(symbol="BTC/USD", qty=0.1, side=OrderSide.BUY,
                                                    time_in_force=TimeInForce.GTC, client_order_id="m"))
    assert placed.status == OrderStatus.PENDING_NEW
    assert client.get_order_by_id(placed.id).status == OrderStatus.FILLED
    assert client.get_order_by_client_id("m").filled_avg_price == "65000"
    assert [p.symbol for p in client.get_all_positions()] == ["BTCUSD"]
    assert client.get_account().cash == "93500"
    assert client.get_orders()[:1] == [] and client.get_clock().is_open
