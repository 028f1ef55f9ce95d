// AI logs (seed 001's AiLogsPanel): every model call with its prompt, raw answer, parsed signal,
// latency, tokens and cost; filters by asset, analyst, model, time window and text; totals over the
// rows shown, usage per model, and JSON / CSV exports of exactly the filtered rows.
// The applied filters live in the address (``#/logs?model=gpt-4o-mini&q=breakout``, replaceState:
// no remount), so a reload or a shared link shows the same rows. Times are UTC throughout.

import {get, showError} from '../api.js';
import {card, emptyState, fill, h, stats, table} from '../dom.js';
import {int, num, pct, sideClass, time} from '../format.js';

const FILTERS = ['symbol', 'analyst', 'model', 'since', 'until', 'q'];
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;
const MAX_SEARCH = 200; // the API's bound on q
const REFRESH_MS = 1500; // a burst of LLM signals re-reads the log once
const NOTHING_LOGGED = 'No AI decisions logged yet. Only model calls are logged: the built-in rule-based analyst '
  + '(the default) calls no model, so it logs none, and an answer replayed from the log adds no row. Run the LLM analyst '
  + '(TRADEWIND_ANALYST=llm with TRADEWIND_LLM_BASE_URL for a local server, or OPENAI_API_KEY) and wait for its first '
  + 'signal; assistant runs on an upstream model are logged here too.';

/** A small US-dollar amount: model calls cost fractions of a cent, so six decimals below $1. */
function usd(value) {
  const text = num(value, Math.abs(value) >= 1 ? 2 : 6);
  return typeof value === 'number' && Number.isFinite(value) ? `$${text}` : text;
}

function ms(value) {
  const text = num(value, 0);
  return typeof value === 'number' && Number.isFinite(value) ? `${text} ms` : text;
}

/** ``YYYY-MM-DDTHH:MM[:SS]`` typed in a UTC time field, as the API's ISO-8601 UTC. */
function apiTime(value) {
  if (!value) return '';
  return `${value.length === 16 ? `${value}:00` : value}Z`;
}

function readFilters(query) {
  const applied = {};
  for (const name of FILTERS) applied[name] = (query.get(name) || '').slice(0, name === 'q' ? MAX_SEARCH : 255);
  const limit = Number.parseInt(query.get('limit') || '', 10);
  applied.limit = Number.isInteger(limit) && limit >= 1 && limit <= MAX_LIMIT ? limit : DEFAULT_LIMIT;
  return applied;
}

/** The API's parameters for the applied filters (the list's; exports take the same but ``limit``). */
function apiParams(applied, {withLimit = true} = {}) {
  const params = {
    symbol: applied.symbol.trim(), analyst: applied.analyst.trim(), model: applied.model,
    since: apiTime(applied.since), until: apiTime(applied.until), q: applied.q.trim(),
  };
  if (withLimit) params.limit = applied.limit;
  return params;
}

function exportHref(format, applied) {
  const target = new URL(`/api/ai-logs/export/${format}`, location.origin);
  for (const [key, value] of Object.entries(apiParams(applied, {withLimit: false}))) if (value) target.searchParams.set(key, value);
  return target.pathname + target.search;
}

function address(applied) {
  const query = new URLSearchParams();
  for (const name of FILTERS) if (applied[name]) query.set(name, applied[name]);
  if (applied.limit !== DEFAULT_LIMIT) query.set('limit', String(applied.limit));
  const text = query.toString();
  return text ? `#/logs?${text}` : '#/logs';
}

function filtering(applied) {
  return FILTERS.some((name) => applied[name].trim());
}

/** Sums of the rows shown: a sum over no known value is null (shown as a dash), never 0. */
function totals(rows) {
  const sum = (key) => {
    const known = rows.map((r) => r[key]).filter((v) => typeof v === 'number');
    return known.length ? known.reduce((a, b) => a + b, 0) : null;
  };
  const latencies = rows.map((r) => r.latency_ms).filter((v) => typeof v === 'number');
  return {
    calls: rows.length,
    errors: rows.filter((r) => r.error).length,
    prompt: sum('prompt_tokens'), completion: sum('completion_tokens'), total: sum('total_tokens'),
    cost: sum('cost_usd'), unpriced: rows.filter((r) => typeof r.cost_usd !== 'number').length,
    latency: latencies.length ? latencies.reduce((a, b) => a + b, 0) / latencies.length : null,
  };
}

