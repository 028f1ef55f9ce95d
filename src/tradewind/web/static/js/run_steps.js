// A run's tool-calls step as the chat shows it: each call's name, its arguments and, once the
// server has run it, its output; the step's status follows thread.run.step.* events (or the
// stored step when a thread is loaded again). Text only: arguments and outputs go in as text.

import {h} from './dom.js';

const MAX_SHOWN = 20000; // characters of one output shown (a day of candles is long); the rest is counted

/** JSON text on one line when it is short, else pretty-printed (as it is when it is not JSON), cut to MAX_SHOWN characters. */
export function pretty(text) {
  if (text === null || text === undefined) return '';
  let out = String(text);
  try {
    const value = JSON.parse(out);
    const line = JSON.stringify(value);
    out = line.length <= 120 ? line : JSON.stringify(value, null, 2);
  } catch { /* not JSON: as it came */ }
  return out.length > MAX_SHOWN ? `${out.slice(0, MAX_SHOWN)}\n… (${(out.length - MAX_SHOWN).toLocaleString('en-US')} more characters)` : out;
}

function describe(call) {
  if (call.type === 'file_search') {
    const found = call.file_search || {};
    return {name: 'file_search', args: found.query ? JSON.stringify({query: found.query}) : '',
      output: Array.isArray(found.results) ? JSON.stringify(found.results.map((r) => ({file: r.file_name, score: r.score}))) : null};
  }
  const fn = call.function || {};
  return {name: fn.name || call.type || 'tool', args: fn.arguments || '', output: fn.output ?? null};
}

class CallView {
  constructor() {
    this.name = h('span.chat-call-name.mono');
    this.args = h('pre.chat-args');
    this.outputBox = h('pre.chat-output');
    this.outputSummary = h('summary');
    this.output = h('details.chat-output-wrap', {hidden: true}, this.outputSummary, this.outputBox);
    this.el = h('div.chat-call', null, h('div.chat-call-head', null, 'Tool call ', this.name), this.args, this.output);
  }

  set(call) {
    const {name, args, output} = describe(call);
    this.el.dataset.tool = name;
    this.name.textContent = name;
    this.args.textContent = args ? pretty(args) : '(no arguments)';
    if (output !== null && output !== undefined) {
      this.outputBox.textContent = pretty(output);
      this.outputSummary.textContent = `Output (${String(output).length.toLocaleString('en-US')} characters)`;
      this.output.hidden = false;
      this.el.dataset.done = 'true';
    }
  }
}

export class ToolStep {
  /** ``step``: a thread.run.step object of type tool_calls. */
  constructor(step) {
    this.id = step.id;
    this.calls = [];
    this.status = h('span.badge.chat-step-status');
    this.list = h('div.chat-calls');
    this.error = h('p.chat-error', {hidden: true});
    this.el = h('li.chat-step', {dataset: {step: step.id}}, h('div.chat-who', null, 'Tool step ', this.status), this.list, this.error);
    this.update(step);
  }

  call(index) {
    while (this.calls.length <= index) {
      const view = new CallView();
      this.calls.push(view);
      this.list.append(view.el);
    }
    return this.calls[index];
  }

  /** The whole step (created, completed, failed, or as stored). */
  update(step) {
    const calls = (step.step_details && step.step_details.tool_calls) || [];
    calls.forEach((call, index) => this.call(index).set(call));
    this.setStatus(step.status);
    if (step.last_error) {
      this.error.textContent = `${step.last_error.code || 'error'}: ${step.last_error.message || ''}`;
      this.error.hidden = false;
    }
  }

  /** A thread.run.step.delta: some calls, each with its ``index``, now with their outputs. */
  delta(delta) {
    const calls = (delta && delta.step_details && delta.step_details.tool_calls) || [];
    for (const call of calls) this.call(call.index ?? 0).set(call);
  }

  setStatus(status) {
    const text = String(status || 'in_progress').replace('_', ' ');
    this.el.dataset.status = status || 'in_progress';
    this.status.textContent = text;
  }
}
