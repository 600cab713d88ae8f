//! The JOSE signature algorithms of holder-held credentials: ES256 (ECDSA
//! over P-256 with SHA-256, RFC 7518 §3.4; the one HAIP 1.0 makes every
//! party support, and the keys phones' secure hardware holds) and Ed25519
//! (RFC 8037 keys, under the name RFC 9864 gives it; its deprecated
//! `EdDSA` is still accepted on input). Public keys read from JWKs; issuer
//! keys that sign compact JWS. ECDSA from RustCrypto's `p256` (`ecdsa`
//! inside it), Ed25519 from `ed25519-dalek`, as the rest of the vault.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use serde_json::{json, Value};

use super::Secret32;

/// A signature algorithm, by its JOSE name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize)]
pub enum Alg {
    /// ECDSA P-256 SHA-256.
    #[serde(rename = "ES256")]
    Es256,
    /// Ed25519 (RFC 9864; `EdDSA` before it).
    #[serde(rename = "Ed25519", alias = "EdDSA")]
    Ed25519,
}

/// Every algorithm name accepted on input, newest names first.
pub const ACCEPTED: [&str; 3] = ["ES256", "Ed25519", "EdDSA"];

impl Alg {
    /// Both, ES256 first (HAIP's).
    pub const ALL: [Self; 2] = [Self::Es256, Self::Ed25519];

    /// The name the vault writes.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Ed25519 => "Ed25519",
        }
    }

    /// The algorithm a JOSE `alg` names, if the vault takes it.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "ES256" => Some(Self::Es256),
            "Ed25519" | "EdDSA" => Some(Self::Ed25519),
            _ => None,
        }
    }
}

/// A public key read from a JWK: an `EC` `P-256` key or an `OKP`
/// `Ed25519` one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    Es256(p256::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// A base64url member of a JWK that must be exactly 32 bytes.
fn coordinate(jwk: &Value, name: &str) -> Result<[u8; 32], &'static str> {
    jwk.get(name)
        .and_then(Value::as_str)
        .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or("a JWK coordinate is missing or not 32 bytes")
}

impl PublicKey {
    /// The key of a public JWK.
    ///
    /// # Errors
    /// Neither a P-256 nor an Ed25519 public key.
    pub fn from_jwk(jwk: &Value) -> Result<Self, &'static str> {
        match (
            jwk.get("kty").and_then(Value::as_str),
            jwk.get("crv").and_then(Value::as_str),
        ) {
            (Some("EC"), Some("P-256")) => {
                let (x, y) = (coordinate(jwk, "x")?, coordinate(jwk, "y")?);
                let point = p256::EncodedPoint::from_affine_coordinates(&x.into(), &y.into(), false);
                p256::ecdsa::VerifyingKey::from_encoded_point(&point)
                    .map(Self::Es256)
                    .map_err(|_| "the JWK is not a point of P-256")
            }
            (Some("OKP"), Some("Ed25519")) => ed25519_dalek::VerifyingKey::from_bytes(&coordinate(jwk, "x")?)
                .map(Self::Ed25519)
                .map_err(|_| "the JWK is not an Ed25519 point"),
            _ => Err("not a P-256 or Ed25519 JWK"),
        }
    }

    /// The algorithm this key signs with.
    #[must_use]
    pub const fn alg(&self) -> Alg {
        match self {
            Self::Es256(_) => Alg::Es256,
            Self::Ed25519(_) => Alg::Ed25519,
        }
    }

    /// Whether `signature` (JWS form: `r ‖ s` for ES256) is this key's over
    /// `message` under `alg`, which must be this key's algorithm.
    #[must_use]
    pub fn verifies(&self, alg: &str, message: &[u8], signature: &[u8]) -> bool {
        if Alg::from_name(alg) != Some(self.alg()) {
            return false;
        }
        match self {
            Self::Es256(key) => {
                p256::ecdsa::Signature::from_slice(signature).is_ok_and(|sig| key.verify(message, &sig).is_ok())
            }
            Self::Ed25519(key) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|sig| key.verify_strict(message, &sig).is_ok()),
        }
    }

    /// The public JWK, with nothing but the key (as a credential's
    /// `cnf.jwk` carries it).
    #[must_use]
    pub fn jwk(&self) -> Value {
        match self {
            Self::Es256(key) => {
                let point = key.to_encoded_point(false);
                json!({
                    "kty": "EC",
                    "crv": "P-256",
                    "x": URL_SAFE_NO_PAD.encode(point.x().map(|x| x.as_slice()).unwrap_or_default()),
                    "y": URL_SAFE_NO_PAD.encode(point.y().map(|y| y.as_slice()).unwrap_or_default()),
                })
            }
            Self::Ed25519(key) => json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(key.to_bytes())}),
        }
    }
    /// The key's RFC 7638 JWK thumbprint (SHA-256, base64url): its required
    /// members in lexicographic order, no spaces.
    #[must_use]
    pub fn thumbprint(&self) -> String {
        use sha2::Digest as _;
        let jwk = self.jwk();
        let member = |name: &str| jwk.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
        let canonical = match self {
            Self::Es256(_) => format!(
                r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                member("x"),
                member("y")
            ),
            Self::Ed25519(_) => format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, member("x")),
        };
        URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(canonical.as_bytes()))
    }
}

