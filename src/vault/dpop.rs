//! DPoP proofs (RFC 9449): a wallet that sends one with its token request
//! gets an access token bound to the proof's key, usable only with a fresh
//! proof by that key. A stolen token alone then buys nothing.
//!
//! The vault asks for no server nonce (§8): a proof is accepted within a
//! window around its `iat`, once (its `jti` is remembered past the window).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::credential_state::{hash, refuse, WalletError, JTI_TTL};
use super::credentials::issuer_url;
use crate::crypto::jose::CompactJws;
use crate::vault::shares::Source;
use crate::vault::Vault;

/// How far in the past a proof's `iat` may be, in seconds.
const PAST: i64 = 300;
/// How far in the future (clock skew), in seconds.
const FUTURE: i64 = 60;

/// Checks a DPoP proof sent with `method` to the vault's `path` (and, at a
/// resource, for `access_token`: its `ath`), uses its `jti` up (charged to
/// `source`'s share), and returns the proof key's RFC 7638 thumbprint.
/// `status` is the HTTP status a refusal carries (400 at the token and
/// PAR endpoints, 401 at the credential endpoint).
///
/// # Errors
/// `invalid_dpop_proof`, saying what was wrong and nothing else.
pub fn check(
    v: &Vault,
    source: Source,
    proof: &str,
    (method, path): (&str, &str),
    access_token: Option<&str>,
    status: u16,
) -> Result<String, WalletError> {
    let bad = |description| refuse(status, "invalid_dpop_proof", description);
    let jws = CompactJws::parse(proof).ok_or(bad("the DPoP proof is not a JWS"))?;
    if jws.header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
        return Err(bad("the DPoP proof's typ is not dpop+jwt"));
    }
    let key = jws.self_signed_key(proof).ok_or(bad(
        "the DPoP proof does not verify under its public jwk (ES256 or Ed25519)",
    ))?;
    let claims = &jws.claims;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("htm") != Some(method) {
        return Err(bad("the DPoP proof's htm is not this request's method"));
    }
    // Compared without query or fragment (§4.3), against the public origin
    // the vault is configured with (a proxy may change the Host it sees).
    let htu = text("htu").unwrap_or_default();
    let htu = htu.split(['?', '#']).next().unwrap_or_default();
    if htu != format!("{}{path}", issuer_url(v)) {
        return Err(bad("the DPoP proof's htu is not this endpoint"));
    }
    let now = v.clock.now().unix_timestamp();
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or(bad("the DPoP proof has no iat"))?;
    if iat > now + FUTURE || iat < now - PAST {
        return Err(bad("the DPoP proof is too old or from the future"));
    }
    if let Some(token) = access_token {
        let ath = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()));
        if text("ath") != Some(ath.as_str()) {
            return Err(bad("the DPoP proof's ath is not the access token's hash"));
        }
    }
    let jti = text("jti")
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or(bad("the DPoP proof's jti is missing or too long"))?;
    // The key and the id together: one wallet's ids cannot spend another's.
    let seen = hash(&format!("{}.{jti}", key.thumbprint()));
    if !v.credentials.jtis.insert_new(source, seen, (), now, now + JTI_TTL) {
        return Err(bad("the DPoP proof was used before"));
    }
    Ok(key.thumbprint())
}
