//! Oversight: the audit log. (The chain report, the retention status and
//! the sweep report are the domain's and the vault's own types.)

use serde::Serialize;
use utoipa::ToSchema;

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
    pub entry: AuditEntry,
    /// `sha256(prev_hash ‖ canonical entry)`, as `sha256:<hex>`.
    pub hash: String,
}
