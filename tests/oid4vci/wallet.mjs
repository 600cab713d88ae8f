// A standard wallet's side of issuance, through the client library real
// wallets are built on: Animo's oid4vc-ts (@openid4vc/openid4vci with
// @openid4vc/oauth2; Credo-based wallets use it). Called as Credo calls it:
// resolve the clerk's offer, read the issuer's and the authorization
// server's metadata the library's own way, redeem the pre-authorized code
// with the transaction code, take one c_nonce for the whole request, build
// one key proof per holder key, retry once with a fresh nonce on
// invalid_nonce. Every request and answer passes the library's validation;
// nothing is hand-made here but the holder keys and their signatures
// (node:crypto).
//
// The authorization code flow too, as the library runs it: PKCE (S256)
// and a pushed authorization request carrying the offer's issuer_state;
// the holder's part (opening the authorization page, typing the clerk's
// code) is done here with fetch, as a browser would; the redirect back is
// parsed and its `iss` checked by the library. With `dpop`, the wallet
// binds its tokens to an ES256 DPoP key (RFC 9449) through the library.
//
// Input (standard input, JSON): {offer_uri, tx_code, alg: "ES256" |
// "Ed25519", count, flow: "pre_authorized" | "authorization_code", dpop:
// bool}. Output (standard output, JSON): {ok: true, credentials,
// holder_jwks, retried, token_type, ms} or {ok: false, error}. Driven by
// tests/credentials.rs.

import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { clientAuthenticationAnonymous, clientAuthenticationNone } from '@openid4vc/oauth2';
import { Openid4vciClient, setGlobalConfig } from '@openid4vc/openid4vci';

const read = async () => {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
};

const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

// Holder keys, by their public JWK's x.
const holders = new Map();

const holderKey = (alg) => {
  const pair = alg === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('ed25519');
  const { kty, crv, x, y } = pair.publicKey.export({ format: 'jwk' });
  const publicJwk = y === undefined ? { kty, crv, x } : { kty, crv, x, y };
  holders.set(x, pair.privateKey);
  return publicJwk;
};

// The wallet's OAuth client id and redirect URI (a public client).
const CLIENT_ID = 'civic-vault-interop-wallet';
const REDIRECT_URI = 'https://wallet.example/callback';

const callbacks = {
  hash: (data, alg) => {
    if (alg !== 'sha-256') throw new Error(`hash ${alg}`);
    return new Uint8Array(createHash('sha256').update(data).digest());
  },
  generateRandom: (n) => new Uint8Array(randomBytes(n)),
  clientAuthentication: clientAuthenticationAnonymous(),
  signJwt: async (signer, { header, payload }) => {
    if (signer.method !== 'jwk') throw new Error(`signer ${signer.method}`);
    const key = holders.get(signer.publicJwk.x);
    if (key === undefined) throw new Error('unknown holder key');
    const signed = `${b64(header)}.${b64(payload)}`;
    const signature = signer.alg === 'ES256'
      ? sign('sha256', Buffer.from(signed), { key, dsaEncoding: 'ieee-p1363' })
      : sign(null, Buffer.from(signed), key);
    return { jwt: `${signed}.${signature.toString('base64url')}`, signerJwk: signer.publicJwk };
  },
};

// The holder's browser: opens the authorization page the wallet sent it
// to, reads its form, types the clerk's code, and is sent back to the
// wallet (the redirect's Location, not followed: it is the wallet's).
const holderConfirms = async (url, txCode) => {
  const page = await fetch(url);
  const html = await page.text();
  if (page.status !== 200) throw new Error(`the authorization page answered ${page.status}`);
  const field = (name) => {
    const m = html.match(new RegExp(`name="${name}" value="([^"]*)"`));
    if (!m) throw new Error(`the authorization page has no ${name}`);
    return m[1].replaceAll('&#x2F;', '/').replaceAll('&#x3A;', ':').replaceAll('&amp;', '&').replaceAll('&#58;', ':');
  };
  const form = new URLSearchParams({
    request_uri: field('request_uri'),
    client_id: field('client_id'),
    tx_code: txCode,
  });
  const action = new URL('/oid4vci/authorize', url);
  const answer = await fetch(action, { method: 'POST', body: form, redirect: 'manual' });
  if (answer.status !== 303) throw new Error(`the confirmation answered ${answer.status}`);
  return answer.headers.get('location');
};

