// /ws with reconnect: exponential backoff (0.5 s doubling to 30 s, with jitter) as seed 001 asks,
// every subscription renewed after a reconnect, and the state shown in the header. A browser cannot
// set headers on a WebSocket, so the tab's credential goes as the subprotocol pair
// ('tradewind.bearer', credential), which the server reads and accepts.

import {storedToken} from './api.js';

const MIN_DELAY = 500;
const MAX_DELAY = 30000;

export class Live {
  constructor(path = '/ws') {
    this.path = path;
    this.socket = null;
    this.state = 'connecting';
    this.attempt = 0;
    this.channels = new Map(); // channel -> count of subscribers
    this.handlers = new Set();
    this.stateHandlers = new Set();
    this.timer = null;
  }

  connect() {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const token = storedToken();
    const target = `${scheme}://${location.host}${this.path}`;
    const socket = token ? new WebSocket(target, ['tradewind.bearer', token]) : new WebSocket(target);
    this.socket = socket;
    this.setState(this.attempt ? 'reconnecting' : 'connecting');
    socket.addEventListener('open', () => {
      this.attempt = 0;
      this.setState('open');
      const channels = [...this.channels.keys()];
      if (channels.length) this.send({type: 'subscribe', channels});
    });
    socket.addEventListener('message', (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      for (const handler of this.handlers) {
        try { handler(message); } catch (error) { console.error(error); }
      }
    });
    socket.addEventListener('close', () => {
      if (this.socket !== socket) return;
      this.setState('closed');
      this.retry();
    });
  }

  retry() {
    const delay = Math.min(MAX_DELAY, MIN_DELAY * 2 ** this.attempt) * (0.75 + Math.random() * 0.5);
    this.attempt += 1;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
    this.setState('reconnecting', Math.round(delay / 1000));
  }

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  /** Listen on channels; returns the undo. The handler gets every message: filter on its type/data. */
  subscribe(channels, handler) {
    const fresh = channels.filter((c) => !this.channels.has(c));
    for (const channel of channels) this.channels.set(channel, (this.channels.get(channel) || 0) + 1);
    if (fresh.length) this.send({type: 'subscribe', channels: fresh});
    this.handlers.add(handler);
    return () => {
      this.handlers.delete(handler);
      const gone = [];
      for (const channel of channels) {
        const left = (this.channels.get(channel) || 1) - 1;
        if (left <= 0) { this.channels.delete(channel); gone.push(channel); } else this.channels.set(channel, left);
      }
      if (gone.length) this.send({type: 'unsubscribe', channels: gone});
    };
  }

  onState(handler) {
    this.stateHandlers.add(handler);
    handler(this.state);
    return () => this.stateHandlers.delete(handler);
  }

  setState(state, seconds = null) {
    this.state = state;
    for (const handler of this.stateHandlers) handler(state, seconds);
  }
}

export const live = new Live();
