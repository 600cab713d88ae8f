//! Wallet attestations (OAuth 2.0 Attestation-Based Client Authentication,
//! as HAIP 1.0 profiles it): a wallet provider vouches for its wallet app
//! with a signed `OAuth-Client-Attestation` (the client id as `sub`, the
//! wallet instance's key as `cnf.jwk`), and the wallet proves it holds that
//! key with an `OAuth-Client-Attestation-PoP` for this vault.
//!
//! The vault checks them at the PAR and token endpoints against the wallet
//! providers' keys it is configured with (`[credentials]
//! wallet_attestation_keys`, a JWKS); with none configured it reads no
//! attestation (there is nothing to check one against). With
//! `require_wallet_attestation` a wallet without one is refused.

use serde_json::Value;

pub use super::credential_state::Providers;
use super::credential_state::{hash, refuse, WalletError, JTI_TTL};
use super::credentials::issuer_url;
use crate::crypto::jose::{CompactJws, PublicKey};
use crate::vault::shares::Source;
use crate::vault::Vault;

/// The attestation's `typ`, and its proof of possession's.
const ATTESTATION_TYP: &str = "oauth-client-attestation+jwt";
const POP_TYP: &str = "oauth-client-attestation-pop+jwt";
/// How far in the past a proof of possession's `iat` may be, in seconds.
const PAST: i64 = 300;
/// How far in the future (clock skew), in seconds.
const FUTURE: i64 = 60;

fn invalid_client(description: &'static str) -> WalletError {
    refuse(401, "invalid_client", description)
}

/// Checks a request's wallet attestation and its proof of possession
/// (`headers`: the two header values, if sent) for `client_id` (if the
/// request names one), uses the proof's `jti` up, and returns the attested
/// client id — or `None` when the vault trusts no provider, or none was
/// sent and none is required.
///
/// # Errors
/// `invalid_client` (401) saying what was wrong.
pub fn check(
    v: &Vault,
    source: Source,
    headers: (Option<&str>, Option<&str>),
    client_id: Option<&str>,
) -> Result<Option<String>, WalletError> {
    let providers = &v.credentials.providers;
    if providers.is_empty() {
        return Ok(None);
    }
    let (attestation, pop) = match headers {
        (Some(a), Some(p)) => (a, p),
        (None, None) if !v.config.credentials.require_wallet_attestation => return Ok(None),
        (None, None) => return Err(invalid_client("this vault issues only to attested wallets")),
        _ => {
            return Err(invalid_client(
                "OAuth-Client-Attestation and OAuth-Client-Attestation-PoP go together",
            ))
        }
    };
    let now = v.clock.now().unix_timestamp();
    let att = CompactJws::parse(attestation).ok_or(invalid_client("the wallet attestation is not a JWS"))?;
    if att.header.get("typ").and_then(Value::as_str) != Some(ATTESTATION_TYP) {
        return Err(invalid_client("the wallet attestation's typ is wrong"));
    }
    let provider = att
        .header
        .get("kid")
        .and_then(Value::as_str)
        .and_then(|kid| providers.key(kid))
        .ok_or(invalid_client(
            "the wallet attestation is not by a trusted wallet provider",
        ))?;
    let alg = att.header.get("alg").and_then(Value::as_str).unwrap_or_default();
    let signed = attestation.as_bytes().get(..att.signed_len).unwrap_or_default();
    if !provider.verifies(alg, signed, &att.signature) {
        return Err(invalid_client("the wallet attestation's signature does not verify"));
    }
    let claims = &att.claims;
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or(invalid_client("the wallet attestation names no client (sub)"))?;
    if claims.get("exp").and_then(Value::as_i64).is_none_or(|exp| exp <= now) {
        return Err(invalid_client("the wallet attestation has expired"));
    }
    if client_id.is_some_and(|c| c != sub) {
        return Err(invalid_client("the wallet attestation is for another client"));
    }
    let instance = claims
        .get("cnf")
        .and_then(|c| c.get("jwk"))
        .filter(|jwk| jwk.get("d").is_none())
        .and_then(|jwk| PublicKey::from_jwk(jwk).ok())
        .ok_or(invalid_client("the wallet attestation holds no public cnf.jwk"))?;
    check_pop(v, source, pop, &instance, now)?;
    Ok(Some(sub.to_owned()))
}

/// The proof of possession: by the attested instance key, for this vault,
/// fresh, and used once.
fn check_pop(v: &Vault, source: Source, pop: &str, instance: &PublicKey, now: i64) -> Result<(), WalletError> {
    let jws = CompactJws::parse(pop).ok_or(invalid_client("the attestation PoP is not a JWS"))?;
    if jws.header.get("typ").and_then(Value::as_str) != Some(POP_TYP) {
        return Err(invalid_client("the attestation PoP's typ is wrong"));
    }
    let alg = jws.header.get("alg").and_then(Value::as_str).unwrap_or_default();
    let signed = pop.as_bytes().get(..jws.signed_len).unwrap_or_default();
    if !instance.verifies(alg, signed, &jws.signature) {
        return Err(invalid_client("the attestation PoP is not by the attested key"));
    }
    let iss = issuer_url(v);
    let aud_ok = match jws.claims.get("aud") {
        Some(Value::String(a)) => *a == iss,
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(iss.as_str())),
        _ => false,
    };
    if !aud_ok {
        return Err(invalid_client("the attestation PoP is not for this vault (aud)"));
    }
    let iat = jws.claims.get("iat").and_then(Value::as_i64).unwrap_or(i64::MIN);
    if iat > now + FUTURE || iat < now - PAST {
        return Err(invalid_client("the attestation PoP is too old or from the future"));
    }
    let jti = jws
        .claims
        .get("jti")
        .and_then(Value::as_str)
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or(invalid_client("the attestation PoP's jti is missing or too long"))?;
    let seen = hash(&format!("pop.{}.{jti}", instance.thumbprint()));
    if !v.credentials.jtis.insert_new(source, seen, (), now, now + JTI_TTL) {
        return Err(invalid_client("the attestation PoP was used before"));
    }
    Ok(())
}
