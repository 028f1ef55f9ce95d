// Assistant: a chat on the /v1 Assistants API. One assistant (model tradewind-analyst, the trading
// tools, which the server runs) and one thread are created on first use and remembered in
// localStorage; a message starts a streamed run read with fetch (EventSource cannot POST): the
// answer grows delta by delta, and each tool call is a step with its arguments and output.
// A run waiting for outputs of a function the server does not run asks for them here.

import {get, post, showError} from '../api.js';
import {emptyState, fill, h} from '../dom.js';
import {int} from '../format.js';
import {ToolStep} from '../run_steps.js';
import {postEvents} from '../sse.js';

const KEYS = {assistant: 'tradewind.assistant.id', thread: 'tradewind.assistant.thread', model: 'tradewind.assistant.model'};
const DEFAULT_MODEL = 'tradewind-analyst';
// the server's own tools, as GET /v1/models lists them: a function tool naming one runs server-side
let serverTools = [];
const INSTRUCTIONS = 'You are the trading assistant of a tradewind server. Answer from what the tools return and cite '
  + 'their figures; say so when a figure is unknown. Trading here is paper trading; nothing you say is financial advice.';
const HISTORY_RUNS = 20; // the newest runs whose tool steps are shown again when the thread is loaded

/** A message's text: its text parts, joined (other parts named, not shown). */
function textOf(message) {
  return (message.content || []).map((part) => (part.type === 'text' ? part.text.value : `[${part.type}]`)).join('\n');
}

/** The model and tokens of a finished run, under its answer. */
function usageLine(run) {
  return run && run.usage ? `${run.model} · ${int(run.usage.prompt_tokens)} prompt + ${int(run.usage.completion_tokens)} completion tokens` : '';
}

class MessageView {
  constructor(role, text = '') {
    this.text = h('div.chat-text', null, text);
    this.foot = h('div.chat-foot.muted');
    this.deltas = 0;
    this.el = h('li.chat-msg', {dataset: {role}}, h('div.chat-who', null, role === 'user' ? 'You' : 'Assistant'), this.text, this.foot);
  }

  /** One thread.message.delta: its text pieces appended as they come. */
  delta(delta) {
    for (const part of (delta && delta.content) || []) {
      if (part.type === 'text' && part.text && part.text.value) this.text.append(part.text.value);
    }
    this.deltas += 1;
    this.el.dataset.deltas = String(this.deltas);
    this.el.dataset.streaming = 'true';
    this.el.setAttribute('aria-busy', 'true'); // a screen reader reads the answer once, when it is whole
  }

  /** The finished message: its stored text replaces the pieces. */
  finish(message) {
    this.el.dataset.message = message.id;
    this.text.textContent = textOf(message);
    delete this.el.dataset.streaming;
    this.el.removeAttribute('aria-busy');
  }
}