function signalBadge(parsed) {
  if (!parsed || typeof parsed !== 'object') return h('span.muted', null, 'none');
  if (typeof parsed.review === 'string') return h('span.badge', null, 'review');
  if (!parsed.signal) return h('span.muted', null, 'none');
  return h('span', {class: `badge ${sideClass(parsed.signal)}`}, `${parsed.signal} ${pct(parsed.confidence, {digits: 0})}`);
}

function statusCell(row) {
  if (row.error) return h('span.down.logs-error', {title: row.error}, row.error.length > 60 ? `${row.error.slice(0, 60)}…` : row.error);
  if (row.finish_reason === 'length') return h('span.down', {title: 'the output cap cut the answer'}, 'cut at cap');
  return h('span.up', null, 'ok');
}

/** What a decision holds beyond its row: each prompt message, the raw answer and the parse, as text. */
function detail(row) {
  const prompt = Array.isArray(row.prompt) ? row.prompt : [];
  const messages = prompt.map((message, i) => h('div.logs-message', null,
    h('h4', null, `${i + 1}. ${message && message.role ? message.role : 'message'}`,
      h('span.muted', null, ` · ${int(String(message && message.content || '').length)} characters`)),
    h('pre', {dataset: {role: 'prompt'}}, String(message && message.content !== undefined ? message.content : ''))));
  return h('div.logs-detail', null,
    h('div.logs-detail-cols', null,
      h('section', null, h('h3', null, 'Prompt'), messages.length ? messages : h('p.muted', null, 'No messages.')),
      h('section', null,
        h('h3', null, 'Raw response'),
        row.raw_response === null || row.raw_response === undefined
          ? h('p.muted', null, row.error ? 'No answer: the call failed (see the error).' : 'No answer.')
          : h('pre', {dataset: {role: 'raw'}}, row.raw_response),
        h('h3', null, 'Parsed signal'),
        row.parsed ? h('pre', {dataset: {role: 'parsed'}}, JSON.stringify(row.parsed, null, 2))
          : h('p.muted', null, 'None: the answer did not validate, or there was none.'),
        row.error ? [h('h3', null, 'Error'), h('pre.logs-error-text', null, row.error)] : null)),
    stats([
      ['Decision', row.decision_id], ['Signal', row.signal_id || '–'],
      ['Attempt', row.attempt > 1 ? `${row.attempt} (repair of ${row.parent_id || '?'})` : String(row.attempt || 1)],
      ['Prompt detail', row.prompt_detail || '–'], ['Prompt budget', int(row.prompt_budget)],
      ['Finish reason', row.finish_reason || '–'], ['Timeframe', row.timeframe || '–'],
      ['Input hash', row.input_hash ? `${row.input_hash.slice(0, 16)}…` : '–'],
      ['Prompt hash', row.prompt_hash ? `${row.prompt_hash.slice(0, 16)}…` : '–'],
    ]));
}

const COLUMNS = [
  ['Time', (r) => time(r.created_at), 'mono'],
  ['Asset', (r) => r.symbol],
  ['Analyst', (r) => r.analyst],
  ['Model', (r) => r.model || '–'],
  ['Source', (r) => r.source],
  ['Signal', (r) => signalBadge(r.parsed)],
  ['Latency', (r) => ms(r.latency_ms), 'num'],
  ['Tokens', (r) => h('span', {title: 'prompt / completion / total tokens'},
    `${int(r.prompt_tokens)} / ${int(r.completion_tokens)} / ${int(r.total_tokens)}`), 'num'],
  ['Cost', (r) => usd(r.cost_usd), 'num'],
  ['Status', statusCell],
];
const HEADINGS = {Tokens: ['Tokens', h('br'), h('span.logs-sub', null, 'prompt / compl. / total')]};

/** The decisions as a table whose rows open to their prompt and answer (built on first open). */
function decisionsTable(rows, open) {
  const body = h('tbody');
  for (const row of rows) {
    const id = `logs-detail-${row.decision_id}`;
    const cell = h('td', {colspan: COLUMNS.length + 1});
    const extra = h('tr.logs-detail-row', {id, hidden: true, dataset: {detail: row.decision_id}}, cell);
    const toggle = h('button.ghost.logs-toggle', {type: 'button', 'aria-expanded': 'false', 'aria-controls': id,
      'aria-label': `Show the prompt and answer of ${row.decision_id}`}, 'Show');
    const show = (visible) => {
      if (visible && !cell.firstChild) fill(cell, detail(row));
      extra.hidden = !visible;
      toggle.setAttribute('aria-expanded', String(visible));
      toggle.textContent = visible ? 'Hide' : 'Show';
      if (visible) open.add(row.decision_id); else open.delete(row.decision_id);
    };
    toggle.addEventListener('click', () => show(extra.hidden));
    body.append(h('tr.logs-row', {dataset: {decision: row.decision_id}},
      h('td', {'data-label': ''}, toggle),
      COLUMNS.map(([label, value, cls]) => h('td', {class: cls || null, 'data-label': label}, value(row)))), extra);
    if (open.has(row.decision_id)) show(true);
  }
  return h('div.table-wrap.logs-table', null, h('table', null,
    h('caption', null, `${int(rows.length)} decisions, newest first`),
    h('thead', null, h('tr', null, h('th', {scope: 'col'}, h('span.logs-sr', null, 'Details')),
      COLUMNS.map(([label, , cls]) => h('th', {scope: 'col', class: cls || null}, HEADINGS[label] || label)))),
    body));
}

