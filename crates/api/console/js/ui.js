// Small DOM helpers: no framework. Every text goes in through textContent (never innerHTML).

/** h('div', {class: 'x', onclick}, child, 'text', [more]) */
export function h(tag, attrs = {}, ...children) {
  const el = tag.includes(':') ? document.createElementNS('http://www.w3.org/2000/svg', tag.split(':')[1]) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value' && 'value' in el) el.value = v;
    else if (k === 'checked' || k === 'disabled' || k === 'selected') el[k] = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export const svg = (tag, attrs, ...children) => h(`svg:${tag}`, attrs, ...children);

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Announces a message to screen readers and shows it briefly. */
export function toast(message, kind = 'info') {
  const region = document.getElementById('toasts');
  const t = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
  region.append(t);
  while (region.children.length > 3) region.firstElementChild.remove();
  setTimeout(() => t.remove(), kind === 'error' ? 9000 : 3000);
}

export function errorBox(err) {
  return h('div', { class: 'error', role: 'alert' }, String(err?.message || err));
}

/** "Not found" for something looked up in one bucket: names the bucket searched and offers the
 *  same page in every other bucket (`link(bucket)` → href). */
export function notInBucket(what, bucket, app, link, err) {
  const others = (app.buckets || []).filter((b) => b !== bucket);
  const detail = err?.detail || err?.message || '';
  return h('div', { class: 'error', role: 'alert' },
    h('p', {}, `${what} was not found in bucket ${bucket}${detail ? ` (${err?.code ? `${err.code}: ` : ''}${detail})` : ''}.`),
    others.length
      ? h('p', {}, 'Another bucket may hold it: ', others.flatMap((b, i) => [i ? ', ' : '', h('a', { href: link(b) }, b)]), '.')
      : null);
}

/** Whether an API error means "no such thing". */
export function isNotFound(err) {
  return err?.status === 404 || /NotFound|NoSuch|NotExist/i.test(err?.code || '');
}

export function formatBytes(n) {
  n = Number(n);
  if (!Number.isFinite(n)) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

export function formatTime(d) {
  if (!d) return '–';
  if (!(d instanceof Date)) d = new Date(d);
  if (Number.isNaN(d.getTime())) return '–';
  const pad = (x) => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function formatDuration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  if (ms === 0) return '< 1 s';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

export function stateBadge(state) {
  const s = String(state || 'Unknown');
  return h('span', { class: `badge state-${s.toLowerCase()}` }, s);
}

export function progressBar(value, label) {
  const v = Math.max(0, Math.min(100, Number(value) || 0));
  return h('progress', { max: '100', value: String(v), 'aria-label': label || 'progress', title: `${v}%` }, `${v}%`);
}

/** A table: columns [{label, cell(row) → node|string, class}] */
export function table(columns, rows, { caption, empty = 'Nothing here yet.', rowAttrs } = {}) {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  return h('div', { class: 'table-wrap' },
    h('table', {},
      caption ? h('caption', {}, caption) : null,
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label)))),
      h('tbody', {}, rows.map((r) => h('tr', rowAttrs ? rowAttrs(r) : {}, columns.map((c) => h('td', { class: c.class, 'data-label': c.label }, c.cell(r))))))));
}

/** A labelled form field. */
export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  const hintEl = hint ? h('small', { id: `${id}-hint`, class: 'hint' }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hintEl);
}

export function select(options, value, attrs = {}) {
  return h('select', attrs, options.map((o) => {
    const [v, l] = Array.isArray(o) ? o : [o, o];
    return h('option', { value: v, selected: v === value }, l);
  }));
}

/** A modal <dialog>; resolves when closed. Focus returns to the opener. */
export function modal(title, body, { actions = [], wide = false } = {}) {
  const opener = document.activeElement;
  const titleId = `dlg-${Math.random().toString(36).slice(2, 9)}`;
  const dlg = h('dialog', { class: wide ? 'wide' : '', 'aria-labelledby': titleId },
    h('div', { class: 'dialog-head' },
      h('h2', { id: titleId }, title),
      h('button', { type: 'button', class: 'icon', 'aria-label': 'Close', onclick: () => dlg.close() }, '×')),
    h('div', { class: 'dialog-body' }, body),
    actions.length ? h('div', { class: 'dialog-actions' }, actions) : null);
  document.body.append(dlg);
  dlg.showModal();
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => { dlg.remove(); opener?.focus?.(); resolve(dlg.returnValue); });
  });
}

export function confirmDialog(message, okLabel = 'Delete') {
  return new Promise((resolve) => {
    let ok = false;
    const okBtn = h('button', { type: 'button', class: 'danger', onclick: (e) => { ok = true; e.target.closest('dialog').close(); } }, okLabel);
    const cancel = h('button', { type: 'button', onclick: (e) => e.target.closest('dialog').close() }, 'Cancel');
    modal('Please confirm', h('p', {}, message), { actions: [cancel, okBtn] }).then(() => resolve(ok));
    setTimeout(() => cancel.focus(), 0);
  });
}

/** Disables a button while `fn` runs; reports errors as toasts. */
export async function busy(button, fn) {
  const was = button?.disabled;
  if (button) { button.disabled = true; button.setAttribute('aria-busy', 'true'); }
  try { return await fn(); } catch (e) { toast(e.message || String(e), 'error'); return undefined; } finally {
    if (button) { button.disabled = !!was; button.removeAttribute('aria-busy'); }
  }
}

export function loading(label = 'Loading…') {
  return h('p', { class: 'loading', role: 'status' }, label);
}

/** Route helper: `#/path?query`. */
export function href(path, query) {
  const q = query ? new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== '')).toString() : '';
  return `#${path}${q ? `?${q}` : ''}`;
}
