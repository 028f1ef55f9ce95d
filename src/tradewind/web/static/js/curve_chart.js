// A report's curve as a chart: equity as a line, drawdown as an area under zero. Colours come from
// the theme's CSS variables and follow a theme switch; the TradingView attribution stays on (licence).

import {AreaSeries, createChart, LineSeries} from '../vendor/lightweight-charts/lightweight-charts.standalone.production.mjs';
import {cssVar, themeOptions} from './chart_theme.js';
import {epochSeconds, pct} from './format.js';

/** ``#rgb`` / ``#rrggbb`` with an alpha; any other colour as it is. */
function withAlpha(color, alpha) {
  const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(color);
  if (!hex) return color;
  const digits = hex[1].length === 3 ? [...hex[1]].map((d) => d + d).join('') : hex[1];
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(digits.slice(i, i + 2), 16));
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

/** ``[[time, value], ...]`` as chart points: whole seconds, strictly rising (the chart needs it), finite values only. */
export function curvePoints(curve, scale = 1) {
  const points = [];
  let last = -Infinity;
  for (const pair of curve || []) {
    const at = epochSeconds(pair[0]);
    const value = pair[1];
    if (at === null || typeof value !== 'number' || !Number.isFinite(value)) continue;
    if (at === last) { points[points.length - 1].value = value * scale; continue; }
    if (at < last) continue;
    points.push({time: at, value: value * scale});
    last = at;
  }
  return points;
}

/** A chart of one curve in ``container``: kind 'equity' (``format`` writes its values) or 'drawdown'. */
export function curveChart(container, {kind = 'equity', format = (v) => v.toFixed(2)} = {}) {
  const chart = createChart(container, {autoSize: true, ...themeOptions(), handleScale: {mouseWheel: false}, handleScroll: {mouseWheel: false}});
  const drawdown = kind === 'drawdown';
  const priceFormat = {type: 'custom', minMove: drawdown ? 0.0001 : 0.01, formatter: drawdown ? (v) => pct(v) : format};
  const colours = () => (drawdown
    ? {lineColor: cssVar('--down'), topColor: withAlpha(cssVar('--down'), 0.05), bottomColor: withAlpha(cssVar('--down'), 0.35)}
    : {color: cssVar('--accent')});
  const series = drawdown
    ? chart.addSeries(AreaSeries, {...colours(), invertFilledArea: true, lineWidth: 1, priceFormat, priceLineVisible: false})
    : chart.addSeries(LineSeries, {...colours(), lineWidth: 2, priceFormat, priceLineVisible: false});
  const onTheme = () => { chart.applyOptions(themeOptions()); series.applyOptions(colours()); };
  window.addEventListener('themechange', onTheme);
  return {
    /** Draw ``[[time, value], ...]`` (drawdown as the fraction below the peak: drawn under zero). */
    setCurve(curve) {
      const points = curvePoints(curve, drawdown ? -1 : 1);
      series.setData(points);
      chart.timeScale().fitContent();
      container.dataset.points = String(points.length);
      return points.length;
    },
    destroy() { window.removeEventListener('themechange', onTheme); chart.remove(); },
  };
}
