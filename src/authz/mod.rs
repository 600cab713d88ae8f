//! Every access decision is a Cedar decision. This module turns a caller,
//! an action, a resource and the request's context into a Cedar request,
//! decides it against the floor plus the editable policies, and hands back
//! either a [`Permit`] — the only way to reach code that reads cardholder
//! data — or the denial with the policies that determined it.

mod canaries;
pub mod check;
mod decide;
mod engine;
mod memo;
pub mod nesting;
pub mod proof;
pub mod replay;
mod request;
mod sources;

pub use crate::domain::access::Permit;
pub use crate::domain::action::Action;
pub use engine::{new_decision_id, Decision, PolicyEngine, PolicyProblem};
pub use sources::PolicySources;

use crate::domain::vocab::Purpose;

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
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
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
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
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
