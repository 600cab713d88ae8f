//! Policy administration.

use serde::Serialize;
use utoipa::ToSchema;

use crate::authz::check::CheckReport;
use crate::authz::proof::ProofReport;
use crate::authz::replay::ImpactReport;
use crate::domain::policy_version::PolicyVersion;

/// `GET /v1/policies`: the active version, its editable text and the floor.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivePolicies {
    pub version: u64,
    /// Digest of the active policy set.
    pub digest: String,
    /// The editable policies' text (Cedar).
    pub policies: String,
    /// The floor's text (Cedar; not editable).
    pub floor: String,
    /// The Cedar schema.
    pub schema: String,
    /// v1.1: the policy test cases of the active version, each as in
    /// `policies/tests/*.json`.
    #[schema(value_type = Vec<Object>)]
    pub tests: Vec<serde_json::Value>,
}

/// `POST /v1/policies/check`: the check report and, when the candidate
/// compiled, the impact replay of recorded decisions (else null).
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckAnswer {
    #[serde(flatten)]
    pub report: CheckReport,
    pub impact: Option<ImpactReport>,
}

/// `PUT /v1/policies` and `POST /v1/policies/rollback`: the version now
/// active.
#[derive(Debug, Serialize, ToSchema)]
pub struct Activated {
    pub version: u64,
    pub digest: String,
    /// Digest of the change from the previous version's text.
    pub diff_digest: String,
    /// How many canary requests the new set was checked against.
    pub canaries: usize,
    /// The symbolic proof's report, or null when it did not run.
    pub proof: Option<ProofReport>,
}

/// One version in the history.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyVersionRow {
    pub version: u64,
    pub digest: String,
    /// The principal who made it.
    pub who: String,
    /// RFC 3339.
    pub when: Option<String>,
    pub comment: String,
}

impl From<&PolicyVersion> for PolicyVersionRow {
    fn from(p: &PolicyVersion) -> Self {
        Self {
            version: p.version,
            digest: p.digest.clone(),
            who: p.author.clone(),
            when: super::rfc3339(p.at),
            comment: p.comment.clone(),
        }
    }
}

/// `GET /v1/policies/versions`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyVersionList {
    pub versions: Vec<PolicyVersionRow>,
}

/// `GET /v1/policies/versions/{version}`: one version with its text.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyVersionText {
    #[serde(flatten)]
    pub row: PolicyVersionRow,
    /// The editable policies' text of that version.
    pub policies: String,
}
