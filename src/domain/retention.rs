//! What retention destroys, by data class, and the report of one sweep.
//! The sweep itself (which destroys keys and records) is
//! the `vault::retention` module's.

use serde::Serialize;

use super::audit::Certificate;

pub const SOURCE_DOCUMENTS: &str = "source_documents";
pub const INACTIVE_CARDHOLDERS: &str = "inactive_cardholders";
pub const KEY_ENCRYPTION_KEY: &str = "key_encryption_key";

/// What one sweep did.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SweepReport {
    pub sweep_id: String,
    pub trigger: String,
    pub started_at: String,
    pub finished_at: String,
    /// One certificate per destruction.
    pub destroyed: Vec<Certificate>,
    /// What was due but kept, and why (legal holds).
    pub skipped: Vec<String>,
    /// Destructions that failed and will be tried again next sweep.
    pub errors: Vec<String>,
}
