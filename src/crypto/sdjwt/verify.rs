//! Verifying a presented SD-JWT VC, as a city system (a clinic, a venue's
//! door) would embed it: it needs only the issuer's JWKS and the status
//! list the credential names — fetched and cached however the system
//! likes — and never calls the vault about the credential in hand.
//!
//! It checks, in order: the issuer's signature (ES256 or Ed25519, by
//! `kid`; `EdDSA` accepted as Ed25519's older name) and `typ`,
//! `vct`, `iat`/`exp`, every disclosure's digest (each at most once), the
//! key binding (the KB-JWT signed by the key in `cnf.jwk`, its `typ`, `aud`,
//! `nonce`, freshness and `sd_hash`), then the status bit.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

use super::{decode_list, digest, KB_TYP, SD_ALG, STATUS_LIST_TYP, VC_TYP};
use crate::crypto::jose::PublicKey;

/// A JOSE header or claims set.
type Claims = Map<String, Value>;

/// Clock skew tolerated on `iat` and `exp`, in seconds.
const SKEW: i64 = 60;

/// What the verifier expects of this presentation.
#[derive(Debug, Clone)]
pub struct Expect<'a> {
    /// Its own identifier: the KB-JWT's `aud` must be exactly this.
    pub audience: &'a str,
    /// The nonce it gave the holder for this presentation.
    pub nonce: &'a str,
    /// The credential type it accepts.
    pub vct: &'a str,
    /// Now, in unix seconds.
    pub now: i64,
    /// How old the KB-JWT may be, in seconds.
    pub max_age: i64,
}

/// A presentation that verified: the disclosed claims and where its status is.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub issuer: String,
    pub kid: String,
    /// The disclosed claims only.
    pub claims: BTreeMap<String, Value>,
    pub exp: i64,
}

/// Why a presentation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("malformed: {0}")]
    Malformed(&'static str),
    #[error("the issuer's key is not in the JWKS")]
    UnknownKey,
    #[error("the issuer's signature does not verify")]
    Signature,
    #[error("not this credential type")]
    WrongType,
    #[error("expired or not yet valid")]
    Expired,
    #[error("a disclosure is not in the credential, or repeated")]
    Disclosure,
    #[error("key binding: {0}")]
    KeyBinding(&'static str),
    #[error("status list: {0}")]
    StatusList(&'static str),
    #[error("revoked")]
    Revoked,
}

fn b64_json(part: &str) -> Result<Map<String, Value>, VerifyError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| VerifyError::Malformed("not base64url"))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(VerifyError::Malformed("not a JSON object")),
    }
}

/// The public key of a JWK (`EC` `P-256`, or `OKP` `Ed25519`).
///
/// # Errors
/// Not such a public key.
pub fn public_key(jwk: &Value) -> Result<PublicKey, VerifyError> {
    PublicKey::from_jwk(jwk).map_err(VerifyError::Malformed)
}

/// A compact JWS, checked: `typ`, and a signature by `key` under the
/// header's `alg`, which must be the key's algorithm.
fn check_jws(
    jws: &str,
    typ: &str,
    key: impl FnOnce(&Map<String, Value>) -> Result<PublicKey, VerifyError>,
) -> Result<(Claims, Claims), VerifyError> {
    let mut parts = jws.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(VerifyError::Malformed("not a compact JWS"));
    };
    let header = b64_json(h)?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .filter(|a| crate::crypto::jose::Alg::from_name(a).is_some())
        .ok_or(VerifyError::Malformed("alg is not ES256 or Ed25519"))?
        .to_owned();
    if header.get("typ").and_then(Value::as_str) != Some(typ) {
        return Err(VerifyError::WrongType);
    }
    let key = key(&header)?;
    let sig = URL_SAFE_NO_PAD.decode(s).map_err(|_| VerifyError::Signature)?;
    let signed = &jws[..h.len() + 1 + p.len()];
    if !key.verifies(&alg, signed.as_bytes(), &sig) {
        return Err(VerifyError::Signature);
    }
    Ok((header, b64_json(p)?))
}

fn issuer_key<'a>(jwks: &'a Value) -> impl FnOnce(&Map<String, Value>) -> Result<PublicKey, VerifyError> + 'a {
    move |header| {
        let kid = header
            .get("kid")
            .and_then(Value::as_str)
            .ok_or(VerifyError::UnknownKey)?;
        let jwk = jwks["keys"]
            .as_array()
            .and_then(|keys| keys.iter().find(|k| k["kid"] == kid))
            .ok_or(VerifyError::UnknownKey)?;
        public_key(jwk)
    }
}

/// The claim name a disclosure discloses, if it decodes.
#[must_use]
pub fn disclosure_name(encoded: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(encoded).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get(1)?.as_str().map(str::to_owned)
}

fn disclosures(payload: &Map<String, Value>, encoded: &[&str]) -> Result<BTreeMap<String, Value>, VerifyError> {
    if payload.get("_sd_alg").and_then(Value::as_str) != Some(SD_ALG) {
        return Err(VerifyError::Malformed("_sd_alg is not sha-256"));
    }
    let sd: Vec<&str> = payload
        .get("_sd")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut seen = Vec::new();
    let mut claims = BTreeMap::new();
    for d in encoded {
        let hash = digest(d);
        if !sd.contains(&hash.as_str()) || seen.contains(&hash) {
            return Err(VerifyError::Disclosure);
        }
        seen.push(hash);
        let bytes = URL_SAFE_NO_PAD.decode(d).map_err(|_| VerifyError::Disclosure)?;
        let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(&bytes) else {
            return Err(VerifyError::Disclosure);
        };
        let [Value::String(_salt), Value::String(name), value] = items.as_slice() else {
            return Err(VerifyError::Disclosure);
        };
        if name == "_sd" || name == "..." || payload.contains_key(name) || claims.contains_key(name) {
            return Err(VerifyError::Disclosure);
        }
        claims.insert(name.clone(), value.clone());
    }
    Ok(claims)
}

