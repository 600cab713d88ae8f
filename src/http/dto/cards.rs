//! Enrollment counters (enroll, revoke, erase) and city systems' facts.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::card::RevocationReason;

/// `POST /v1/enrollments` → 201.
#[derive(Debug, Serialize, ToSchema)]
pub struct Enrolled {
    /// The number printed on the card.
    pub card_number: String,
    #[schema(format = Date)]
    pub issued_on: String,
    #[schema(format = Date)]
    /// `null` for a card that does not expire.
    pub expires_on: Option<String>,
    pub source_documents: SourceDocuments,
}

/// What became of the scans presented with the application.
#[derive(Debug, Serialize, ToSchema)]
pub struct SourceDocuments {
    /// Scans kept (age-encrypted) until `destroy_after`; 0 when
    /// `retention.source_documents` is "0s" (checked and dropped).
    pub stored: usize,
    /// Scans presented with the application.
    pub presented: usize,
    /// When the kept scans' key is destroyed (RFC 3339), or null.
    pub destroy_after: Option<String>,
}

/// `POST /v1/cardholders/{card}/revoke` → 200.
#[derive(Debug, Serialize, ToSchema)]
pub struct Revoked {
    pub card_number: String,
    /// "revoked".
    #[schema(example = "revoked")]
    pub status: String,
    pub reason: RevocationReason,
}

impl Revoked {
    #[must_use]
    pub fn new(card_number: String, reason: RevocationReason) -> Self {
        Self {
            card_number,
            status: "revoked".into(),
            reason,
        }
    }
}

/// `DELETE /v1/cardholders/{card}` → 202.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErasureRequested {
    /// "erasure_requested".
    #[schema(example = "erasure_requested")]
    pub status: String,
    /// What destroys the record: "the next retention sweep".
    pub destroyed_by: String,
}

impl Default for ErasureRequested {
    fn default() -> Self {
        Self {
            status: "erasure_requested".into(),
            destroyed_by: "the next retention sweep".into(),
        }
    }
}

/// `POST /v1/facts` → 200.
#[derive(Debug, Serialize, ToSchema)]
pub struct FactsAnswer {
    /// The one decision id every fact of this request was decided under.
    pub decision_id: String,
    /// Each released fact's value.
    pub facts: BTreeMap<String, bool>,
    /// Each withheld fact and why (e.g. "not_permitted").
    pub withheld: BTreeMap<String, String>,
    /// Compact JWS (EdDSA) over the released facts; keys at
    /// `GET /v1/attestation-keys`.
    pub attestation: String,
}
