//! Every access decision is a Cedar decision. This module turns a caller,
//! an action, a resource and the request's context into a Cedar request,
//! decides it against the floor plus the editable policies, and hands back
//! either a [`Permit`] — the only way to reach code that reads cardholder
//! data — or the denial with the policies that determined it.

mod canaries;
pub mod check;
mod engine;
pub mod nesting;
mod permit;
pub mod proof;
pub mod replay;
mod sources;

pub use engine::{new_decision_id, Decision, PolicyEngine, PolicyProblem};
pub use permit::Permit;
pub use sources::PolicySources;

use crate::domain::vocab::Purpose;

/// The actions of the schema, one per kind of request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Enroll,
    ReadPhoto,
    RevokeCard,
    EraseCard,
    IssuePrincipal,
    DeletePrincipal,
    ApprovePrincipal,
    RotatePrincipal,
    ListPrincipals,
    ReadAudit,
    VerifyAudit,
    ReadMetrics,
    QueryFact,
    ReadRetention,
    RunSweep,
    RequestHold,
    ApproveHold,
    ReleaseHold,
    ListHolds,
    ReadPolicies,
    CheckPolicies,
    UpdatePolicies,
    LegalRequest,
    ReadLegalRequest,
    ListNotices,
    Disclose,
}

impl Action {
    pub const ALL: [Self; 26] = [
        Self::Enroll,
        Self::ReadPhoto,
        Self::RevokeCard,
        Self::EraseCard,
        Self::IssuePrincipal,
        Self::DeletePrincipal,
        Self::ApprovePrincipal,
        Self::RotatePrincipal,
        Self::ListPrincipals,
        Self::ReadAudit,
        Self::VerifyAudit,
        Self::ReadMetrics,
        Self::QueryFact,
        Self::ReadRetention,
        Self::RunSweep,
        Self::RequestHold,
        Self::ApproveHold,
        Self::ReleaseHold,
        Self::ListHolds,
        Self::ReadPolicies,
        Self::CheckPolicies,
        Self::UpdatePolicies,
        Self::LegalRequest,
        Self::ReadLegalRequest,
        Self::ListNotices,
        Self::Disclose,
    ];

    /// The schema's resource type for this action.
    #[must_use]
    pub fn resource_kind(self) -> &'static str {
        match self {
            Self::ReadPhoto
            | Self::RevokeCard
            | Self::EraseCard
            | Self::RequestHold
            | Self::ApproveHold
            | Self::ReleaseHold => "Card",
            Self::QueryFact => "Fact",
            Self::Disclose => "LegalItem",
            _ => "Vault",
        }
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enroll => "enroll",
            Self::ReadPhoto => "read_photo",
            Self::RevokeCard => "revoke_card",
            Self::EraseCard => "erase_card",
            Self::IssuePrincipal => "issue_principal",
            Self::DeletePrincipal => "delete_principal",
            Self::ApprovePrincipal => "approve_principal",
            Self::RotatePrincipal => "rotate_principal",
            Self::ListPrincipals => "list_principals",
            Self::ReadAudit => "read_audit",
            Self::VerifyAudit => "verify_audit",
            Self::ReadMetrics => "read_metrics",
            Self::QueryFact => "query_fact",
            Self::ReadRetention => "read_retention",
            Self::RunSweep => "run_sweep",
            Self::RequestHold => "request_hold",
            Self::ApproveHold => "approve_hold",
            Self::ReleaseHold => "release_hold",
            Self::ListHolds => "list_holds",
            Self::ReadPolicies => "read_policies",
            Self::CheckPolicies => "check_policies",
            Self::UpdatePolicies => "update_policies",
            Self::LegalRequest => "legal_request",
            Self::ReadLegalRequest => "read_legal_request",
            Self::ListNotices => "list_notices",
            Self::Disclose => "disclose",
        }
    }
}

/// What a request is about. Ids are opaque (keyed hashes or fixed names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resource {
    Vault,
    Card(String),
    Fact(String),
    /// One item of a legal request (`card_status`, `photo`, `aggregate`, ...).
    LegalItem(String),
}

/// The request facts that go into the Cedar context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestContext {
    pub purpose: Purpose,
    pub card_status: Option<&'static str>,
    pub distinct_cards_last_hour: Option<i64>,
    pub requested_by_self: Option<bool>,
    /// Issuing or approving a principal: the roles it would hold.
    pub requested_roles: Option<Vec<&'static str>>,
    /// Facts: the floor's ceiling on distinct cards per system per hour
    /// (from config, never from the editable policies).
    pub bulk_ceiling_per_hour: Option<i64>,
    /// Enrollment: how many of this clerk's enrollments today met
    /// "a document already backs an active card" (409s).
    pub duplicate_outcomes_today: Option<i64>,
    /// Legal requests: the process, whether a judge signed it, who asks,
    /// the item decided and what kind of subject the request names.
    pub legal: Option<LegalContext>,
}

/// The Cedar context of one legal-request item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegalContext {
    pub process: &'static str,
    pub signed_by_judge: bool,
    pub requester_agency_kind: &'static str,
    pub item: &'static str,
    pub subject_kind: &'static str,
}

impl RequestContext {
    #[must_use]
    pub fn purpose(purpose: Purpose) -> Self {
        Self {
            purpose,
            card_status: None,
            distinct_cards_last_hour: None,
            requested_by_self: None,
            requested_roles: None,
            bulk_ceiling_per_hour: None,
            duplicate_outcomes_today: None,
            legal: None,
        }
    }
}
