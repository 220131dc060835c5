// The console shell: login, navigation, the bucket picker and a hash router.

import { session, loginWithKeys, loginWithToken, listBuckets, setUnauthorizedHandler } from './api.js';
import { h, clear, toast, field, formatTime } from './ui.js';
import * as buckets from './pages/buckets.js';
import * as workflows from './pages/workflows.js';
import * as runs from './pages/runs.js';
import * as callbacks from './pages/callbacks.js';
import * as templates from './pages/templates.js';
import * as queues from './pages/queues.js';

const PAGES = { buckets, workflows, runs, callbacks, templates, queues };
const main = document.getElementById('main');
const BUCKET_KEY = 'reelflow.bucket';

let cleanups = [];
function runCleanups() { cleanups.forEach((f) => { try { f(); } catch { /* ignore */ } }); cleanups = []; }

export const app = {
  get bucket() { return sessionStorage.getItem(BUCKET_KEY) || ''; },
  set bucket(b) { sessionStorage.setItem(BUCKET_KEY, b); },
  buckets: [],
  async refreshBuckets() {
    const list = await listBuckets();
    app.buckets = list.map((b) => b.Name);
    if (!app.buckets.includes(app.bucket)) app.bucket = app.buckets[0] || '';
    const picker = document.getElementById('bucket-picker');
    clear(picker, app.buckets.length
      ? app.buckets.map((b) => h('option', { value: b, selected: b === app.bucket }, b))
      : h('option', { value: '' }, '(no buckets)'));
    return app.buckets;
  },
  /** Registers a function run when the page is left (timers, players). */
  onLeave(fn) { cleanups.push(fn); },
  navigate(hash) { if (location.hash === hash) route(); else location.hash = hash; },
};

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, q] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { page: parts[0] || 'buckets', args: parts.slice(1), query: Object.fromEntries(new URLSearchParams(q || '')) };
}

// Every navigation gets a number; a render that resumes after a newer navigation started is
// stale: it draws into its own (by then detached) view, never into <main>, and whatever it
// registers to run on leaving runs at once (timers, players).
let navSeq = 0;

async function route() {
  const seq = ++navSeq;
  const stale = () => seq !== navSeq;
  runCleanups();
  if (!session.get()) { renderLogin(); return; }
  const { page, args, query } = parseHash();
  const mod = PAGES[page] || buckets;
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.page === page) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  closeMenu();
  const view = h('div', { class: 'view' });
  clear(main, view);
  const pageApp = Object.create(app, {
    onLeave: { value: (fn) => { if (stale()) { try { fn(); } catch { /* ignore */ } } else cleanups.push(fn); } },
  });
  try {
    // `?bucket=` in a link (runs, workflows, objects) selects that bucket.
    if (query.bucket && query.bucket !== app.bucket) {
      if (!app.buckets.includes(query.bucket)) await app.refreshBuckets().catch(() => {});
      if (stale()) return;
      if (app.buckets.includes(query.bucket)) {
        app.bucket = query.bucket;
        document.getElementById('bucket-picker').value = query.bucket;
      }
    }
    await mod.render(view, { app: pageApp, args, query, stale });
  } catch (e) {
    view.append(h('div', { class: 'error', role: 'alert' }, e.message || String(e)));
  }
  if (stale()) return;
  const heading = view.querySelector('h1');
  document.title = `${heading ? heading.textContent : page} · reelflow console`;
  // After an in-app navigation, keyboard and screen-reader users continue at the new content
  // (not on the first page load, where Tab should reach the skip link first).
  if (routed && !main.contains(document.activeElement)) main.focus({ preventScroll: true });
  routed = true;
}
let routed = false;

function showShell(on) {
  document.getElementById('nav').hidden = !on;
  document.getElementById('who').hidden = !on;
  document.querySelector('.nav-toggle').hidden = !on;
  const s = session.get();
  const info = document.getElementById('session-info');
  info.textContent = s ? `session until ${formatTime(new Date(s.expires_at)).slice(11)}` : '';
  info.title = s ? `${s.secret_id}, session until ${formatTime(new Date(s.expires_at))}` : '';
}

function closeMenu() {
  document.querySelector('.nav-toggle').setAttribute('aria-expanded', 'false');
  document.body.classList.remove('menu-open');
}

