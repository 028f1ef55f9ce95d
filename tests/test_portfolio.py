"""The portfolio: cash, equity and P&L by hand for long and short round trips, partial closes, marks,
the trailing stop, the loss streak, and an exact snapshot."""

from __future__ import annotations

import pytest

from tradewind.domain.orders import Fill
from tradewind.trading.portfolio import Portfolio

DAY = 86_400
T = 1_700_006_400  # 2023-11-15 00:00 UTC
SYMBOL = "BTCUSDT"


def fill(side: str, quantity: float, price: float, fee: float, *, time: float = T, reason: str = "",
         symbol: str = SYMBOL) -> Fill:
    return Fill(f"{side}-{time}-{quantity}", symbol, side, quantity, price, fee, time, reason)  # type: ignore[arg-type]


def test_a_long_round_trip_with_fees() -> None:
    book = Portfolio(10_000)
    assert book.apply(fill("buy", 10, 100.0, 1.0)) is None
    assert book.cash == pytest.approx(8_999.0)
    assert book.equity() == pytest.approx(9_999.0)  # marked at the fill price
    book.mark(SYMBOL, 105.0, T + 60)
    assert book.equity() == pytest.approx(10_049.0) and book.unrealized(SYMBOL) == pytest.approx(50.0)
    assert book.exposure(SYMBOL) == pytest.approx(1_050.0)
    trade = book.apply(fill("sell", 10, 110.0, 1.1, time=T + 120, reason="take_profit"))
    assert trade is not None
    assert trade.pnl == pytest.approx(100 - 1.0 - 1.1) and trade.fees == pytest.approx(2.1)
    assert (trade.side, trade.quantity, trade.entry_price, trade.exit_price) == ("long", 10, 100.0, 110.0)
    assert (trade.entry_time, trade.exit_time, trade.exit_reason) == (T, T + 120, "take_profit")
    assert trade.return_pct == pytest.approx(97.9 / 1_000)
    assert book.cash == pytest.approx(10_097.9) and book.equity() == pytest.approx(10_097.9)
    assert book.realized_pnl == pytest.approx(97.9) and book.fees == pytest.approx(2.1)
    assert book.positions == {} and book.summary()["total_return"] == pytest.approx(0.00979)


def test_a_short_round_trip_with_fees() -> None:
    book = Portfolio(10_000)
    book.apply(fill("sell", 10, 100.0, 1.0))
    assert book.positions[SYMBOL].side == "short"
    assert book.cash == pytest.approx(10_999.0)  # the proceeds less the fee; the asset is owed back
    assert book.equity() == pytest.approx(9_999.0)
    book.mark(SYMBOL, 95.0, T + 60)
    assert book.equity() == pytest.approx(10_049.0) and book.unrealized(SYMBOL) == pytest.approx(50.0)
    trade = book.apply(fill("buy", 10, 90.0, 0.9, time=T + 120))
    assert trade is not None and trade.side == "short"
    assert trade.pnl == pytest.approx(100 - 1.0 - 0.9) and trade.fees == pytest.approx(1.9)
    assert trade.exit_reason == "signal"  # a fill without a reason closes as a signal
    assert book.cash == pytest.approx(10_098.1) and book.realized_pnl == pytest.approx(98.1)


def test_partial_closes_book_a_trade_per_part_with_the_entry_fee_split_pro_rata() -> None:
    book = Portfolio(10_000)
    book.apply(fill("buy", 10, 100.0, 1.0))
    first = book.apply(fill("sell", 4, 110.0, 0.44, time=T + 60))
    assert first is not None and first.quantity == 4
    assert first.fees == pytest.approx(0.4 + 0.44) and first.pnl == pytest.approx(40 - 0.84)
    left = book.positions[SYMBOL]
    assert left.quantity == pytest.approx(6) and left.fees == pytest.approx(0.6) and left.entry_price == 100.0
    second = book.apply(fill("sell", 6, 90.0, 0.54, time=T + 120))
    assert second is not None and second.fees == pytest.approx(0.6 + 0.54)
    assert second.pnl == pytest.approx(-60 - 1.14)
    assert book.positions == {}
    assert book.realized_pnl == pytest.approx(first.pnl + second.pnl)
    assert book.cash == pytest.approx(10_000 + first.pnl + second.pnl)  # flat: cash is where the P&L went


def test_thirds_that_do_not_add_up_in_floats_still_close_the_position() -> None:
    book = Portfolio(10_000)
    book.apply(fill("buy", 0.3, 100.0, 0.0))
    for _ in range(3):
        book.apply(fill("sell", 0.1, 100.0, 0.0))
    assert book.positions == {}


def test_adding_to_a_position_averages_its_price_and_fees() -> None:
    book = Portfolio(10_000)
    book.apply(fill("buy", 2, 100.0, 0.2))
    assert book.apply(fill("buy", 2, 110.0, 0.22, time=T + 60)) is None
    position = book.positions[SYMBOL]
    assert (position.quantity, position.entry_price, position.fees) == (4, pytest.approx(105.0), pytest.approx(0.42))


