// Fixtures for the front desk's card check (src/verify_page): an ES256 issuer
// key made here, and what the vault would publish and print with it, in the
// formats of the seal spec:
//   - the issuer metadata of GET /.well-known/jwt-vc-issuer (with an Ed25519
//     key beside the ES256 one, as the vault's has),
//   - status list 0 as a statuslist+jwt (ES256) with the revoked card's bit set,
//   - seal texts ("CV1:" + base45(zlib(COSE_Sign1))): valid, a flipped
//     signature byte, expired, revoked, and a few more refusals.
// Node only (node:crypto, node:zlib); the CBOR and base45 encoders are here.
//
// Run: node tests/verify_page/make_seal.mjs [--issuer http://127.0.0.1:8443] [--now UNIX]
// prints the fixtures as JSON. page.mjs and camera.mjs import makeFixtures.

import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

// ---------------------------------------------------------------- CBOR

export class Tag {
  constructor(tag, value) {
    this.tag = tag;
    this.value = value;
  }
}

function head(major, n) {
  const m = major << 5;
  if (typeof n === 'bigint' || n > 0xffffffff) {
    const b = Buffer.alloc(9);
    b[0] = m | 27;
    b.writeBigUInt64BE(BigInt(n), 1);
    return b;
  }
  if (n < 24) return Buffer.from([m | n]);
  if (n < 0x100) return Buffer.from([m | 24, n]);
  if (n < 0x10000) return Buffer.from([m | 25, n >> 8, n & 0xff]);
  const b = Buffer.alloc(5);
  b[0] = m | 26;
  b.writeUInt32BE(n, 1);
  return b;
}

/** Deterministic-enough CBOR: ints, text, bytes, arrays, Maps (insertion
    order) or plain objects (text keys), Tag, booleans, null. */
export function cbor(v) {
  if (v instanceof Tag) return Buffer.concat([head(6, v.tag), cbor(v.value)]);
  if (typeof v === 'number' || typeof v === 'bigint') {
    if (typeof v === 'number' && !Number.isInteger(v)) throw new Error('cbor: floats not needed');
    return v >= 0 ? head(0, v) : head(1, typeof v === 'bigint' ? -1n - v : -1 - v);
  }
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    return Buffer.concat([head(3, b.length), b]);
  }
  if (v instanceof Uint8Array) return Buffer.concat([head(2, v.length), Buffer.from(v)]);
  if (Array.isArray(v)) return Buffer.concat([head(4, v.length), ...v.map(cbor)]);
  if (v === false) return Buffer.from([0xf4]);
  if (v === true) return Buffer.from([0xf5]);
  if (v === null) return Buffer.from([0xf6]);
  const entries = v instanceof Map ? [...v] : Object.entries(v);
  return Buffer.concat([head(5, entries.length), ...entries.flatMap(([k, x]) => [cbor(k), cbor(x)])]);
}

// -------------------------------------------------------------- base45

const B45 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';

/** RFC 9285. */
export function base45(bytes) {
  let out = '';
  for (let i = 0; i + 1 < bytes.length; i += 2) {
    let n = bytes[i] * 256 + bytes[i + 1];
    const c = n % 45;
    n = (n - c) / 45;
    const d = n % 45;
    const e = (n - d) / 45;
    out += B45[c] + B45[d] + B45[e];
  }
  if (bytes.length % 2) {
    const n = bytes[bytes.length - 1];
    out += B45[n % 45] + B45[Math.floor(n / 45)];
  }
  return out;
}

// ----------------------------------------------------------------- keys

const b64u = (b) => Buffer.from(b).toString('base64url');

/** An ES256 issuer key: { privateKey, jwk (public, with kid/alg/use) }. */
export function es256Key() {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { kty, crv, x, y } = publicKey.export({ format: 'jwk' });
  // RFC 7638 thumbprint as the kid.
  const kid = b64u(crypto.createHash('sha256').update(JSON.stringify({ crv, kty, x, y })).digest());
  return { privateKey, jwk: { kty, crv, x, y, kid, alg: 'ES256', use: 'sig' } };
}

