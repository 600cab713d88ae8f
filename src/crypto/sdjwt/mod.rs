//! SD-JWT (RFC 9901) as SD-JWT VC uses it, and the IETF Token Status List,
//! written by hand over the vault's own issuer keys (`crypto::jose`): an SD-JWT is a JWS
//! whose payload holds the digests of salted disclosures, a disclosure is
//! base64url JSON `[salt, name, value]`, and a status list is a zlib
//! bitstring in a signed JWT. The seam: [`issue`] and [`status_list_token`]
//! for the vault, [`verify`] for anyone who holds the JWKS and a status list.
//!
//! Only what the vault issues is supported: flat claims, each disclosable
//! on its own, `sha-256`, ES256 or Ed25519 for the issuer and the holder.
//! A general SD-JWT crate (`sd-jwt-payload`) was considered; what the vault
//! needs is this small subset over a signer it already has, so it is written
//! here behind this seam, and what it issues is checked by an independent
//! implementation (sd-jwt-js, `tests/sdjwt/`) in CI.

pub mod verify;

use std::io::{Read, Write};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::jose::IssuerSigner;

/// The JOSE `typ` of an SD-JWT VC.
pub const VC_TYP: &str = "dc+sd-jwt";
/// The JOSE `typ` of a key-binding JWT.
pub const KB_TYP: &str = "kb+jwt";
/// The JOSE `typ` of a status list token.
pub const STATUS_LIST_TYP: &str = "statuslist+jwt";
/// The one hash algorithm issued and accepted.
pub const SD_ALG: &str = "sha-256";
/// A status list's decompressed size is at most this (a zlib bomb stops here).
const MAX_LIST_BYTES: u64 = 1 << 20;

/// base64url of SHA-256 over `text`: a disclosure's digest, a KB-JWT's `sd_hash`.
#[must_use]
pub fn digest(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes()))
}

/// One disclosure, encoded, with its digest.
#[derive(Debug, Clone)]
pub struct Disclosure {
    pub encoded: String,
    pub digest: String,
}

impl Disclosure {
    /// `[salt, name, value]` with 128 bits of fresh salt (RFC 9901 §4.2.1).
    #[must_use]
    pub fn new(name: &str, value: &Value) -> Self {
        let mut salt = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        let array = json!([URL_SAFE_NO_PAD.encode(salt), name, value]);
        let encoded = URL_SAFE_NO_PAD.encode(array.to_string());
        let digest = digest(&encoded);
        Self { encoded, digest }
    }
}

/// Issues an SD-JWT: `payload` in the clear (iss, vct, iat, exp, cnf,
/// status), each of `disclosable` as a disclosure whose digest goes into
/// `_sd` (sorted, so their order says nothing). Returns
/// `<jws>~<disclosure>~…~`.
#[must_use]
pub fn issue(
    signer: &IssuerSigner,
    x5c: Option<&[String]>,
    mut payload: Map<String, Value>,
    disclosable: &[(String, Value)],
) -> String {
    let disclosures: Vec<Disclosure> = disclosable
        .iter()
        .map(|(name, value)| Disclosure::new(name, value))
        .collect();
    let mut digests: Vec<&str> = disclosures.iter().map(|d| d.digest.as_str()).collect();
    digests.sort_unstable();
    payload.insert("_sd".into(), json!(digests));
    payload.insert("_sd_alg".into(), json!(SD_ALG));
    let mut out = signer.sign_typed_x5c(VC_TYP, &Value::Object(payload), x5c);
    out.push('~');
    for d in &disclosures {
        out.push_str(&d.encoded);
        out.push('~');
    }
    out
}

/// The `lst` of a status list: `bits` (one bit per entry, entry 0 in the
/// least significant bit of byte 0) zlib-compressed, base64url.
///
/// # Errors
/// Compression failed (it writes to memory; it does not).
pub fn encode_list(bits: &[u8]) -> std::io::Result<String> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(bits)?;
    Ok(URL_SAFE_NO_PAD.encode(z.finish()?))
}

/// The bitstring of an `lst`, at most 1 MiB once decompressed.
///
/// # Errors
/// Not base64url, not zlib, or too large.
pub fn decode_list(lst: &str) -> Result<Vec<u8>, &'static str> {
    let compressed = URL_SAFE_NO_PAD.decode(lst).map_err(|_| "lst is not base64url")?;
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(compressed.as_slice())
        .take(MAX_LIST_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|_| "lst is not zlib")?;
    if out.len() as u64 > MAX_LIST_BYTES {
        return Err("lst is too large");
    }
    Ok(out)
}

/// A signed status list token (`statuslist+jwt`): `sub` is the list's own
/// URI, `ttl` how long a verifier may cache it.
///
/// # Errors
/// Compression failed.
pub fn status_list_token(
    signer: &IssuerSigner,
    x5c: Option<&[String]>,
    uri: &str,
    bits: &[u8],
    iat: i64,
    ttl: i64,
) -> std::io::Result<String> {
    let claims = json!({
        "sub": uri,
        "iat": iat,
        "exp": iat + ttl.saturating_mul(2),
        "ttl": ttl,
        "status_list": {"bits": 1, "lst": encode_list(bits)?},
    });
    Ok(signer.sign_typed_x5c(STATUS_LIST_TYP, &claims, x5c))
}

/// What a KB-JWT binds a presentation to.
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    pub aud: &'a str,
    pub nonce: &'a str,
    pub iat: i64,
    /// The holder key's JOSE algorithm (`ES256`, `Ed25519`).
    pub alg: &'a str,
}

/// The holder's side: a presentation of `sd_jwt` disclosing only the
/// disclosures whose claim name is in `reveal`, bound as `binding` says
/// by a KB-JWT that `sign` signs with the holder's key. A wallet does
/// this; the vault's tests and the command line's examples use it.
#[must_use]
pub fn present(sd_jwt: &str, reveal: &[&str], binding: Binding<'_>, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let Binding { aud, nonce, iat, alg } = binding;
    let mut parts = sd_jwt.split('~');
    let mut out = parts.next().unwrap_or_default().to_owned();
    out.push('~');
    for d in parts.filter(|d| !d.is_empty()) {
        let name = verify::disclosure_name(d);
        if name.as_deref().is_some_and(|n| reveal.contains(&n)) {
            out.push_str(d);
            out.push('~');
        }
    }
    let header = json!({"alg": alg, "typ": KB_TYP});
    let payload = json!({"iat": iat, "aud": aud, "nonce": nonce, "sd_hash": digest(&out)});
    let mut kb = URL_SAFE_NO_PAD.encode(header.to_string());
    kb.push('.');
    kb.push_str(&URL_SAFE_NO_PAD.encode(payload.to_string()));
    let signature = sign(kb.as_bytes());
    kb.push('.');
    kb.push_str(&URL_SAFE_NO_PAD.encode(signature));
    out.push_str(&kb);
    out
}

#[cfg(test)]
mod tests;
