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
