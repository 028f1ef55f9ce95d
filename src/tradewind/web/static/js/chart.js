// The asset chart: candles and volume, EMA and Bollinger lines, smart-money zones as boxes,
// swing / BOS / CHoCH, signal and trade markers, and the open position's stop and target.
// Everything drawn comes from GET /api/assets/{symbol}/chart (the analyst's own figures) and /ws.

import {
  CandlestickSeries, createChart, createSeriesMarkers, HistogramSeries, LineSeries, LineStyle,
} from '../vendor/lightweight-charts/lightweight-charts.standalone.production.mjs';
import {themeOptions} from './chart_theme.js';

const LINES = {
  ema_21: {color: '#e3a008', title: 'EMA 21'},
  ema_50: {color: '#8b5cf6', title: 'EMA 50'},
  bb_upper: {color: '#0ea5e9', title: 'BB upper', lineStyle: LineStyle.Dashed},
  bb_middle: {color: '#0ea5e9', title: 'BB mid', lineStyle: LineStyle.Dotted},
  bb_lower: {color: '#0ea5e9', title: 'BB lower', lineStyle: LineStyle.Dashed},
};
export const LEGEND = [
  ['EMA 21', LINES.ema_21.color], ['EMA 50', LINES.ema_50.color], ['Bollinger 20, 2σ', LINES.bb_upper.color],
  ['Fair value gap', 'rgba(14,165,233,.5)'], ['Order block', 'rgba(234,88,12,.5)'],
];



/** Boxes between two prices from a start time to an end time (or the right edge while the zone holds). */
class ZonesPrimitive {
  constructor() { this.zones = []; this.chart = null; this.series = null; this.requestUpdate = null; }
  attached({chart, series, requestUpdate}) { this.chart = chart; this.series = series; this.requestUpdate = requestUpdate; }
  detached() { this.chart = null; this.series = null; }
  setZones(zones) { this.zones = zones; if (this.requestUpdate) this.requestUpdate(); }
  updateAllViews() {}
  paneViews() {
    const self = this;
    return [{
      zOrder: () => 'bottom',
      renderer: () => ({
        draw(target) {
          if (!self.chart || !self.series) return;
          const scale = self.chart.timeScale();
          target.useBitmapCoordinateSpace(({context, horizontalPixelRatio: hr, verticalPixelRatio: vr, bitmapSize}) => {
            for (const zone of self.zones) {
              const x1 = scale.timeToCoordinate(zone.start);
              const x2 = zone.end === null ? bitmapSize.width / hr : scale.timeToCoordinate(zone.end);
              const y1 = self.series.priceToCoordinate(zone.top);
              const y2 = self.series.priceToCoordinate(zone.bottom);
              if (x1 === null || x2 === null || y1 === null || y2 === null) continue;
              const fvg = zone.kind === 'fvg';
              const alpha = zone.end === null ? 0.22 : 0.09;
              context.fillStyle = fvg ? `rgba(14,165,233,${alpha})` : `rgba(234,88,12,${alpha})`;
              context.fillRect(Math.round(x1 * hr), Math.round(Math.min(y1, y2) * vr),
                Math.max(1, Math.round((x2 - x1) * hr)), Math.max(1, Math.round(Math.abs(y2 - y1) * vr)));
            }
          });
        },
      }),
    }];
  }
}

function snap(seconds, step) {
  return Math.floor(seconds / step) * step;
}

function candleBar(c) {
  return {time: c.time, open: c.open, high: c.high, low: c.low, close: c.close};
}

function volumeBar(c) {
  return {time: c.time, value: c.volume, color: c.close >= c.open ? 'rgba(10,125,68,.35)' : 'rgba(196,48,43,.35)'};
}

/** Markers of one chart document: structure, signals and trades, snapped to their candle, in time order. */
export function markersOf(doc, step, show) {
  const out = [];
  const first = doc.candles.length ? doc.candles[0].time : Infinity;
  const put = (marker) => { if (marker.time >= first) out.push(marker); };
  if (show.structure) {
    for (const m of doc.markers) {
      if (m.kind === 'swing_high') put({time: m.time, position: 'aboveBar', shape: 'circle', color: '#9aa4b1', size: 0.5, text: 'SH'});
      else if (m.kind === 'swing_low') put({time: m.time, position: 'belowBar', shape: 'circle', color: '#9aa4b1', size: 0.5, text: 'SL'});
      else put({time: m.time, position: m.direction === 'bullish' ? 'belowBar' : 'aboveBar', shape: 'square', size: 0.6,
        color: m.kind === 'choch' ? '#d946ef' : '#64748b', text: m.kind === 'choch' ? 'CHoCH' : 'BOS'});
    }
  }
  if (show.signals) {
    const directional = doc.signals.filter((s) => s.signal === 'Long' || s.signal === 'Short');
    directional.forEach((s, i) => {
      const long = s.signal === 'Long';
      const labelled = i >= directional.length - 8; // the newest carry their label; older ones stay arrows
      put({time: snap(s.time, step), position: long ? 'belowBar' : 'aboveBar', shape: long ? 'arrowUp' : 'arrowDown',
        color: long ? '#16a34a' : '#dc2626', text: labelled ? `${s.signal} ${Math.round(s.confidence * 100)}%` : '', id: `signal-${s.signal_id}`});
    });
  }
  if (show.trades) {
    for (const t of doc.trades) {
      const long = t.side === 'long';
      put({time: snap(t.entry_time, step), position: long ? 'belowBar' : 'aboveBar', shape: long ? 'arrowUp' : 'arrowDown', color: '#2563eb', text: `open ${t.side}`});
      if (t.exit_time !== null) put({time: snap(t.exit_time, step), position: long ? 'aboveBar' : 'belowBar', shape: 'square', color: '#2563eb', text: `close ${t.exit_reason || ''}`.trim()});
    }
  }
  out.sort((a, b) => a.time - b.time);
  return out;
}

