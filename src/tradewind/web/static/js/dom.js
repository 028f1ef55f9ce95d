// Building the page from data: every value goes in as text (textContent), never as HTML, so what
// the API returns (a symbol, an LLM's reasoning, a file name) cannot inject markup or script.

/** h('tag.class#id', {attr: value, onclick: fn}, ...children): an element; strings become text. */
export function h(tag, attrs = null, ...children) {
  const [name, ...rest] = tag.split(/(?=[.#])/);
  const el = document.createElement(name || 'div');
  for (const part of rest) {
    if (part[0] === '.') el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
      else if (key === 'dataset') Object.assign(el.dataset, value);
      else if (key === 'style' && typeof value === 'object') { // CSSOM, which the page's CSP allows (a style attribute it does not)
        for (const [property, text] of Object.entries(value)) el.style.setProperty(property, text);
      }
      else if (key === 'text') el.textContent = String(value);
      else el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace what ``el`` holds with ``children``. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** An empty state that says what to do next. */
export function emptyState(text) {
  return h('p.empty', {role: 'note'}, text);
}

/** A table from rows: columns are [label, (row) => cell, className?]. */
export function table(columns, rows, {caption = null, empty = 'Nothing yet.'} = {}) {
  if (!rows.length) return emptyState(empty);
  return h('div.table-wrap', null, h('table', null,
    caption ? h('caption', null, caption) : null,
    h('thead', null, h('tr', null, columns.map(([label, , cls]) => h('th', {scope: 'col', class: cls || null}, label)))),
    h('tbody', null, rows.map((row) => h('tr', null,
      columns.map(([, cell, cls]) => h('td', {class: cls || null}, cell(row))))))));
}

/** A definition list of [label, value] pairs: the statistics blocks. */
export function stats(pairs) {
  return h('dl.stats', null, pairs.map(([label, value, cls]) => h('div', {class: cls || null}, h('dt', null, label), h('dd', null, value))));
}

/** A titled card. */
export function card(title, ...children) {
  return h('section.card', null, title ? h('h2', null, title) : null, ...children);
}
