"""The backtest HTML page: self-contained, every trade marked, figures formatted, input escaped, edge cases.

The page is parsed with ``html.parser`` to check that the main structure is balanced and that no
tag comes from the report's text.
"""

from __future__ import annotations

import math
import re
import time
from html.parser import HTMLParser
from typing import Any

import pytest

from tradewind.trading.report_html import MAX_POINTS, MAX_TRADE_ROWS, render_report

T0 = 1_704_067_200  # 2024-01-01 00:00 UTC
HOUR = 3_600
HOSTILE = '<script>alert(1)</script>" & \'x\''
VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "embed", "source", "track", "wbr"}


class Structure(HTMLParser):
    """Tags seen, and any close that does not match the open tag (void and ``<x/>`` tags excluded)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[str] = []
        self.errors: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> Structure:
    parser = Structure()
    parser.feed(page)
    parser.close()
    assert parser.errors == []
    assert parser.stack == []
    return parser


def trade(
    side: str, entry: int, price: float, exit_: int, exit_price: float, pnl: float | None, reason: str
) -> dict[str, Any]:
    return {"side": side, "entry_time": T0 + entry * HOUR, "entry_price": price, "exit_time": T0 + exit_ * HOUR,
            "exit_price": exit_price, "size": 2.0, "pnl": pnl, "exit_reason": reason}


def make_report(**extra: Any) -> dict[str, Any]:
    report: dict[str, Any] = {
        "symbol": "BTC/USDT", "timeframe": "1h", "strategy": "ema_cross", "params": {"fast": 10, "slow": 30},
        "metrics": {"total_return": 0.1234, "max_drawdown": -0.0567, "sharpe_ratio": 1.456, "sortino_ratio": None,
                    "final_equity": 11234.5, "n_trades": 3, "calmar_ratio": math.nan, "win_rate": 0.666667},
        "trades": [
            trade("long", 2, 100.5, 6, 104.0, 7.0, "take_profit"),
            trade("short", 10, 106.0, 14, 108.0, -4.0, "stop_loss"),
            trade("long", 20, 103.0, 30, 105.0, 4.0, "signal"),
        ],
        "equity": [[T0 + i * HOUR, 10_000 + 20 * i - (150 if 10 <= i < 15 else 0)] for i in range(48)],
    }
    report.update(extra)
    return report


def candles(n: int, *, step: int = HOUR) -> list[tuple[float, float, float, float, float]]:
    rows = []
    for i in range(n):
        c = 100 + 5 * math.sin(i / 7)
        rows.append((float(T0 + i * step), c - 0.2, c + 1, c - 1, c))
    return rows


def test_the_page_is_complete_and_loads_nothing() -> None:
    page = render_report(make_report(), candles=candles(48), title="EMA cross on BTC")
    assert page.startswith("<!DOCTYPE html>")
    assert "http://" not in page and "https://" not in page
    for ref in ("src=", "href=", "<link", "@import", "url(", "<script"):
        assert ref not in page.lower(), ref
    parsed = parse(page)
    assert parsed.tags.count("svg") == 3  # equity, drawdown, price
    assert parsed.tags[:7] == ["html", "head", "meta", "meta", "title", "style", "body"]
    assert "prefers-color-scheme:dark" in page and "@media print" in page
    assert "<title>EMA cross on BTC</title>" in page


def test_each_trade_is_marked_with_its_side_and_outcome() -> None:
    page = render_report(make_report(), candles=candles(48), title="t")
    assert page.count('class="mk entry long"') == 2
    assert page.count('class="mk entry short"') == 1
    assert page.count('class="mk exit"') == 3
    assert page.count('<line class="tl"') == 3
    assert page.count('class="trade win"') == 2 and page.count('class="trade loss"') == 1
    assert page.count('<tr class="win">') == 2 and page.count('<tr class="loss">') == 1
    assert '<polyline class="close"' in page  # 48 candles: a close line, not bars


def test_metrics_and_header_are_formatted_for_traders() -> None:
    page = render_report(make_report(), candles=candles(48), title="t")
    cells = dict(re.findall(r'<th scope="row">([^<]+)</th><td class="n">(.*?)</td>', page))
    dash = '<span class="na" title="not computable">–</span>'
    assert cells["Total return"] == "12.34%"
    assert cells["Max drawdown"] == "-5.67%"
    assert cells["Sharpe ratio"] == "1.46"
    assert cells["Final equity"] == "11,234.50"
    assert cells["N trades"] == "3"
    assert cells["Win rate"] == "66.67%"
    assert cells["Sortino ratio"] == dash and cells["Calmar ratio"] == dash  # null and NaN
    assert "Symbol <b>BTC/USDT</b>" in page and "Timeframe <b>1h</b>" in page
    assert "Strategy <b>ema_cross (fast=10, slow=30)</b>" in page
    assert "Period <b>2024-01-01 00:00 → 2024-01-02 23:00 UTC</b>" in page
    assert "<td>2024-01-01 02:00</td>" in page  # the first trade's entry, in UTC


def test_text_from_the_report_is_escaped() -> None:
    hostile_trade = trade("long", 2, 100.5, 6, 104.0, 7.0, HOSTILE)
    report = make_report(symbol=HOSTILE, strategy=HOSTILE, timeframe=HOSTILE, params={HOSTILE: HOSTILE},
                         trades=[hostile_trade], metrics={HOSTILE: HOSTILE, "total_return": 0.1})
    page = render_report(report, candles=candles(48), title=HOSTILE)
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot; &amp; &#x27;x&#x27;" in page
    parsed = parse(page)
    assert "script" not in parsed.tags
    assert all(name in {"class", "title", "charset", "name", "content", "lang", "scope", "viewbox", "role",
                        "aria-label", "x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r", "d", "points",
                        "width", "height", "text-anchor"} for name, _ in parsed.attrs)
    assert sum(HOSTILE in chunk for chunk in parsed.text) >= 6  # title, h1, header, metric, trade row, tooltip


def test_no_trades() -> None:
    page = render_report(make_report(trades=[]), candles=candles(48), title="t")
    parse(page)
    assert "No trades." in page and 'class="mk' not in page
    assert page.count("<svg") == 3


def test_an_empty_equity_curve_says_there_is_nothing_to_chart() -> None:
    page = render_report({"metrics": {}, "trades": [], "equity": []}, title="empty")
    parse(page)
    assert "<svg" not in page
    assert page.count("Nothing to chart") == 3
    assert "No metrics in the report." in page and "No trades." in page


def test_a_report_with_only_bad_numbers_is_charted_without_them() -> None:
    equity = [[T0, math.nan], [T0 + HOUR, 10_000.0], [T0 + 2 * HOUR, math.inf], ["x", 1.0], [T0 + 3 * HOUR, 10_100]]
    bad = {"side": "long", "entry_time": T0, "entry_price": math.nan, "exit_time": None, "pnl": math.inf}
    page = render_report({"metrics": {"total_return": math.inf}, "trades": [bad], "equity": equity}, title="t")
    parse(page)
    assert "nan" not in page.lower() and "inf" not in page.lower()
    assert page.count("<svg") == 2 and "no candles and no trade prices" in page  # the trade has no price to mark


@pytest.mark.parametrize("equity", [[[T0, 10_000.0]], [[T0 + i * HOUR, 10_000.0] for i in range(10)]],
                         ids=["single point", "flat"])
def test_a_single_point_or_a_flat_curve_is_drawn(equity: list[list[float]]) -> None:
    report = make_report(equity=equity, trades=[])
    page = render_report(report, candles=candles(len(equity)), title="t")
    parse(page)
    assert page.count("<svg") == 3
    assert "nan" not in page.lower() and "inf" not in page.lower()
    if len(equity) == 1:
        assert '<circle class="dot"' in page


def test_flat_candles_and_a_zero_equity_do_not_divide_by_zero() -> None:
    flat = [(float(T0 + i * HOUR), 0.0, 0.0, 0.0, 0.0) for i in range(5)]
    page = render_report(make_report(equity=[[T0, 0.0], [T0 + HOUR, 0.0]], trades=[]), candles=flat, title="t")
    parse(page)
    assert "no equity above zero" in page
    assert "nan" not in page.lower()


def test_a_given_drawdown_series_is_used() -> None:
    report = make_report(equity=[[T0 + i * HOUR, 10_000.0] for i in range(10)],
                         drawdown=[[T0 + i * HOUR, 0.25 * (i % 2)] for i in range(10)])
    page = render_report(report, title="t")
    assert ">-20%</text>" in page  # from the given series; the flat equity alone has no drawdown


def test_many_candles_are_downsampled_fast_and_keep_their_spikes() -> None:
    n = 200_000
    rows = candles(n, step=60)
    rows[123_457] = (rows[123_457][0], 100.0, 500.0, 99.0, 100.0)  # one spike, in one minute of 200,000
    report = make_report(equity=[[T0 + i * 60, 10_000 + math.sin(i / 900) * 50] for i in range(n)])
    start = time.perf_counter()
    page = render_report(report, candles=rows, title="big")
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0
    assert len(page.encode()) < 2_000_000
    parse(page)
    bars = re.search(r'<path class="bars" d="([^"]+)"', page)
    assert bars is not None
    segments = re.findall(r"M([\d.]+),([\d.]+)V([\d.]+)", bars.group(1))
    assert len(segments) <= MAX_POINTS
    assert min(float(top) for _, top, _ in segments) < 30  # the spike's bucket reaches the top of the chart
    equity = re.search(r'<polyline class="eq" points="([^"]+)"', page)
    assert equity is not None and len(equity.group(1).split()) <= MAX_POINTS


def test_the_trades_table_stops_at_its_limit_with_a_note() -> None:
    trades = [trade("long", i, 100.0, i + 1, 101.0 if i % 2 else 99.0, 1.0 if i % 2 else -1.0, "signal")
              for i in range(MAX_TRADE_ROWS + 123)]
    page = render_report(make_report(trades=trades), candles=candles(700), title="t")
    parse(page)
    body = page.split('<table class="trades">', 1)[1].split("</table>", 1)[0]
    assert body.count("<tr class=") == MAX_TRADE_ROWS
    assert "Showing the first 500 of 623 trades; 123 more are not shown." in page
    assert page.count('class="mk entry long"') == MAX_TRADE_ROWS + 123  # the chart still marks them all


def test_trades_without_candles_and_an_open_trade() -> None:
    open_trade = {"side": "short", "entry_time": T0 + 40 * HOUR, "entry_price": 101.0, "exit_time": None,
                  "exit_price": None, "size": 1.0, "pnl": None, "exit_reason": None}
    page = render_report(make_report(trades=[*make_report()["trades"], open_trade]), title="t")
    parse(page)
    assert "No candles given: trades only." in page
    assert page.count('class="mk entry') == 4 and page.count('class="mk exit"') == 3
    assert page.count('class="trade flat"') == 1  # no P&L and no exit: neither green nor red


def test_rendering_is_pure() -> None:
    report = make_report()
    first = render_report(report, candles=candles(48), title="t")
    assert render_report(report, candles=candles(48), title="t") == first
    assert report == make_report()


def test_candles_and_equity_may_be_numpy_arrays() -> None:
    np = pytest.importorskip("numpy")
    rows = np.array(candles(3_000, step=60))
    equity = np.column_stack([rows[:, 0], rows[:, 4] * 100])
    page = render_report({"equity": equity, "trades": []}, candles=rows, title="t")
    parse(page)
    assert page.count("<svg") == 3 and '<path class="bars"' in page  # 3,000 candles: bucketed into bars


def test_the_analytics_figures_and_curves_are_understood() -> None:
    """``trading.analytics.performance`` puts times, durations, trade dicts and both curves among its figures."""
    curve = [[T0 + i * HOUR, 10_000.0 - 100 * (i % 4)] for i in range(24)]
    metrics = {"start": T0, "max_drawdown": 0.03, "max_drawdown_recovery": None, "longest_drawdown": 3 * HOUR + 60,
               "periods_per_year": 8760.0, "trades_per_day": 1.5, "best_trade": {"pnl": 7.0, "exit_reason": HOSTILE},
               "by_symbol": {}, "equity_curve": curve, "drawdown_curve": [[t, 1 - v / 10_000] for t, v in curve]}
    analytics_trade = {"side": "long", "quantity": 3.0, "entry_time": T0, "entry_price": 100.0,
                       "exit_time": T0 + HOUR, "exit_price": 99.0, "pnl": -3.0, "exit_reason": "stop"}
    page = render_report({"metrics": metrics, "trades": [analytics_trade]}, title="t")
    parse(page)
    cells = dict(re.findall(r'<th scope="row">([^<]+)</th><td class="n">(.*?)</td>', page))
    assert cells == {"Start": "2024-01-01 00:00 UTC", "Max drawdown": "3.00%",
                     "Max drawdown recovery": '<span class="na" title="not computable">–</span>',
                     "Longest drawdown": "3h 1m", "Periods per year": "8,760", "Trades per day": "1.50"}
    assert page.count("<svg") == 3  # equity and drawdown from the figures' curves, the trade without candles
    assert '<td class="n">3</td><td class="n">-3.00</td>' in page  # quantity as the size, then the P&amp;L
    drawdown = page.split("<h2>Drawdown</h2>", 1)[1].split("<h2>", 1)[0]
    assert re.findall(r'class="yl"[^>]*>([^<]+)<', drawdown) == ["-3%", "-2%", "-1%", "0%"]  # drawn below zero
