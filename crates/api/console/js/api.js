// Talking to reelflow: the CI XML API, the object API and the /_reelflow/v1 JSON API, every
// request authorized by the session token (`Authorization: Bearer …`). The token is the only
// thing kept (sessionStorage: gone with the tab); no cookie is ever used.

import { qSign } from './sign.js';

const STORE = 'reelflow.session';

export class ApiError extends Error {
  constructor(status, code, message) {
    // "Code: message", without saying the code twice when the message starts with it.
    const m = String(message ?? '').trim();
    super(!m ? String(code) : m.toLowerCase().startsWith(String(code).toLowerCase()) ? m : `${code}: ${m}`);
    this.status = status;
    this.code = code;
    this.detail = message;
  }
}

export const session = {
  get() {
    try {
      const s = JSON.parse(sessionStorage.getItem(STORE) || 'null');
      if (s && Date.parse(s.expires_at) > Date.now()) return s;
    } catch { /* ignore */ }
    return null;
  },
  set(s) { sessionStorage.setItem(STORE, JSON.stringify({ token: s.token, expires_at: s.expires_at, secret_id: s.secret_id })); },
  clear() { sessionStorage.removeItem(STORE); },
};

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

/** Mints a session with a key pair: one signed request, nothing kept but the answer's token. */
export async function loginWithKeys(secretId, secretKey, ttlSecs = 3600) {
  const path = '/_reelflow/v1/sessions';
  const authorization = await qSign({ method: 'POST', path, secretId, secretKey });
  const res = await fetch(path, {
    method: 'POST',
    headers: { Authorization: authorization, 'Content-Type': 'application/json' },
    body: JSON.stringify({ ttl_secs: ttlSecs }),
    credentials: 'omit',
    cache: 'no-store',
  });
  const text = await res.text();
  if (!res.ok) throw errorOf(res.status, text);
  const s = JSON.parse(text);
  session.set(s);
  return s;
}

/** Checks a token (from `reelflow login`) with one harmless call, then keeps it. */
export async function loginWithToken(token) {
  const parts = token.trim().split('.');
  const expires = Number(parts[2]);
  if (parts.length !== 5 || parts[0] !== 'rfs1' || !Number.isFinite(expires)) throw new ApiError(0, 'InvalidToken', 'not a reelflow session token');
  let secretId = '';
  try { secretId = parts[1].match(/../g).map((h) => String.fromCharCode(parseInt(h, 16))).join(''); } catch { /* shown blank */ }
  const s = { token: token.trim(), expires_at: new Date(expires * 1000).toISOString(), secret_id: secretId };
  const res = await fetch('/_reelflow/v1/nodes', { headers: { Authorization: `Bearer ${s.token}` }, credentials: 'omit', cache: 'no-store' });
  if (!res.ok) throw errorOf(res.status, await res.text());
  session.set(s);
  return s;
}

export function errorOf(status, text) {
  try {
    const j = JSON.parse(text);
    if (j.code) return new ApiError(status, j.code, j.message || '');
  } catch { /* not JSON */ }
  const doc = text && text.trim().startsWith('<') ? new DOMParser().parseFromString(text, 'application/xml') : null;
  const code = doc?.querySelector('Error > Code')?.textContent;
  if (code) return new ApiError(status, code, doc.querySelector('Error > Message')?.textContent || '');
  return new ApiError(status, `HTTP${status}`, text?.slice(0, 300) || 'request failed');
}

export function encodeKey(key) {
  return key.split('/').map(encodeURIComponent).join('/');
}

export function qs(query) {
  if (!query) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null) p.append(k, v);
  const s = p.toString().replace(/=(&|$)/g, '$1');
  return s ? `?${s}` : '';
}