const main = async () => {
  const input = await read();
  // The test vault listens on http://localhost; a deployed one is https.
  setGlobalConfig({ allowInsecureUrls: true });
  const code = input.flow === 'authorization_code';
  const client = new Openid4vciClient({
    callbacks: {
      ...callbacks,
      clientAuthentication: code ? clientAuthenticationNone({ clientId: CLIENT_ID }) : clientAuthenticationAnonymous(),
    },
  });
  const started = performance.now();
  const offer = await client.resolveCredentialOffer(input.offer_uri);
  const issuerMetadata = await client.resolveIssuerMetadata(offer.credential_issuer);
  let dpop = input.dpop ? { signer: { method: 'jwk', alg: 'ES256', publicJwk: holderKey('ES256') } } : undefined;
  let accessTokenResponse;
  if (code) {
    const authorization = await client.createAuthorizationRequestUrlFromOffer({
      clientId: CLIENT_ID,
      issuerMetadata,
      credentialOffer: offer,
      scope: 'municipal_id',
      redirectUri: REDIRECT_URI,
      dpop,
    });
    dpop = authorization.dpop ?? dpop;
    const location = await holderConfirms(authorization.authorizationRequestUrl, input.tx_code);
    const authorizationResponse = client.parseAndVerifyAuthorizationResponseRedirectUrl({
      url: location,
      authorizationServerMetadata: issuerMetadata.authorizationServers[0],
    });
    if (authorizationResponse.error) throw new Error(`authorization refused: ${authorizationResponse.error}`);
    ({ accessTokenResponse } = await client.retrieveAuthorizationCodeAccessTokenFromOffer({
      issuerMetadata,
      credentialOffer: offer,
      authorizationCode: authorizationResponse.code,
      pkceCodeVerifier: authorization.pkce.codeVerifier,
      redirectUri: REDIRECT_URI,
      dpop,
    }));
  } else {
    ({ accessTokenResponse } = await client.retrievePreAuthorizedCodeAccessTokenFromOffer({
      credentialOffer: offer,
      issuerMetadata,
      txCode: input.tx_code,
      dpop,
    }));
  }
  const credentialConfigurationId = offer.credential_configuration_ids[0];
  const jwks = Array.from({ length: input.count }, () => holderKey(input.alg));
  const request = async () => {
    const { c_nonce: nonce } = await client.requestNonce({ issuerMetadata });
    const jwt = [];
    for (const publicJwk of jwks) {
      const proof = await client.createCredentialRequestJwtProof({
        issuerMetadata,
        credentialConfigurationId,
        signer: { method: 'jwk', alg: input.alg, publicJwk },
        nonce,
      });
      jwt.push(proof.jwt);
    }
    return client.retrieveCredentials({
      issuerMetadata,
      accessToken: accessTokenResponse.access_token,
      credentialConfigurationId,
      proofs: { jwt },
      dpop,
    });
  };
  let retried = false;
  let response;
  try {
    response = await request();
  } catch (e) {
    // Credo asks once more, with a fresh nonce, when the nonce is refused.
    if (e?.response?.credentialErrorResponseResult?.data?.error !== 'invalid_nonce') throw e;
    retried = true;
    response = await request();
  }
  const credentials = response.credentialResponse.credentials.map((c) => c.credential);
  const ms = performance.now() - started;
  process.stdout.write(JSON.stringify({
    ok: true, credentials, holder_jwks: jwks, retried, token_type: accessTokenResponse.token_type, ms,
  }));
};

try {
  await main();
} catch (e) {
  const detail = e?.response?.credentialErrorResponseResult?.data ?? e?.errorResponse ?? undefined;
  process.stdout.write(JSON.stringify({ ok: false, error: String(e?.message ?? e), detail }));
}