fn key_binding(
    payload: &Map<String, Value>,
    kb: &str,
    presented: &str,
    expect: &Expect<'_>,
) -> Result<(), VerifyError> {
    let holder = payload
        .get("cnf")
        .and_then(|c| c.get("jwk"))
        .ok_or(VerifyError::KeyBinding("no cnf.jwk in the credential"))?;
    let holder = public_key(holder)?;
    let (_, claims) = check_jws(kb, KB_TYP, |_| Ok(holder)).map_err(|e| match e {
        VerifyError::Signature => VerifyError::KeyBinding("signature"),
        VerifyError::WrongType => VerifyError::KeyBinding("typ is not kb+jwt"),
        other => other,
    })?;
    if claims.get("aud").and_then(Value::as_str) != Some(expect.audience) {
        return Err(VerifyError::KeyBinding("aud"));
    }
    if claims.get("nonce").and_then(Value::as_str) != Some(expect.nonce) {
        return Err(VerifyError::KeyBinding("nonce"));
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or(VerifyError::KeyBinding("iat"))?;
    if iat > expect.now + SKEW || iat < expect.now - expect.max_age {
        return Err(VerifyError::KeyBinding("not fresh"));
    }
    if claims.get("sd_hash").and_then(Value::as_str) != Some(digest(presented).as_str()) {
        return Err(VerifyError::KeyBinding("sd_hash"));
    }
    Ok(())
}

/// The status of entry `idx` in a status list token, verified with `jwks`:
/// `Ok(0)` valid, anything else not.
///
/// # Errors
/// The token does not verify, is not for `uri`, is stale, or is too short.
pub fn status_of(token: &str, jwks: &Value, uri: &str, idx: u64, now: i64) -> Result<u8, VerifyError> {
    let (_, claims) = check_jws(token, STATUS_LIST_TYP, issuer_key(jwks)).map_err(|e| match e {
        VerifyError::Signature | VerifyError::UnknownKey => VerifyError::StatusList("signature"),
        VerifyError::WrongType => VerifyError::StatusList("typ is not statuslist+jwt"),
        other => other,
    })?;
    if claims.get("sub").and_then(Value::as_str) != Some(uri) {
        return Err(VerifyError::StatusList("sub is not the credential's list"));
    }
    if claims
        .get("exp")
        .and_then(Value::as_i64)
        .is_some_and(|exp| exp + SKEW < now)
    {
        return Err(VerifyError::StatusList("expired"));
    }
    let list = &claims["status_list"];
    if list["bits"] != 1 {
        return Err(VerifyError::StatusList("bits is not 1"));
    }
    let bits = decode_list(list["lst"].as_str().unwrap_or_default()).map_err(VerifyError::StatusList)?;
    let byte = usize::try_from(idx / 8)
        .ok()
        .and_then(|i| bits.get(i))
        .ok_or(VerifyError::StatusList("idx past the list's end"))?;
    Ok((byte >> (idx % 8)) & 1)
}

/// Verifies a presentation (`<jws>~<disclosure>~…~<kb-jwt>`) with the
/// issuer's JWKS; `status_list` hands over the token at a URI (from a cache,
/// a file, or the network — the verifier's choice).
///
/// # Errors
/// The first check that failed.
pub fn verify(
    presentation: &str,
    jwks: &Value,
    status_list: impl FnOnce(&str) -> Option<String>,
    expect: &Expect<'_>,
) -> Result<Verified, VerifyError> {
    let (presented, kb) = presentation
        .rsplit_once('~')
        .ok_or(VerifyError::Malformed("not an SD-JWT"))?;
    let presented = &presentation[..=presented.len()];
    let mut parts: Vec<&str> = presented.split('~').collect();
    parts.pop();
    let jws = parts.first().copied().ok_or(VerifyError::Malformed("not an SD-JWT"))?;
    let (header, payload) = check_jws(jws, VC_TYP, issuer_key(jwks))?;
    if payload.get("vct").and_then(Value::as_str) != Some(expect.vct) {
        return Err(VerifyError::WrongType);
    }
    let exp = payload.get("exp").and_then(Value::as_i64).ok_or(VerifyError::Expired)?;
    let iat = payload.get("iat").and_then(Value::as_i64).ok_or(VerifyError::Expired)?;
    if exp + SKEW < expect.now || iat > expect.now + SKEW {
        return Err(VerifyError::Expired);
    }
    let claims = disclosures(&payload, &parts[1..])?;
    if kb.is_empty() {
        return Err(VerifyError::KeyBinding("no KB-JWT"));
    }
    key_binding(&payload, kb, presented, expect)?;
    let status = &payload.get("status").ok_or(VerifyError::StatusList("no status"))?["status_list"];
    let (Some(idx), Some(uri)) = (status["idx"].as_u64(), status["uri"].as_str()) else {
        return Err(VerifyError::StatusList("no status_list idx and uri"));
    };
    let token = status_list(uri).ok_or(VerifyError::StatusList("not available"))?;
    if status_of(&token, jwks, uri, idx, expect.now)? != 0 {
        return Err(VerifyError::Revoked);
    }
    Ok(Verified {
        issuer: payload
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        kid: header.get("kid").and_then(Value::as_str).unwrap_or_default().to_owned(),
        claims,
        exp,
    })
}
