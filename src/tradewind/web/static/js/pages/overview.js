// Overview (seed 001's TradingDashboard): every asset with price, change, latest signal and
// confidence, position, P&L and state; the whole book's equity curve. Live over /ws.

import {curveChart, curvePoints} from '../curve_chart.js';
import {get, showError} from '../api.js';
import {card, emptyState, fill, h, stats} from '../dom.js';
import {money, pct, pnl, precisionFor, price, sideClass, time, tone} from '../format.js';

const DAY = 86400;
const TF_SECONDS = {'1m': 60, '5m': 300, '15m': 900, '30m': 1800, '1h': 3600, '4h': 14400, '1d': 86400};

/** Change over about a day of the asset's own candles (fewer when the buffer holds less), and its span. */
function change(candles) {
  if (candles.length < 2) return {value: null, span: null};
  const first = candles[0]; const last = candles[candles.length - 1];
  return {value: first.open ? last.close / first.open - 1 : null, span: last.time - first.time};
}

function spanLabel(seconds) {
  if (!seconds) return '';
  return seconds >= DAY - 3600 ? '24h' : seconds >= 3600 ? `${Math.round(seconds / 3600)}h` : `${Math.round(seconds / 60)}m`;
}

class AssetCard {
  constructor(asset) {
    this.symbol = asset.symbol;
    this.el = h('a.card.asset-card', {href: `#/asset/${encodeURIComponent(asset.symbol)}`, dataset: {symbol: asset.symbol}});
    this.asset = asset;
    this.signal = null;
    this.change = {value: null, span: null};
    this.render();
  }

  render() {
    const a = this.asset;
    const digits = precisionFor(a.symbol, a.price);
    const position = a.position;
    const signal = this.signal;
    fill(this.el,
      h('header', null, h('span.symbol', null, a.symbol),
        h('span', {class: `badge ${a.status}`, dataset: {role: 'status'}}, a.status)),
      h('div.row.between', null,
        h('span.last', {dataset: {role: 'price'}}, price(a.price, digits)),
        h('span', {class: `mono ${tone(this.change.value)}`, title: 'change over the span shown'},
          `${pct(this.change.value, {signed: true})} ${spanLabel(this.change.span)}`)),
      h('div.row', null,
        signal ? h('span', {class: `badge ${sideClass(signal.signal)}`, dataset: {role: 'signal'}},
          `${signal.signal} ${pct(signal.confidence, {digits: 0})}`) : h('span.muted', {dataset: {role: 'signal'}}, 'no signal yet'),
        signal ? h('span.muted', null, `${signal.model || signal.analyst || ''} · ${time(signal.time)}`) : null),
      stats([
        ['Position', position ? `${position.side} ${price(position.quantity, 6)}` : 'flat'],
        ['Unrealized', position ? pnl(position.unrealized_pnl) : '–', position ? tone(position.unrealized_pnl) : ''],
        ['Strategy', a.strategy],
        ['Every', `${a.interval_minutes} min · ${a.timeframe}`],
      ]));
  }

  update(changes) { Object.assign(this.asset, changes); this.render(); }
}