function ed25519Jwk() {
  const { publicKey } = crypto.generateKeyPairSync('ed25519');
  const { kty, crv, x } = publicKey.export({ format: 'jwk' });
  const kid = b64u(crypto.createHash('sha256').update(JSON.stringify({ crv, kty, x })).digest());
  return { kty, crv, x, kid, alg: 'EdDSA', use: 'sig' };
}

const es256 = (key, data) => crypto.sign('sha256', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });

// ---------------------------------------------------------------- seals

/** The claims of a card's seal. */
export function cardClaims({ iss, iat, exp, idx, uri, card }) {
  // A card that does not expire has no exp (and prints no expiry).
  return new Map([
    [1, iss],
    [6, iat],
    ...(exp === null ? [] : [[4, exp]]),
    [65535, { status_list: { idx, uri } }],
    ['card', card],
  ]);
}

/** "CV1:" + base45(zlib(COSE_Sign1(claims))) signed by `key`; `tamper`
    may change the COSE parts before they are encoded. */
export function seal(key, claims, { tamper } = {}) {
  const protectedBytes = cbor(new Map([[1, -7], [4, Buffer.from(key.jwk.kid, 'utf8')], [16, 'application/cwt']]));
  const payload = cbor(claims);
  const sigStructure = cbor(['Signature1', protectedBytes, Buffer.alloc(0), payload]);
  const parts = { protectedBytes, unprotected: new Map(), payload, signature: es256(key, sigStructure) };
  tamper?.(parts);
  const cose = cbor(new Tag(18, [parts.protectedBytes, parts.unprotected, parts.payload, parts.signature]));
  return `CV1:${base45(zlib.deflateSync(cose, { level: 9 }))}`;
}

// --------------------------------------------------------- status lists

export const LIST_ENTRIES = 1 << 17; // the vault's list length