function renderLogin(message) {
  navSeq++; // a page still loading must not draw over the form
  runCleanups();
  showShell(false);
  document.title = 'Log in · reelflow console';
  const secretId = h('input', { name: 'secret_id', autocomplete: 'username', required: true, spellcheck: 'false' });
  const secretKey = h('input', { name: 'secret_key', type: 'password', autocomplete: 'current-password', required: true });
  const ttl = h('select', { name: 'ttl' }, [['900', '15 minutes'], ['3600', '1 hour'], ['28800', '8 hours']].map(([v, l]) => h('option', { value: v, selected: v === '3600' }, l)));
  const token = h('textarea', { name: 'token', rows: '3', required: true, spellcheck: 'false' });
  const status = h('p', { class: 'error', role: 'alert', hidden: !message }, message || '');
  const fail = (e) => { status.hidden = false; status.textContent = e.message || String(e); };
  const keysForm = h('form', {
    class: 'card', 'aria-labelledby': 'login-keys',
    onsubmit: async (e) => {
      e.preventDefault();
      const btn = e.target.querySelector('button');
      btn.disabled = true;
      try {
        await loginWithKeys(secretId.value.trim(), secretKey.value, Number(ttl.value));
        secretKey.value = '';
        start();
      } catch (err) { fail(err); } finally { btn.disabled = false; }
    },
  },
  h('h2', { id: 'login-keys' }, 'With a key pair'),
  h('p', { class: 'muted' }, 'The key pair signs one request that mints a session token; it is not stored anywhere.'),
  field('SecretId', secretId), field('SecretKey', secretKey), field('Session length', ttl),
  h('button', { type: 'submit', class: 'primary' }, 'Log in'));
  const tokenForm = h('form', {
    class: 'card', 'aria-labelledby': 'login-token',
    onsubmit: async (e) => {
      e.preventDefault();
      try { await loginWithToken(token.value); start(); } catch (err) { fail(err); }
    },
  },
  h('h2', { id: 'login-token' }, 'With a session token'),
  h('p', { class: 'muted' }, 'Run ', h('code', {}, 'reelflow login'), ' on the server and paste the token it prints (or open the URL it prints).'),
  field('Session token', token), h('button', { type: 'submit' }, 'Use token'));
  clear(main,
    h('h1', {}, 'Log in to reelflow'),
    status,
    h('div', { class: 'login-grid' }, keysForm, tokenForm));
  secretId.focus();
}

async function start() {
  showShell(true);
  try { await app.refreshBuckets(); } catch (e) { toast(e.message, 'error'); }
  // replaceState: no hashchange, so the first page is rendered once.
  if (!location.hash || location.hash === '#') history.replaceState(null, '', `${location.pathname}#/buckets`);
  route();
}

/** The shell's handlers: attached once, before any login, whichever way the login goes. */
function attachHandlers() {
  document.querySelector('.skip').addEventListener('click', (e) => { e.preventDefault(); main.focus(); });
  document.getElementById('bucket-picker').addEventListener('change', (e) => {
    // Another bucket: back to the current page's list (its ids and prefixes were the old bucket's).
    app.bucket = e.target.value;
    app.navigate(`#/${parseHash().page}`);
  });
  document.getElementById('logout').addEventListener('click', () => {
    session.clear();
    sessionStorage.clear();
    if (location.hash) history.replaceState(null, '', location.pathname);
    renderLogin();
  });
  const toggle = document.querySelector('.nav-toggle');
  toggle.addEventListener('click', () => {
    const open = toggle.getAttribute('aria-expanded') !== 'true';
    toggle.setAttribute('aria-expanded', String(open));
    document.body.classList.toggle('menu-open', open);
  });
  // Escape closes the phone-width menu; focus goes back to its button.
  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape' || !document.body.classList.contains('menu-open')) return;
    if (document.querySelector('dialog[open]')) return;
    closeMenu();
    toggle.focus();
  });
  window.addEventListener('hashchange', () => { if (session.get()) route(); });
}

async function boot() {
  setUnauthorizedHandler(() => renderLogin('Your session ended; please log in again.'));
  attachHandlers();
  const m = location.hash.match(/^#token=([^&]+)/);
  if (m) {
    history.replaceState(null, '', location.pathname);
    try { await loginWithToken(decodeURIComponent(m[1])); } catch (e) { session.clear(); renderLogin(e.message); return; }
  }
  if (session.get()) start(); else renderLogin();
}

boot();
