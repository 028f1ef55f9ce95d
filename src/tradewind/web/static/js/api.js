// The JSON API, with errors shown to the trader rather than swallowed. Every shape the service
// answers an error in is read: {detail, error_code, field} (the AI service and /api),
// {success: false, error, field} (the streamer) and OpenAI's {error: {message, param}} under /v1.

import {h} from './dom.js';

const TOKEN_KEY = 'tradewind.admin-token';

/** The credential this tab was given (an API key, a JWT or the admin/service token), or null. */
export function storedToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** Authorization for a call: the stored credential as a bearer, when there is one. */
export function authHeaders() {
  const token = storedToken();
  return token ? {Authorization: `Bearer ${token}`} : {};
}

/** After a 401 (no or a refused credential) or a 403 (too small a scope): ask for a key once. */
export function askAgain(status) {
  const token = storedToken();
  if (status === 403 && token) return askToken('That key may not do this. Enter a key with the right scope.');
  return askToken(token ? 'That key was refused. Enter an API key (or the admin token).' : null);
}

export class ApiError extends Error {
  constructor(status, message, field = null, code = null) {
    super(message);
    this.status = status;
    this.field = field;
    this.code = code;
  }
}

/** The message an error body carries, whatever its shape (cut short: never the whole body). */
export function errorMessage(status, body) {
  let message = null; let field = null; let code = null;
  if (body && typeof body === 'object') {
    if (body.error && typeof body.error === 'object') {
      message = body.error.message; field = body.error.param; code = body.error.code;
    } else {
      message = typeof body.detail === 'string' ? body.detail : typeof body.error === 'string' ? body.error : null;
      if (!message && Array.isArray(body.detail)) message = body.detail.map((d) => d.msg).join('; ');
      field = body.field || null; code = body.error_code || null;
    }
  }
  message = String(message || `HTTP ${status}`).slice(0, 300);
  return new ApiError(status, message, field, code);
}

function url(path, params) {
  const target = new URL(path, location.origin);
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== null && value !== undefined && value !== '') target.searchParams.set(key, value);
  }
  return target;
}

/** fetch a JSON answer; non-2xx becomes an ApiError with the service's own message. */
export async function request(method, path, {params = null, body = undefined, admin = false, signal = null, headers = {}} = {}) {
  const init = {method, headers: {Accept: 'application/json', ...headers}, signal};
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  Object.assign(init.headers, authHeaders());
  const response = await fetch(url(path, params), init);
  if (response.status === 401 || response.status === 403) {
    // the credential is missing, refused or too small: ask, then try again with the new one
    const fresh = await askAgain(response.status);
    if (fresh) return request(method, path, {params, body, admin, signal, headers});
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) throw errorMessage(response.status, data);
  return data;
}

export const get = (path, params, options = {}) => request('GET', path, {...options, params});
export const post = (path, body, options = {}) => request('POST', path, {...options, body});
export const patch = (path, body, options = {}) => request('PATCH', path, {...options, body});

/** Ask for the admin token in a dialog; kept in this tab's session only. Resolves to it or null. */
export function askToken(reason = null) {
  const dialog = document.getElementById('token-dialog');
  const input = document.getElementById('token-input');
  const intro = dialog.querySelector('p');
  if (reason) intro.textContent = reason;
  input.value = '';
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      const value = dialog.returnValue === 'ok' ? input.value.trim() : '';
      if (value) sessionStorage.setItem(TOKEN_KEY, value);
      resolve(value || null);
    }, {once: true});
    dialog.showModal();
    input.focus();
  });
}

/** Show an error in the banner (dismissable; the newest five stay). */
export function showError(error, context = '') {
  if (error && error.name === 'AbortError') return;
  const box = document.getElementById('errors');
  const where = context ? `${context}: ` : '';
  const field = error && error.field ? ` (field: ${error.field})` : '';
  const status = error && error.status ? ` [${error.status}]` : '';
  const text = `${where}${error && error.message ? error.message : String(error)}${field}${status}`;
  const item = h('div.error', null, h('span', null, text),
    h('button.ghost', {type: 'button', 'aria-label': 'Dismiss', onclick: () => item.remove()}, '×'));
  box.prepend(item);
  while (box.children.length > 5) box.lastChild.remove();
  console.warn(text);
}