def test_a_fill_larger_than_the_position_opens_the_rest_the_other_way() -> None:
    book = Portfolio(10_000)
    book.apply(fill("buy", 10, 100.0, 1.0))
    trade = book.apply(fill("sell", 15, 110.0, 1.65, time=T + 60))
    assert trade is not None and trade.quantity == 10
    assert trade.fees == pytest.approx(1.0 + 1.1) and trade.pnl == pytest.approx(100 - 2.1)
    short = book.positions[SYMBOL]
    assert (short.side, short.quantity, short.entry_price, short.entry_time) == ("short", pytest.approx(5), 110.0, T + 60)
    assert short.fees == pytest.approx(0.55)  # the rest of the fill's fee
    assert book.cash == pytest.approx(10_000 - 1_001 + 1_650 - 1.65)
    closing = book.apply(fill("buy", 5, 100.0, 0.5, time=T + 120))
    assert closing is not None and closing.pnl == pytest.approx(50 - 0.55 - 0.5)


def test_marks_move_the_peak_and_the_utc_day_s_starting_equity() -> None:
    book = Portfolio(10_000)
    book.apply(fill("buy", 10, 100.0, 0.0))
    book.mark(SYMBOL, 110.0, T + 3600)
    assert book.peak_equity == pytest.approx(10_100) and book.day == "2023-11-15"
    assert book.day_start_equity == pytest.approx(10_100)  # the day's first mark
    book.mark(SYMBOL, 90.0, T + DAY - 1)
    assert book.peak_equity == pytest.approx(10_100) and book.day_start_equity == pytest.approx(10_100)
    assert book.drawdown() == pytest.approx(1 - 9_900 / 10_100)
    book.alerted = 0.05
    book.mark(SYMBOL, 95.0, T + DAY)  # a new UTC day
    assert book.day == "2023-11-16" and book.day_start_equity == pytest.approx(9_950)
    assert book.alerted == 0.05  # still below the peak: the alerts already sent stand
    book.mark(SYMBOL, 120.0, T + DAY + 60)
    assert book.peak_equity == pytest.approx(10_200) and book.alerted == 0.0 and book.drawdown() == 0.0


def test_a_trailing_stop_follows_the_best_price_and_only_tightens() -> None:
    book = Portfolio(10_000)
    book.apply(fill("buy", 1, 100.0, 0.0), stop_loss=90.0, take_profit=130.0, trail_distance=5.0)
    assert book.positions[SYMBOL].best_price == 100.0 and book.positions[SYMBOL].stop_loss == 90.0
    stops = []
    for price in (104.0, 110.0, 106.0, 99.0, 112.0):
        book.mark(SYMBOL, price, T + 60)
        stops.append((book.positions[SYMBOL].best_price, book.positions[SYMBOL].stop_loss))
    assert stops == [(104.0, 99.0), (110.0, 105.0), (110.0, 105.0), (110.0, 105.0), (112.0, 107.0)]
    assert book.positions[SYMBOL].take_profit == 130.0

    book.apply(fill("sell", 1, 100.0, 0.0, symbol="ETHUSDT"), stop_loss=103.0, take_profit=80.0, trail_distance=4.0)
    for price in (99.0, 95.0, 97.0):
        book.mark("ETHUSDT", price, T + 60)
    short = book.positions["ETHUSDT"]
    assert (short.best_price, short.stop_loss) == (95.0, 99.0)


def test_losses_in_a_row_are_counted_until_a_win() -> None:
    book = Portfolio(10_000)
    for i, (exit_price, losses) in enumerate([(99.0, 1), (98.0, 2), (100.0, 2), (101.0, 0), (95.0, 1)]):
        book.apply(fill("buy", 1, 100.0, 0.0, time=T + 100 * i))
        book.apply(fill("sell", 1, exit_price, 0.0, time=T + 100 * i + 50))
        assert book.consecutive_losses == losses  # a break-even trade neither extends nor ends the streak
    assert book.last_loss_time == T + 450


def test_a_snapshot_restores_the_same_book() -> None:
    book = Portfolio(10_000)
    book.apply(fill("buy", 3, 100.0, 0.3), stop_loss=95.0, take_profit=120.0, trail_distance=2.0)
    book.apply(fill("sell", 2, 50.0, 0.1, symbol="ETHUSDT"))
    book.mark(SYMBOL, 104.0, T + 60)
    book.apply(fill("buy", 1, 60.0, 0.06, symbol="ETHUSDT", time=T + 90))  # a losing partial close
    book.alerted, book.halted = 0.05, True
    snapshot = book.snapshot()
    again = Portfolio(1.0)
    again.restore(snapshot)
    assert again.snapshot() == snapshot
    assert again.equity() == pytest.approx(book.equity()) and again.summary() == book.summary()
    assert again.positions == book.positions and again.consecutive_losses == 1 and again.halted
    book.mark(SYMBOL, 200.0, T + 120)  # the snapshot is a value: later marks do not reach it
    assert snapshot.prices[SYMBOL] == 104.0 and again.prices[SYMBOL] == 104.0


def test_cash_must_be_positive() -> None:
    for cash in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            Portfolio(cash)