export async function mount(root) {
  const page = new AbortController();
  const log = h('ol.chat-log', {role: 'log', 'aria-live': 'polite', 'aria-label': 'Conversation', tabindex: '0'});
  const modelSelect = h('select#chat-model');
  const newChat = h('button.ghost', {type: 'button'}, 'New chat');
  const input = h('textarea#chat-input', {rows: 3, maxlength: 32000, placeholder: 'Ask about a price, a signal, the positions, performance or risk…'});
  const send = h('button#chat-send', {type: 'submit'}, 'Send');
  const stop = h('button.ghost#chat-stop', {type: 'button', disabled: true}, 'Stop');
  const state = h('span.muted#chat-state', {role: 'status'});
  const form = h('form.chat-compose', null,
    h('label.chat-input-label', {for: 'chat-input'}, 'Message'), input,
    h('div.row.between', null, h('span.muted', null, 'Enter sends, Shift+Enter adds a line.'), h('div.row', null, state, stop, send)));
  fill(root,
    h('h1', null, 'Assistant'),
    h('section.card.chat', null,
      h('div.controls', null, h('label', {for: 'chat-model'}, 'Model', modelSelect), newChat),
      log, form));

  let assistantId = localStorage.getItem(KEYS.assistant);
  let assistantChecked = false;
  let threadId = localStorage.getItem(KEYS.thread);
  let streaming = null; // the AbortController of the stream being read
  let runId = null;
  page.signal.addEventListener('abort', () => streaming && streaming.abort());

  const atBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  const add = (el) => {
    const follow = atBottom();
    log.querySelector(':scope > .chat-empty')?.remove();
    log.append(el);
    if (follow) log.scrollTop = log.scrollHeight;
    return el;
  };
  const note = (text, kind = 'note') => add(h(`li.chat-${kind}`, {role: kind === 'error' ? 'alert' : null}, text));
  const showEmpty = () => fill(log, h('li.chat-empty', null, emptyState('No messages yet. Ask, for example:'),
    h('div.row.chat-suggestions', null, ['What is the price of BTCUSDT?', 'What is the signal for ETHUSDT?', 'How is the performance?']
      .map((text) => h('button.ghost', {type: 'button', onclick: () => { input.value = text; input.focus(); }}, text)))));
  const setBusy = (busy) => {
    send.disabled = busy;
    stop.disabled = !busy;
    state.textContent = busy ? 'answering…' : '';
    form.dataset.busy = busy ? 'true' : 'false';
  };

  // --- the assistant and the thread, created on first use ------------------------------------------
  const ensureAssistant = async () => {
    if (assistantId && !assistantChecked) {
      try {
        await get(`/v1/assistants/${encodeURIComponent(assistantId)}`, null, {signal: page.signal});
      } catch (error) {
        if (error.status !== 404) throw error;
        assistantId = null; // deleted on the server: make another
      }
    }
    if (!assistantId) {
      const made = await post('/v1/assistants', {
        model: DEFAULT_MODEL, name: 'tradewind dashboard', instructions: INSTRUCTIONS, metadata: {created_by: 'dashboard'},
        tools: serverTools.map((name) => ({type: 'function', function: {name}})),
      }, {signal: page.signal});
      assistantId = made.id;
      localStorage.setItem(KEYS.assistant, assistantId);
    }
    assistantChecked = true;
    return assistantId;
  };
  const ensureThread = async () => {
    if (!threadId) {
      const made = await post('/v1/threads', {metadata: {created_by: 'dashboard'}}, {signal: page.signal});
      threadId = made.id;
      localStorage.setItem(KEYS.thread, threadId);
    }
    return threadId;
  };

  // --- a streamed run ------------------------------------------------------------------------------
  /** Read one run's events into the log; resolves once the stream ends, to whether the server took the run. */
  const stream = async (path, body) => {
    const mine = new AbortController();
    streaming = mine;
    setBusy(true);
    const steps = new Map();
    let message = null;
    let started = false;
    try {
      for await (const {event, data} of postEvents(path, body, {signal: mine.signal})) {
        started = true;
        if (data === '[DONE]') continue; // the last event: read on to the end, so the request ends as it should
        let obj;
        try { obj = JSON.parse(data); } catch { continue; }
        if (event === 'thread.run.created' || event === 'thread.run.queued' || event === 'thread.run.in_progress') {
          runId = obj.id;
        } else if (event === 'thread.run.step.created' && obj.type === 'tool_calls') {
          const step = new ToolStep(obj);
          steps.set(obj.id, step);
          add(step.el);
        } else if (event === 'thread.run.step.delta') {
          steps.get(obj.id)?.delta(obj.delta);
        } else if (event.startsWith('thread.run.step.')) {
          steps.get(obj.id)?.update(obj);
        } else if (event === 'thread.message.created') {
          message = new MessageView('assistant');
          message.el.dataset.streaming = 'true';
          add(message.el);
        } else if (event === 'thread.message.delta') {
          const follow = atBottom();
          message?.delta(obj.delta);
          if (follow) log.scrollTop = log.scrollHeight;
        } else if (event === 'thread.message.completed' || event === 'thread.message.incomplete') {
          message?.finish(obj);
        } else if (event === 'thread.run.requires_action') {
          add(actionForm(obj));
        } else if (event === 'thread.run.completed') {
          if (message) message.foot.textContent = usageLine(obj);
        } else if (event === 'thread.run.failed') {
          const e = obj.last_error || {};
          note(`The run failed: ${e.message || 'no reason given'}${e.code ? ` [${e.code}]` : ''}`, 'error');
        } else if (event === 'thread.run.cancelled' || event === 'thread.run.expired' || event === 'thread.run.incomplete') {
          note(`The run was ${event.slice('thread.run.'.length)}.`);
        } else if (event === 'error') {
          const e = obj.error || obj;
          note(`The stream failed: ${e.message || 'no reason given'}`, 'error');
        }
      }
    } catch (error) {
      if (error.name === 'AbortError') return started;
      showError(error, 'The assistant');
      if (started) note(`The answer was cut off: ${error.message}`, 'error');
    } finally {
      if (streaming === mine) { streaming = null; runId = null; setBusy(false); }
    }
    return started;
  };

  /** A run waiting for the outputs of functions the server does not run: ask for them, then go on. */
  const actionForm = (run) => {
    const calls = run.required_action.submit_tool_outputs.tool_calls;
    const fields = calls.map((call) => {
      const id = `chat-output-${call.id}`;
      return {call, area: h('textarea', {id, rows: 2, maxlength: 512000}), id};
    });
    const submit = h('button', {type: 'submit'}, 'Send outputs');
    const cancel = h('button.ghost', {type: 'button'}, 'Cancel run');
    const box = h('form.chat-action', {dataset: {run: run.id}},
      h('p', null, `The run waits for the output of ${calls.length === 1 ? 'a function' : `${calls.length} functions`} the server does not run:`),
      fields.map(({call, area, id}) => h('div.chat-field', null,
        h('label', {for: id}, `${call.function.name}(${call.function.arguments})`), area)),
      h('div.row', null, submit, cancel));
    const done = () => { for (const el of box.querySelectorAll('textarea, button')) el.disabled = true; };
    box.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (streaming) return;
      done();
      const tool_outputs = fields.map(({call, area}) => ({tool_call_id: call.id, output: area.value}));
      const started = await stream(`/v1/threads/${encodeURIComponent(run.thread_id)}/runs/${encodeURIComponent(run.id)}/submit_tool_outputs`,
        {tool_outputs, stream: true});
      if (!started) for (const el of box.querySelectorAll('textarea, button')) el.disabled = false; // refused: try again
    });
    cancel.addEventListener('click', async () => {
      done();
      try {
        await post(`/v1/threads/${encodeURIComponent(run.thread_id)}/runs/${encodeURIComponent(run.id)}/cancel`, {});
        note('The run was cancelled.');
      } catch (error) { showError(error, 'Cancelling the run'); }
    });
    return h('li.chat-waiting', null, box);
  };

  const sendMessage = async () => {
    const text = input.value.trim();
    if (!text || streaming || send.disabled) return;
    setBusy(true);
    let mine = null;
    try {
      const assistant = await ensureAssistant();
      const thread = await ensureThread();
      mine = add(new MessageView('user', text).el);
      log.scrollTop = log.scrollHeight; // one's own message: always in view, and the answer follows it
      input.value = '';
      const started = await stream(`/v1/threads/${encodeURIComponent(thread)}/runs`, {
        assistant_id: assistant, model: modelSelect.value || DEFAULT_MODEL, stream: true,
        additional_messages: [{role: 'user', content: text}],
      });
      if (!started) { mine.remove(); if (!input.value) input.value = text; } // refused: the message was not stored
    } catch (error) {
      if (mine) mine.remove();
      if (!input.value) input.value = text;
      showError(error, 'The assistant');
    } finally {
      if (!streaming) setBusy(false);
      input.focus();
    }
  };

  form.addEventListener('submit', (event) => { event.preventDefault(); sendMessage(); });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) { event.preventDefault(); sendMessage(); }
  });
  stop.addEventListener('click', async () => {
    if (!runId || !threadId) { if (streaming) streaming.abort(); return; }
    try {
      await post(`/v1/threads/${encodeURIComponent(threadId)}/runs/${encodeURIComponent(runId)}/cancel`, {});
    } catch (error) { showError(error, 'Stopping the run'); }
  });
  newChat.addEventListener('click', () => {
    if (streaming) streaming.abort();
    threadId = null;
    localStorage.removeItem(KEYS.thread);
    showEmpty();
    input.focus();
  });
  modelSelect.addEventListener('change', () => localStorage.setItem(KEYS.model, modelSelect.value));

  // --- the models, and the thread so far -------------------------------------------------------------
  const models = await get('/v1/models', null, {signal: page.signal});
  const ids = (models.data || []).map((m) => m.id);
  serverTools = [...new Set((models.data || []).flatMap((m) => m.server_tools || []))];
  const wanted = localStorage.getItem(KEYS.model);
  const chosen = ids.includes(wanted) ? wanted : ids.includes(DEFAULT_MODEL) ? DEFAULT_MODEL : ids[0];
  fill(modelSelect, (models.data || []).map((m) => h('option', {value: m.id, selected: m.id === chosen},
    m.owned_by === 'upstream' ? `${m.id} (upstream)` : m.id)));

  if (threadId) await loadThread(threadId);
  else showEmpty();
  log.dataset.ready = 'true'; // the thread so far is shown

  async function loadThread(id) {
    const path = `/v1/threads/${encodeURIComponent(id)}`;
    let messages; let runs;
    try {
      [messages, runs] = await Promise.all([
        get(`${path}/messages`, {order: 'desc', limit: 100}, {signal: page.signal}),
        get(`${path}/runs`, {order: 'desc', limit: HISTORY_RUNS}, {signal: page.signal}),
      ]);
    } catch (error) {
      if (error.status !== 404) throw error;
      threadId = null;
      localStorage.removeItem(KEYS.thread);
      showEmpty();
      note('The saved conversation is no longer on the server; your next message starts a new one.');
      return;
    }
    const steps = new Map(await Promise.all(runs.data.map(async (run) => [run.id,
      (await get(`${path}/runs/${encodeURIComponent(run.id)}/steps`, {order: 'asc', limit: 100}, {signal: page.signal})).data])));
    const list = messages.data.slice().reverse();
    if (!list.length && !runs.data.length) { showEmpty(); return; }
    log.replaceChildren();
    const runById = new Map(runs.data.map((run) => [run.id, run]));
    const shown = new Set();
    const showSteps = (run) => {
      shown.add(run.id);
      for (const step of steps.get(run.id) || []) if (step.type === 'tool_calls') add(new ToolStep(step).el);
    };
    const showRunEnd = (run) => {
      if (run.status === 'requires_action') add(actionForm(run));
      else if (run.status === 'failed') note(`The run failed: ${(run.last_error || {}).message || 'no reason given'}`, 'error');
      else if (['cancelled', 'expired', 'incomplete'].includes(run.status)) note(`The run was ${run.status}.`);
      else if (run.status !== 'completed') note(`A run is still ${run.status.replace('_', ' ')}; reload to see its answer.`);
    };
    // a run without an answer (failed, waiting, cancelled) goes after the last message sent before it
    const pending = runs.data.filter((run) => !list.some((m) => m.run_id === run.id)).reverse();
    const flushPending = (before) => {
      while (pending.length && (before === null || pending[0].created_at < before)) {
        const run = pending.shift();
        showSteps(run);
        showRunEnd(run);
      }
    };
    for (const m of list) {
      if (m.role === 'user') flushPending(m.created_at);
      const run = m.run_id ? runById.get(m.run_id) : null;
      if (m.role === 'assistant' && run && !shown.has(run.id)) showSteps(run);
      const view = new MessageView(m.role, textOf(m));
      view.el.dataset.message = m.id;
      if (m.role === 'assistant') view.foot.textContent = usageLine(run);
      add(view.el);
    }
    flushPending(null);
    log.scrollTop = log.scrollHeight;
  }

  return () => page.abort();
}
