// One asset (seed 001's AssetPanel): the chart with the analyst's overlays, signals and trades;
// pause / resume, interval, enter and close (admin); position, trades, statistics, the latest
// signal and reflection. Candles, signals and trades arrive over /ws; nothing reloads the page.

import {get, patch, post, showError} from '../api.js';
import {CandleChart, LEGEND} from '../chart.js';
import {card, emptyState, fill, h, stats, table} from '../dom.js';
import {int, money, num, pct, pnl, precisionFor, price, sideClass, time, tone} from '../format.js';

const TF_SECONDS = {'1m': 60, '5m': 300, '15m': 900, '30m': 1800, '1h': 3600, '4h': 14400, '1d': 86400};
const INTERVALS = [1, 5, 15, 30, 60];
const LAYERS = [['ema', 'EMA'], ['bollinger', 'Bollinger'], ['zones', 'FVG / OB zones'], ['structure', 'Swings, BOS, CHoCH'],
  ['signals', 'Signals'], ['trades', 'Trades, stop, target']];
export const CHART_CANDLES = 1000;

function signalLabel(text) {
  const s = String(text || '');
  return s ? s[0].toUpperCase() + s.slice(1).toLowerCase() : s;
}

/** The analyst's reasoning: its first lines, the rest behind a disclosure. */
function reasoning(text) {
  if (text.length <= 280) return h('p.reasoning', null, text);
  return h('details', null, h('summary', null, `${text.slice(0, 240)}…`), h('p.reasoning', null, text));
}

