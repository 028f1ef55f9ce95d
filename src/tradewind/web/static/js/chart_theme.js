// The charts' colours from the theme's CSS variables, so every chart follows a theme switch.
// The TradingView attribution logo stays on: lightweight-charts' licence asks for the link.

import {ColorType} from '../vendor/lightweight-charts/lightweight-charts.standalone.production.mjs';

export function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

export function themeOptions() {
  return {
    layout: {background: {type: ColorType.Solid, color: cssVar('--panel')}, textColor: cssVar('--text'), attributionLogo: true},
    grid: {vertLines: {color: cssVar('--border')}, horzLines: {color: cssVar('--border')}},
    rightPriceScale: {borderColor: cssVar('--border')},
    timeScale: {borderColor: cssVar('--border'), timeVisible: true, secondsVisible: false},
  };
}
