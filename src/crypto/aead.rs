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

    /// A key derived from a long-lived key (see `BlindIndex::sealing_key`).
    #[must_use]
    pub(crate) fn derived(key: Secret32) -> Self {
        Self(key)
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

    /// Seals a field padded to a size class, so the ciphertext's length says
    /// only which class it fell in: the first of `classes` (ascending, bytes)
    /// that holds the length prefix and the plaintext, or a multiple of the
    /// largest beyond them.
    #[must_use]
    pub fn seal_padded(&self, owner: &[u8], field: &str, plaintext: &[u8], classes: &[usize]) -> Vec<u8> {
        let need = plaintext.len() + 4;
        let largest = classes.last().copied().unwrap_or(need).max(1);
        let size = classes
            .iter()
            .copied()
            .find(|c| *c >= need)
            .unwrap_or_else(|| need.div_ceil(largest) * largest);
        let mut padded = zeroize::Zeroizing::new(Vec::with_capacity(size));
        padded.extend_from_slice(&u32::try_from(plaintext.len()).unwrap_or(u32::MAX).to_be_bytes());
        padded.extend_from_slice(plaintext);
        padded.resize(size, 0);
        self.seal_field(owner, field, &padded)
    }

    /// A key of its own for the list of the card's credentials' status
    /// indices, derived from this data key (HMAC-SHA256 under a fixed
    /// label, bound to `owner`): the writer is handed this one to read
    /// and extend the list inside its transaction, never the data key,
    /// and it is gone with the data key.
    #[must_use]
    pub fn index_key(&self, owner: &[u8]) -> IndexKey {
        use hmac::{Hmac, Mac};
        // HMAC takes a key of any length: a 32-byte key never fails.
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(self.0.expose()).unwrap_or_else(|_| unreachable!());
        mac.update(b"civic-vault/credential-indices/v1\0");
        mac.update(owner);
        let mut bytes: [u8; 32] = mac.finalize().into_bytes().into();
        let key = Secret32::from_bytes(bytes);
        zeroize::Zeroize::zeroize(&mut bytes);
        IndexKey(DataKey(key))
    }

    /// Opens what [`DataKey::seal_padded`] sealed.
    ///
    /// # Errors
    /// As [`DataKey::open_field`], or a length prefix that does not fit.
    pub fn open_padded(
        &self,
        owner: &[u8],
        field: &str,
        sealed: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, AeadError> {
        let padded = zeroize::Zeroizing::new(self.open_field(owner, field, sealed)?);
        let len_bytes: [u8; 4] = padded.get(..4).and_then(|b| b.try_into().ok()).ok_or(AeadError)?;
        let len = usize::try_from(u32::from_be_bytes(len_bytes)).map_err(|_| AeadError)?;
        let body = padded.get(4..4 + len).ok_or(AeadError)?;
        Ok(zeroize::Zeroizing::new(body.to_vec()))
    }
}

/// A key derived from a card's data key ([`DataKey::index_key`]) that seals
/// only the card's list of credential status indices. Prints as `***`.
#[derive(Debug)]
pub struct IndexKey(DataKey);

impl Clone for IndexKey {
    fn clone(&self) -> Self {
        Self(DataKey(self.0 .0.clone()))
    }
}

impl IndexKey {
    /// Seals `plaintext` padded to a size class, as [`DataKey::seal_padded`].
    #[must_use]
    pub fn seal_padded(&self, owner: &[u8], field: &str, plaintext: &[u8], classes: &[usize]) -> Vec<u8> {
        self.0.seal_padded(owner, field, plaintext, classes)
    }

    /// Opens what [`IndexKey::seal_padded`] sealed.
    ///
    /// # Errors
    /// As [`DataKey::open_padded`].
    pub fn open_padded(
        &self,
        owner: &[u8],
        field: &str,
        sealed: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, AeadError> {
        self.0.open_padded(owner, field, sealed)
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
    fn padded_fields_hide_their_length_within_a_class() {
        let dek = DataKey::generate();
        let classes = [256, 1024];
        let short = dek.seal_padded(b"o", "f", b"Ana", &classes);
        let longer = dek.seal_padded(b"o", "f", &[b'x'; 200], &classes);
        assert_eq!(short.len(), longer.len());
        let big = dek.seal_padded(b"o", "f", &[b'y'; 300], &classes);
        assert!(big.len() > short.len());
        let huge = dek.seal_padded(b"o", "f", &[b'z'; 3000], &classes);
        assert_eq!(
            huge.len() - big.len(),
            2048,
            "beyond the classes: multiples of the largest"
        );
        assert_eq!(&**dek.open_padded(b"o", "f", &short).unwrap(), b"Ana");
        assert_eq!(dek.open_padded(b"o", "f", &huge).unwrap().len(), 3000);
        assert!(dek.open_padded(b"other", "f", &short).is_err());
    }

    #[test]
    fn an_index_key_is_its_own_key_bound_to_its_card() {
        let dek = DataKey::generate();
        let key = dek.index_key(b"card-a");
        let sealed = key.seal_padded(b"card-a", "indices", b"1234", &[64]);
        assert_eq!(
            &**dek
                .index_key(b"card-a")
                .open_padded(b"card-a", "indices", &sealed)
                .unwrap(),
            b"1234"
        );
        assert!(
            dek.open_padded(b"card-a", "indices", &sealed).is_err(),
            "not the data key itself"
        );
        assert!(dek
            .index_key(b"card-b")
            .open_padded(b"card-a", "indices", &sealed)
            .is_err());
        assert!(DataKey::generate()
            .index_key(b"card-a")
            .open_padded(b"card-a", "indices", &sealed)
            .is_err());
        assert_eq!(format!("{key:?}"), "IndexKey(DataKey(Secret32(***)))");
    }

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
