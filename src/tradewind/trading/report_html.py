"""One self-contained HTML page for a backtest report, the file ``tradewind backtest ... --html OUT`` writes.

The page must open offline, years later, and print, so it loads nothing by URL: inline CSS and
SVG only, and hover values are SVG ``<title>`` tooltips, which need no JavaScript. Every string
from the report goes through ``html.escape`` (a symbol or strategy name is user input), and a
null or non-finite number shows as an en dash titled "not computable".

Metric names pick the format, after ``trading.analytics``: ``return``, ``drawdown``, ``rate``,
``pct``, ``cagr``, ``exposure``... are fractions (0.1234 is 12.34%); ``ratio``, ``sharpe``,
``factor``... are ratios; ``duration`` and ``longest`` are seconds; ``start``, ``end`` and
``recovery`` are epoch seconds; counts are integers; the rest is money. Nested values (curves,
splits, trade dicts) are left to the charts and the trades table. A ``drawdown`` series (or the
analytics' ``drawdown_curve``) holds fractions, either sign; without one it is computed from the
equity curve. Series are cut to ``MAX_POINTS`` points keeping each bucket's extremes, so a spike
is never averaged away.
"""

from __future__ import annotations

import html
import math
import numbers
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["MAX_MARKED_TRADES", "MAX_POINTS", "MAX_TRADE_ROWS", "render_report"]

MAX_POINTS = 2_000
MAX_TRADE_ROWS = 500
MAX_MARKED_TRADES = 2_000  # past this many trades, the price chart marks only the first ones

Candle = tuple[float, float, float, float, float]
Point = tuple[float, float]
Bar = tuple[float, float, float, float]  # time, high, low, close
TickFormat = Callable[[float, int], str]

DASH = '<span class="na" title="not computable">–</span>'
_HUGE = 1e100  # larger coordinates would overflow the scales: such rows are dropped like NaN
_BAD = (TypeError, ValueError, IndexError, KeyError, OverflowError)
_WIDTH, _LEFT, _RIGHT, _TOP, _BOTTOM = 960, 78, 14, 10, 24
_KINDS: tuple[tuple[str, frozenset[str]], ...] = (
    ("duration", frozenset({"duration", "seconds", "longest"})),
    ("time", frozenset({"start", "end", "recovery", "time", "date"})),
    ("ratio", frozenset({"ratio", "sharpe", "sortino", "calmar", "factor", "sqn", "kelly", "omega"})),
    ("percent", frozenset({"return", "returns", "drawdown", "rate", "pct", "percent", "cagr", "volatility",
                           "exposure", "roi"})),
    ("count", frozenset({"trades", "count", "bars", "wins", "losses", "n", "num", "number", "periods"})),
)


@dataclass(frozen=True)
class _Trade:
    side: str
    entry_time: float | None
    entry_price: float | None
    exit_time: float | None
    exit_price: float | None
    size: float | None
    pnl: float | None
    reason: str
    outcome: str  # "win", "loss" or "flat": the colour


@dataclass(frozen=True)
class _Plot:
    """A chart's box and its two scales; ``_plot`` pads the ranges so neither span is zero."""

    height: int
    t0: float
    t1: float
    v0: float
    v1: float

    def x(self, t: float) -> float:
        return _LEFT + (t - self.t0) / (self.t1 - self.t0) * (_WIDTH - _LEFT - _RIGHT)

    def y(self, v: float) -> float:
        return _TOP + (self.v1 - v) / (self.v1 - self.v0) * (self.height - _TOP - _BOTTOM)


