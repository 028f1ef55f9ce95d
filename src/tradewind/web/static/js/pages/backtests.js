// Backtests: a form to start one over the stored candles, its progress (polled every 500 ms until it
// is done or failed), its report, the recent backtests, and two reports side by side.
// ``#/backtests/{id}`` opens a report and ``#/backtests?compare=a,b`` a comparison; the address
// follows what is shown (replaceState: no remount, the form keeps what was typed).

import {get, post, showError} from '../api.js';
import {BacktestForm} from '../backtest_form.js';
import {renderComparison, renderReport, specLabel} from '../backtest_report.js';
import {card, emptyState, fill, h, table} from '../dom.js';
import {int, pct, time} from '../format.js';

const POLL_MS = 500;
const FINISHED = new Set(['done', 'failed']);

/** Resolves after ``ms``, or rejects with an AbortError as soon as ``signal`` aborts. */
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(timer); reject(new DOMException('unmounted', 'AbortError')); }, {once: true});
  });
}

function statusBadge(status) {
  return h('span.badge.bt-status', {dataset: {status}}, status);
}

function progressText(job) {
  const {done, total, fraction} = job.progress;
  if (job.status === 'queued') return `Queued: ${int(total)} candles to play.`;
  if (job.status === 'failed') return `Failed after ${int(done)} of ${int(total)} candles.`;
  return `${job.status === 'done' ? 'Played' : 'Playing'} ${int(done)} of ${int(total)} candles (${pct(fraction, {digits: 0})}).`;
}

function setAddress(hash) {
  if (location.hash !== hash) history.replaceState(null, '', hash);
}

