// A backtest report's figures: what each is called, how it is written, and which way is better.
// The figures are trading.analytics' own (fractions are fractions, durations seconds, times epoch
// seconds); one the service could not compute is null and shows as an en dash, never as 0.

import {int, money, num, pct, time} from './format.js';

const DASH = '–';
const USD_LIKE = ['USDT', 'USDC', 'BUSD', 'FDUSD', 'TUSD', 'DAI', 'USD'];
const QUOTES = [...USD_LIKE, 'EUR', 'GBP', 'BTC', 'ETH', 'BNB'];

/** The currency a symbol is quoted in (BTCUSDT → USDT, ETH/BTC → BTC), or null when it cannot tell. */
export function quoteOf(symbol) {
  const text = String(symbol || '').toUpperCase().replace(/[^A-Z0-9]/g, '');
  return QUOTES.find((quote) => text.endsWith(quote) && text.length > quote.length) || null;
}

/** An amount in the symbol's quote currency: $ for the dollar-likes, "1,234.50 BTC" for the others. */
export function amount(value, symbol, {signed = false} = {}) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return DASH;
  const quote = quoteOf(symbol);
  const sign = signed && value > 0 ? '+' : value < 0 ? '−' : '';
  const size = Math.abs(value);
  if (!quote || USD_LIKE.includes(quote)) return `${sign}${money(size)}`;
  if (quote === 'EUR' || quote === 'GBP') return `${sign}${money(size, quote)}`;
  return `${sign}${num(size, size >= 100 ? 2 : 6)} ${quote}`;
}

/** Seconds as the two largest units: 2d 3h, 15h 18m, 45m, 30s. */
export function duration(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return DASH;
  const s = Math.max(0, Math.round(seconds));
  const parts = [[Math.floor(s / 86400), 'd'], [Math.floor(s / 3600) % 24, 'h'], [Math.floor(s / 60) % 60, 'm'], [s % 60, 's']];
  const first = parts.findIndex(([n]) => n > 0);
  if (first < 0) return '0s';
  return parts.slice(first, first + 2).filter(([n]) => n > 0).map(([n, unit]) => `${n}${unit}`).join(' ');
}

const ratio = (v) => num(v, 2);
const fraction = (v) => pct(v);
const signedFraction = (v) => pct(v, {signed: true});

/** [key, label, write(value, symbol), better: 'higher' | 'lower' | null] in groups, as the report shows them. */
export const GROUPS = [
  ['Returns', [
    ['total_return', 'Total return', signedFraction, 'higher'],
    ['cagr', 'CAGR', signedFraction, 'higher'],
    ['final_equity', 'Final equity', (v, s) => amount(v, s), 'higher'],
    ['initial_equity', 'Initial equity', (v, s) => amount(v, s), null],
    ['peak_equity', 'Peak equity', (v, s) => amount(v, s), 'higher'],
    ['total_pnl', 'Total P&L', (v, s) => amount(v, s, {signed: true}), 'higher'],
    ['total_fees', 'Fees paid', (v, s) => amount(v, s), 'lower'],
  ]],
  ['Risk', [
    ['sharpe_ratio', 'Sharpe', ratio, 'higher'],
    ['sortino_ratio', 'Sortino', ratio, 'higher'],
    ['calmar_ratio', 'Calmar', ratio, 'higher'],
    ['max_drawdown', 'Max drawdown', fraction, 'lower'],
    ['longest_drawdown', 'Longest drawdown', duration, 'lower'],
    ['max_drawdown_start', 'Drawdown from', time, null],
    ['max_drawdown_end', 'Drawdown trough', time, null],
    ['max_drawdown_recovery', 'Recovered', time, null],
    ['exposure', 'Exposure', fraction, null],
  ]],
  ['Trades', [
    ['trades', 'Trades', int, null],
    ['wins', 'Wins', int, null],
    ['losses', 'Losses', int, null],
    ['win_rate', 'Win rate', fraction, 'higher'],
    ['profit_factor', 'Profit factor', ratio, 'higher'],
    ['expectancy', 'Expectancy', (v, s) => amount(v, s, {signed: true}), 'higher'],
    ['average_win', 'Average win', (v, s) => amount(v, s, {signed: true}), 'higher'],
    ['average_loss', 'Average loss', (v, s) => amount(v, s, {signed: true}), 'higher'],
    ['average_return', 'Average trade return', signedFraction, 'higher'],
    ['best_return', 'Best trade', signedFraction, 'higher'],
    ['worst_return', 'Worst trade', signedFraction, 'higher'],
    ['trades_per_day', 'Trades per day', ratio, null],
  ]],
];

export const FIGURES = GROUPS.flatMap(([, figures]) => figures);

/** Which of two values is better ('a', 'b' or null: a tie, a figure with no better side, or a missing value). */
export function better(direction, a, b) {
  if (!direction || typeof a !== 'number' || typeof b !== 'number' || !Number.isFinite(a) || !Number.isFinite(b) || a === b) return null;
  return (direction === 'higher') === (a > b) ? 'a' : 'b';
}