/** A raw authorized request; returns the Response (any status) unless `check`. */
export async function request(method, path, { query, body, headers = {}, check = true, signal } = {}) {
  const s = session.get();
  if (!s) { onUnauthorized(); throw new ApiError(401, 'NoSession', 'not logged in'); }
  const res = await fetch(path + qs(query), {
    method, body, signal,
    headers: { ...headers, Authorization: `Bearer ${s.token}` },
    credentials: 'omit',
    cache: 'no-store',
  });
  if (check && !res.ok) {
    const err = errorOf(res.status, await res.text());
    if (res.status === 403 && /session token/i.test(err.detail)) { session.clear(); onUnauthorized(); }
    throw err;
  }
  return res;
}

export async function admin(method, path, { query, body } = {}) {
  const res = await request(method, `/_reelflow/v1${path}`, {
    query,
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
  });
  const text = await res.text();
  return text ? JSON.parse(text) : {};
}

// --- XML ---------------------------------------------------------------------------------

/** Parses XML; malformed text throws an ApiError whose message is the parser's own (with its
 *  line and column). `what` names the text (`the server's answer`, `the XML`).
 *  (Chrome builds its error document with two inline `style` attributes; the console's CSP
 *  allows exactly those by hash, see crates/api/src/console/mod.rs.) */
export function parseXml(text, what = "the server's answer") {
  const doc = new DOMParser().parseFromString(text, 'application/xml');
  const error = doc.querySelector('parsererror');
  if (error) throw new ApiError(0, 'BadXml', `${what} is not well-formed: ${parserMessage(error)}`);
  return doc.documentElement;
}

/** The useful line of a `<parsererror>`: Chrome puts it in a <div>, Firefox first in the text. */
function parserMessage(error) {
  const text = (error.querySelector('div')?.textContent || error.firstChild?.textContent || error.textContent || '').trim();
  return text.split('\n').filter((l) => l.trim()).slice(0, 3).join(' ') || 'unknown parser error';
}

/** An element as a plain object: leaves become strings, repeated children arrays. */
export function xmlToObj(el) {
  const kids = [...el.children];
  if (!kids.length) return el.textContent;
  const out = {};
  const lists = new Set();
  for (const k of kids) {
    const v = xmlToObj(k);
    if (k.tagName in out) {
      if (!lists.has(k.tagName)) { out[k.tagName] = [out[k.tagName]]; lists.add(k.tagName); }
      out[k.tagName].push(v);
    } else out[k.tagName] = v;
  }
  return out;
}

/** Always an array. */
export const arr = (v) => (v === undefined || v === null || v === '' ? [] : Array.isArray(v) ? v : [v]);

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A plain object as XML (arrays repeat the element). */
export function toXml(name, value) {
  if (Array.isArray(value)) return value.map((v) => toXml(name, v)).join('');
  if (value !== null && typeof value === 'object') {
    return `<${name}>${Object.entries(value).map(([k, v]) => toXml(k, v)).join('')}</${name}>`;
  }
  return `<${name}>${esc(value ?? '')}</${name}>`;
}

/** A CI call on `bucket` (path style): parsed `<Response>` as an object. */
export async function ci(bucket, method, resource, { query, body } = {}) {
  const res = await request(method, `/${encodeURIComponent(bucket)}/${resource}`, {
    query,
    body,
    headers: body ? { 'Content-Type': 'application/xml' } : {},
  });
  const text = await res.text();
  return text.trim() ? xmlToObj(parseXml(text)) : {};
}

// --- objects -----------------------------------------------------------------------------

export async function listBuckets() {
  const res = await request('GET', '/');
  const root = parseXml(await res.text());
  return [...root.querySelectorAll('Buckets > Bucket')].map((b) => xmlToObj(b));
}

export async function createBucket(name) {
  await request('PUT', `/${encodeURIComponent(name)}`);
}

