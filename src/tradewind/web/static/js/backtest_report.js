// A finished backtest as the trader reads it: what ran, the figures, the equity and drawdown
// curves and the trades; and two reports side by side, the better figure of each pair marked.
// Every figure is the report's own (GET /api/backtests/{id}); a null one shows as an en dash.

import {card, fill, h, table} from './dom.js';
import {int, num, pct, precisionFor, price, time, tone} from './format.js';
import {curveChart} from './curve_chart.js';
import {FIGURES, GROUPS, amount, better, quoteOf} from './metrics.js';

const MAX_TRADE_ROWS = 1000;
const MAX_RISK_ROWS = 50;

/** What ran, in one line: ``BTCUSDT 1m · sma-cross (fast 10, slow 20)``. */
export function specLabel(spec) {
  const params = Object.entries(spec.params || {}).map(([k, v]) => `${k} ${v}`).join(', ');
  return `${spec.symbol} ${spec.timeframe} · ${spec.strategy}${params ? ` (${params})` : ''}`;
}

/** One figure as a stats entry, its raw value kept in data-value (what the API said, null included). */
function figure([key, label, write], metrics, symbol, extra = null) {
  const value = metrics[key] ?? null;
  return h('div', {dataset: {metric: key, value: JSON.stringify(value)}, class: extra},
    h('dt', null, label), h('dd', {class: /return|pnl|expectancy/.test(key) ? tone(value) : null}, write(value, symbol)));
}

function tradesTable(trades, symbol) {
  const digits = precisionFor(symbol, trades.length ? trades[0].entry_price : null);
  const skipped = Math.max(0, trades.length - MAX_TRADE_ROWS);
  const shown = trades.slice(skipped).map((t, i) => ({...t, number: skipped + i + 1}));
  const columns = [
    ['#', (t) => String(t.number), 'num'],
    ['Side', (t) => h('span', {class: `badge ${t.side === 'short' ? 'short' : 'long'}`}, t.side)],
    ['Entry', (t) => time(t.entry_time), 'mono'],
    ['Entry price', (t) => price(t.entry_price, digits), 'num'],
    ['Exit', (t) => time(t.exit_time), 'mono'],
    ['Exit price', (t) => price(t.exit_price, digits), 'num'],
    ['Size', (t) => num(t.size, 6), 'num'],
    ['P&L', (t) => h('span', {class: tone(t.pnl)}, amount(t.pnl, symbol, {signed: true})), 'num'],
    ['Return', (t) => h('span', {class: tone(t.return_pct)}, pct(t.return_pct, {signed: true})), 'num'],
    ['Fees', (t) => amount(t.fees, symbol), 'num'],
    ['Exit reason', (t) => t.exit_reason || '–'],
  ];
  return h('div', null,
    shown.length < trades.length ? h('p.muted', null, `The last ${int(shown.length)} of ${int(trades.length)} trades.`) : null,
    table(columns, shown, {empty: 'No trades: the strategy never entered over these candles. Try other parameters, '
      + 'another strategy or more candles.'}));
}

function riskTable(events) {
  if (!events.length) return null;
  const shown = events.slice(0, MAX_RISK_ROWS);
  return card(`Risk events (${int(events.length)})`,
    shown.length < events.length ? h('p.muted', null, `The first ${shown.length}.`) : null,
    table([['Time', (e) => time(e.time), 'mono'], ['Reason', (e) => e.reason], ['Detail', (e) => e.detail || '–']], shown));
}

