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

/// The unified diff between two versions' editable texts.
#[must_use]
pub fn unified_diff(old: &str, new: &str, from: &str, to: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(from, to)
        .to_string()
}

/// The digest a policy change's audit entry carries for its diff: sha256
/// over [`unified_diff`] from `version N` to `version N+1`.
#[must_use]
pub fn diff_digest(old: &str, new: &str, from: u64, to: u64) -> String {
    use sha2::{Digest, Sha256};
    let diff = unified_diff(old, new, &format!("version {from}"), &format!("version {to}"));
    format!("sha256:{}", hex::encode(Sha256::digest(diff.as_bytes())))
}
