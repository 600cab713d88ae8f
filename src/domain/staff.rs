//! A staff member's browser credentials: the one-time code that registers
//! a passkey, and the passkeys registered with it. Bearer tokens stay for
//! systems and the CLI; a browser signs in only with a passkey.

use serde::{Deserialize, Serialize};

/// How long a registration code works after it is issued.
pub const REGISTRATION_VALIDITY_SECS: i64 = 24 * 3600;

/// What the vault keeps of a staff member's browser credentials.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct StaffKeys {
    /// The code that registers the next passkey, while unused and unexpired.
    pub registration: Option<RegistrationCode>,
    /// Each passkey as the WebAuthn library serializes it (credential id,
    /// public key, counter): public material, opaque to the domain.
    pub passkeys: Vec<String>,
}

/// A one-time registration code, kept only as its SHA-256.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RegistrationCode {
    pub hash: [u8; 32],
    pub expires_at: i64,
}

impl RegistrationCode {
    /// Whether `hash` is this code's and it has not expired at `now`.
    #[must_use]
    pub fn admits(&self, hash: &[u8; 32], now: i64) -> bool {
        use subtle::ConstantTimeEq;
        now < self.expires_at && bool::from(self.hash.ct_eq(hash))
    }
}

/// A new registration code valid from `now`: the code to hand the person
/// (in the link's fragment, so it never reaches a server log) and what the
/// vault keeps of it.
#[must_use]
pub fn new_registration(now: i64) -> (zeroize::Zeroizing<String>, RegistrationCode) {
    let code = crate::crypto::new_token();
    let hash = registration_hash(&code);
    (
        code,
        RegistrationCode {
            hash,
            expires_at: now + REGISTRATION_VALIDITY_SECS,
        },
    )
}

/// What the vault keeps of a registration code.
#[must_use]
pub fn registration_hash(code: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"civic-vault registration code\0");
    h.update(code.as_bytes());
    h.finalize().into()
}

/// The link a staff member opens to register a passkey.
#[must_use]
pub fn registration_url(code: &str) -> String {
    format!("/console/register#{code}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_admits_only_its_own_hash_before_it_expires() {
        let code = RegistrationCode {
            hash: [7; 32],
            expires_at: 100,
        };
        assert!(code.admits(&[7; 32], 99));
        assert!(!code.admits(&[7; 32], 100));
        assert!(!code.admits(&[8; 32], 50));
    }
}