export async function mount(root, {args, query, live}) {
  const symbol = args[0];
  if (!symbol) { fill(root, emptyState('Pick an asset on the overview.')); return null; }
  const path = `/api/assets/${encodeURIComponent(symbol)}`;
  const starting = (error) => { if (error.status === 503) return {symbols: {}}; throw error; };
  const [asset, available] = await Promise.all([get(path), get('/streamer/available').catch(starting)]);
  const canonical = asset.symbol;
  const timeframes = (available.symbols || {})[canonical] || [asset.timeframe];
  let timeframe = timeframes.includes(query.get('tf')) ? query.get('tf') : asset.timeframe;
  let digits = precisionFor(canonical, asset.price);

  const title = h('h1', null, h('span', null, canonical), h('span', {class: `badge ${asset.status}`, id: 'asset-status'}, asset.status),
    h('span.mono', {id: 'asset-price'}, price(asset.price, digits)));
  const tfButtons = h('div.segmented', {role: 'group', 'aria-label': 'Timeframe'});
  const layers = h('div.row', {role: 'group', 'aria-label': 'Layers'});
  const chartBox = h('div.chart', {id: 'chart', role: 'img', 'aria-label': `${canonical} candlestick chart`});
  const legend = h('div.legend', null, LEGEND.map(([label, color]) => h('span', {style: {'--swatch': color}}, label)));
  const chartNote = h('p.muted', {id: 'chart-note'});
  const controls = h('div.controls', {id: 'controls'});
  const positionBox = h('div', {id: 'position'});
  const statsBox = h('div', {id: 'statistics'});
  const signalBox = h('div', {id: 'latest-signal'});
  const reflectionBox = h('div', {id: 'reflection'});
  const tradesBox = h('div', {id: 'trades'});
  const riskBox = h('div', {id: 'risk-events'});
  fill(root, title,
    card(null, h('div.row.between', null, tfButtons, layers), chartBox, legend, chartNote),
    h('div.cols', null,
      h('div', null, card('Position', positionBox), card('Trades', tradesBox), card('Risk events', riskBox)),
      h('div', null, card('Controls', controls), card('Latest signal', signalBox), card('Statistics', statsBox),
        card('Latest reflection', reflectionBox))));

  const chart = new CandleChart(chartBox, {precision: digits});
  let state = asset;

  // --- the chart -----------------------------------------------------------------------------------
  let retry = null;
  async function loadChart() {
    let doc;
    try {
      doc = await get(`${path}/chart`, {timeframe, candles: CHART_CANDLES});
    } catch (error) {
      if (error.status !== 503) throw error;
      chartNote.textContent = `The streamer is starting (${error.message}); the chart loads once its history is in.`;
      retry = setTimeout(() => loadChart().catch((e) => showError(e, 'Chart')), 2000);
      return;
    }
    chart.setDocument(doc, TF_SECONDS[timeframe] || 60);
    const open = doc.zones.filter((z) => z.end === null).length;
    chartNote.textContent = doc.candles.length
      ? `${doc.candles.length} candles of ${timeframe}; ${doc.zones.length} zones (${open} still open), ${doc.markers.length} structure points, ${doc.signals.length} signals, ${doc.trades.length} trades in view.`
      : 'No candles yet: the streamer has not filled this timeframe. They arrive as the market ticks.';
    root.dataset.chartReady = String(doc.candles.length);
    performance.mark('tradewind:chart-drawn');
    requestAnimationFrame(() => { root.dataset.chartPaintedAt = performance.now().toFixed(1); root.dataset.chartPainted = '1'; });
  }
  function renderTimeframes() {
    fill(tfButtons, timeframes.map((tf) => h('button', {type: 'button', 'aria-pressed': String(tf === timeframe), onclick: () => switchTo(tf)}, tf)));
  }
  async function switchTo(tf) {
    if (tf === timeframe) return;
    undoCandles();
    timeframe = tf;
    renderTimeframes();
    history.replaceState(null, '', `#/asset/${encodeURIComponent(canonical)}?tf=${tf}`);
    undoCandles = live.subscribe([`candles:${canonical}:${timeframe}`], onCandle);
    try { await loadChart(); } catch (error) { showError(error, 'Chart'); }
  }
  fill(layers, LAYERS.map(([key, label]) => h('label.row', null,
    h('input', {type: 'checkbox', checked: true, dataset: {layer: key}, onchange: (e) => chart.toggle(key, e.target.checked)}), label)));
  renderTimeframes();

  // --- the panels ----------------------------------------------------------------------------------
  function renderStatus(next) {
    state = {...state, ...next};
    const badge = root.querySelector('#asset-status');
    badge.className = `badge ${state.status}`;
    badge.textContent = state.status;
    renderControls();
  }
  function renderControls() {
    const paused = state.paused;
    const act = (label, run, cls = '') => h(`button${cls}`, {type: 'button', onclick: async (event) => {
      const button = event.currentTarget; button.disabled = true;
      try { await run(); } catch (error) { showError(error, label); } finally { button.disabled = false; }
    }}, label);
    const interval = h('select', {id: 'interval', 'aria-label': 'Decision interval in minutes'},
      [...new Set([...INTERVALS, state.interval_minutes])].sort((a, b) => a - b).map((m) => h('option', {value: m, selected: m === state.interval_minutes}, `${m} min`)));
    interval.addEventListener('change', async () => {
      try { renderStatus(await patch(path, {interval_minutes: Number(interval.value)}, {admin: true})); } catch (error) { showError(error, 'Interval'); interval.value = state.interval_minutes; }
    });
    fill(controls,
      paused ? act('Resume', async () => renderStatus(await post(`${path}/resume`, undefined, {admin: true})), '#resume')
        : act('Pause', async () => renderStatus(await post(`${path}/pause`, undefined, {admin: true})), '#pause.ghost'),
      h('label', null, 'Decide every', interval),
      act('Enter long', async () => { await post(`${path}/enter`, {side: 'long'}, {admin: true}); }, '.ghost'),
      act('Enter short', async () => { await post(`${path}/enter`, {side: 'short'}, {admin: true}); }, '.ghost'),
      act('Close position', async () => { await post(`${path}/close`, {fraction: 1}, {admin: true}); refreshBoard(); }, '#close.danger'),
      h('p.muted', null, `${state.strategy} · ${state.analyst} analyst · ${state.risk} risk · ${state.cycles} cycles, last ${time(state.last_cycle)}`,
        state.last_error ? h('span.down', null, ` · last error: ${state.last_error}`) : null));
  }
  function renderPosition(position, pnlBlock) {
    fill(positionBox, position ? stats([
      ['Side', h('span', {class: `badge ${sideClass(position.side)}`}, position.side)], ['Quantity', num(position.quantity, 8)],
      ['Entry', price(position.entry_price, digits)], ['Now', price(position.current_price, digits)],
      ['Unrealized', pnl(position.unrealized_pnl), tone(position.unrealized_pnl)],
      ['Stop', price(position.stop_loss, digits)], ['Target', price(position.take_profit, digits)], ['Opened', time(position.entry_time)],
    ]) : emptyState('Flat: no open position. The bot enters on its next signal, or use Enter above.'),
    pnlBlock ? stats([['Realized P&L', pnl(pnlBlock.realized), tone(pnlBlock.realized)], ['Total P&L', pnl(pnlBlock.total), tone(pnlBlock.total)]]) : null);
  }
  function renderSignal(signal) {
    if (!signal) { fill(signalBox, emptyState('No signal yet: the analyst decides at the next cycle.')); return; }
    fill(signalBox, h('div.row', null, h('span', {class: `badge ${sideClass(signal.signal)}`}, `${signalLabel(signal.signal)} ${pct(signal.confidence, {digits: 0})}`),
      h('span.muted', null, `${signal.analyst || signal.model_type || ''} · ${time(signal.timestamp)}`)),
    signal.risk_assessment ? stats([['Stop', price(signal.risk_assessment.stop_loss_suggestion, digits)], ['Target', price(signal.risk_assessment.take_profit_suggestion, digits)]]) : null,
    reasoning(signal.reasoning || ''));
  }
  function renderTrades(trades) {
    fill(tradesBox, table([
      ['Side', (t) => h('span', {class: `badge ${sideClass(t.side)}`}, t.side)], ['Entry', (t) => price(t.entry_price, digits), 'num'],
      ['Exit', (t) => price(t.exit_price, digits), 'num'], ['P&L', (t) => h('span', {class: tone(t.pnl)}, pnl(t.pnl)), 'num'],
      ['Return', (t) => pct(t.return_pct, {signed: true}), 'num'], ['Why', (t) => t.exit_reason || '–'], ['Closed', (t) => time(t.exit_time)],
    ], trades, {empty: 'No trades yet: start a backtest or wait for the first signal.'}));
  }
  function renderStats(s) {
    fill(statsBox, stats([['Trades', int(s.trades)], ['Win rate', pct(s.win_rate)], ['Total P&L', pnl(s.total_pnl), tone(s.total_pnl)],
      ['Profit factor', num(s.profit_factor)], ['Expectancy', pnl(s.expectancy)], ['Fees', money(s.total_fees)],
      ['Best', pct(s.best_return, {signed: true})], ['Worst', pct(s.worst_return, {signed: true})]]));
  }
  function renderBoard(board) {
    digits = precisionFor(canonical, board.price);
    root.querySelector('#asset-price').textContent = price(board.price, digits);
    renderStatus(board.asset);
    renderPosition(board.position, board.pnl);
    renderSignal(board.latest_signal);
    renderTrades(board.trades);
    renderStats(board.statistics);
    const r = board.latest_reflection;
    fill(reflectionBox, r ? [h('p.muted', null, `${r.analyst} · ${time(r.time)} · ${r.trades} trades`), h('p.reasoning', null, r.text)]
      : emptyState('No reflection yet: the analyst reviews its trades after every few closed ones.'));
    fill(riskBox, table([['Reason', (e) => e.reason], ['Detail', (e) => e.detail || ''], ['When', (e) => time(e.time)]], board.risk_events,
      {empty: 'No risk events: every order so far passed the limits.'}));
  }
  let boardTimer = null;
  function refreshBoard() { // at most every 200 ms, however fast the events come
    if (boardTimer !== null) return;
    boardTimer = setTimeout(async () => {
      boardTimer = null;
      try { renderBoard(await get(`${path}/dashboard`, {candles: 1, trades: 50})); } catch (error) { showError(error, 'Dashboard'); }
    }, 200);
  }

  // --- live ----------------------------------------------------------------------------------------
  function onCandle(message) {
    const data = message.data || {};
    if (message.type !== 'CandleClosed' || data.symbol !== canonical || data.timeframe !== timeframe) return;
    if (chart.updateCandle(data.candle)) {
      root.querySelector('#asset-price').textContent = price(data.candle.close, digits);
      root.dataset.lastCandle = String(data.candle.time);
      window.dispatchEvent(new CustomEvent('tradewind:candle-drawn', {detail: data.candle.time}));
    }
  }
  function onTrading(message) {
    const data = message.data || {};
    if (data.symbol !== undefined && data.symbol !== canonical) return;
    if (message.type === 'AISignalReceived') {
      chart.addSignal({signal_id: data.signal_id, time: Math.floor(data.timestamp / 1000), signal: signalLabel(data.signal), confidence: data.confidence});
      root.dataset.lastSignal = data.signal_id;
      refreshBoard();
    } else if (message.type === 'TradeClosed') {
      chart.addTrade(data);
      refreshBoard();
    } else if (message.type === 'TradeOpened' || message.type === 'PositionUpdate') {
      if (message.type === 'TradeOpened') root.dataset.lastTradeOpened = String(Date.now());
      chart.setPosition(data.position);
      refreshBoard();
    } else if (message.type === 'OrderFilled') {
      root.dataset.lastFill = data.client_order_id;
      refreshBoard();
    }
  }
  let undoCandles = live.subscribe([`candles:${canonical}:${timeframe}`], onCandle);
  const undoTrading = live.subscribe(['signals', `trading:${canonical}`], onTrading);
  const poll = setInterval(async () => { try { renderStatus(await get(path)); } catch (error) { showError(error, 'Asset'); } }, 10000);

  await Promise.all([loadChart().catch((error) => showError(error, 'Chart')), (async () => {
    try { renderBoard(await get(`${path}/dashboard`, {candles: 1, trades: 50})); } catch (error) { showError(error, 'Dashboard'); }
  })()]);
  return () => { undoCandles(); undoTrading(); clearInterval(poll); clearTimeout(boardTimer); clearTimeout(retry); chart.destroy(); };
}
