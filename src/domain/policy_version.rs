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

/// The policy test cases that travel with a version: one JSON object each,
/// as in `policies/tests/*.json` (`name`, `principal`, `action`,
/// `resource`, `purpose`, optional `context`, `expect`).
pub type PolicyTests = Vec<serde_json::Value>;

/// Which tests a candidate adds, removes or changes against the active
/// ones, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TestChanges {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

/// The changes from `old` to `new` (cases matched by `name`).
#[must_use]
pub fn test_changes(old: &[serde_json::Value], new: &[serde_json::Value]) -> TestChanges {
    let name = |v: &serde_json::Value| v["name"].as_str().unwrap_or_default().to_owned();
    let mut out = TestChanges::default();
    for n in new {
        match old.iter().find(|o| name(o) == name(n)) {
            None => out.added.push(name(n)),
            Some(o) if o != n => out.changed.push(name(n)),
            Some(_) => {}
        }
    }
    for o in old {
        if !new.iter().any(|n| name(n) == name(o)) {
            out.removed.push(name(o));
        }
    }
    out
}

/// The cases of test files (each a JSON array), as one list.
#[must_use]
pub fn flatten_tests(files: &[(String, String)]) -> PolicyTests {
    files
        .iter()
        .filter_map(|(_, text)| serde_json::from_str::<PolicyTests>(text).ok())
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn test_changes_by_name() {
        let old = vec![
            json!({"name": "a", "expect": "allow"}),
            json!({"name": "b", "expect": "deny"}),
        ];
        let new = vec![
            json!({"name": "a", "expect": "deny"}),
            json!({"name": "c", "expect": "allow"}),
        ];
        let c = test_changes(&old, &new);
        assert_eq!(
            (c.added, c.removed, c.changed),
            (vec!["c".into()], vec!["b".into()], vec!["a".into()])
        );
    }
}
