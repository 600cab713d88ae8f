//! Bearer tokens: 256 random bits, shown once, stored only as SHA-256.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub type TokenHash = [u8; 32];

/// A fresh token: `cv_` and 43 characters of base64url (256 bits).
#[must_use]
pub fn new_token() -> Zeroizing<String> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(bytes.as_mut());
    Zeroizing::new(format!("cv_{}", URL_SAFE_NO_PAD.encode(bytes.as_ref())))
}

/// What the vault stores in place of a token. A plain hash suffices: the
/// token has 256 bits of entropy, so there is nothing to brute-force.
#[must_use]
pub fn token_hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}
