//! Signed attestations: compact JWS (RFC 7515) with EdDSA over Ed25519
//! (RFC 8037), and the JWKS that verifies them. Written with ed25519-dalek
//! directly: a JWS is two base64url segments and a signature, and this keeps
//! the signing key inside the vault's own zeroizing types.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};

use super::Secret32;

/// The attestation signing key, with its id (`kid`).
pub struct Attestor {
    kid: String,
    key: SigningKey,
    /// The JWS header, base64url, with the dot after it: the same for every
    /// attestation under this key, so encoded once.
    header: String,
}

impl std::fmt::Debug for Attestor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attestor")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Attestor {
    #[must_use]
    pub fn new(kid: String, seed: &Secret32) -> Self {
        let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": kid});
        let mut encoded = URL_SAFE_NO_PAD.encode(header.to_string());
        encoded.push('.');
        Self {
            kid,
            key: SigningKey::from_bytes(seed.expose()),
            header: encoded,
        }
    }

    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs `claims` as a compact JWS.
    #[must_use]
    pub fn sign<T: serde::Serialize + ?Sized>(&self, claims: &T) -> String {
        let mut out = String::with_capacity(512);
        out.push_str(&self.header);
        // Serialising claims of strings, numbers and maps cannot fail.
        URL_SAFE_NO_PAD.encode_string(serde_json::to_vec(claims).unwrap_or_default(), &mut out);
        self.finish(out)
    }

    /// Appends the signature over `out` (header and payload).
    fn finish(&self, mut out: String) -> String {
        let signature = self.key.sign(out.as_bytes());
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(signature.to_bytes()));
        out
    }

    /// The public key as a JWK (RFC 8037 `OKP` / `Ed25519`).
    #[must_use]
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(self.key.verifying_key().to_bytes()),
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signature, Verifier};

    #[test]
    fn signature_verifies_over_header_and_claims() {
        let a = Attestor::new("attest-1".into(), &Secret32::random());
        let jws = a.sign(&json!({"jti": "x"}));
        let (signed, sig) = jws.rsplit_once('.').unwrap();
        let sig = Signature::from_slice(&URL_SAFE_NO_PAD.decode(sig).unwrap()).unwrap();
        assert!(a.key.verifying_key().verify(signed.as_bytes(), &sig).is_ok());
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jws.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(header["kid"], "attest-1");
        assert_eq!(header["alg"], "EdDSA");
    }
}
