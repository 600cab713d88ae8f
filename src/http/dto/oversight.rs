//! Oversight: the audit log. (The chain report, the retention status and
//! the sweep report are the domain's and the vault's own types.)

use serde::Serialize;
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::domain::audit::AuditEntry;

/// `GET /v1/audit`: a page of entries in sequence order.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntryView>,
    /// The last entry's `seq`, to pass as `after` for the next page; null
    /// when the page is empty.
    pub next_after: Option<u64>,
}

/// One entry as stored, with its chain hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryView {
    #[serde(flatten)]
    #[schema(schema_with = entry_fields)]
    pub entry: AuditEntry,
    /// `sha256(prev_hash ‖ canonical entry)`, as `sha256:<hex>`.
    pub hash: String,
}

/// `AuditEntry`'s schema, open to the `hash` beside it. The entry refuses
/// unknown fields when it is read back from storage, so its own schema
/// says `additionalProperties: false`, which would refuse `hash` here.
fn entry_fields() -> RefOr<Schema> {
    let mut schema = <AuditEntry as PartialSchema>::schema();
    if let RefOr::T(Schema::Object(object)) = &mut schema {
        object.additional_properties = None;
    }
    schema
}

/// `POST /v1/honey-cards`: the cards made. Their numbers are shown here,
/// once, to the privacy officer who made them; the vault keeps them only
/// sealed until each card is enrolled.
#[derive(Debug, Serialize, ToSchema)]
pub struct HoneyCardsCreated {
    pub cards: Vec<HoneyCardMade>,
}

/// One honey card made.
#[derive(Debug, Serialize, ToSchema)]
pub struct HoneyCardMade {
    /// The card number, formatted as any card's.
    pub card_number: String,
    /// `hc_<hex>`: what alerts name.
    pub honey_card: String,
    pub label: String,
    /// When the card is enrolled (RFC 3339): its own second, spread over
    /// `honey.spread`. Asking about the number raises the alert before too.
    pub enrolled_at: String,
}

/// `GET /v1/honey-cards/alerts`: the newest alerts first.
#[derive(Debug, Serialize, ToSchema)]
pub struct HoneyAlerts {
    pub alerts: Vec<HoneyAlert>,
}

/// One request that touched a honey card.
#[derive(Debug, Serialize, ToSchema)]
pub struct HoneyAlert {
    /// The alert's audit entry.
    pub seq: u64,
    /// When (RFC 3339).
    pub at: String,
    /// The principal whose request it was.
    pub principal: Option<String>,
    /// What the request was (`query_fact`, `lookup_card`, `legal_request`, ...).
    pub action: String,
    /// The honey card's id.
    pub honey_card: String,
    /// Its label, if the vault still holds the card.
    pub label: Option<String>,
}
