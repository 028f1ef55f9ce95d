// The form that starts a backtest, built from GET /api/backtests/options: only stored candles to
// pick from (a backtest runs over what the database holds), each strategy with its declared
// parameters, and the server's own 4xx message shown beside the field it names. The form does not
// second-guess the server: its checks are the only ones, so the CLI, the API and this form agree.

import {showError} from './api.js';
import {emptyState, fill, h} from './dom.js';
import {int, time} from './format.js';

const FIELD_PREFIX = 'bt-';

/** Epoch seconds as a datetime-local value in UTC (``2026-01-30T04:50``). */
function utcInput(seconds) {
  return new Date(seconds * 1000).toISOString().slice(0, 16);
}

/** A datetime-local value read as UTC, in epoch seconds; null when empty. */
function fromUtcInput(value) {
  if (!value) return null;
  const ms = Date.parse(`${value}Z`);
  return Number.isNaN(ms) ? value : ms / 1000; // not a time: sent as it is, for the server to name
}

/** A number input's value: null when empty (the server names the missing field), else the number. */
function numberOf(input) {
  const text = input.value.trim();
  if (!text) return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : text;
}

/** The stored pair a fresh form starts on: the most candles; on a tie the shorter timeframe, then the symbol. */
export function defaultPair(stored) {
  let best = null;
  for (const pair of stored) if (!best || pair.candles > best.candles) best = pair; // the list is symbol, then shortest first
  return best;
}

export class BacktestForm {
  /** ``options`` as GET /api/backtests/options answers; ``onSubmit(body)`` starts the backtest. */
  constructor(options, {onSubmit}) {
    this.options = options;
    this.onSubmit = onSubmit;
    this.stored = options.stored || [];
    this.fields = new Map(); // API field name -> {input, error}
    this.el = h('form.bt-form', {novalidate: true, 'aria-label': 'Start a backtest'});
    this.el.addEventListener('submit', (event) => { event.preventDefault(); this.submit(); });
    this.render();
  }

  field(name, label, input, hint = null) {
    const id = `${FIELD_PREFIX}${name.replace(/[^a-z0-9]+/gi, '-')}`;
    input.id = id;
    const error = h('p.bt-field-error', {id: `${id}-error`, hidden: true});
    input.setAttribute('aria-describedby', hint ? `${id}-error ${id}-hint` : `${id}-error`);
    this.fields.set(name, {input, error});
    return h('div.bt-field', {dataset: {field: name}}, h('label', {for: id}, label), input,
      hint ? h('p.bt-hint', {id: `${id}-hint`}, hint) : null, error);
  }

  render() {
    if (!this.stored.length) {
      fill(this.el, emptyState('No candles are stored yet, and a backtest runs over stored candles. The server records every '
        + 'closed candle of the symbols it streams: leave `tradewind serve` running for a few candles, or import a file '
        + 'with `tradewind data import FILE --symbol BTCUSDT --timeframe 1m`. Then reload this page.'));
      return;
    }
    const first = defaultPair(this.stored);
    const symbols = [...new Set(this.stored.map((p) => p.symbol))];
    this.symbol = h('select', null, symbols.map((s) => h('option', {value: s, selected: s === first.symbol}, s)));
    this.timeframe = h('select');
    this.coverage = h('p.bt-hint', {role: 'status'});
    this.strategy = h('select', null, this.options.strategies.map((s) => h('option', {value: s.name, selected: s.name === 'sma-cross'}, s.name)));
    this.summary = h('p.bt-hint');
    this.params = h('fieldset.bt-params', null);
    this.analyst = h('select', null, this.options.analysts.map((a) => h('option', {value: a, selected: a === 'rules'}, a)));
    this.risk = h('select', null, this.options.risk_profiles.map((r) => h('option', {value: r, selected: r === 'none'}, r)));
    const number = (value, step = 'any') => h('input', {type: 'number', step, value, inputmode: 'decimal'});
    this.cash = number('10000');
    this.fee = number('0.001');
    this.slippage = number('0');
    this.from = h('input', {type: 'datetime-local'});
    this.to = h('input', {type: 'datetime-local'});
    this.interval = number('', '1');
    this.warmup = number('', '1');
    this.general = h('p.bt-form-error', {role: 'alert', hidden: true});
    this.button = h('button', {type: 'submit'}, 'Start backtest');
    this.fields.clear();
    fill(this.el,
      h('div.bt-fields', null,
        this.field('symbol', 'Symbol', this.symbol),
        this.field('timeframe', 'Timeframe', this.timeframe)),
      this.coverage,
      h('div.bt-fields', null,
        this.field('strategy', 'Strategy', this.strategy),
        this.field('analyst', 'Analyst', this.analyst, 'Asked at each cycle by strategies that trade its signals.'),
        this.field('risk', 'Risk profile', this.risk)),
      this.summary,
      this.params,
      h('div.bt-fields', null,
        this.field('cash', 'Cash', this.cash),
        this.field('fee', 'Fee (fraction; 0.001 = 0.1%)', this.fee),
        this.field('slippage', 'Slippage (fraction)', this.slippage)),
      h('div.bt-fields', null,
        this.field('from', 'From (UTC)', this.from),
        this.field('to', 'To (UTC)', this.to)),
      h('details.bt-more', null, h('summary', null, 'More options'),
        h('div.bt-fields', null,
          this.field('interval_minutes', 'Decide every (minutes)', this.interval, 'Default: once per candle.'),
          this.field('warmup', 'Warm-up (candles)', this.warmup, 'Candles before the first decision.'))),
      this.general,
      h('div.row', null, this.button));
    this.symbol.addEventListener('change', () => this.fillTimeframes());
    this.timeframe.addEventListener('change', () => this.showCoverage());
    this.strategy.addEventListener('change', () => this.fillParams());
    this.fillTimeframes(first.timeframe);
    this.fillParams();
  }