/// A compact JWS taken apart: its header and claims (decoded objects), the
/// signed part's length (`header.payload`) and the signature.
pub struct CompactJws {
    pub header: serde_json::Map<String, Value>,
    pub claims: serde_json::Map<String, Value>,
    pub signed_len: usize,
    pub signature: Vec<u8>,
}

impl CompactJws {
    /// Reads a compact JWS whose header and payload are JSON objects.
    #[must_use]
    pub fn parse(jws: &str) -> Option<Self> {
        let mut parts = jws.split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return None;
        };
        let decode = |part: &str| -> Option<serde_json::Map<String, Value>> {
            match serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?) {
                Ok(Value::Object(m)) => Some(m),
                _ => None,
            }
        };
        Some(Self {
            header: decode(h)?,
            claims: decode(p)?,
            signed_len: h.len() + 1 + p.len(),
            signature: URL_SAFE_NO_PAD.decode(s).ok()?,
        })
    }

    /// The holder key a self-signed JWS carries in its header (`jwk`, public
    /// only: a `d` member is refused, Appendix F.4 of OpenID4VCI 1.0), once
    /// the signature over `jws` verifies under it with the header's `alg`.
    #[must_use]
    pub fn self_signed_key(&self, jws: &str) -> Option<PublicKey> {
        let jwk = self.header.get("jwk")?;
        if jwk.get("d").is_some() {
            return None;
        }
        let alg = self.header.get("alg").and_then(Value::as_str)?;
        let key = PublicKey::from_jwk(jwk).ok()?;
        let signed = jws.as_bytes().get(..self.signed_len)?;
        key.verifies(alg, signed, &self.signature).then_some(key)
    }
}

/// The private half of an issuer key (both zeroize on drop).
enum SigningKey {
    Es256(p256::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

/// A key that signs credentials or status lists, with its id (`kid`).
pub struct IssuerSigner {
    kid: String,
    key: SigningKey,
}

impl std::fmt::Debug for IssuerSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerSigner")
            .field("kid", &self.kid)
            .field("alg", &self.alg())
            .finish_non_exhaustive()
    }
}

