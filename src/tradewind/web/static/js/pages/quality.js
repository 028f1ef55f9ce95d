// Signal quality: hit rate, Brier score and a reliability diagram per model or per analyst, the
// rule-based analyst beside each LLM, all from ``GET /ai/performance`` (resolved outcomes only:
// an open signal is counted, never scored). ``#/quality?by=analyst`` groups by analyst; the
// default groups by the model that produced each signal (``rules`` for the rule-based analyst,
// including the fallbacks it gives in an LLM's place). Re-read when new signals arrive and every minute.

import {get, showError} from '../api.js';
import {card, emptyState, fill, h, stats} from '../dom.js';
import {int, num, pct, time} from '../format.js';
import {binsTable, filledBins, reliabilityChart} from '../reliability_chart.js';

const GROUPINGS = {
  model: {key: 'by_model', label: 'By model', noun: 'model'},
  analyst: {key: 'by_analyst', label: 'By analyst', noun: 'analyst'},
};
const RULES = 'rules';
const POLL_MS = 60_000;
const SIGNAL_REFRESH_MS = 5_000;

const hitRate = (value) => pct(value, {digits: 1});
const brier = (value) => num(value, 3);

/** A figure the tests and the comparison can find: the value shown, and the raw number beside it. */
function figure(name, text, value) {
  return h('span', {dataset: {figure: name, value: typeof value === 'number' ? String(value) : ''}}, text);
}

/** Rule-based or LLM: by model, everything but the rules is a model's name; by analyst, an ``llm:`` one. */
function kind(name, noun) {
  if (name === RULES) return h('span.badge.q-kind', {dataset: {kind: 'rules'}}, 'rule-based');
  if (noun === 'model' || name.startsWith('llm:')) return h('span.badge.q-kind.q-llm', {dataset: {kind: 'llm'}}, 'LLM');
  return null;
}

/** Rules first (the baseline every LLM is measured against), then the others by name. */
function ordered(groups) {
  return Object.entries(groups || {}).sort(([a], [b]) => (a === RULES ? -1 : b === RULES ? 1 : a.localeCompare(b)));
}

function figures(report) {
  return [
    ['Signals', figure('predictions', int(report.predictions_made), report.predictions_made)],
    ['Resolved', figure('resolved', int(report.resolved), report.resolved)],
    ['Open', figure('open', int(report.open), report.open)],
    ['Hit rate', figure('hit_rate', hitRate(report.success_rate), report.success_rate)],
    ['Brier score', figure('brier', brier(report.brier_score), report.brier_score)],
    ['Direction accuracy', figure('accuracy', hitRate(report.accuracy), report.accuracy)],
    ['Mean confidence', figure('confidence', hitRate(report.average_confidence), report.average_confidence)],
    ['Mean return', figure('return', pct(report.average_return, {digits: 2, signed: true}), report.average_return)],
  ];
}

/** The best value of a figure among the groups that have one (ties: every one of them). */
function best(rows, pick, lower) {
  const values = rows.map(pick).filter((v) => typeof v === 'number');
  if (values.length < 2) return null;
  return lower ? Math.min(...values) : Math.max(...values);
}

function comparison(groups, noun) {
  const rows = ordered(groups);
  const topHit = best(rows, ([, r]) => r.success_rate, false);
  const topBrier = best(rows, ([, r]) => r.brier_score, true);
  const mark = (value, top) => (top !== null && value === top ? h('span.q-best', {title: 'the best of these'}, ' ★') : null);
  return h('div', null, h('p.muted.q-note', null,
    `Side by side, one row per ${noun}. Hit rate: higher is better; Brier score: lower is better (★ the best).`),
  h('div.table-wrap', null, h('table.q-compare', null,
    h('thead', null, h('tr', null, [noun[0].toUpperCase() + noun.slice(1), 'Signals', 'Resolved', 'Hit rate', 'Brier score',
      'Direction accuracy', 'Mean confidence'].map((label, i) => h('th', {scope: 'col', class: i ? 'num' : null}, label)))),
    h('tbody', null, rows.map(([name, r]) => h('tr', {dataset: {group: name}},
      h('th', {scope: 'row'}, name, ' ', kind(name, noun)),
      h('td.num', null, figure('predictions', int(r.predictions_made), r.predictions_made)),
      h('td.num', null, figure('resolved', int(r.resolved), r.resolved)),
      h('td.num', null, figure('hit_rate', hitRate(r.success_rate), r.success_rate), mark(r.success_rate, topHit)),
      h('td.num', null, figure('brier', brier(r.brier_score), r.brier_score), mark(r.brier_score, topBrier)),
      h('td.num', null, figure('accuracy', hitRate(r.accuracy), r.accuracy)),
      h('td.num', null, figure('confidence', hitRate(r.average_confidence), r.average_confidence))))))));
}

