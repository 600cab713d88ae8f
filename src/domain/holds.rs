//! Legal holds: a case keeps one card's record from destruction. Two people:
//! legal asks, a privacy officer other than the asker approves (enforced by
//! the floor); legal or a privacy officer releases.

use serde::{Deserialize, Serialize};

use super::card::CardId;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HoldStatus {
    Pending,
    Active,
    Released,
}

/// A hold as stored. The card appears only as its storage key and audit
/// subject; the reference is the case reference legal gave.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub id: String,
    pub reference: String,
    pub card_id: CardId,
    pub card_subject: String,
    pub status: HoldStatus,
    pub requested_by: String,
    pub requested_at: i64,
    pub approved_by: Option<String>,
    pub approved_at: Option<i64>,
    pub released_by: Option<String>,
    pub released_at: Option<i64>,
}

/// `POST /v1/legal/holds`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    pub reference: String,
    pub card_number: String,
}

impl Hold {
    /// The public view: no storage key.
    #[must_use]
    pub fn view(&self) -> serde_json::Value {
        let t = |u: Option<i64>| {
            u.and_then(|u| time::OffsetDateTime::from_unix_timestamp(u).ok())
                .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        };
        serde_json::json!({
            "id": self.id,
            "reference": self.reference,
            "card": self.card_subject,
            "status": self.status,
            "requested_by": self.requested_by,
            "requested_at": t(Some(self.requested_at)),
            "approved_by": self.approved_by,
            "approved_at": t(self.approved_at),
            "released_by": self.released_by,
            "released_at": t(self.released_at),
        })
    }
}