def render_report(report: Mapping[str, Any], *, candles: Sequence[Candle] | None = None, title: str) -> str:
    """The whole page: header, metrics, equity, drawdown, price with the trades marked, trades table."""
    metrics = report.get("metrics") if isinstance(report.get("metrics"), Mapping) else {}
    ts, vs = _columns(report.get("equity", metrics.get("equity_curve")), (0, 1))
    bars, dense = _bars(candles)
    trades = _trades(report.get("trades"))
    times = ts or [b[0] for b in bars] or _trade_times(trades)
    return "".join([
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<header><h1>{_e(title)}</h1>{_header(report, times)}</header>",
        _section("Metrics", _metrics_table(metrics)),
        _section("Equity", _line_svg(_thin(ts, vs), 240, "Equity curve")),
        _section("Drawdown", _line_svg(_drawdown(report.get("drawdown", metrics.get("drawdown_curve")), ts, vs),
                                       150, "Drawdown", area=True)),
        _section("Price and trades", _price_svg(bars, dense, trades)),
        _section("Trades", _trades_table(trades)),
        "</body></html>\n",
    ])


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _num(value: object) -> float | None:
    """A finite float, or None for null, bools, text, NaN and infinities."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    try:
        f = float(value)
    except OverflowError:
        return None
    return f if math.isfinite(f) else None


def _rows(raw: Any) -> Sequence[Any]:
    """The rows of a list, or of a numpy array (its ``tolist``, much faster to walk than its rows)."""
    raw = raw.tolist() if hasattr(raw, "tolist") and hasattr(raw, "shape") else raw
    return raw if isinstance(raw, Sequence) and not isinstance(raw, (str, bytes)) else ()


def _columns(raw: object, picks: tuple[int, ...]) -> list[list[float]]:
    """Columns ``picks`` of the rows whose picked cells are all numbers below 1e100 (so finite).

    Whole columns first, row by row only when one is dirty: a Python loop, or 200,000 tuples
    (which wake the garbage collector), would eat most of the time budget of a long backtest.
    """
    rows = _rows(raw)
    try:
        cols = [[float(row[i]) for row in rows] for i in picks]
        if all(math.isfinite(sum(c)) and -_HUGE < min(c, default=0) and max(c, default=0) < _HUGE for c in cols):
            return cols
    except _BAD:
        pass
    kept = [row for row in rows if _usable(row, picks)]
    return [[float(row[i]) for row in kept] for i in picks]


def _usable(row: Any, picks: tuple[int, ...]) -> bool:
    try:
        return sum(abs(float(row[i])) for i in picks) < _HUGE  # False for NaN and inf as well
    except _BAD:
        return False


def _drawdown(given: object, ts: list[float], vs: list[float]) -> list[Point]:
    """The given drawdown, else the fall from the running peak as a fraction (-0.1 is 10% below it)."""
    given_t, given_v = _columns(given, (0, 1))
    if given_t:
        return _thin(given_t, [-abs(v) for v in given_v])
    out_t, out_v, peak = [], [], -math.inf
    for t, v in zip(ts, vs):
        if v > peak:
            peak = v
        if peak > 0:  # a fall from a peak at or below zero has no meaning as a fraction
            out_t.append(t)
            out_v.append(v / peak - 1.0)
    return _thin(out_t, out_v)


def _bars(candles: Sequence[Candle] | None) -> tuple[list[Bar], bool]:
    """(time, high, low, close) per bucket of candles, and whether a bucket holds more than one candle."""
    ts, hs, ls, cs = _columns(candles, (0, 2, 3, 4))
    n = len(ts)
    if n <= MAX_POINTS:
        return list(zip(ts, hs, ls, cs)), False
    size = math.ceil(n / MAX_POINTS)
    buckets = range(0, n, size)
    return [(ts[s], max(hs[s : s + size]), min(ls[s : s + size]), cs[min(s + size, n) - 1]) for s in buckets], True


def _thin(ts: list[float], vs: list[float]) -> list[Point]:
    """At most ``MAX_POINTS`` points: the first, the last, and each bucket's min and max in time order."""
    n = len(ts)
    if n <= MAX_POINTS:
        return list(zip(ts, vs))
    size = math.ceil(n / (MAX_POINTS // 2 - 1))
    out = [(ts[0], vs[0])]
    for s in range(0, n, size):
        chunk = vs[s : s + size]
        out.extend((ts[k], vs[k]) for k in sorted({s + chunk.index(min(chunk)), s + chunk.index(max(chunk))}))
    out.append((ts[-1], vs[-1]))
    return out


def _trades(raw: object) -> list[_Trade]:
    out = []
    for item in _rows(raw):
        if not isinstance(item, Mapping):
            continue
        side, reason = str(item.get("side", "")), item.get("exit_reason")
        entry, exit_ = _num(item.get("entry_price")), _num(item.get("exit_price"))
        pnl = gain = _num(item.get("pnl"))
        if gain is None and entry is not None and exit_ is not None:
            gain = (exit_ - entry) * (-1.0 if side == "short" else 1.0)
        outcome = "win" if gain and gain > 0 else "loss" if gain and gain < 0 else "flat"
        out.append(_Trade(side, _num(item.get("entry_time")), entry, _num(item.get("exit_time")), exit_,
                          _num(item.get("size", item.get("quantity"))),  # analytics' trade dicts say quantity
                          pnl, "" if reason is None else str(reason), outcome))
    return out


def _trade_times(trades: list[_Trade]) -> list[float]:
    return [t for tr in trades for t in (tr.entry_time, tr.exit_time) if t is not None]


def _utc(t: float | None, fmt: str = "%Y-%m-%d %H:%M") -> str | None:
    if t is None:
        return None
    try:
        return datetime.fromtimestamp(t, tz=UTC).strftime(fmt)
    except (OverflowError, OSError, ValueError):
        return None


def _price(x: float | None) -> str:
    """Two decimals for large prices, more for small ones (about four significant digits)."""
    if x is None:
        return "–"
    a = abs(x)
    decimals = 2 if a >= 100 or a == 0 else 4 if a >= 1 else min(10, 3 - math.floor(math.log10(a)))
    return f"{x:,.{decimals}f}"


def _duration(seconds: float) -> str:
    sign, (days, s) = ("-" if seconds < 0 else ""), divmod(round(abs(seconds)), 86_400)
    (hours, s), (minutes, s) = divmod(s, 3_600), divmod(s % 3_600, 60)
    return sign + (f"{days}d {hours}h" if days else f"{hours}h {minutes}m" if hours else f"{minutes}m {s}s")


def _metric_value(name: str, value: object) -> str:
    if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
        return _e(str(value)[:300])
    x = _num(value)
    if x is None:
        return DASH
    tokens = set(re.split(r"[^a-z0-9]+", name.lower()))
    kind = next((kind for kind, words in _KINDS if tokens & words), "money")
    if kind == "count" and x.is_integer():
        return f"{int(x):,}"
    if kind == "duration":
        return _duration(x)
    if kind == "time":
        return DASH if (when := _utc(x)) is None else f"{when} UTC"
    return f"{x * 100:,.2f}%" if kind == "percent" else f"{x:,.2f}"


def _tick(v: float, decimals: int) -> str:
    return f"{v + 0.0:,.{decimals}f}"  # + 0.0 turns -0.0 into 0.0


def _pct_tick(v: float, decimals: int) -> str:
    return f"{v * 100 + 0.0:,.{max(0, decimals - 2)}f}%"


def _section(heading: str, body: str) -> str:
    return f"<section><h2>{_e(heading)}</h2>{body}</section>"


def _svg(label: str, height: int, body: str) -> str:
    return f'<svg viewBox="0 0 {_WIDTH} {height}" role="img" aria-label="{_e(label)}">{body}</svg>'


def _header(report: Mapping[str, Any], times: list[float]) -> str:
    items = [f"{label} <b>{_e(report[key])}</b>"
             for key, label in (("symbol", "Symbol"), ("timeframe", "Timeframe")) if report.get(key) is not None]
    strategy, params = report.get("strategy"), report.get("params")
    text = "" if strategy is None else str(strategy)
    if isinstance(params, Mapping) and params:
        shown = ("–" if isinstance(v, float) and not math.isfinite(v) else v for v in params.values())
        text += " (" + ", ".join(f"{k}={v}" for k, v in zip(params, shown)) + ")"
    elif params is not None and not isinstance(params, Mapping):
        text += f" ({params})"
    if text:
        items.append(f"Strategy <b>{_e(text.strip())}</b>")
    if times:
        items.append(f"Period <b>{_e(_utc(min(times)) or '–')} → {_e(_utc(max(times)) or '–')} UTC</b>")
    return f'<p class="meta">{" · ".join([*items, "all times UTC"])}</p>'


def _metrics_table(metrics: Mapping[str, Any]) -> str:
    shown = {k: v for k, v in metrics.items() if not isinstance(v, (Mapping, list, tuple))}
    if not shown:
        return '<p class="empty">No metrics in the report.</p>'
    rows = "".join(f'<tr><th scope="row">{_e(str(k).replace("_", " ").capitalize())}</th>'
                   f'<td class="n">{_metric_value(str(k), v)}</td></tr>' for k, v in shown.items())
    return f'<table class="metrics"><tbody>{rows}</tbody></table>'


def _trades_table(trades: list[_Trade]) -> str:
    if not trades:
        return '<p class="empty">No trades.</p>'

    def num(x: float | None, fmt: Callable[[float], str]) -> str:
        return f'<td class="n">{DASH if x is None else _e(fmt(x))}</td>'

    def when(t: float | None) -> str:
        text = _utc(t)
        return f"<td>{DASH if text is None else _e(text)}</td>"

    rows = "".join(
        f'<tr class="{tr.outcome}"><td class="n">{i}</td><td>{_e(tr.side)}</td>'
        f"{when(tr.entry_time)}{num(tr.entry_price, _price)}{when(tr.exit_time)}{num(tr.exit_price, _price)}"
        f'{num(tr.size, lambda x: f"{x:,.6g}")}{num(tr.pnl, lambda x: f"{x:,.2f}")}<td>{_e(tr.reason)}</td></tr>'
        for i, tr in enumerate(trades[:MAX_TRADE_ROWS], 1)
    )
    names = ("#", "Side", "Entry (UTC)", "Entry price", "Exit (UTC)", "Exit price", "Size", "P&amp;L", "Exit reason")
    more = len(trades) - MAX_TRADE_ROWS
    note = (f'<p class="note">Showing the first {MAX_TRADE_ROWS:,} of {len(trades):,} trades; '
            f"{more:,} more are not shown.</p>") if more > 0 else ""
    head = "".join(f"<th>{h}</th>" for h in names)
    return f'<table class="trades"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>{note}'


def _plot(height: int, times: list[float], values: list[float]) -> _Plot:
    """Scales over the data, 5% wider; a flat curve or a single time gets a span of its own."""
    t0, t1, lo, hi = min(times), max(times), min(values), max(values)
    if t1 <= t0:
        t0, t1 = t0 - 3_600, t1 + 3_600
    pad = (hi - lo) * 0.05 if hi > lo else abs(lo) * 0.05 if abs(lo) > 1e-9 else 1.0
    return _Plot(height, t0, t1, lo - pad, hi + pad)


def _ticks(lo: float, hi: float, count: int) -> tuple[list[float], int]:
    """About ``count`` round values (steps of 1, 2 or 5 times a power of ten) and the decimals they need."""
    raw = (hi - lo) / count
    if not (raw > 0 and math.isfinite(raw)):
        return [], 0
    mag = 10.0 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 5, 10)), key=lambda s: abs(math.log(s / raw)) if s > 0 else math.inf)
    if step <= 0:
        return [], 0
    ks = range(math.ceil(lo / step), math.floor(hi / step) + 1)
    return [k * step for k in ks][:12], max(0, -math.floor(math.log10(step)))