export async function mount(root, {args, query}) {
  const page = new AbortController(); // unmount: every poll and request of this page stops
  const formBox = h('div#bt-form');
  const listBox = h('div#bt-list');
  const compareButton = h('button', {type: 'button', disabled: true}, 'Compare selected');
  const refreshButton = h('button.ghost', {type: 'button'}, 'Refresh');
  const jobBox = h('section.card#bt-job', {hidden: true});
  const compareBox = h('section.card#bt-compare', {hidden: true});
  fill(root, h('h1', null, 'Backtests'),
    h('div.bt-top', null,
      card('New backtest', formBox),
      card('Recent backtests', h('div.controls', null, refreshButton, compareButton,
        h('span.muted', null, 'Tick two finished ones to compare them.')), listBox)),
    compareBox, jobBox);

  let undoJob = null;
  let undoCompare = null;
  let following = null; // the AbortController of the job shown now
  const picked = new Set();

  // --- the recent backtests ---------------------------------------------------------------------
  const pickedChanged = () => {
    compareButton.disabled = picked.size !== 2;
    compareButton.textContent = `Compare selected (${picked.size})`;
  };
  const renderList = (jobs) => {
    for (const id of [...picked]) if (!jobs.some((j) => j.id === id && j.status === 'done')) picked.delete(id);
    pickedChanged();
    fill(listBox, table([
      ['Started', (j) => time(j.created_at), 'mono'],
      ['Backtest', (j) => specLabel(j.spec)],
      ['Status', (j) => statusBadge(j.status)],
      ['Progress', (j) => pct(j.progress.fraction, {digits: 0}), 'num'],
      ['Actions', (j) => h('div.row.bt-actions', null,
        h('button.ghost', {type: 'button', onclick: () => showJob(j.id), 'aria-label': `View backtest ${j.id}`}, 'View'),
        h('label.bt-pick', null, h('input', {
          type: 'checkbox', checked: picked.has(j.id), disabled: j.status !== 'done', dataset: {job: j.id},
          'aria-label': `Compare backtest ${j.id}`,
          onchange: (event) => { if (event.target.checked) picked.add(j.id); else picked.delete(j.id); pickedChanged(); },
        }), 'compare'))],
    ], jobs, {empty: 'No backtests yet: start one with the form.'}));
  };
  const refreshList = async () => {
    try {
      const {backtests} = await get('/api/backtests', null, {signal: page.signal});
      renderList(backtests);
    } catch (error) { showError(error, 'Recent backtests'); }
  };
  refreshButton.addEventListener('click', refreshList);

  // --- one backtest: progress, then its report -------------------------------------------------
  const showJob = async (id, first = null, {scroll = true} = {}) => {
    if (following) following.abort();
    if (undoJob) { undoJob(); undoJob = null; }
    const mine = new AbortController();
    following = mine;
    page.signal.addEventListener('abort', () => mine.abort(), {once: true});
    const badge = h('span');
    const bar = h('progress', {max: 1, value: 0, 'aria-label': 'Backtest progress'});
    const note = h('p.bt-progress-note', {role: 'status'});
    const body = h('div.bt-report');
    fill(jobBox, h('h2', null, `Backtest ${id} `, badge), h('div.bt-progress', null, bar, note), body);
    jobBox.hidden = false;
    if (scroll) jobBox.scrollIntoView({block: 'start'});
    setAddress(`#/backtests/${encodeURIComponent(id)}`);
    const draw = (job) => {
      jobBox.dataset.status = job.status;
      fill(badge, statusBadge(job.status));
      bar.max = Math.max(1, job.progress.total);
      bar.value = job.progress.done;
      note.textContent = `${specLabel(job.spec)}. ${progressText(job)}`;
    };
    try {
      let job = first || await get(`/api/backtests/${encodeURIComponent(id)}`, null, {signal: mine.signal});
      const watched = !FINISHED.has(job.status);
      draw(job);
      while (!FINISHED.has(job.status)) {
        await sleep(POLL_MS, mine.signal);
        job = await get(`/api/backtests/${encodeURIComponent(id)}`, null, {signal: mine.signal});
        draw(job);
      }
      if (job.status === 'failed') {
        const error = job.error || {};
        fill(body, h('p.bt-failed', {role: 'alert'}, `The backtest failed: ${error.message || 'no reason given'}`
          + `${error.field ? ` (field: ${error.field})` : ''}${error.code ? ` [${error.code}]` : ''}`));
      } else {
        undoJob = renderReport(body, job);
      }
      if (watched) refreshList(); // it finished while shown: the list shows it done, ready to compare
    } catch (error) {
      if (error.name === 'AbortError') return;
      showError(error, `Backtest ${id}`);
      fill(body, emptyState(error.status === 404
        ? 'This backtest is not on the server any more: it keeps only the newest ones, in memory, until it restarts. Start it again with the form.'
        : 'The backtest could not be read; the error is shown above.'));
    }
  };

  // --- two side by side ------------------------------------------------------------------------
  const compare = async (ids) => {
    if (undoCompare) { undoCompare(); undoCompare = null; }
    fill(compareBox, h('h2', null, 'Side by side'), h('p.loading', null, 'Loading both reports…'));
    compareBox.hidden = false;
    setAddress(`#/backtests?compare=${ids.map(encodeURIComponent).join(',')}`);
    try {
      const jobs = await Promise.all(ids.map((id) => get(`/api/backtests/${encodeURIComponent(id)}`, null, {signal: page.signal})));
      const unfinished = jobs.find((j) => j.status !== 'done');
      const content = h('div');
      fill(compareBox, h('h2', null, 'Side by side'), content);
      if (unfinished) { fill(content, emptyState(`${unfinished.id} is ${unfinished.status}: only finished backtests compare.`)); return; }
      undoCompare = renderComparison(content, jobs[0], jobs[1]);
      compareBox.scrollIntoView({block: 'start'});
    } catch (error) {
      if (error.name === 'AbortError') return;
      showError(error, 'Comparing backtests');
      fill(compareBox, h('h2', null, 'Side by side'), emptyState('The two reports could not be read; the error is shown above.'));
    }
  };
  compareButton.addEventListener('click', () => compare([...picked]));

  // --- the form ----------------------------------------------------------------------------------
  const options = await get('/api/backtests/options', null, {signal: page.signal});
  const form = new BacktestForm(options, {
    onSubmit: async (body) => {
      const job = await post('/api/backtests', body, {signal: page.signal});
      refreshList();
      showJob(job.id, job);
    },
  });
  fill(formBox, form.el);
  await refreshList();

  const wanted = (query.get('compare') || '').split(',').filter(Boolean);
  if (args[0]) showJob(args[0], null, {scroll: false});
  else if (wanted.length === 2) compare(wanted);

  return () => {
    page.abort();
    if (undoJob) undoJob();
    if (undoCompare) undoCompare();
  };
}
