// The third party's verdict on what the vault issues: the OpenWallet
// Foundation's sd-jwt-js (@sd-jwt/sd-jwt-vc with @sd-jwt/jwt-status-list
// inside it, @sd-jwt/crypto-nodejs for SHA-256) verifies a presentation
// offline — issuer signature (ES256 or Ed25519 — `EdDSA` its older name —,
// the key chosen by `kid` from the JWKS), disclosures, key binding with the
// nonce, the status list — and
// this script adds what the library leaves to its caller: the KB-JWT's
// audience and freshness, and the header's `typ`.
//
// Input (standard input, JSON): {presentation, jwks, status_lists: {uri:
// token}, nonce, aud, now, max_age}. Output (standard output, JSON):
// {verified: true, claims, vct, kid} or {verified: false, error}. Driven
// by tests/credentials.rs.

import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { digest } from '@sd-jwt/crypto-nodejs';

const read = async () => {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
};

const header = (data) => JSON.parse(Buffer.from(data.split('.')[0], 'base64url').toString('utf8'));

// A JWS signature by `jwk` under `alg`, which must be the key's algorithm
// (node:crypto does the arithmetic: ECDSA P-256 with SHA-256 in JOSE's
// r‖s encoding, or Ed25519).
const signedBy = (alg, jwk, data, sig) => {
  const signature = Buffer.from(sig, 'base64url');
  if (alg === 'ES256' && jwk.kty === 'EC' && jwk.crv === 'P-256') {
    const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }, format: 'jwk' });
    return cryptoVerify('sha256', Buffer.from(data), { key, dsaEncoding: 'ieee-p1363' }, signature);
  }
  if ((alg === 'Ed25519' || alg === 'EdDSA') && jwk.kty === 'OKP' && jwk.crv === 'Ed25519') {
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' });
    return cryptoVerify(null, Buffer.from(data), key, signature);
  }
  return false;
};

const main = async () => {
  const input = await read();
  const byKid = (data, sig) => {
    const h = header(data);
    const jwk = input.jwks.keys.find((k) => k.kid === h.kid);
    return jwk !== undefined && signedBy(h.alg, jwk, data, sig);
  };
  const sdjwt = new SDJwtVcInstance({
    hasher: digest,
    verifier: byKid,
    statusVerifier: byKid,
    kbVerifier: (data, sig, payload) => {
      const jwk = payload?.cnf?.jwk;
      return jwk !== undefined && signedBy(header(data).alg, jwk, data, sig);
    },
    statusListFetcher: async (uri) => {
      const token = input.status_lists[uri];
      if (token === undefined) throw new Error(`no status list for ${uri}`);
      return token;
    },
  });
  try {
    const issuerHeader = header(input.presentation.split('~')[0]);
    if (issuerHeader.typ !== 'dc+sd-jwt') throw new Error(`typ is ${issuerHeader.typ}`);
    const result = await sdjwt.verify(input.presentation, {
      keyBindingNonce: input.nonce,
      currentDate: input.now,
    });
    const kb = result.kb?.payload;
    if (kb === undefined) throw new Error('no key binding');
    if (kb.aud !== input.aud) throw new Error('key binding aud');
    if (kb.iat > input.now + 60 || kb.iat < input.now - input.max_age) throw new Error('key binding not fresh');
    const { _sd, _sd_alg, iss, vct, iat, exp, cnf, status, ...claims } = result.payload;
    process.stdout.write(JSON.stringify({ verified: true, vct, kid: result.header?.kid, claims }));
  } catch (e) {
    process.stdout.write(JSON.stringify({ verified: false, error: String(e?.message ?? e) }));
  }
};

await main();
