// A reliability diagram drawn as SVG (no library): mean confidence per bin on x against the share of
// its signals that came true on y, the diagonal of perfect calibration, and under it the count per
// bin as bars. One point per non-empty bin, sized by its count; each point and bar carries a
// <title> with its figures. Colours are CSS classes over the theme's variables (quality.css), so a
// theme switch needs no redraw. The same bins go in a table beside it (``binsTable``) for screen
// readers and for exact numbers.

import {table} from './dom.js';
import {int, pct} from './format.js';

const NS = 'http://www.w3.org/2000/svg';
const WIDTH = 320;
const HEIGHT = 300;
const PLOT = {left: 42, right: 310, top: 10, bottom: 210}; // confidence (x) against hit rate (y)
const STRIP = {top: 222, bottom: 258}; // the count per bin
const TICKS = [0, 0.25, 0.5, 0.75, 1];
let counter = 0;

function el(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined) node.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const x = (value) => PLOT.left + value * (PLOT.right - PLOT.left);
const y = (value) => PLOT.bottom - value * (PLOT.bottom - PLOT.top);
const round = (value) => Math.round(value * 10) / 10;

function binText(bin) {
  return `${bin.bucket}: ${int(bin.count)} resolved, mean confidence ${pct(bin.mean_confidence, {digits: 1})}, `
    + `hit rate ${pct(bin.hit_rate, {digits: 1})}`;
}

/** The bins that hold a resolved signal (the others have no mean and no hit rate). */
export function filledBins(bins) {
  return (bins || []).filter((b) => b.count > 0 && typeof b.mean_confidence === 'number' && typeof b.hit_rate === 'number');
}

/** The diagram for one report's ``reliability`` bins, titled ``label``. */
export function reliabilityChart(bins, {label = 'Reliability'} = {}) {
  const id = `reliability-${++counter}`;
  const filled = filledBins(bins);
  const most = Math.max(1, ...filled.map((b) => b.count));
  const points = [...filled].sort((a, b) => a.mean_confidence - b.mean_confidence);
  const summary = filled.length
    ? `${filled.length} confidence bins hold resolved signals. A point above the diagonal came true more often than its confidence said; below it, less often.`
    : 'No resolved signals yet: only the diagonal of perfect calibration is drawn.';
  const chart = el('svg', {class: 'reliability', viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img',
    'aria-labelledby': `${id}-title ${id}-desc`, preserveAspectRatio: 'xMidYMid meet'},
  el('title', {id: `${id}-title`}, label),
  el('desc', {id: `${id}-desc`}, summary));

  for (const tick of TICKS) { // the grid, and the axes' labels in percent
    chart.append(el('line', {class: 'grid', x1: x(tick), x2: x(tick), y1: PLOT.top, y2: PLOT.bottom}));
    chart.append(el('line', {class: 'grid', x1: PLOT.left, x2: PLOT.right, y1: y(tick), y2: y(tick)}));
    chart.append(el('text', {class: 'tick', x: PLOT.left - 4, y: round(y(tick) + 3), 'text-anchor': 'end'}, pct(tick, {digits: 0})));
    chart.append(el('text', {class: 'tick', x: round(x(tick)), y: STRIP.bottom + 12, 'text-anchor': 'middle'}, pct(tick, {digits: 0})));
  }
  chart.append(el('rect', {class: 'frame', x: PLOT.left, y: PLOT.top, width: PLOT.right - PLOT.left, height: PLOT.bottom - PLOT.top}));
  chart.append(el('line', {class: 'diagonal', x1: x(0), y1: y(0), x2: x(1), y2: y(1)},
    el('title', null, 'Perfect calibration: hit rate equals confidence')));
  chart.append(el('text', {class: 'axis', x: round((PLOT.left + PLOT.right) / 2), y: HEIGHT - 4, 'text-anchor': 'middle'}, 'mean confidence'));
  chart.append(el('text', {class: 'axis', x: 0, y: 0, 'text-anchor': 'middle',
    transform: `translate(10 ${round((PLOT.top + PLOT.bottom) / 2)}) rotate(-90)`}, 'hit rate'));
  chart.append(el('text', {class: 'axis', x: PLOT.left - 4, y: round((STRIP.top + STRIP.bottom) / 2 + 3), 'text-anchor': 'end'}, 'count'));

  for (const bin of filled) { // counts as bars over each bin's confidence range
    const height = Math.max(1, (bin.count / most) * (STRIP.bottom - STRIP.top));
    chart.append(el('rect', {class: 'count', 'data-bucket': bin.bucket, x: round(x(bin.low) + 0.5),
      y: round(STRIP.bottom - height), width: round(Math.max(1, x(bin.high) - x(bin.low) - 1)), height: round(height)},
    el('title', null, `${bin.bucket}: ${int(bin.count)} resolved`)));
  }
  if (points.length > 1) {
    chart.append(el('polyline', {class: 'line', points: points.map((b) => `${round(x(b.mean_confidence))},${round(y(b.hit_rate))}`).join(' ')}));
  }
  for (const bin of points) {
    chart.append(el('circle', {class: 'point', 'data-bucket': bin.bucket, 'data-count': bin.count,
      cx: round(x(bin.mean_confidence)), cy: round(y(bin.hit_rate)), r: round(3 + 4 * Math.sqrt(bin.count / most))},
    el('title', null, binText(bin))));
  }
  return chart;
}

/** The bins as a table: the chart's numbers for readers that cannot see it. */
export function binsTable(bins, {caption = 'Confidence bins'} = {}) {
  return table([
    ['Confidence', (b) => b.bucket, 'mono'],
    ['Resolved', (b) => int(b.count), 'num'],
    ['Mean conf.', (b) => pct(b.mean_confidence, {digits: 1}), 'num'],
    ['Hit rate', (b) => pct(b.hit_rate, {digits: 1}), 'num'],
  ], filledBins(bins), {caption, empty: 'No resolved signals in any bin yet.'});
}
