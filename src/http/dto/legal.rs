//! Legal holds, legal requests and cardholder notices.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::rfc3339;
use crate::domain::enrollment::Address;
use crate::domain::holds::{Hold, HoldStatus};
use crate::domain::legal::AnswerSummary;

/// A hold as served: the card only as its audit subject, never its number
/// or storage key.
#[derive(Debug, Serialize, ToSchema)]
pub struct HoldView {
    pub id: String,
    /// The case reference legal gave.
    pub reference: String,
    /// The card's audit subject (a keyed hash).
    pub card: String,
    pub status: HoldStatus,
    pub requested_by: String,
    /// RFC 3339.
    pub requested_at: Option<String>,
    pub approved_by: Option<String>,
    /// RFC 3339, or null while pending.
    pub approved_at: Option<String>,
    pub released_by: Option<String>,
    /// RFC 3339, or null until released.
    pub released_at: Option<String>,
    /// Approve and release only: how many scans the hold preserved (0 on
    /// release).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scans_held: Option<usize>,
}

impl From<&Hold> for HoldView {
    fn from(h: &Hold) -> Self {
        let t = |u: Option<i64>| u.and_then(rfc3339);
        Self {
            id: h.id.clone(),
            reference: h.reference.clone(),
            card: h.card_subject.clone(),
            status: h.status,
            requested_by: h.requested_by.clone(),
            requested_at: t(Some(h.requested_at)),
            approved_by: h.approved_by.clone(),
            approved_at: t(h.approved_at),
            released_by: h.released_by.clone(),
            released_at: t(h.released_at),
            scans_held: None,
        }
    }
}

/// `GET /v1/legal/holds`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HoldList {
    pub holds: Vec<HoldView>,
}

/// `GET /v1/legal/requests`: past answers' summaries, newest first (no
/// package, nothing about a cardholder).
#[derive(Serialize, ToSchema)]
pub struct LegalRequestList {
    pub requests: Vec<crate::domain::legal::AnswerSummary>,
}

/// `POST /v1/legal/requests` and `GET /v1/legal/requests/{id}`: the
/// answer's summary, the package disclosed and the response letter.
#[derive(Serialize, ToSchema)]
pub struct LegalAnswer {
    #[serde(flatten)]
    pub summary: AnswerSummary,
    /// The items disclosed, by item name (free-form: each item's value has
    /// its own shape; see the README). Null once destroyed.
    #[schema(value_type = Option<Object>)]
    pub package: Option<Value>,
    /// The response letter (Markdown) legal staff send.
    pub letter: String,
    /// A past answer whose package was destroyed with the cardholder record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package_destroyed: Option<String>,
}

impl LegalAnswer {
    /// The answer as served: `package` is `None` once destroyed.
    #[must_use]
    pub fn new(summary: AnswerSummary, package: Option<Value>) -> Self {
        let letter = crate::domain::legal::letter(&summary);
        Self {
            summary,
            package,
            letter,
            package_destroyed: None,
        }
    }
}

/// `GET /v1/legal/notices`. (No `Debug`: it holds names and addresses.)
#[derive(Serialize, ToSchema)]
pub struct NoticeList {
    pub notices: Vec<Notice>,
}

/// One cardholder notice to send.
#[derive(Serialize, ToSchema)]
pub struct Notice {
    pub notice_id: String,
    /// The legal request that queued it.
    pub request_id: String,
    /// The request's reference.
    pub reference: String,
    /// RFC 3339.
    pub queued_at: Option<String>,
    #[serde(flatten)]
    pub cardholder: NoticeCardholder,
}

/// Whom to notify, or why nobody is.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum NoticeCardholder {
    /// The cardholder's name, card number and address.
    Known {
        /// Null for records enrolled before the number was kept.
        card_number: Option<String>,
        full_name: String,
        /// Null when the record holds none.
        address: Option<Address>,
        /// The holder's languages (BCP 47), to write the notice in.
        languages: Vec<String>,
    },
    /// The cardholder record is gone.
    Destroyed {
        /// "the cardholder record has been destroyed; nobody to notify".
        status: String,
    },
}

/// `POST /v1/legal/notices/{id}/sent`.
#[derive(Debug, Serialize, ToSchema)]
pub struct NoticeSent {
    pub notice_id: String,
    /// "sent".
    #[schema(example = "sent")]
    pub status: String,
}
