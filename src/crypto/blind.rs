//! Keyed hashes. A document commitment lets the vault recognise the same
//! document again (duplicate enrollment, a court asking about one exact
//! document) without storing its type, issuer or number. Without the key
//! it cannot be brute-forced from the small space of document numbers; and
//! because it is memory-hard (Argon2id with the blind-index key as its
//! secret), even with the key enumerating one issuer's number space costs
//! core-years rather than hours. Audit subjects use a second, separate key,
//! so the audit log cannot be joined against commitments or card ids.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::Secret32;

type HmacSha256 = Hmac<Sha256>;

pub(super) fn keyed(key: &Secret32, domain: &str, parts: &[&[u8]]) -> [u8; 32] {
    // A key of any length is accepted by HMAC; this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key.expose()).unwrap_or_else(|_| unreachable!());
    mac.update(domain.as_bytes());
    for part in parts {
        // Length-prefix every part so ("ab","c") and ("a","bc") differ.
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// The keyed hash of a document's normalised identity.
pub type Commitment = [u8; 32];

/// What one document commitment costs: Argon2id's memory (KiB) and passes,
/// one lane. Fixed for a store's life (its commitments must keep matching),
/// recorded in the store when it is created.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitmentCost {
    pub memory_kib: u32,
    pub iterations: u32,
}

impl CommitmentCost {
    /// The shipped setting: 32 MiB, 2 passes, ~80 ms a commitment on one
    /// core here, so 10^9 guesses at one (type, issuer) cost ~2.5 core-years.
    pub const SHIPPED: Self = Self {
        memory_kib: 32 * 1024,
        iterations: 2,
    };

    /// The least memory Argon2 accepts with one lane (8 KiB): for tests and
    /// benchmarks only.
    pub const MINIMAL: Self = Self {
        memory_kib: 8,
        iterations: 1,
    };

    /// `None` when Argon2 would refuse these parameters.
    #[must_use]
    pub fn params(self) -> Option<argon2::Params> {
        argon2::Params::new(self.memory_kib, self.iterations, 1, Some(32)).ok()
    }
}

/// The blind-index key: document commitments and card ids.
#[derive(Debug)]
pub struct BlindIndex {
    pub id: String,
    key: Secret32,
}

impl BlindIndex {
    #[must_use]
    pub fn new(id: String, key: Secret32) -> Self {
        Self { id, key }
    }

    /// Commitment to a document: [`BlindIndex::commit`] of its
    /// [`BlindIndex::document_key`].
    #[must_use]
    pub fn document(&self, document_type: &str, issuer: &str, number: &str, cost: CommitmentCost) -> Commitment {
        self.commit(&self.document_key(document_type, issuer, number), cost)
    }

    /// Argon2id of a document key, with the blind-index key as Argon2's
    /// secret: memory-hard, so even with keys/ each guess costs `cost`.
    /// (A store's v1 commitments were document keys, so they migrate to v2
    /// without the documents.)
    #[must_use]
    pub fn commit(&self, document_key: &[u8; 32], cost: CommitmentCost) -> Commitment {
        let mut out = [0u8; 32];
        // Parameters were checked when the cost was configured; these
        // fallbacks only keep a bad cost from panicking (it then fails
        // closed: no commitment matches anything real).
        let params = cost.params().unwrap_or_default();
        let done = argon2::Argon2::new_with_secret(
            self.key.expose(),
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            params,
        )
        .and_then(|a| a.hash_password_into(document_key, b"civic-vault/document/v2", &mut out));
        if done.is_err() {
            out = keyed(&self.key, "civic-vault/document/failed", &[document_key]);
        }
        out
    }

    /// The keyed HMAC of a document's normalised type, issuer and number
    /// (case, spaces, dashes and dots ignored) so that the same document
    /// typed twice gives the same value. Never stored: it is the input of
    /// the memory-hard commitment.
    #[must_use]
    pub fn document_key(&self, document_type: &str, issuer: &str, number: &str) -> [u8; 32] {
        keyed(
            &self.key,
            "civic-vault/document/v1",
            &[
                normalise(document_type).as_bytes(),
                normalise(issuer).as_bytes(),
                normalise(number).as_bytes(),
            ],
        )
    }

    /// A data key derived from this key for one kind of vault-wide record
    /// (`label`), so such records are sealed under a key that lives as long
    /// as the card ids they stand beside (honey cards, say).
    #[must_use]
    pub fn sealing_key(&self, label: &str) -> super::DataKey {
        super::DataKey::derived(super::Secret32::from_bytes(keyed(
            &self.key,
            "civic-vault/sealing-key/v1",
            &[label.as_bytes()],
        )))
    }

    /// The storage key of a card: the card number itself is never a key on disk.
    #[must_use]
    pub fn card_id(&self, card_number: &str) -> [u8; 32] {
        keyed(&self.key, "civic-vault/card/v1", &[normalise(card_number).as_bytes()])
    }
}

/// Audit subjects: what an audit entry was about, as a keyed hash.
#[derive(Debug)]
pub struct SubjectHasher {
    pub id: String,
    key: Secret32,
}

impl SubjectHasher {
    #[must_use]
    pub fn new(id: String, key: Secret32) -> Self {
        Self { id, key }
    }

    /// `kind` says what sort of thing the subject is ("card", "principal").
    #[must_use]
    pub fn subject(&self, kind: &str, value: &str) -> String {
        let h = keyed(
            &self.key,
            "civic-vault/audit-subject/v1",
            &[kind.as_bytes(), normalise(value).as_bytes()],
        );
        format!("hmac-sha256:{}", hex::encode(&h[..16]))
    }
}

fn normalise(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '.' | '/'))
        .flat_map(char::to_uppercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_document_typed_twice_commits_the_same() {
        let cost = CommitmentCost::MINIMAL;
        let bi = BlindIndex::new("bi".into(), Secret32::random());
        let a = bi.document("foreign_passport", "MEX", "G 1234-5678", cost);
        let b = bi.document("FOREIGN_PASSPORT", "mex", "g12345678", cost);
        assert_eq!(a, b);
        assert_ne!(a, bi.document("foreign_passport", "GTM", "G12345678", cost));
        let other = BlindIndex::new("bi".into(), Secret32::random());
        assert_ne!(a, other.document("foreign_passport", "MEX", "G12345678", cost));
        // Memory-hard on top of the keyed hash: another cost, another value;
        // and a v1 commitment (the keyed hash) migrates without the document.
        assert_ne!(
            a,
            bi.document(
                "foreign_passport",
                "MEX",
                "G12345678",
                CommitmentCost {
                    memory_kib: 16,
                    iterations: 1
                }
            )
        );
        let v1 = bi.document_key("foreign_passport", "MEX", "G12345678");
        assert_eq!(bi.commit(&v1, cost), a);
        assert_ne!(v1, a);
    }
}