impl IssuerSigner {
    /// The signer of `alg` whose secret is `secret` (an Ed25519 seed, or a
    /// P-256 scalar), or `None` for a scalar outside `[1, n)`.
    #[must_use]
    pub fn new(kid: String, alg: Alg, secret: &Secret32) -> Option<Self> {
        let key = match alg {
            Alg::Es256 => SigningKey::Es256(p256::ecdsa::SigningKey::from_bytes(secret.expose().into()).ok()?),
            Alg::Ed25519 => SigningKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(secret.expose())),
        };
        Some(Self { kid, key })
    }

    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    #[must_use]
    pub const fn alg(&self) -> Alg {
        match self.key {
            SigningKey::Es256(_) => Alg::Es256,
            SigningKey::Ed25519(_) => Alg::Ed25519,
        }
    }

    /// The public key.
    #[must_use]
    pub fn public(&self) -> PublicKey {
        match &self.key {
            SigningKey::Es256(k) => PublicKey::Es256(*k.verifying_key()),
            SigningKey::Ed25519(k) => PublicKey::Ed25519(k.verifying_key()),
        }
    }

    /// The signature over `message` (JWS form).
    #[must_use]
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match &self.key {
            SigningKey::Es256(k) => {
                let sig: p256::ecdsa::Signature = k.sign(message);
                sig.to_bytes().to_vec()
            }
            SigningKey::Ed25519(k) => ed25519_dalek::Signer::sign(k, message).to_bytes().to_vec(),
        }
    }

    /// `claims` as a compact JWS whose header names `typ`, this key's
    /// algorithm and `kid`.
    #[must_use]
    pub fn sign_typed(&self, typ: &str, claims: &Value) -> String {
        self.sign_typed_x5c(typ, claims, None)
    }

    /// As [`Self::sign_typed`], with a certificate chain for this key in
    /// the header (`x5c`, leaf first) when one is given.
    #[must_use]
    pub fn sign_typed_x5c(&self, typ: &str, claims: &Value, x5c: Option<&[String]>) -> String {
        let mut header = json!({"alg": self.alg().name(), "typ": typ, "kid": self.kid});
        if let Some(chain) = x5c {
            header["x5c"] = json!(chain);
        }
        let mut out = URL_SAFE_NO_PAD.encode(header.to_string());
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(claims.to_string(), &mut out);
        let signature = self.sign(out.as_bytes());
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut out);
        out
    }

    /// The public key as a JWK for a JWKS: with `kid`, `alg` and `use`.
    #[must_use]
    pub fn jwk(&self) -> Value {
        let mut jwk = self.public().jwk();
        jwk["kid"] = json!(self.kid);
        jwk["alg"] = json!(self.alg().name());
        jwk["use"] = json!("sig");
        jwk
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(alg: Alg) -> IssuerSigner {
        loop {
            if let Some(s) = IssuerSigner::new("k".into(), alg, &Secret32::random()) {
                return s;
            }
        }
    }

    #[test]
    fn each_algorithm_signs_and_its_jwk_verifies_under_its_names_only() {
        for alg in Alg::ALL {
            let s = signer(alg);
            let jws = s.sign_typed("t", &json!({"a": 1}));
            let (signed, sig) = jws.rsplit_once('.').unwrap();
            let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
            assert_eq!(sig.len(), 64);
            let key = PublicKey::from_jwk(&s.jwk()).unwrap();
            assert_eq!(key, s.public());
            assert!(key.verifies(alg.name(), signed.as_bytes(), &sig));
            assert!(!key.verifies(alg.name(), b"other", &sig));
            let other = if alg == Alg::Es256 { "Ed25519" } else { "ES256" };
            assert!(!key.verifies(other, signed.as_bytes(), &sig), "alg must match the key");
            assert!(!key.verifies("none", signed.as_bytes(), &sig));
        }
        let ed = signer(Alg::Ed25519);
        let sig = ed.sign(b"m");
        assert!(ed.public().verifies("EdDSA", b"m", &sig), "EdDSA still accepted");
    }

    #[test]
    fn a_jwk_off_the_curve_or_of_another_kind_is_refused() {
        let mut jwk = signer(Alg::Es256).public().jwk();
        jwk["y"] = jwk["x"].clone();
        assert!(PublicKey::from_jwk(&jwk).is_err());
        assert!(PublicKey::from_jwk(&json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"})).is_err());
        assert!(PublicKey::from_jwk(&json!({"kty": "EC", "crv": "P-384", "x": "", "y": ""})).is_err());
    }
}