export async function listObjects(bucket, prefix, token) {
  const res = await request('GET', `/${encodeURIComponent(bucket)}`, {
    query: { 'list-type': '2', prefix, delimiter: '/', 'max-keys': '200', 'continuation-token': token || undefined },
  });
  const root = parseXml(await res.text());
  const o = xmlToObj(root);
  return {
    prefixes: arr(o.CommonPrefixes).map((p) => p.Prefix),
    objects: arr(o.Contents),
    next: o.IsTruncated === 'true' ? o.NextContinuationToken : null,
  };
}

export async function deleteObject(bucket, key) {
  await request('DELETE', `/${encodeURIComponent(bucket)}/${encodeKey(key)}`);
}

/** A short-lived pre-signed GET URL (for <img>, <video>, downloads). */
export async function presign(bucket, key, query = [], expiresSecs = 900) {
  const r = await admin('POST', '/presign', { body: { bucket, key, query, expires_secs: expiresSecs } });
  return r.url;
}

function xhrPut(url, blob, onProgress, headers = {}) {
  return new Promise((resolve, reject) => {
    const s = session.get();
    if (!s) { reject(new ApiError(401, 'NoSession', 'not logged in')); return; }
    const x = new XMLHttpRequest();
    x.open('PUT', url);
    x.setRequestHeader('Authorization', `Bearer ${s.token}`);
    for (const [k, v] of Object.entries(headers)) x.setRequestHeader(k, v);
    x.upload.onprogress = (e) => onProgress(e.loaded);
    x.onload = () => (x.status >= 200 && x.status < 300 ? resolve(x) : reject(errorOf(x.status, x.responseText)));
    x.onerror = () => reject(new ApiError(0, 'NetworkError', 'upload failed'));
    x.send(blob);
  });
}

export const PART_SIZE = 8 * 1024 * 1024;

/**
 * Multipart upload (api-reference-2.md §1): Initiate, parts in parallel (3 at a time), Complete.
 * `onProgress(sentBytes, totalBytes)`.
 */
export async function uploadMultipart(bucket, key, file, onProgress) {
  const path = `/${encodeURIComponent(bucket)}/${encodeKey(key)}`;
  const init = await request('POST', path, {
    query: { uploads: '' },
    headers: { 'Content-Type': file.type || 'application/octet-stream' },
  });
  const uploadId = parseXml(await init.text()).querySelector('UploadId').textContent;
  const count = Math.max(1, Math.ceil(file.size / PART_SIZE));
  const sent = new Array(count).fill(0);
  const etags = new Array(count);
  const report = () => onProgress(sent.reduce((a, b) => a + b, 0), file.size);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const blob = file.slice(i * PART_SIZE, Math.min(file.size, (i + 1) * PART_SIZE));
      const x = await xhrPut(`${path}?partNumber=${i + 1}&uploadId=${encodeURIComponent(uploadId)}`, blob, (n) => { sent[i] = n; report(); });
      sent[i] = blob.size;
      etags[i] = x.getResponseHeader('ETag');
      report();
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(3, count) }, worker));
  } catch (e) {
    await request('DELETE', path, { query: { uploadId }, check: false }).catch(() => {});
    throw e;
  }
  const body = `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${esc(e)}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
  const done = await request('POST', path, { query: { uploadId }, body, headers: { 'Content-Type': 'application/xml' } });
  const text = await done.text();
  // Complete may answer 200 with an <Error> body (S3 semantics).
  if (/<Error>/.test(text)) throw errorOf(500, text);
  return parseXml(text);
}

/** Times in CI answers (`2026-11-30T12:00:00+0800` or `+08:00`) as Date. */
export function parseTime(s) {
  if (!s || s === '-') return null;
  const d = new Date(String(s).replace(/([+-]\d\d)(\d\d)$/, '$1:$2'));
  return Number.isNaN(d.getTime()) ? null : d;
}

/** `2026-11-30T12:00:00+0000`, the CI list filters' time format. */
export function ciTime(date) {
  return `${date.toISOString().slice(0, 19)}+0000`;
}
