//! Versions of the editable policy set.

use serde::{Deserialize, Serialize};

/// One version of the editable policies, as stored. Activation is atomic:
/// the newest version is the active one, and each request is decided by
/// exactly one version, which its audit entry names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyVersion {
    pub version: u64,
    pub digest: String,
    pub author: String,
    pub at: i64,
    pub comment: String,
    pub policies: String,
}
