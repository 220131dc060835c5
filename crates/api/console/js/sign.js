// COS q-sign (ci-api-reference.md §2, crates/signature): the login form signs exactly one
// request, `POST /_reelflow/v1/sessions`, with the key pair typed into it. The key pair lives
// only in this function's arguments; it is never stored.
//
// WebCrypto (crypto.subtle) is used when the page is a secure context (https, localhost,
// 127.0.0.1); over plain http to another host browsers withhold it, so a small SHA-1/HMAC in
// JavaScript takes over there.

const enc = new TextEncoder();
const hex = (bytes) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, '0')).join('');

function sha1Bytes(data) {
  // FIPS 180-4 SHA-1 over a Uint8Array.
  const ml = data.length;
  const withPad = new Uint8Array(((ml + 9 + 63) >> 6) << 6);
  withPad.set(data);
  withPad[ml] = 0x80;
  const view = new DataView(withPad.buffer);
  view.setUint32(withPad.length - 4, (ml * 8) >>> 0);
  view.setUint32(withPad.length - 8, Math.floor((ml * 8) / 2 ** 32));
  let h0 = 0x67452301, h1 = 0xefcdab89, h2 = 0x98badcfe, h3 = 0x10325476, h4 = 0xc3d2e1f0;
  const w = new Uint32Array(80);
  for (let off = 0; off < withPad.length; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(off + i * 4);
    for (let i = 16; i < 80; i++) {
      const x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16];
      w[i] = (x << 1) | (x >>> 31);
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4;
    for (let i = 0; i < 80; i++) {
      let f, k;
      if (i < 20) { f = (b & c) | (~b & d); k = 0x5a827999; }
      else if (i < 40) { f = b ^ c ^ d; k = 0x6ed9eba1; }
      else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8f1bbcdc; }
      else { f = b ^ c ^ d; k = 0xca62c1d6; }
      const t = (((a << 5) | (a >>> 27)) + f + e + k + w[i]) >>> 0;
      e = d; d = c; c = (b << 30) | (b >>> 2); b = a; a = t;
    }
    h0 = (h0 + a) >>> 0; h1 = (h1 + b) >>> 0; h2 = (h2 + c) >>> 0; h3 = (h3 + d) >>> 0; h4 = (h4 + e) >>> 0;
  }
  const out = new Uint8Array(20);
  const ov = new DataView(out.buffer);
  [h0, h1, h2, h3, h4].forEach((h, i) => ov.setUint32(i * 4, h));
  return out;
}

function hmacSha1Bytes(key, msg) {
  let k = key.length > 64 ? sha1Bytes(key) : key;
  const block = new Uint8Array(64);
  block.set(k);
  const inner = new Uint8Array(64 + msg.length);
  const outer = new Uint8Array(64 + 20);
  for (let i = 0; i < 64; i++) { inner[i] = block[i] ^ 0x36; outer[i] = block[i] ^ 0x5c; }
  inner.set(msg, 64);
  outer.set(sha1Bytes(inner), 64);
  return sha1Bytes(outer);
}

export async function sha1Hex(text) {
  if (globalThis.crypto?.subtle) return hex(await crypto.subtle.digest('SHA-1', enc.encode(text)));
  return hex(sha1Bytes(enc.encode(text)));
}

export async function hmacSha1Hex(key, text) {
  if (globalThis.crypto?.subtle) {
    const k = await crypto.subtle.importKey('raw', enc.encode(key), { name: 'HMAC', hash: 'SHA-1' }, false, ['sign']);
    return hex(await crypto.subtle.sign('HMAC', k, enc.encode(text)));
  }
  return hex(hmacSha1Bytes(enc.encode(key), enc.encode(text)));
}

/** The `Authorization` value for `method path` with no signed headers or parameters. */
export async function qSign({ method, path, secretId, secretKey, ttl = 300, now = Date.now() / 1000 }) {
  const start = Math.floor(now) - 60;
  const keyTime = `${start};${Math.floor(now) + ttl}`;
  const signKey = await hmacSha1Hex(secretKey, keyTime);
  const httpString = `${method.toLowerCase()}\n${path}\n\n\n`;
  const stringToSign = `sha1\n${keyTime}\n${await sha1Hex(httpString)}\n`;
  const signature = await hmacSha1Hex(signKey, stringToSign);
  return [
    'q-sign-algorithm=sha1', `q-ak=${secretId}`, `q-sign-time=${keyTime}`, `q-key-time=${keyTime}`,
    'q-header-list=', 'q-url-param-list=', `q-signature=${signature}`,
  ].join('&');
}
