/* civic-vault: the front desk's card check (served at /verify/).

   Reads the seal a printed card's QR code carries ("CV1:" + base45(zlib(
   COSE_Sign1))), checks its ES256 signature against the issuer's keys, its
   expiry and its bit in the issuer's status list, and shows the verdict and
   the printed fields for the clerk to compare with the card.

   Everything about a scanned card stays in this page's memory: nothing about
   it is stored or sent. The only requests this script makes are for the
   issuer's keys (/.well-known/jwt-vc-issuer) and for status lists
   (/v1/status-lists/N, same origin only), both kept in localStorage with the
   time they were fetched, so the check works with the network cut.

   Plain ES2020, no build step. The page's policy allows no inline script or
   style, no eval and no wasm: none is used. jsQR (jsqr.js) reads the camera. */

'use strict';

(() => {
  // ---------------------------------------------------------------- words

  const VERDICT = {
    valid: 'Valid',
    revoked: 'Revoked',
    expired: 'Expired',
    forged: 'Not genuine',
    unknown: 'Cannot check status',
  };

  const PREFIX = 'CV1:';
  const KEYS_PATH = '/.well-known/jwt-vc-issuer';
  const LIST_PATH = /^\/v1\/status-lists\/[0-9]{1,10}$/;
  const STORE = 'civic-vault.verify.v1';
  const STALE_MS = 24 * 3600 * 1000;
  const REFRESH_EVERY_MS = 5 * 60 * 1000; // the vault's list ttl
  const CLEAR_AFTER_MS = 5 * 60 * 1000; // a result does not stay on screen
  const MAX_LISTS = 64;
  const MAX_SEAL_BYTES = 64 * 1024;
  const MAX_LIST_BYTES = 1024 * 1024;
  const FRAME_MS = 200; // about five frames a second
  const MAX_FRAME_SIDE = 1920;
  const MIN_FRAME_SIDE = 1280;

  /** The seal fails: malformed, unknown key, bad signature, wrong issuer. */
  class NotGenuine extends Error {}

  // --------------------------------------------------------------- base45

  const B45 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';
  const B45_VALUE = new Map([...B45].map((c, i) => [c, i]));

  /** RFC 9285 base45 to bytes. */
  function base45Decode(text) {
    if (text.length % 3 === 1) throw new NotGenuine('the seal text has the wrong length for base45');
    const out = new Uint8Array(Math.floor(text.length / 3) * 2 + (text.length % 3 === 2 ? 1 : 0));
    let o = 0;
    for (let i = 0; i < text.length; i += 3) {
      const d = [];
      for (let j = i; j < Math.min(i + 3, text.length); j += 1) {
        const v = B45_VALUE.get(text[j]);
        if (v === undefined) throw new NotGenuine(`the seal text has a character base45 does not use (at ${j + 1})`);
        d.push(v);
      }
      if (d.length === 3) {
        const n = d[0] + d[1] * 45 + d[2] * 2025;
        if (n > 0xffff) throw new NotGenuine('the seal text is not valid base45');
        out[o++] = n >> 8;
        out[o++] = n & 0xff;
      } else {
        const n = d[0] + d[1] * 45;
        if (n > 0xff) throw new NotGenuine('the seal text is not valid base45');
        out[o++] = n;
      }
    }
    return out;
  }

  // ------------------------------------------------------ base64url, UTF-8

  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const toUtf8 = new TextEncoder();

  function base64urlDecode(s) {
    if (typeof s !== 'string' || !/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) {
      throw new Error('not base64url');
    }
    const b = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4));
    const out = new Uint8Array(b.length);
    for (let i = 0; i < b.length; i += 1) out[i] = b.charCodeAt(i);
    return out;
  }

  // ----------------------------------------------------------------- zlib

  /** RFC 1950 zlib to bytes, refusing more than `limit` bytes out. */
  async function inflate(bytes, limit) {
    const reader = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate')).getReader();
    const chunks = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > limit) {
        await reader.cancel().catch(() => {});
        throw new Error('too large once decompressed');
      }
      chunks.push(value);
    }
    const out = new Uint8Array(total);
    let o = 0;
    for (const c of chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }

  // ----------------------------------------------------------------- CBOR

  class Tagged {
    constructor(tag, value) {
      this.tag = tag;
      this.value = value;
    }
  }

  /** One CBOR item (RFC 8949), the whole of `bytes`: ints (as Numbers,
      safe range only), byte and text strings, arrays, maps (int or text
      keys, as a Map), tags, false/true/null/undefined and floats. Definite
      lengths only; nesting at most 16 deep. */
  function cborDecode(bytes) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let pos = 0;
    const need = (n) => {
      if (n > bytes.length - pos) throw new Error('CBOR is cut short');
    };
    const arg = (ai) => {
      if (ai < 24) return ai;
      if (ai === 24) {
        need(1);
        return bytes[pos++];
      }
      if (ai === 25) {
        need(2);
        pos += 2;
        return view.getUint16(pos - 2);
      }
      if (ai === 26) {
        need(4);
        pos += 4;
        return view.getUint32(pos - 4);
      }
      if (ai === 27) {
        need(8);
        const v = view.getUint32(pos) * 2 ** 32 + view.getUint32(pos + 4);
        pos += 8;
        if (!Number.isSafeInteger(v)) throw new Error('CBOR integer too large');
        return v;
      }
      throw new Error('CBOR indefinite length or reserved value');
    };
    const item = (depth) => {
      if (depth > 16) throw new Error('CBOR nested too deep');
      need(1);
      const ib = bytes[pos++];
      const major = ib >> 5;
      const ai = ib & 31;
      switch (major) {
        case 0:
          return arg(ai);
        case 1:
          return -1 - arg(ai);
        case 2: {
          const n = arg(ai);
          need(n);
          pos += n;
          return bytes.slice(pos - n, pos);
        }
        case 3: {
          const n = arg(ai);
          need(n);
          pos += n;
          try {
            return utf8.decode(bytes.subarray(pos - n, pos));
          } catch {
            throw new Error('CBOR text is not UTF-8');
          }
        }
        case 4: {
          const n = arg(ai);
          need(n); // every item is at least one byte
          const a = [];
          for (let i = 0; i < n; i += 1) a.push(item(depth + 1));
          return a;
        }
        case 5: {
          const n = arg(ai);
          need(2 * n);
          const m = new Map();
          for (let i = 0; i < n; i += 1) {
            const k = item(depth + 1);
            if (typeof k !== 'number' && typeof k !== 'string') throw new Error('CBOR map key neither int nor text');
            if (m.has(k)) throw new Error('CBOR map key repeated');
            m.set(k, item(depth + 1));
          }
          return m;
        }
        case 6:
          return new Tagged(arg(ai), item(depth + 1));
        default: // 7
          if (ai === 20) return false;
          if (ai === 21) return true;
          if (ai === 22) return null;
          if (ai === 23) return undefined;
          if (ai === 25) {
            need(2);
            const h = view.getUint16(pos);
            pos += 2;
            const e = (h >> 10) & 31;
            const f = h & 1023;
            const v = e === 0 ? f * 2 ** -24 : e === 31 ? (f ? NaN : Infinity) : (1 + f / 1024) * 2 ** (e - 15);
            return h & 0x8000 ? -v : v;
          }
          if (ai === 26) {
            need(4);
            pos += 4;
            return view.getFloat32(pos - 4);
          }
          if (ai === 27) {
            need(8);
            pos += 8;
            return view.getFloat64(pos - 8);
          }
          throw new Error('CBOR simple value not understood');
      }
    };
    const v = item(0);
    if (pos !== bytes.length) throw new Error('bytes after the CBOR item');
    return v;
  }

  function cborHead(major, n) {
    const m = major << 5;
    if (n < 24) return [m | n];
    if (n < 0x100) return [m | 24, n];
    if (n < 0x10000) return [m | 25, n >> 8, n & 0xff];
    return [m | 26, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
  }

  /** CBOR for what a Sig_structure holds: arrays, text, byte strings. */
  function cborEncode(v) {
    const parts = [];
    const put = (x) => {
      if (Array.isArray(x)) {
        parts.push(Uint8Array.from(cborHead(4, x.length)));
        x.forEach(put);
      } else if (typeof x === 'string') {
        const b = toUtf8.encode(x);
        parts.push(Uint8Array.from(cborHead(3, b.length)), b);
      } else if (x instanceof Uint8Array) {
        parts.push(Uint8Array.from(cborHead(2, x.length)), x);
      } else {
        throw new Error('cborEncode: unsupported value');
      }
    };
    put(v);
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  // ------------------------------------------------------------ the seal

  const get = (m, k) => (m instanceof Map ? m.get(k) : undefined);

  /** The seal's text to its COSE_Sign1 parts (not yet verified). */
  async function readSeal(raw) {
    // A wedge scanner may add a newline or a tab; upper case is safe, base45
    // has no lower-case letters. Spaces are base45 digits: kept.
    const text = String(raw).replace(/^[\s]+|[\r\n\t]+$/g, '').toUpperCase();
    if (!text.startsWith(PREFIX)) throw new NotGenuine('this is not a card seal (it does not start with CV1:)');
    if (text.length > 2 * MAX_SEAL_BYTES) throw new NotGenuine('the seal text is far too long');
    const compressed = base45Decode(text.slice(PREFIX.length));
    let cose;
    try {
      cose = await inflate(compressed, MAX_SEAL_BYTES);
    } catch {
      throw new NotGenuine('the seal is damaged (it does not decompress)');
    }
    let top;
    try {
      top = cborDecode(cose);
    } catch (e) {
      throw new NotGenuine(`the seal is damaged (${e.message})`);
    }
    if (top instanceof Tagged) {
      if (top.tag !== 18) throw new NotGenuine('the seal is not a COSE_Sign1');
      top = top.value;
    }
    if (!Array.isArray(top) || top.length !== 4) throw new NotGenuine('the seal is not a COSE_Sign1');
    const [protectedBytes, unprotected, payload, signature] = top;
    if (!(protectedBytes instanceof Uint8Array) || !(unprotected instanceof Map)) {
      throw new NotGenuine('the seal is not a COSE_Sign1');
    }
    if (!(payload instanceof Uint8Array)) throw new NotGenuine('the seal carries no payload');
    if (!(signature instanceof Uint8Array) || signature.length !== 64) {
      throw new NotGenuine('the seal’s signature is not an ES256 signature');
    }
    let headers;
    try {
      headers = protectedBytes.length === 0 ? new Map() : cborDecode(protectedBytes);
    } catch (e) {
      throw new NotGenuine(`the seal’s header is damaged (${e.message})`);
    }
    if (!(headers instanceof Map)) throw new NotGenuine('the seal’s header is damaged');
    if (headers.has(2)) throw new NotGenuine('the seal has critical headers this page does not know');
    if (headers.get(1) !== -7) throw new NotGenuine('the seal is not signed with ES256');
    const kid = headers.get(4) ?? unprotected.get(4);
    if (!(kid instanceof Uint8Array)) throw new NotGenuine('the seal does not name its key');
    let kidText;
    try {
      kidText = utf8.decode(kid);
    } catch {
      throw new NotGenuine('the seal’s key name is not text');
    }
    return { protectedBytes, payload, signature, kid: kidText };
  }

  /** The CWT claims of a verified payload. */
  function readClaims(payload) {
    let c;
    try {
      c = cborDecode(payload);
    } catch (e) {
      throw new NotGenuine(`the seal’s contents are damaged (${e.message})`);
    }
    if (!(c instanceof Map)) throw new NotGenuine('the seal’s contents are not CWT claims');
    const iss = c.get(1);
    const exp = c.get(4);
    const iat = c.get(6);
    const list = get(c.get(65535), 'status_list');
    const idx = get(list, 'idx');
    const uri = get(list, 'uri');
    const card = c.get('card');
    if (typeof iss !== 'string') throw new NotGenuine('the seal names no issuer');
    // A card that does not expire (an age band may say so) has no exp.
    if (exp !== undefined && !Number.isSafeInteger(exp)) throw new NotGenuine('the seal’s expiry is malformed');
    if (!Number.isSafeInteger(idx) || idx < 0 || typeof uri !== 'string') {
      throw new NotGenuine('the seal has no status list entry');
    }
    if (!(card instanceof Map)) throw new NotGenuine('the seal carries no card fields');
    const text = (k) => (typeof card.get(k) === 'string' ? card.get(k) : null);
    return {
      iss,
      exp: exp === undefined ? null : exp,
      iat: Number.isSafeInteger(iat) ? iat : null,
      status: { idx, uri },
      card: {
        program: text('program'),
        number: text('number'),
        name: text('name'),
        birth_date: text('birth_date'),
        issued: text('issued'),
        expires: text('expires'),
        address: text('address'),
      },
    };
  }

  // ------------------------------------------------------------ ES256

  function findJwk(kid) {
    const keys = state.jwks?.keys ?? [];
    return keys.find((k) => k && k.kid === kid && k.kty === 'EC' && k.crv === 'P-256' && (k.alg ?? 'ES256') === 'ES256') ?? null;
  }

  async function importKey(jwk) {
    const cached = state.keyCache.get(jwk.kid);
    if (cached) return cached;
    const key = await crypto.subtle.importKey(
      'jwk',
      { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, ext: true },
      { name: 'ECDSA', namedCurve: 'P-256' },
      false,
      ['verify'],
    );
    state.keyCache.set(jwk.kid, key);
    return key;
  }

  /** ES256 over `data` with a raw r||s signature. */
  async function es256Verify(jwk, signature, data) {
    if (signature.length !== 64) return false;
    const key = await importKey(jwk);
    return crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, signature, data);
  }

  // --------------------------------------------------------- status lists

  /** A status list URI's normal form, or null if this page may not fetch
      it: only this page's origin, only /v1/status-lists/N. */
  function listUri(uri) {
    let u;
    try {
      u = new URL(uri);
    } catch {
      return null;
    }
    if (u.origin !== location.origin || !LIST_PATH.test(u.pathname) || u.search || u.hash || u.username || u.password) {
      return null;
    }
    return u.href;
  }

  /** A statuslist+jwt: signature by a key of the JWKS, `sub` = `uri`. */
  async function openList(jwt, uri) {
    const parts = String(jwt).trim().split('.');
    if (parts.length !== 3) throw new Error('not a JWT');
    const header = JSON.parse(utf8.decode(base64urlDecode(parts[0])));
    if (header.alg !== 'ES256') throw new Error('not signed with ES256');
    if (header.typ !== 'statuslist+jwt') throw new Error('not a statuslist+jwt');
    if (header.crit !== undefined) throw new Error('critical headers');
    const jwk = findJwk(header.kid);
    if (!jwk) throw new Error('signed by a key this page does not know');
    const ok = await es256Verify(jwk, base64urlDecode(parts[2]), toUtf8.encode(`${parts[0]}.${parts[1]}`));
    if (!ok) throw new Error('its signature does not match');
    const claims = JSON.parse(utf8.decode(base64urlDecode(parts[1])));
    if (typeof claims.sub !== 'string' || listUri(claims.sub) !== uri) throw new Error('it is another list (sub)');
    const sl = claims.status_list;
    if (!sl || sl.bits !== 1 || typeof sl.lst !== 'string') throw new Error('not a one-bit status list');
    const bits = await inflate(base64urlDecode(sl.lst), MAX_LIST_BYTES);
    return {
      jwt: parts.join('.'),
      bits,
      iat: Number.isFinite(claims.iat) ? claims.iat : null,
      exp: Number.isFinite(claims.exp) ? claims.exp : null,
    };
  }

  /** Entry `idx`: 1 (revoked), 0, or null when the list is shorter. */
  function statusBit(bits, idx) {
    const byte = Math.floor(idx / 8);
    if (byte >= bits.length) return null;
    return (bits[byte] >> (idx % 8)) & 1;
  }

  // ---------------------------------------------------------------- state

  const state = {
    jwks: null, // { issuer, keys }
    keysFetchedAt: 0,
    lists: new Map(), // normal URI → { jwt, bits, iat, exp, fetchedAt }
    seen: new Set(), // list URIs seen in seals this session (memory only)
    keyCache: new Map(),
    lastError: '',
  };

  function save() {
    const lists = {};
    for (const [uri, l] of state.lists) lists[uri] = { jwt: l.jwt, fetchedAt: l.fetchedAt };
    try {
      localStorage.setItem(STORE, JSON.stringify({ v: 1, jwks: state.jwks, keysFetchedAt: state.keysFetchedAt, lists }));
    } catch {
      // storage full or refused: the page still works until it is closed
    }
  }

  async function load() {
    let saved;
    try {
      saved = JSON.parse(localStorage.getItem(STORE) ?? 'null');
    } catch {
      saved = null;
    }
    if (!saved || saved.v !== 1 || !saved.jwks || typeof saved.jwks.issuer !== 'string' || !Array.isArray(saved.jwks.keys)) {
      return;
    }
    state.jwks = saved.jwks;
    state.keysFetchedAt = Number(saved.keysFetchedAt) || 0;
    for (const [uri, l] of Object.entries(saved.lists ?? {})) {
      const u = listUri(uri);
      if (!u || !l || typeof l.jwt !== 'string') continue;
      try {
        // Checked again as when fetched: a list is used only as its signer wrote it.
        state.lists.set(u, { ...(await openList(l.jwt, u)), fetchedAt: Number(l.fetchedAt) || 0 });
      } catch {
        // dropped; the next refresh fetches it again
      }
    }
  }

  // ------------------------------------------------------------- fetching

  class HttpError extends Error {
    constructor(status, what) {
      super(`${what}: HTTP ${status}`);
      this.status = status;
    }
  }

  const fetchOptions = (accept) => ({
    method: 'GET',
    cache: 'no-store',
    credentials: 'omit',
    redirect: 'error',
    referrerPolicy: 'no-referrer',
    headers: { accept },
  });

  async function fetchKeys() {
    const r = await fetch(new URL(KEYS_PATH, location.origin).href, fetchOptions('application/json'));
    if (!r.ok) throw new HttpError(r.status, 'keys');
    const doc = await r.json();
    if (!doc || typeof doc.issuer !== 'string' || !Array.isArray(doc.jwks?.keys)) {
      throw new Error('keys: the answer is not issuer metadata');
    }
    state.jwks = { issuer: doc.issuer, keys: doc.jwks.keys.filter((k) => k && typeof k === 'object') };
    state.keysFetchedAt = Date.now();
    state.keyCache.clear();
  }

  async function fetchList(uri) {
    const u = listUri(uri);
    if (!u) throw new Error(`refused to fetch ${uri}: not a status list of this page's origin`);
    const r = await fetch(u, fetchOptions('application/statuslist+jwt'));
    if (!r.ok) throw new HttpError(r.status, `status list ${new URL(u).pathname}`);
    const list = await openList(await r.text(), u);
    if (!state.lists.has(u) && state.lists.size >= MAX_LISTS) {
      // Keep the most recently fetched lists.
      const oldest = [...state.lists].sort((a, b) => a[1].fetchedAt - b[1].fetchedAt)[0][0];
      state.lists.delete(oldest);
    }
    state.lists.set(u, { ...list, fetchedAt: Date.now() });
  }

  /** List 0 of the issuer, fetched eagerly, when it is on this origin. */
  function firstList() {
    if (!state.jwks) return null;
    try {
      return listUri(new URL('/v1/status-lists/0', state.jwks.issuer).href);
    } catch {
      return null;
    }
  }

  let refreshing = null;
  let lastRefresh = 0;

  /** Keys, then every list this page knows of. Whatever fails keeps what
      was there. Resolves to the list of problems (empty when all came). */
  function refresh() {
    if (!refreshing) {
      refreshing = doRefresh().finally(() => {
        refreshing = null;
      });
    }
    return refreshing;
  }

  async function doRefresh() {
    lastRefresh = Date.now();
    setRefreshing(true);
    const problems = [];
    try {
      await fetchKeys();
    } catch (e) {
      problems.push(e instanceof TypeError ? 'keys: the network did not answer' : e.message);
    }
    if (state.jwks) {
      const uris = new Set([...state.lists.keys(), ...state.seen]);
      const first = firstList();
      if (first) uris.add(first);
      for (const uri of uris) {
        try {
          await fetchList(uri);
        } catch (e) {
          // List 0 does not exist before the first card: not a problem.
          if (!(e instanceof HttpError && e.status === 404 && uri === first && !state.lists.has(uri))) {
            problems.push(e instanceof TypeError ? `${new URL(uri).pathname}: the network did not answer` : e.message);
          }
        }
      }
    }
    save();
    state.lastError = problems.join('; ');
    setRefreshing(false);
    renderFreshness();
    return problems;
  }

  // ---------------------------------------------------------- the verdict

  /** What a seal's text says about the card: { verdict, reason, card? }. */
  async function judge(text) {
    const seal = await readSeal(text);
    if (!state.jwks && navigator.onLine) await refresh();
    if (!state.jwks) {
      return {
        verdict: 'unknown',
        reason: 'This device has never fetched the issuer’s keys, so it cannot check any seal yet. Connect to the network and press “Refresh now”.',
      };
    }
    let jwk = findJwk(seal.kid);
    if (!jwk && navigator.onLine && Date.now() - lastRefresh > 60_000) {
      // Perhaps a new key: fetch the keys once more (not more than once a minute).
      await refresh();
      jwk = findJwk(seal.kid);
    }
    if (!jwk) throw new NotGenuine('it is signed with a key the issuer does not publish');
    const tbs = cborEncode(['Signature1', seal.protectedBytes, new Uint8Array(0), seal.payload]);
    if (!(await es256Verify(jwk, seal.signature, tbs))) throw new NotGenuine('its signature does not match its contents');
    const claims = readClaims(seal.payload);
    if (claims.iss !== state.jwks.issuer) {
      throw new NotGenuine(`it was issued by ${claims.iss}, not by ${state.jwks.issuer}`);
    }
    const { card } = claims;
    if (claims.exp !== null && Date.now() / 1000 > claims.exp) {
      return { verdict: 'expired', reason: `The card expired on ${utcDate(claims.exp)}.`, card };
    }
    const uri = listUri(claims.status.uri);
    if (!uri) {
      return {
        verdict: 'unknown',
        reason: `The card’s status list (${claims.status.uri}) is not at this page’s address (${location.origin}), so this page does not fetch it.`,
        card,
      };
    }
    let list = state.lists.get(uri);
    let why = ' Connect to the network and press “Refresh now”.';
    if (!list) {
      state.seen.add(uri);
      if (navigator.onLine) {
        try {
          await fetchList(uri);
          save();
          renderFreshness();
        } catch (e) {
          why = ` Fetching it just now failed (${e instanceof TypeError ? 'the network did not answer' : e.message}).`;
        }
        list = state.lists.get(uri);
      }
    }
    if (!list) {
      return {
        verdict: 'unknown',
        reason: `The card’s status list (${new URL(uri).pathname}) has never been fetched on this device.${why}`,
        card,
      };
    }
    const bit = statusBit(list.bits, claims.status.idx);
    if (bit === null) {
      return { verdict: 'unknown', reason: 'The card’s entry is beyond the end of its status list.', card };
    }
    const age = ` (status list fetched ${ago(Date.now() - list.fetchedAt)})`;
    if (bit === 1) return { verdict: 'revoked', reason: `The issuer has revoked this card${age}.`, card };
    const old = Date.now() - list.fetchedAt > STALE_MS || (list.exp !== null && list.exp * 1000 < Date.now());
    return {
      verdict: 'valid',
      reason: `Genuine seal, not expired, not revoked${age}.${old ? ' The status list may be out of date: see the warning below.' : ''}`,
      card,
    };
  }

  // ------------------------------------------------------------ the page

  const $ = (id) => document.getElementById(id);
  let ui;

  function utcDate(unix) {
    return new Date(unix * 1000).toISOString().slice(0, 10);
  }

  function ago(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return 'less than a minute ago';
    const unit = (n, w) => `${n} ${w}${n === 1 ? '' : 's'} ago`;
    if (s < 3600) return unit(Math.floor(s / 60), 'minute');
    if (s < 48 * 3600) return unit(Math.floor(s / 3600), 'hour');
    return unit(Math.floor(s / 86400), 'day');
  }

  function localTime(ms) {
    return new Date(ms).toLocaleString('en', { dateStyle: 'medium', timeStyle: 'short' });
  }

  let busy = false;

  function setRefreshing(on) {
    busy = on;
    if (!ui) return;
    ui.refresh.disabled = on;
    ui.refresh.setAttribute('aria-busy', on ? 'true' : 'false');
    if (on) ui.refreshMsg.textContent = 'Fetching keys and status lists…';
  }

  function renderFreshness() {
    if (!ui) return;
    const now = Date.now();
    const warnings = [];
    if (!state.jwks) {
      ui.age.textContent = 'Keys and status lists have never been fetched on this device.';
      warnings.push('Cards cannot be checked until this device has fetched the issuer’s keys: connect to the network and press “Refresh now”.');
    } else {
      const lists = [...state.lists.values()];
      const oldest = Math.min(state.keysFetchedAt, ...lists.map((l) => l.fetchedAt));
      ui.age.textContent = lists.length
        ? `Keys and status lists fetched ${ago(now - oldest)} (${localTime(oldest)}).`
        : `Keys fetched ${ago(now - state.keysFetchedAt)} (${localTime(state.keysFetchedAt)}); no status list fetched yet.`;
      ui.age.dataset.fetchedAt = String(oldest);
      if (now - oldest > STALE_MS) {
        warnings.push('They are more than 24 hours old: a card revoked since then still shows as Valid. Refresh when the network is back.');
      }
      for (const [uri, l] of state.lists) {
        if (l.exp !== null && l.exp * 1000 < now) {
          warnings.push(`Status list ${new URL(uri).pathname} is past its own expiry (${localTime(l.exp * 1000)}): a card revoked since it was fetched still shows as Valid.`);
        }
      }
      let issuerOrigin = null;
      try {
        issuerOrigin = new URL(state.jwks.issuer).origin;
      } catch {
        // told below
      }
      if (issuerOrigin !== location.origin) {
        warnings.push(`This page is open at ${location.origin} but the issuer is ${state.jwks.issuer}: its status lists cannot be fetched from here. Open the page at the issuer’s address.`);
      }
    }
    ui.warnings.replaceChildren(...warnings.map((w) => {
      const li = document.createElement('li');
      li.textContent = w;
      return li;
    }));
    ui.stale.hidden = warnings.length === 0;
    if (!busy) {
      ui.refreshMsg.textContent = state.lastError ? `Could not refresh everything (${state.lastError}); using what this device has.` : '';
    }
  }

  const FIELDS = [
    ['program', 'Program'],
    ['number', 'Card number'],
    ['name', 'Name'],
    ['birth_date', 'Date of birth'],
    ['issued', 'Issued'],
    ['expires', 'Expires'],
    ['address', 'Address'],
  ];

  let scanNo = 0;
  let clearTimer = null;

  function showChecking() {
    scanNo += 1;
    ui.result.dataset.scan = String(scanNo);
    ui.result.dataset.state = 'checking';
    ui.result.className = 'result checking';
    ui.verdict.textContent = 'Checking…';
    ui.reason.textContent = '';
    ui.fields.replaceChildren();
    ui.fieldsBox.hidden = true;
    ui.clear.hidden = true;
    return scanNo;
  }

  function showOutcome(n, { verdict, reason, card }) {
    if (n !== scanNo) return; // a later scan is under way
    ui.result.className = `result verdict-${verdict}`;
    ui.result.dataset.verdict = verdict;
    ui.result.dataset.state = 'done';
    ui.verdict.textContent = VERDICT[verdict];
    ui.reason.textContent = reason;
    const rows = [];
    if (card) {
      for (const [key, label] of FIELDS) {
        const value = card[key];
        if (key === 'address' && value === null) continue;
        const dt = document.createElement('dt');
        dt.textContent = label;
        const dd = document.createElement('dd');
        dd.dataset.field = key;
        dd.setAttribute('dir', 'auto');
        dd.textContent = value ?? '(not on the seal)';
        rows.push(dt, dd);
      }
    }
    ui.fields.replaceChildren(...rows);
    ui.fieldsBox.hidden = rows.length === 0;
    ui.compare.textContent = verdict === 'valid'
      ? 'Printed on the card — compare each line, and the photo with the person:'
      : 'What the seal says is printed on the card:';
    ui.clear.hidden = false;
    clearTimeout(clearTimer);
    clearTimer = setTimeout(clearResult, CLEAR_AFTER_MS);
  }

  function clearResult() {
    clearTimeout(clearTimer);
    scanNo += 1;
    ui.result.dataset.scan = String(scanNo);
    ui.result.dataset.state = 'idle';
    delete ui.result.dataset.verdict;
    ui.result.className = 'result';
    ui.verdict.textContent = 'No card checked yet';
    ui.reason.textContent = 'Scan a card’s QR code to check it.';
    ui.fields.replaceChildren();
    ui.fieldsBox.hidden = true;
    ui.clear.hidden = true;
  }

  async function check(text) {
    const n = showChecking();
    let outcome;
    try {
      outcome = await judge(text);
    } catch (e) {
      const insecure = !(e instanceof NotGenuine) && (!window.isSecureContext || !globalThis.crypto?.subtle);
      outcome = insecure
        ? {
            verdict: 'unknown',
            reason: 'This page cannot check seals here: open it over https (browsers check signatures only on secure pages).',
          }
        : {
            verdict: 'forged',
            reason: e instanceof NotGenuine
              ? `Do not accept this card: ${e.message}.`
              : 'Do not accept this card: its seal could not be read.',
          };
    }
    showOutcome(n, outcome);
  }

  // --------------------------------------------------------------- camera

  const camera = { stream: null, timer: null, canvas: null, ctx: null, frames: 0 };

  function problem(text) {
    ui.problem.textContent = text;
  }

  async function startCamera() {
    problem('');
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      problem('This browser cannot open a camera on this page (it needs https). Use the desk scanner or type the code.');
      return;
    }
    if (typeof window.jsQR !== 'function') {
      problem('The QR reader (jsqr.js) did not load. Reload the page, or use the desk scanner.');
      return;
    }
    ui.scan.disabled = true;
    try {
      camera.stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { facingMode: { ideal: 'environment' }, width: { ideal: 1280 }, height: { ideal: 720 } },
      });
    } catch (e) {
      ui.scan.disabled = false;
      problem(e && e.name === 'NotAllowedError'
        ? 'The browser was not allowed to use the camera. Allow it in the address bar, or use the desk scanner.'
        : `The camera did not open (${e && e.name ? e.name : 'error'}). Use the desk scanner or type the code.`);
      return;
    }
    ui.video.srcObject = camera.stream;
    ui.camera.hidden = false;
    ui.cameraMsg.textContent = 'Hold the card’s QR code in front of the camera.';
    ui.stop.focus();
    try {
      await ui.video.play();
    } catch {
      // autoplay of a muted inline video is allowed; frames are read anyway
    }
    camera.canvas = camera.canvas ?? document.createElement('canvas');
    camera.ctx = camera.ctx ?? camera.canvas.getContext('2d', { willReadFrequently: true });
    camera.timer = setTimeout(readFrame, FRAME_MS);
  }

  function stopCamera() {
    clearTimeout(camera.timer);
    camera.timer = null;
    if (camera.stream) for (const t of camera.stream.getTracks()) t.stop();
    const wasOn = camera.stream !== null;
    camera.stream = null;
    ui.video.srcObject = null;
    ui.camera.hidden = true;
    ui.scan.disabled = false;
    if (wasOn && (document.activeElement === ui.stop || document.activeElement === document.body)) ui.scan.focus();
  }

  function readFrame() {
    if (!camera.stream) return;
    const v = ui.video;
    if (v.readyState >= 2 && v.videoWidth > 0) {
      // Large frames are reduced (time per frame). A small one is read as
      // it is and, every other frame, enlarged: jsQR wants about two pixels
      // a module, and a dense seal on a low-resolution camera has fewer.
      const long = Math.max(v.videoWidth, v.videoHeight);
      camera.frames += 1;
      const scale = long < MIN_FRAME_SIDE && camera.frames % 2 === 0 ? MIN_FRAME_SIDE / long : Math.min(1, MAX_FRAME_SIDE / long);
      const w = Math.round(v.videoWidth * scale);
      const h = Math.round(v.videoHeight * scale);
      if (camera.canvas.width !== w) camera.canvas.width = w;
      if (camera.canvas.height !== h) camera.canvas.height = h;
      camera.ctx.drawImage(v, 0, 0, w, h);
      const image = camera.ctx.getImageData(0, 0, w, h);
      const code = window.jsQR(image.data, w, h, { inversionAttempts: 'dontInvert' });
      if (code && code.data) {
        if (code.data.trim().toUpperCase().startsWith(PREFIX)) {
          stopCamera();
          check(code.data);
          return;
        }
        ui.cameraMsg.textContent = 'That QR code is not a card seal. Hold the card’s own QR code in front of the camera.';
      }
    }
    camera.timer = setTimeout(readFrame, FRAME_MS);
  }

  // ----------------------------------------------------------------- start

  async function start() {
    ui = {
      scan: $('scan'),
      camera: $('camera'),
      video: $('video'),
      cameraMsg: $('camera-msg'),
      stop: $('stop'),
      problem: $('problem'),
      form: $('wedge'),
      seal: $('seal'),
      result: $('result'),
      verdict: $('verdict'),
      reason: $('reason'),
      fieldsBox: $('fields-box'),
      fields: $('fields'),
      compare: $('compare'),
      clear: $('clear'),
      age: $('age'),
      stale: $('stale'),
      warnings: $('warnings'),
      refresh: $('refresh'),
      refreshMsg: $('refresh-msg'),
    };
    ui.scan.addEventListener('click', startCamera);
    ui.stop.addEventListener('click', stopCamera);
    ui.form.addEventListener('submit', (e) => {
      e.preventDefault();
      const text = ui.seal.value;
      ui.seal.value = ''; // nothing of the card stays in the field
      if (text.trim()) check(text);
    });
    ui.clear.addEventListener('click', () => {
      clearResult();
      ui.seal.focus();
    });
    ui.refresh.addEventListener('click', () => {
      refresh();
    });
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'hidden') stopCamera();
    });
    window.addEventListener('pagehide', stopCamera);
    window.addEventListener('online', () => refresh());
    setInterval(() => {
      renderFreshness();
      if (navigator.onLine && document.visibilityState === 'visible' && Date.now() - lastRefresh >= REFRESH_EVERY_MS) refresh();
    }, 30_000);

    clearResult();
    await load();
    renderFreshness();
    document.documentElement.dataset.ready = 'true';
    if (navigator.onLine) await refresh();
    document.documentElement.dataset.refreshed = 'true';
  }

  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('sw.js', { scope: './' }).catch(() => {
      // the page works without it, only not with the network cut
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