function groupCard(name, report, noun) {
  const label = `Reliability of ${noun} ${name}: mean confidence against hit rate per confidence bin`;
  return h('section.card.q-group', {dataset: {group: name}, 'aria-label': `${noun} ${name}`},
    h('h2', null, name, kind(name, noun)),
    stats(figures(report)),
    report.resolved ? null : h('p.muted', null, `Nothing of ${name} resolved yet: ${int(report.open)} signals are still open.`),
    h('figure.q-figure', null, reliabilityChart(report.reliability, {label}),
      h('figcaption.muted', null, `${int(filledBins(report.reliability).length)} of ${int(report.reliability.length)} bins hold resolved signals. `
        + 'Dashed: perfect calibration. Point size and the bars below: resolved signals per bin.')),
    binsTable(report.reliability, {caption: `${name}: resolved signals per confidence bin`}));
}

function waiting(report) {
  if (!report.predictions_made) {
    return 'No signals stored yet: ask for an analysis (POST /ai/analyze), let the periodic analysis or the trading bot run, '
      + 'and come back once their horizon has passed.';
  }
  return `No scored signals yet: signals are scored once their horizon has passed (by default about 24 candles of their `
    + `timeframe: 2 hours for 5m, 6 hours for 15m, a day for 1h) or their take-profit or stop-loss is hit. `
    + `${int(report.open)} of ${int(report.predictions_made)} stored signals are waiting.`;
}

export async function mount(root, {query, live}) {
  const page = new AbortController();
  let by = GROUPINGS[query.get('by')] ? query.get('by') : 'model';
  let report = null;
  const buttons = Object.entries(GROUPINGS).map(([name, g]) => h('button', {type: 'button', 'aria-pressed': String(name === by),
    dataset: {by: name}, onclick: () => choose(name)}, g.label));
  const refresh = h('button.ghost', {type: 'button', onclick: () => load()}, 'Refresh');
  const updated = h('span.muted', {'aria-live': 'polite'});
  const overall = h('div');
  const compareBox = h('div');
  const groupsBox = h('div.q-groups');
  fill(root, h('h1', null, 'Signal quality'),
    h('p.muted.q-intro', null, 'Measured from the stored outcomes: each signal against the candles that followed it, up to its '
      + 'take-profit, stop-loss or horizon. Hit rate: the share of resolved signals that came true. Brier score: the mean of '
      + '(confidence − outcome)², 0 is perfect and always answering 50% scores 0.25. A calibrated analyst’s points sit on the diagonal.'),
    h('div.controls', null, h('div.segmented', {role: 'group', 'aria-label': 'Group the figures'}, buttons), refresh, updated),
    card('All signals', overall),
    h('section.card.q-compare-card', null, h('h2', null, 'Rules against LLM'), compareBox),
    groupsBox);

  const render = () => {
    if (!report) return;
    const grouping = GROUPINGS[by];
    const groups = report[grouping.key] || {};
    fill(overall, stats([...figures(report), ['Unscorable', figure('unscorable', int(report.unscorable), report.unscorable)]]));
    updated.textContent = `updated ${time(report.last_updated)}`;
    if (!report.resolved) {
      fill(compareBox, emptyState(waiting(report)));
      fill(groupsBox);
      return;
    }
    fill(compareBox, comparison(groups, grouping.noun));
    fill(groupsBox, ordered(groups).map(([name, part]) => groupCard(name, part, grouping.noun)));
  };
  const choose = (name) => {
    by = name;
    for (const button of buttons) button.setAttribute('aria-pressed', String(button.dataset.by === by));
    const hash = by === 'model' ? '#/quality' : `#/quality?by=${by}`;
    if (location.hash !== hash) history.replaceState(null, '', hash);
    render();
  };
  let generation = 0;
  const load = async () => {
    const mine = ++generation;
    try {
      const fresh = await get('/ai/performance', null, {signal: page.signal});
      if (mine !== generation) return;
      report = fresh;
      render();
    } catch (error) {
      if (mine !== generation) return;
      showError(error, 'Signal quality');
      if (!report) fill(compareBox, emptyState('The figures could not be read: the error is shown above. Press Refresh to try again.'));
    }
  };
  await load();

  let timer = null;
  const undo = live.subscribe(['signals'], (message) => {
    if (message.type !== 'AISignalReceived' || timer !== null) return;
    timer = setTimeout(() => { timer = null; load(); }, SIGNAL_REFRESH_MS);
  });
  const poll = setInterval(load, POLL_MS);
  return () => { undo(); clearTimeout(timer); clearInterval(poll); page.abort(); };
}