/** Fill ``container`` with ``job``'s report; returns the undo (its charts). */
export function renderReport(container, job) {
  const report = job.report;
  const metrics = report.metrics || {};
  const symbol = report.symbol;
  const equityBox = h('div.chart.small.bt-equity', {role: 'img', 'aria-label': `Equity of backtest ${job.id}`});
  const drawdownBox = h('div.chart.small.bt-drawdown', {role: 'img', 'aria-label': `Drawdown of backtest ${job.id}`});
  const ran = [
    ['Analyst', report.analyst], ['Risk', report.risk], ['Cash', amount(report.cash, symbol)],
    ['Fee', pct(report.fee, {digits: 3})], ['Slippage', pct(report.slippage, {digits: 3})],
    ['Candles', int(job.progress.total)], ['Engine', report.engine || '–'],
    ['From', time(metrics.start)], ['To', time(metrics.end)],
  ];
  fill(container,
    h('dl.stats.bt-ran', null, ran.map(([label, value]) => h('div', null, h('dt', null, label), h('dd', null, value)))),
    GROUPS.map(([title, figures]) => h('section.bt-group', {'aria-label': title}, h('h3', null, title),
      h('dl.stats.bt-metrics', null, figures.map((f) => figure(f, metrics, symbol))))),
    h('div.cols.even.bt-curves', null,
      h('section', null, h('h3', null, `Equity${quoteOf(symbol) ? ` (${quoteOf(symbol)})` : ''}`), equityBox),
      h('section', null, h('h3', null, 'Drawdown'), drawdownBox)),
    h('h3', null, `Trades (${int((report.trades || []).length)})`),
    h('div.bt-trades', null, tradesTable(report.trades || [], symbol)),
    riskTable(report.risk_events || []));
  const equity = curveChart(equityBox, {kind: 'equity', format: (v) => amount(v, symbol)});
  const drawdown = curveChart(drawdownBox, {kind: 'drawdown'});
  equity.setCurve(report.equity);
  drawdown.setCurve(report.drawdown);
  return () => { equity.destroy(); drawdown.destroy(); };
}

/** Two finished reports side by side: each figure in two columns, the better one marked; both equity curves. */
export function renderComparison(container, a, b) {
  const cell = (fig, job, mark) => {
    const [key, , write] = fig;
    const value = job.report.metrics[key] ?? null;
    return h('td', {class: `num${mark ? ' bt-better' : ''}`, dataset: {metric: key, value: JSON.stringify(value)}},
      write(value, job.report.symbol), mark ? h('span.bt-mark', null, ' ▲ better') : null);
  };
  const rows = FIGURES.map((fig) => {
    const side = better(fig[3], a.report.metrics[fig[0]], b.report.metrics[fig[0]]);
    return h('tr', {dataset: {metric: fig[0]}}, h('th', {scope: 'row'}, fig[1]), cell(fig, a, side === 'a'), cell(fig, b, side === 'b'));
  });
  const boxA = h('div.chart.small', {role: 'img', 'aria-label': `Equity of ${a.id}`});
  const boxB = h('div.chart.small', {role: 'img', 'aria-label': `Equity of ${b.id}`});
  fill(container,
    h('dl.bt-legend', null, [['A', a], ['B', b]].map(([letter, job]) => h('div', null,
      h('dt', null, letter), h('dd', null, `${specLabel(job.report)} · ${job.id}`)))),
    h('div.table-wrap', null, h('table.bt-compare-table', null,
      h('thead', null, h('tr', null, h('th', {scope: 'col'}, 'Figure'),
        h('th', {scope: 'col', class: 'num'}, 'A'), h('th', {scope: 'col', class: 'num'}, 'B'))),
      h('tbody', null, rows))),
    h('p.muted', null, '▲ marks the better of the two where a figure has a better side; none is marked on a tie or a missing value.'),
    h('div.cols.even.bt-curves', null,
      h('section', null, h('h3', null, `A: equity · ${a.report.symbol}`), boxA),
      h('section', null, h('h3', null, `B: equity · ${b.report.symbol}`), boxB)));
  const charts = [[boxA, a], [boxB, b]].map(([box, job]) => {
    const chart = curveChart(box, {kind: 'equity', format: (v) => amount(v, job.report.symbol)});
    chart.setCurve(job.report.equity);
    return chart;
  });
  return () => charts.forEach((chart) => chart.destroy());
}
