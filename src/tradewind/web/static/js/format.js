// Numbers for traders: prices at the instrument's precision, signed percentages, currency.
// A missing value (null: the service could not compute it) is shown as an en dash, never as 0.

const DASH = '–';
const precisionCache = new Map();

/** Decimal places for a price of this size (BTC 2, a 0.0001-priced coin 6), remembered per symbol. */
export function precisionFor(symbol, sample) {
  if (precisionCache.has(symbol)) return precisionCache.get(symbol);
  if (typeof sample !== 'number' || !Number.isFinite(sample)) return 2;
  const abs = Math.abs(sample);
  const digits = abs >= 1000 ? 2 : abs >= 1 ? 4 : abs >= 0.01 ? 6 : 8;
  precisionCache.set(symbol, digits);
  return digits;
}

export function price(value, digits = 2) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return DASH;
  return value.toLocaleString('en-US', {minimumFractionDigits: digits, maximumFractionDigits: digits});
}

export function money(value, currency = 'USD') {
  if (typeof value !== 'number' || !Number.isFinite(value)) return DASH;
  return value.toLocaleString('en-US', {style: 'currency', currency, minimumFractionDigits: 2, maximumFractionDigits: 2});
}

/** A signed money change: +$12.30 / −$4.00. */
export function pnl(value, currency = 'USD') {
  if (typeof value !== 'number' || !Number.isFinite(value)) return DASH;
  const text = money(Math.abs(value), currency);
  return value > 0 ? `+${text}` : value < 0 ? `−${text}` : text;
}

/** A fraction as a percentage (0.1234 → 12.34%); ``signed`` adds + to gains. */
export function pct(fraction, {digits = 2, signed = false} = {}) {
  if (typeof fraction !== 'number' || !Number.isFinite(fraction)) return DASH;
  const text = `${(Math.abs(fraction) * 100).toFixed(digits)}%`;
  if (fraction < 0) return `−${text}`;
  return signed && fraction > 0 ? `+${text}` : text;
}

export function num(value, digits = 2) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return DASH;
  const text = Math.abs(value).toLocaleString('en-US', {maximumFractionDigits: digits});
  return value < 0 && text !== '0' ? `−${text}` : text; // the same minus sign as pct and pnl
}

export function int(value) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return DASH;
  return Math.round(value).toLocaleString('en-US');
}

/** An epoch (seconds or milliseconds) or ISO time as a short UTC time. */
export function time(value) {
  const date = toDate(value);
  if (!date) return DASH;
  return date.toISOString().replace('T', ' ').slice(0, 19) + 'Z';
}

export function toDate(value) {
  if (value === null || value === undefined || value === '') return null;
  if (typeof value === 'number') return new Date(value > 1e12 ? value : value * 1000);
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** Epoch seconds of an epoch (s or ms) or ISO time. */
export function epochSeconds(value) {
  const date = toDate(value);
  return date ? Math.floor(date.getTime() / 1000) : null;
}

/** A CSS class for the sign of a value: up, down or flat. */
export function tone(value) {
  if (typeof value !== 'number' || !Number.isFinite(value) || value === 0) return 'flat';
  return value > 0 ? 'up' : 'down';
}

/** A signal's direction as a class: long, short, neutral. */
export function sideClass(signal) {
  const text = String(signal || '').toLowerCase();
  return text.startsWith('long') || text === 'buy' ? 'long' : text.startsWith('short') || text === 'sell' ? 'short' : 'neutral';
}