export async function mount(root, {live}) {
  const book = h('div');
  const curveBox = h('div.chart.small', {role: 'img', 'aria-label': 'Equity curve of the whole portfolio'});
  const curveNote = h('p.muted');
  const grid = h('div.grid', {'aria-label': 'Assets'});
  fill(root,
    h('h1', null, 'Overview'),
    h('div.cols', null, card('Portfolio', book), card('Equity', curveBox, curveNote)),
    h('h2', null, 'Assets'), grid);

  let assets; let positions; let performance;
  try {
    [{assets}, positions, performance] = await Promise.all([
      get('/api/assets'), get('/api/positions'), get('/api/performance').catch((error) => { if (error.status !== 503) showError(error, 'Performance'); return null; }),
    ]);
  } catch (error) {
    if (error.status !== 503) throw error;
    // trading is off (TRADEWIND_TRADING=false): no book to show, and the service says why
    fill(book, emptyState(`${error.message}. Set TRADEWIND_TRADING=true and restart to paper-trade; the AI logs, signal quality and backtests work without it.`));
    fill(curveBox.parentElement, emptyState('No equity: nothing trades here.'));
    fill(grid, emptyState('No traded assets.'));
    return null;
  }
  const renderBook = (summary) => fill(book, stats([
    ['Equity', money(summary.equity)], ['Cash', money(summary.cash)],
    ['Realized P&L', pnl(summary.realized_pnl), tone(summary.realized_pnl)],
    ['Unrealized P&L', pnl(summary.unrealized_pnl), tone(summary.unrealized_pnl)],
    ['Return', pct(summary.total_return, {signed: true}), tone(summary.total_return)],
    ['Drawdown', pct(summary.drawdown)], ['Open positions', String(summary.open_positions)],
    ['Trading', summary.halted ? 'halted (kill switch)' : 'on', summary.halted ? 'down' : ''],
  ]));
  renderBook(positions.portfolio);

  const equity = curveChart(curveBox, {kind: 'equity', format: (v) => money(v)});
  const drawCurve = (report) => {
    const curve = report ? report.equity_curve || [] : [];
    equity.setCurve(curve);
    const points = curvePoints(curve);
    curveBox.hidden = !points.length;
    curveNote.textContent = points.length ? `${points.length} points, ${time(points[0].time)} to ${time(points[points.length - 1].time)}`
      : 'No equity recorded yet: it is written at every fill and closed candle once the bot trades.';
  };
  drawCurve(performance);

  if (!assets.length) {
    fill(grid, emptyState('No traded assets: trading is off or no symbol is configured. Set TRADEWIND_SYMBOLS and restart, or start a backtest.'));
    return () => equity.destroy();
  }
  const cards = new Map(assets.map((asset) => [asset.symbol, new AssetCard(asset)]));
  fill(grid, [...cards.values()].map((c) => c.el));

  // latest signal and about a day of change per asset, from its dashboard
  await Promise.all(assets.map(async (asset) => {
    const step = TF_SECONDS[asset.timeframe] || 900;
    try {
      const board = await get(`/api/assets/${encodeURIComponent(asset.symbol)}/dashboard`, {candles: Math.min(500, Math.ceil(DAY / step) + 1), trades: 1});
      const c = cards.get(asset.symbol);
      c.change = change(board.candles);
      const s = board.latest_signal;
      if (s) c.signal = {signal: s.signal, confidence: s.confidence, analyst: s.analyst || s.model_type, model: s.model, time: s.timestamp};
      c.update({price: board.price});
    } catch (error) { showError(error, asset.symbol); }
  }));

  let refreshTimer = null;
  const refreshBook = () => { // at most once a second, however fast the fills and candles come
    if (refreshTimer !== null) return;
    refreshTimer = setTimeout(async () => {
      refreshTimer = null;
      try {
        const [latest, report] = await Promise.all([get('/api/positions'), get('/api/performance')]);
        renderBook(latest.portfolio);
        drawCurve(report);
        const held = new Map(latest.positions.map((p) => [p.symbol, p]));
        for (const c of cards.values()) c.update({position: held.get(c.symbol) || null});
      } catch (error) { showError(error, 'Portfolio'); }
    }, 1000);
  };
  const channels = ['signals', ...assets.flatMap((a) => [`trading:${a.symbol}`, `candles:${a.symbol}:${a.timeframe}`])];
  const undo = live.subscribe(channels, (message) => {
    const data = message.data || {};
    const c = cards.get(data.symbol);
    if (message.type === 'CandleClosed' && c && data.timeframe === c.asset.timeframe) {
      c.update({price: data.candle.close});
    } else if (message.type === 'AISignalReceived' && c) {
      const label = data.signal ? data.signal[0].toUpperCase() + data.signal.slice(1) : '';
      c.signal = {signal: label, confidence: data.confidence, analyst: data.model_type, time: data.timestamp};
      c.render();
    } else if (['OrderFilled', 'TradeClosed', 'PositionUpdate'].includes(message.type)) {
      if (c && message.type === 'PositionUpdate') c.update({position: data.position ? {...data.position, unrealized_pnl: data.unrealized_pnl} : null});
      refreshBook();
    }
  });
  // the engine's status changes (pause, resume, kill switch) come with the next cycle: re-read now and then
  const poll = setInterval(async () => {
    try {
      const latest = await get('/api/assets');
      for (const asset of latest.assets) { const c = cards.get(asset.symbol); if (c) c.update({status: asset.status, paused: asset.paused, interval_minutes: asset.interval_minutes, strategy: asset.strategy, price: asset.price ?? c.asset.price}); }
    } catch (error) { showError(error, 'Assets'); }
  }, 10000);
  return () => { undo(); clearInterval(poll); clearTimeout(refreshTimer); equity.destroy(); };
}