function usageTable(usage) {
  const rows = (usage && usage.by_model) || [];
  return table([
    ['Model', (r) => r.model || '(none)'],
    ['Calls', (r) => int(r.calls), 'num'],
    ['Repairs', (r) => int(r.repairs), 'num'],
    ['Prompt tok.', (r) => int(r.prompt_tokens), 'num'],
    ['Compl. tok.', (r) => int(r.completion_tokens), 'num'],
    ['Total tok.', (r) => int(r.total_tokens), 'num'],
    ['Cost', (r) => usd(r.cost_usd), 'num'],
    ['Unpriced', (r) => int(r.unknown_cost_calls), 'num'],
  ], rows, {caption: 'Every logged call, all time. Unpriced: calls whose model has no price in the table (never guessed).',
    empty: 'No model calls logged yet.'});
}

export async function mount(root, {query, live}) {
  let applied = readFilters(query);
  const page = new AbortController();
  const open = new Set(); // decision ids whose details are shown: kept across a refresh

  const control = (name, attrs) => h('input', {name, id: `logs-${name}`, autocomplete: 'off', ...attrs});
  const inputs = {
    symbol: control('symbol', {type: 'text', list: 'logs-assets', maxlength: 40, size: 10, placeholder: 'all assets'}),
    analyst: control('analyst', {type: 'text', list: 'logs-analysts', maxlength: 255, size: 16, placeholder: 'all analysts'}),
    model: h('select', {name: 'model', id: 'logs-model'}),
    since: control('since', {type: 'datetime-local', step: 1}),
    until: control('until', {type: 'datetime-local', step: 1}),
    limit: control('limit', {type: 'number', min: 1, max: MAX_LIMIT, step: 1, required: true, inputmode: 'numeric'}),
    q: control('q', {type: 'search', maxlength: MAX_SEARCH, size: 18, placeholder: 'prompt or answer text'}),
  };
  const assetList = h('datalist#logs-assets');
  const analystList = h('datalist#logs-analysts');
  const analysts = new Set();
  const exportJson = h('a.button.logs-export', {download: '', dataset: {format: 'json'}}, 'Export JSON');
  const exportCsv = h('a.button.logs-export', {download: '', dataset: {format: 'csv'}}, 'Export CSV');
  const form = h('form.filters.logs-filters', {'aria-label': 'Filter the AI decisions', novalidate: true},
    h('label', null, 'Asset', inputs.symbol), h('label', null, 'Analyst', inputs.analyst),
    h('label', null, 'Model', inputs.model), h('label', null, 'From (UTC)', inputs.since),
    h('label', null, 'To (UTC, before)', inputs.until), h('label', null, 'Limit', inputs.limit),
    h('label', null, 'Search', inputs.q),
    h('div.row', null, h('button', {type: 'submit'}, 'Apply'), h('button.ghost', {type: 'reset'}, 'Reset')),
    assetList, analystList);
  const totalsBox = h('div.logs-totals', {'aria-live': 'polite'});
  const usageBox = h('div');
  const listBox = h('div.logs-list');
  fill(root, h('h1', null, 'AI logs'),
    card('Filters', form, h('div.row.logs-exports', null, exportJson, exportCsv,
      h('span.muted', null, 'Exports hold every decision matching the filters (no limit), oldest first.'))),
    h('div.cols.logs-summary', null, card('Totals', totalsBox), card('Usage per model', usageBox)),
    card('Decisions', listBox));

  // the tracked symbols as suggestions, and which analyst runs now (for the empty state)
  const info = get('/ai/info', null, {signal: page.signal}).then((about) => {
    fill(assetList, (about.supported_symbols || []).map((symbol) => h('option', {value: symbol})));
    return about;
  }).catch((error) => { showError(error, 'Service info'); return null; });

  const setModels = (models) => {
    const names = [...new Set([...models, applied.model].filter(Boolean))].sort();
    fill(inputs.model, h('option', {value: ''}, 'All models'), names.map((m) => h('option', {value: m}, m)));
    inputs.model.value = applied.model;
  };
  const showFilters = () => {
    for (const name of [...FILTERS, 'limit']) {
      inputs[name].value = String(applied[name]);
      inputs[name].removeAttribute('aria-invalid');
    }
    exportJson.href = exportHref('json', applied);
    exportCsv.href = exportHref('csv', applied);
  };
  const markInvalid = (error) => {
    const input = error && error.field ? inputs[error.field] : null;
    if (input) { input.setAttribute('aria-invalid', 'true'); input.focus(); }
  };

  const renderTotals = (rows) => {
    const t = totals(rows);
    const cut = rows.length >= applied.limit;
    fill(totalsBox, stats([
      ['Calls', int(t.calls)], ['Errors', int(t.errors), t.errors ? 'down' : ''],
      ['Prompt tokens', int(t.prompt)], ['Completion tokens', int(t.completion)], ['Total tokens', int(t.total)],
      ['Cost', usd(t.cost)], ['Unpriced calls', int(t.unpriced)], ['Mean latency', ms(t.latency)],
    ]), h('p.muted.logs-note', null, !rows.length ? 'Nothing to add up yet.'
      : `Over the ${int(rows.length)} decisions shown${filtering(applied) ? ' (filtered)' : ''}. `
        + (cut ? `The limit of ${int(applied.limit)} cut the list: raise it, or export every match.` : 'Every match is shown.')));
  };
  const renderList = (rows, usage) => {
    for (const row of rows) if (row.analyst) analysts.add(row.analyst);
    fill(analystList, [...analysts].sort().map((a) => h('option', {value: a})));
    if (rows.length) { fill(listBox, decisionsTable(rows, open)); return; }
    const logged = usage && usage.total ? usage.total.calls : null;
    if (logged !== 0 && filtering(applied)) {
      fill(listBox, emptyState('No decision matches these filters: widen the time window, clear the search, pick another '
        + 'asset, analyst or model, or press Reset to see them all.'));
      return;
    }
    const note = emptyState(NOTHING_LOGGED);
    fill(listBox, note);
    info.then((about) => { // say which analyst runs now, once known
      if (about && about.model_version && note.isConnected) note.append(` The analyst running now is ${about.model_version}.`);
    });
  };

  let generation = 0;
  const load = async () => {
    const mine = ++generation;
    const options = {signal: page.signal};
    try {
      const [rows, usage] = await Promise.all([
        get('/api/ai-logs', apiParams(applied), options),
        get('/api/ai-logs/usage', null, options).catch((error) => { showError(error, 'AI usage'); return null; }),
      ]);
      if (mine !== generation) return;
      if (usage) { setModels(usage.by_model.map((m) => m.model)); fill(usageBox, usageTable(usage)); }
      renderTotals(rows);
      renderList(rows, usage);
    } catch (error) {
      if (mine !== generation) return;
      showError(error, 'AI logs');
      markInvalid(error);
      fill(listBox, emptyState('The decisions could not be read: the error is shown above. Fix the filter it names and apply again.'));
      fill(totalsBox, emptyState('No totals: the list did not load.'));
    }
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const limit = Number.parseInt(inputs.limit.value, 10);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
      inputs.limit.setAttribute('aria-invalid', 'true');
      inputs.limit.focus();
      showError(new Error(`limit must be a whole number from 1 to ${MAX_LIMIT}`), 'AI logs');
      return;
    }
    applied = {limit};
    for (const name of FILTERS) applied[name] = inputs[name].value;
    applied.symbol = applied.symbol.trim();
    applied.analyst = applied.analyst.trim();
    showFilters();
    history.replaceState(null, '', address(applied));
    load();
  });
  form.addEventListener('reset', (event) => {
    event.preventDefault();
    applied = readFilters(new URLSearchParams());
    showFilters();
    history.replaceState(null, '', address(applied));
    load();
  });

  setModels([]);
  showFilters();
  await load();

  // a new LLM signal means new logged calls: re-read (once per burst), unless the window is closed
  let timer = null;
  const undo = live.subscribe(['signals'], (message) => {
    const analyst = String((message.data && message.data.model_type) || '');
    if (message.type !== 'AISignalReceived' || !analyst.startsWith('llm:') || applied.until || timer !== null) return;
    timer = setTimeout(() => { timer = null; load(); }, REFRESH_MS);
  });
  return () => { undo(); clearTimeout(timer); page.abort(); };
}
