// Server-sent events read from fetch: a POST that answers text/event-stream, which EventSource
// (GET only) cannot send. The body is read as it arrives and each event yielded as {event, data}
// (data as sent: text, the caller parses it). An error status is the ApiError the JSON calls give,
// with the service's own message (OpenAI's {error: {message, param}} under /v1).

import {askAgain, authHeaders, errorMessage} from './api.js';

/** POST ``body`` as JSON to ``path`` and yield its events; abort ``signal`` to stop reading. */
export async function* postEvents(path, body, {signal = null} = {}) {
  const response = await fetch(new URL(path, location.origin), {
    method: 'POST', signal, body: JSON.stringify(body),
    headers: {'Content-Type': 'application/json', Accept: 'text/event-stream', ...authHeaders()},
  });
  if ((response.status === 401 || response.status === 403) && await askAgain(response.status)) {
    yield* postEvents(path, body, {signal});
    return;
  }
  if (!response.ok) {
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    throw errorMessage(response.status, data);
  }
  if (!response.body) throw errorMessage(response.status, {detail: 'the answer has no body to stream'});
  yield* readEvents(response.body);
}

/** The events of an SSE byte stream, as the HTML standard parses them: ``event:`` and ``data:``
 * lines (several data lines joined by newlines), comments skipped, a blank line ends an event;
 * an event cut off by the end of the stream is dropped. */
export async function* readEvents(stream) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let name = '';
  let data = [];
  let finished = false;
  try {
    while (true) {
      const {value, done} = await reader.read();
      if (done) { finished = true; break; }
      buffer += value;
      let start = 0;
      for (let i = 0; i < buffer.length; i += 1) {
        const c = buffer[i];
        if (c !== '\n' && c !== '\r') continue;
        if (c === '\r' && i + 1 === buffer.length) break; // a CR LF may be split across chunks: wait for the next
        const line = buffer.slice(start, i);
        if (c === '\r' && buffer[i + 1] === '\n') i += 1;
        start = i + 1;
        if (line === '') {
          if (data.length) yield {event: name || 'message', data: data.join('\n')};
          name = ''; data = [];
          continue;
        }
        if (line[0] === ':') continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? '' : line.slice(colon + (line[colon + 1] === ' ' ? 2 : 1));
        if (field === 'event') name = text;
        else if (field === 'data') data.push(text);
      }
      buffer = buffer.slice(start);
    }
  } finally {
    if (!finished) reader.cancel().catch(() => {}); // the caller stopped early: stop the download too
    reader.releaseLock();
  }
}
