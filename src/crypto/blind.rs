//! Keyed hashes. A document commitment lets the vault recognise the same
//! document again (duplicate enrollment, a court asking about one exact
//! document) without storing its type, issuer or number; without the key
//! the commitment cannot be brute-forced from the small space of document
//! numbers. Audit subjects use a second, separate key, so the audit log
//! cannot be joined against commitments or card ids.

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

    /// Commitment to a document. Type, issuer and number are normalised
    /// (case, spaces, dashes and dots ignored) so that the same document
    /// typed twice commits to the same value.
    #[must_use]
    pub fn document(&self, document_type: &str, issuer: &str, number: &str) -> Commitment {
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
        let bi = BlindIndex::new("bi".into(), Secret32::random());
        let a = bi.document("foreign_passport", "MEX", "G 1234-5678");
        let b = bi.document("FOREIGN_PASSPORT", "mex", "g12345678");
        assert_eq!(a, b);
        assert_ne!(a, bi.document("foreign_passport", "GTM", "G12345678"));
        let other = BlindIndex::new("bi".into(), Secret32::random());
        assert_ne!(a, other.document("foreign_passport", "MEX", "G12345678"));
    }
}