def _axes(p: _Plot, fmt: TickFormat) -> str:
    right, bottom = _WIDTH - _RIGHT, p.height - _BOTTOM
    parts = [f'<rect class="frame" x="{_LEFT}" y="{_TOP}" width="{right - _LEFT}" height="{bottom - _TOP}"/>']
    ticks, decimals = _ticks(p.v0, p.v1, max(3, (bottom - _TOP) // 45))
    for v in ticks:
        y = p.y(v)
        parts.append(f'<line class="grid" x1="{_LEFT}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}"/>'
                     f'<text class="yl" x="{_LEFT - 6}" y="{y + 4:.1f}">{_e(fmt(v, decimals))}</text>')
    span = p.t1 - p.t0
    tfmt = "%Y-%m-%d" if span >= 8 * 86_400 else "%m-%d %H:%M"  # 5 labels, 2 days apart, are 5 dates
    for i, anchor in enumerate(("start", "middle", "middle", "middle", "end")):
        t = p.t0 + span * i / 4
        label = _e(_utc(t, tfmt) or "–")
        parts.append(f'<text text-anchor="{anchor}" x="{p.x(t):.1f}" y="{p.height - 6}">{label}</text>')
    return "".join(parts)


def _line_svg(points: list[Point], height: int, label: str, *, area: bool = False) -> str:
    """The equity line, or (``area``) the drawdown filled down from zero with percent ticks."""
    if not points:
        what = "no drawdown (no equity above zero)" if area else "the report has no equity curve"
        return f'<p class="empty">Nothing to chart: {what}.</p>'
    p = _plot(height, [t for t, _ in points], [v for _, v in points] + ([0.0] if area else []))
    xy = " ".join(f"{p.x(t):.1f},{p.y(v):.1f}" for t, v in points)
    (t_first, v_first), t_last = points[0], points[-1][0]
    if area:
        base = f"{p.y(0.0):.1f}"
        shape = f'<path class="dd" d="M{p.x(t_first):.1f},{base}L{xy}L{p.x(t_last):.1f},{base}Z"/>'
    else:
        shape = f'<polyline class="eq" points="{xy}"/>'
    if len(points) == 1:
        shape += f'<circle class="dot" cx="{p.x(t_first):.1f}" cy="{p.y(v_first):.1f}" r="3"/>'
    return _svg(label, height, _axes(p, _pct_tick if area else _tick) + shape)


def _price_svg(bars: list[Bar], dense: bool, trades: list[_Trade]) -> str:
    """Close line (high-low bars once candles are bucketed) and every marked trade over it."""
    marked = trades[:MAX_MARKED_TRADES]
    times = [b[0] for b in bars] + _trade_times(marked)
    prices = [v for b in bars for v in b[1:3]] + [
        x for tr in marked for x in (tr.entry_price, tr.exit_price) if x is not None]
    if not times or not prices:
        return '<p class="empty">Nothing to chart: no candles and no trade prices.</p>'
    p = _plot(320, times, prices)
    if dense:
        price = '<path class="bars" d="{}"/>'.format(
            "".join(f"M{p.x(t):.1f},{p.y(h):.1f}V{p.y(lo):.1f}" for t, h, lo, _ in bars))
    else:
        price = '<polyline class="close" points="{}"/>'.format(
            " ".join(f"{p.x(b[0]):.1f},{p.y(b[3]):.1f}" for b in bars))
    marks = "".join(_marker(p, i, tr) for i, tr in enumerate(marked, 1))
    legend = ('<p class="legend">▲ long entry · ▼ short entry · ○ exit · <span class="win">green</span> winning, '
              f'<span class="loss">red</span> losing trade · {"high-low range per bar" if dense else "close"}</p>')
    if not bars:
        legend += '<p class="note">No candles given: trades only.</p>'
    if len(trades) > MAX_MARKED_TRADES:
        legend += f'<p class="note">The first {MAX_MARKED_TRADES:,} of {len(trades):,} trades are marked.</p>'
    return _svg("Price with trades", 320, _axes(p, _tick) + price + marks) + legend


def _marker(p: _Plot, i: int, tr: _Trade) -> str:
    """One trade: entry triangle (up for long, down for short), exit ring, a dashed line between."""
    entry = None if tr.entry_time is None or tr.entry_price is None else (p.x(tr.entry_time), p.y(tr.entry_price))
    exit_ = None if tr.exit_time is None or tr.exit_price is None else (p.x(tr.exit_time), p.y(tr.exit_price))
    parts = []
    if entry and exit_:
        parts.append(f'<line class="tl" x1="{entry[0]:.1f}" y1="{entry[1]:.1f}" '
                     f'x2="{exit_[0]:.1f}" y2="{exit_[1]:.1f}"/>')
    if entry:
        (x, y), short = entry, tr.side == "short"
        tip, foot = (y + 7, y - 5) if short else (y - 7, y + 5)
        parts.append(f'<path class="mk entry {"short" if short else "long"}" '
                     f'd="M{x:.1f},{tip:.1f}L{x + 6:.1f},{foot:.1f}L{x - 6:.1f},{foot:.1f}Z"/>')
    if exit_:
        parts.append(f'<circle class="mk exit" cx="{exit_[0]:.1f}" cy="{exit_[1]:.1f}" r="4"/>')
    if not parts:
        return ""
    text = (f"#{i} {tr.side} {tr.outcome}: entry {_price(tr.entry_price)} at {_utc(tr.entry_time) or '–'}, "
            f"exit {_price(tr.exit_price)} at {_utc(tr.exit_time) or '–'}, "
            f"P&L {'–' if tr.pnl is None else f'{tr.pnl:,.2f}'}" + (f", {tr.reason}" if tr.reason else ""))
    return f'<g class="trade {tr.outcome}"><title>{_e(text)}</title>{"".join(parts)}</g>'


_CSS = """
:root{color-scheme:light dark;--bg:#fff;--fg:#1b1f24;--muted:#5b6470;--grid:#e3e6ea;--line:#2563eb;
--dd:#dc2626;--price:#64748b;--win:#15803d;--loss:#dc2626;--flat:#6b7280}
@media (prefers-color-scheme:dark){:root{--bg:#0f1419;--fg:#e6e8eb;--muted:#9aa4b1;--grid:#2a313a;
--line:#60a5fa;--dd:#f87171;--price:#94a3b8;--win:#4ade80;--loss:#f87171;--flat:#9ca3af}}
@media print{:root{color-scheme:light;--bg:#fff;--fg:#000;--muted:#333;--grid:#ccc;--line:#1d4ed8;
--dd:#b91c1c;--price:#444;--win:#166534;--loss:#b91c1c;--flat:#555}body{max-width:none;padding:0}
section,tr{break-inside:avoid}.trades{font-size:10px}}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);
color:var(--fg);max-width:1000px;margin:0 auto;padding:16px}
h1{font-size:1.4em;margin:0 0 4px}h2{font-size:1.1em;margin:20px 0 6px}
.meta,.note,.legend,.empty,.na{color:var(--muted)}.meta b{color:var(--fg);font-weight:600}
svg{width:100%;height:auto;display:block}svg text{fill:var(--muted);font-size:11px}
.yl{text-anchor:end}.grid{stroke:var(--grid)}.frame{fill:none;stroke:var(--grid)}
.eq{fill:none;stroke:var(--line);stroke-width:1.5}.dd{fill:var(--dd);fill-opacity:.25;stroke:var(--dd)}
.dot{fill:var(--line)}.close{fill:none;stroke:var(--price);stroke-width:1.2}.bars{stroke:var(--price)}
.trade.win{--c:var(--win)}.trade.loss{--c:var(--loss)}.trade.flat{--c:var(--flat)}
.tl{stroke:var(--c);stroke-dasharray:3 2}.mk.entry{fill:var(--c)}
.mk.exit{fill:var(--bg);stroke:var(--c);stroke-width:1.5}
.legend .win,tr.win td:nth-child(8){color:var(--win)}.legend .loss,tr.loss td:nth-child(8){color:var(--loss)}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{padding:3px 8px;border-bottom:1px solid var(--grid);text-align:left}
td.n{text-align:right}.metrics th{font-weight:normal;color:var(--muted)}
.trades{width:100%;font-size:12px}.trades thead th{border-bottom:2px solid var(--grid)}
"""