export class CandleChart {
  constructor(container, {precision = 2} = {}) {
    this.container = container;
    this.chart = createChart(container, {autoSize: true, ...themeOptions(), crosshair: {mode: 0}});
    const priceFormat = {type: 'price', precision, minMove: 10 ** -precision};
    this.candles = this.chart.addSeries(CandlestickSeries, {
      upColor: '#16a34a', downColor: '#dc2626', borderVisible: false, wickUpColor: '#16a34a', wickDownColor: '#dc2626', priceFormat,
    });
    this.volume = this.chart.addSeries(HistogramSeries, {priceScaleId: 'volume', priceFormat: {type: 'volume'}, lastValueVisible: false, priceLineVisible: false});
    this.chart.priceScale('volume').applyOptions({scaleMargins: {top: 0.82, bottom: 0}});
    this.lines = {};
    for (const [name, options] of Object.entries(LINES)) {
      this.lines[name] = this.chart.addSeries(LineSeries, {...options, lineWidth: 1, priceLineVisible: false, lastValueVisible: false, crosshairMarkerVisible: false, priceFormat});
    }
    this.zones = new ZonesPrimitive();
    this.candles.attachPrimitive(this.zones);
    this.markers = createSeriesMarkers(this.candles, []);
    this.priceLines = [];
    this.doc = null;
    this.step = 60;
    this.show = {ema: true, bollinger: true, zones: true, structure: true, signals: true, trades: true};
    this.onTheme = () => this.chart.applyOptions(themeOptions());
    window.addEventListener('themechange', this.onTheme);
  }

  /** Draw a whole chart document; ``step`` is the timeframe in seconds. */
  setDocument(doc, step) {
    this.doc = doc;
    this.step = step;
    this.candles.setData(doc.candles.map(candleBar));
    this.volume.setData(doc.candles.map(volumeBar));
    this.redraw();
    this.chart.timeScale().scrollToRealTime();
  }

  redraw() {
    const doc = this.doc;
    if (!doc) return;
    for (const [name, series] of Object.entries(this.lines)) {
      const on = name.startsWith('ema') ? this.show.ema : this.show.bollinger;
      series.setData(on ? doc.lines[name] || [] : []);
    }
    this.zones.setZones(this.show.zones ? doc.zones : []);
    this.markers.setMarkers(markersOf(doc, this.step, this.show));
    this.setPosition(doc.position);
  }

  toggle(layer, on) {
    this.show[layer] = on;
    this.redraw();
  }

  /** A live candle (closed or forming) from /ws or a tick: update or append the last bar. */
  updateCandle(candle) {
    if (!this.doc) return false;
    const list = this.doc.candles;
    const last = list[list.length - 1];
    if (last && candle.time < last.time) return false; // an older bar: already drawn
    if (last && candle.time === last.time) list[list.length - 1] = candle;
    else list.push(candle);
    this.candles.update(candleBar(candle));
    this.volume.update(volumeBar(candle));
    return true;
  }

  addSignal(signal) {
    if (!this.doc) return;
    this.doc.signals.push(signal);
    this.markers.setMarkers(markersOf(this.doc, this.step, this.show));
  }

  addTrade(trade) {
    if (!this.doc) return;
    this.doc.trades.push(trade);
    this.markers.setMarkers(markersOf(this.doc, this.step, this.show));
  }

  setPosition(position) {
    if (this.doc) this.doc.position = position;
    for (const line of this.priceLines) this.candles.removePriceLine(line);
    this.priceLines = [];
    if (!position || !this.show.trades) return;
    const add = (price, color, title) => {
      if (typeof price === 'number' && Number.isFinite(price)) {
        this.priceLines.push(this.candles.createPriceLine({price, color, lineWidth: 1, lineStyle: LineStyle.Dashed, axisLabelVisible: true, title}));
      }
    };
    add(position.entry_price, '#2563eb', `entry ${position.side}`);
    add(position.stop_loss, '#dc2626', 'stop');
    add(position.take_profit, '#16a34a', 'target');
  }

  destroy() {
    window.removeEventListener('themechange', this.onTheme);
    this.chart.remove();
  }
}
