// The shell: a hash router over the pages, the theme, and the live connection's state.
// Each page module exports ``mount(root, {args, query, live}) -> cleanup`` and owns nothing outside root.

import {fill, h} from './dom.js';
import {showError} from './api.js';
import {live} from './live.js';

const PAGES = {
  overview: () => import('./pages/overview.js'),
  asset: () => import('./pages/asset.js'),
  logs: () => import('./pages/logs.js'),
  quality: () => import('./pages/quality.js'),
  backtests: () => import('./pages/backtests.js'),
  assistant: () => import('./pages/assistant.js'),
};
const THEME_KEY = 'tradewind.theme';

let cleanup = null;
let generation = 0;

function parseHash() {
  const [path, query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const [page, ...rest] = path.split('/').map((part) => decodeURIComponent(part));
  return {page: PAGES[page] ? page : 'overview', args: rest, query: new URLSearchParams(query)};
}

async function route() {
  const {page, args, query} = parseHash();
  const mine = ++generation;
  if (cleanup) { try { cleanup(); } catch (error) { console.error(error); } cleanup = null; }
  for (const link of document.querySelectorAll('nav a[data-page]')) {
    if (link.dataset.page === page || (page === 'asset' && link.dataset.page === 'overview')) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const root = document.getElementById('main');
  fill(root, h('p.loading', null, 'Loading…'));
  document.body.dataset.page = page;
  try {
    const module = await PAGES[page]();
    if (mine !== generation) return;
    const page_root = h('div.page', {dataset: {page}});
    fill(root, page_root);
    const undo = await module.mount(page_root, {args, query, live});
    if (mine !== generation) { if (undo) undo(); return; }
    cleanup = undo || null;
  } catch (error) {
    showError(error, `The ${page} page`);
    if (mine === generation) fill(root, h('p.empty', null, 'This page could not load; the error is shown above.'));
  }
}

function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
  document.getElementById('theme').textContent = theme === 'dark' ? 'Light theme' : 'Dark theme';
  window.dispatchEvent(new CustomEvent('themechange', {detail: theme}));
}

function setupTheme() {
  const stored = localStorage.getItem(THEME_KEY);
  const preferred = matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
  applyTheme(stored === 'dark' || stored === 'light' ? stored : preferred);
  document.getElementById('theme').addEventListener('click', () => {
    const next = document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark';
    localStorage.setItem(THEME_KEY, next);
    applyTheme(next);
  });
}

function setupConnection() {
  const badge = document.getElementById('connection');
  live.onState((state, seconds) => {
    badge.dataset.state = state;
    badge.textContent = state === 'open' ? 'live' : state === 'reconnecting' && seconds !== null
      ? `reconnecting in ${seconds}s` : state;
  });
  live.connect();
}

// the error banner sticks just below the header, whose height changes as it wraps on narrow screens
const header = document.querySelector('header.top');
new ResizeObserver(() => document.documentElement.style.setProperty('--header-height', `${header.offsetHeight}px`)).observe(header);

window.addEventListener('unhandledrejection', (event) => showError(event.reason, 'Unexpected'));
window.addEventListener('hashchange', route);
setupTheme();
setupConnection();
route();