  pairs() {
    return this.stored.filter((p) => p.symbol === this.symbol.value);
  }

  fillTimeframes(chosen = null) {
    const pairs = this.pairs();
    const keep = chosen || this.timeframe.value;
    const pick = pairs.some((p) => p.timeframe === keep) ? keep : (defaultPair(pairs) || pairs[0]).timeframe;
    fill(this.timeframe, pairs.map((p) => h('option', {value: p.timeframe, selected: p.timeframe === pick},
      `${p.timeframe} · ${int(p.candles)} candles`)));
    this.timeframe.value = pick;
    this.showCoverage();
  }

  showCoverage() {
    const pair = this.pairs().find((p) => p.timeframe === this.timeframe.value);
    if (!pair) { this.coverage.textContent = ''; return; }
    this.coverage.textContent = `${int(pair.candles)} stored candles, ${time(pair.first)} to ${time(pair.last)}. `
      + 'Leave From and To empty to use them all.';
    for (const input of [this.from, this.to]) {
      input.min = utcInput(pair.first);
      input.max = utcInput(pair.last + 86400);
    }
  }

  fillParams() {
    const strategy = this.options.strategies.find((s) => s.name === this.strategy.value);
    this.summary.textContent = strategy && strategy.summary ? strategy.summary : '';
    for (const key of [...this.fields.keys()]) if (key.startsWith('params.')) this.fields.delete(key);
    const params = strategy ? strategy.params : [];
    fill(this.params, h('legend', null, 'Parameters'),
      params.length ? h('div.bt-fields', null, params.map((p) => this.paramField(p)))
        : h('p.bt-hint', null, 'This strategy declares no parameters.'));
    this.analyst.disabled = !(strategy && strategy.uses_signals !== false);
  }

  paramField(param) {
    let input;
    if (param.type === 'bool') {
      input = h('select', null, h('option', {value: 'false', selected: !param.default}, 'no'), h('option', {value: 'true', selected: !!param.default}, 'yes'));
    } else {
      input = h('input', {type: 'number', step: param.type === 'int' ? '1' : 'any', value: String(param.default),
        min: param.minimum, max: param.maximum, inputmode: param.type === 'int' ? 'numeric' : 'decimal'});
    }
    input.dataset.param = param.name;
    input.dataset.kind = param.type;
    const bounds = param.minimum !== null && param.maximum !== null ? ` (${param.minimum} to ${param.maximum})` : '';
    return this.field(`params.${param.name}`, param.name, input, `${param.description || ''}${bounds}`.trim() || null);
  }

  /** The request body, exactly as typed: empty optional fields left out, the server checks the rest. */
  body() {
    const body = {
      symbol: this.symbol.value, timeframe: this.timeframe.value, strategy: this.strategy.value, params: {},
      risk: this.risk.value, cash: numberOf(this.cash), fee: numberOf(this.fee), slippage: numberOf(this.slippage),
    };
    for (const input of this.params.querySelectorAll('[data-param]')) {
      if (input.dataset.kind === 'bool') body.params[input.dataset.param] = input.value === 'true';
      else if (input.value.trim() !== '') body.params[input.dataset.param] = numberOf(input);
    }
    if (!this.analyst.disabled) body.analyst = this.analyst.value;
    const optional = {from: fromUtcInput(this.from.value), to: fromUtcInput(this.to.value),
      interval_minutes: numberOf(this.interval), warmup: numberOf(this.warmup)};
    for (const [key, value] of Object.entries(optional)) if (value !== null) body[key] = value;
    return body;
  }

  clearErrors() {
    for (const {input, error} of this.fields.values()) { input.removeAttribute('aria-invalid'); error.hidden = true; error.textContent = ''; }
    this.general.hidden = true;
    this.general.textContent = '';
  }

  /** A 4xx beside the field it names (``params.fast`` → the fast input), else above the button. */
  showError(error) {
    this.clearErrors();
    const name = error.field || '';
    const target = this.fields.get(name) || this.fields.get(name.split('.')[0])
      || [...this.fields.entries()].find(([key]) => key.startsWith(`${name}.`))?.[1];
    if (target) {
      target.input.setAttribute('aria-invalid', 'true');
      target.error.textContent = error.message;
      target.error.hidden = false;
      target.input.closest('details')?.setAttribute('open', '');
      target.input.focus();
    } else {
      this.general.textContent = name ? `${error.message} (field: ${name})` : error.message;
      this.general.hidden = false;
    }
  }

  setBusy(busy) {
    this.button.disabled = busy;
    this.button.textContent = busy ? 'Starting…' : 'Start backtest';
  }

  async submit() {
    this.clearErrors();
    this.setBusy(true);
    try {
      await this.onSubmit(this.body());
    } catch (error) {
      if (error.status >= 400 && error.status < 500) this.showError(error); // the service's own words, by the field
      else showError(error, 'Starting the backtest');
    } finally {
      this.setBusy(false);
    }
  }
}