/** A statuslist+jwt for `uri` with `revoked` entries set. */
export function statusListJwt(key, { uri, revoked = [], iat, ttl = 300 }) {
  const bits = Buffer.alloc(LIST_ENTRIES / 8);
  for (const i of revoked) bits[Math.floor(i / 8)] |= 1 << (i % 8);
  const header = { alg: 'ES256', typ: 'statuslist+jwt', kid: key.jwk.kid };
  const claims = {
    sub: uri,
    iat,
    exp: iat + 2 * ttl,
    ttl,
    status_list: { bits: 1, lst: b64u(zlib.deflateSync(bits, { level: 9 })) },
  };
  const signing = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(claims))}`;
  return `${signing}.${b64u(es256(key, Buffer.from(signing)))}`;
}

// ------------------------------------------------------------- fixtures

const endOfDay = (unix) => Math.floor(unix / 86400) * 86400 + 86399;
const isoDate = (unix) => new Date(unix * 1000).toISOString().slice(0, 10);

/** Everything page.mjs needs, for an issuer at `issuer` (the test server's
    origin: the page refuses status lists of another origin). */
export function makeFixtures({ issuer, now = Math.floor(Date.now() / 1000) } = {}) {
  if (!issuer) throw new Error('makeFixtures: issuer (an origin such as http://127.0.0.1:8443) is required');
  const key = es256Key();
  const stranger = es256Key(); // a key the issuer does not publish
  const list0 = `${issuer}/v1/status-lists/0`;
  const idx = { valid: 12_345, expired: 777, revoked: 4_242, noAddress: 131_071, foreign: 5, list1: 9, list2: 10 };
  const iat = now - 30 * 86400;
  const exp = endOfDay(now + 4 * 365 * 86400);
  const card = (extra = {}) => ({
    program: 'IDNYC',
    number: '1000-4417-2290-0315',
    name: 'Nguyễn Thị Minh Khai',
    birth_date: '1990-02-28',
    issued: isoDate(iat),
    expires: isoDate(exp),
    address: '41 Quillfeather Ave Apt 3, New York NY 10027',
    photo: crypto.createHash('sha256').update('photo bytes').digest(),
    ...extra,
  });
  const claims = (over = {}) => cardClaims({ iss: issuer, iat, exp, idx: idx.valid, uri: list0, card: card(), ...over });

  const valid = seal(key, claims());
  const badSignature = seal(key, claims(), {
    tamper: (p) => {
      p.signature = Buffer.from(p.signature);
      p.signature[17] ^= 0x01;
    },
  });
  const expiredExp = endOfDay(now - 3 * 86400);
  const expired = seal(key, claims({
    exp: expiredExp,
    idx: idx.expired,
    card: card({ number: '1000-4417-2290-0777', name: 'Ada Okonkwo-Lindqvist', expires: isoDate(expiredExp) }),
  }));
  const revoked = seal(key, claims({
    idx: idx.revoked,
    card: card({ number: '1000-4417-2290-4242', name: 'Zephyrine Quillbottom' }),
  }));
  const { address, ...noAddressCard } = card({ number: '1000-4417-2290-9999', name: 'ليلى حداد' });
  const noAddress = seal(key, claims({ idx: idx.noAddress, card: noAddressCard }));
  const { expires, ...noExpiryCard } = card({ number: '1000-4417-2290-2001', name: 'Dorothea Vance' });
  const noExpiry = seal(key, claims({ exp: null, idx: 2_001, card: noExpiryCard }));
  const unknownKey = seal(stranger, claims());
  const wrongIssuer = seal(key, claims({ iss: 'https://ids.elsewhere.example' }));
  const foreignList = seal(key, claims({ idx: idx.foreign, uri: 'https://lists.elsewhere.example/v1/status-lists/0' }));
  const list1Seal = seal(key, claims({ idx: idx.list1, uri: `${issuer}/v1/status-lists/1` }));
  const list2Seal = seal(key, claims({ idx: idx.list2, uri: `${issuer}/v1/status-lists/2` }));
  const malformed = `${valid.slice(0, 40)}${valid.slice(41)}`;

  const jwks = { issuer, jwks: { keys: [key.jwk, ed25519Jwk()] } };
  const lists = {
    0: statusListJwt(key, { uri: list0, revoked: [idx.revoked, idx.expired + 1, 0], iat: now }),
    // List 1 is not published (404). List 2 is signed by a key the issuer
    // does not publish: the page must refuse it.
    2: statusListJwt(stranger, { uri: `${issuer}/v1/status-lists/2`, iat: now }),
  };
  return {
    issuer,
    now,
    jwks,
    lists,
    cards: {
      valid: card(),
      expired: { name: 'Ada Okonkwo-Lindqvist', number: '1000-4417-2290-0777' },
      revoked: { name: 'Zephyrine Quillbottom', number: '1000-4417-2290-4242' },
      noAddress: noAddressCard,
      noExpiry: noExpiryCard,
    },
    seals: {
      valid: { text: valid, expect: 'Valid' },
      badSignature: { text: badSignature, expect: 'Not genuine' },
      expired: { text: expired, expect: 'Expired' },
      revoked: { text: revoked, expect: 'Revoked' },
      noAddress: { text: noAddress, expect: 'Valid' },
      noExpiry: { text: noExpiry, expect: 'Valid' },
      unknownKey: { text: unknownKey, expect: 'Not genuine' },
      wrongIssuer: { text: wrongIssuer, expect: 'Not genuine' },
      malformed: { text: malformed, expect: 'Not genuine' },
      foreignList: { text: foreignList, expect: 'Cannot check status' },
      list1: { text: list1Seal, expect: 'Cannot check status' },
      list2: { text: list2Seal, expect: 'Cannot check status' },
    },
  };
}

// ------------------------------------------------------------------ CLI

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const opt = (name, fallback) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : fallback;
  };
  const issuer = opt('--issuer', 'http://127.0.0.1:8443').replace(/\/+$/, '');
  const now = Number(opt('--now', Math.floor(Date.now() / 1000)));
  const f = makeFixtures({ issuer, now });
  console.log(JSON.stringify({
    issuer: f.issuer,
    now: f.now,
    jwks: f.jwks,
    status_lists: Object.fromEntries(Object.entries(f.lists).map(([n, jwt]) => [`/v1/status-lists/${n}`, jwt])),
    seals: f.seals,
    cards: f.cards,
  }, (k, v) => (v && v.type === 'Buffer' ? b64u(Buffer.from(v.data)) : v), 2));
}
