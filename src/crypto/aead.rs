//! XChaCha20-Poly1305 with random 192-bit nonces: safe to use with random
//! nonces for any number of messages a vault will ever write, and a few
//! microseconds per field, which keeps fact queries far from any X25519 work.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::Secret32;

const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error)]
#[error("ciphertext does not open under this key")]
pub struct AeadError;

/// Encrypts `plaintext` bound to `aad`; the result is nonce ‖ ciphertext ‖ tag.
#[must_use]
pub fn seal(key: &Secret32, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new(key.expose().into());
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let mut out = nonce.to_vec();
    // Encryption with a valid key and in-memory buffers cannot fail; an empty
    // output would only make the record unreadable, never leak it.
    let ct = cipher
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad })
        .unwrap_or_default();
    out.extend_from_slice(&ct);
    out
}

/// Opens what [`seal`] produced with the same key and `aad`.
///
/// # Errors
/// Wrong key, wrong `aad`, or altered bytes.
pub fn open(key: &Secret32, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, AeadError> {
    if sealed.len() < NONCE_LEN + 16 {
        return Err(AeadError);
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    XChaCha20Poly1305::new(key.expose().into())
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad })
        .map_err(|_| AeadError)
}

/// A cardholder's own data key. Fields are sealed under it; it is stored only
/// wrapped by a key-encryption key, so destroying that KEK (or the wrapped
/// copy) makes every field unreadable without touching the field ciphertext.
#[derive(Debug)]
pub struct DataKey(Secret32);

/// A data key sealed under a key-encryption key, with that key's id.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct WrappedKey {
    pub kek_id: String,
    pub sealed: Vec<u8>,
}

impl DataKey {
    #[must_use]
    pub fn generate() -> Self {
        Self(Secret32::random())
    }

    fn aad(owner: &[u8], kek_id: &str) -> Vec<u8> {
        let mut aad = b"civic-vault/dek/v1\0".to_vec();
        aad.extend_from_slice(kek_id.as_bytes());
        aad.push(0);
        aad.extend_from_slice(owner);
        aad
    }

    /// Wraps this key under `kek`, bound to its owner (the card id).
    #[must_use]
    pub fn wrap(&self, kek_id: &str, kek: &Secret32, owner: &[u8]) -> WrappedKey {
        WrappedKey {
            kek_id: kek_id.to_owned(),
            sealed: seal(kek, &Self::aad(owner, kek_id), self.0.expose()),
        }
    }

    /// # Errors
    /// The KEK is wrong, or the wrapped key belongs to another owner.
    pub fn unwrap_with(wrapped: &WrappedKey, kek: &Secret32, owner: &[u8]) -> Result<Self, AeadError> {
        let mut bytes = open(kek, &Self::aad(owner, &wrapped.kek_id), &wrapped.sealed)?;
        let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| AeadError)?;
        zeroize::Zeroize::zeroize(&mut bytes);
        Ok(Self(Secret32::from_bytes(key)))
    }

    /// Seals one field of the record `owner`, labelled so that ciphertexts
    /// cannot be swapped between fields or records.
    #[must_use]
    pub fn seal_field(&self, owner: &[u8], field: &str, plaintext: &[u8]) -> Vec<u8> {
        seal(&self.0, &field_aad(owner, field), plaintext)
    }

    /// # Errors
    /// Wrong key, owner or field label, or altered bytes.
    pub fn open_field(&self, owner: &[u8], field: &str, sealed: &[u8]) -> Result<Vec<u8>, AeadError> {
        open(&self.0, &field_aad(owner, field), sealed)
    }
}

fn field_aad(owner: &[u8], field: &str) -> Vec<u8> {
    let mut aad = b"civic-vault/field/v1\0".to_vec();
    aad.extend_from_slice(field.as_bytes());
    aad.push(0);
    aad.extend_from_slice(owner);
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_bound_to_owner_and_label() {
        let kek = Secret32::random();
        let dek = DataKey::generate();
        let wrapped = dek.wrap("kek-1", &kek, b"card-a");
        let ct = dek.seal_field(b"card-a", "fields", b"secret");
        let dek2 = DataKey::unwrap_with(&wrapped, &kek, b"card-a").unwrap();
        assert_eq!(dek2.open_field(b"card-a", "fields", &ct).unwrap(), b"secret");
        assert!(dek2.open_field(b"card-b", "fields", &ct).is_err());
        assert!(dek2.open_field(b"card-a", "birth", &ct).is_err());
        assert!(DataKey::unwrap_with(&wrapped, &kek, b"card-b").is_err());
        assert!(DataKey::unwrap_with(&wrapped, &Secret32::random(), b"card-a").is_err());
    }
}
