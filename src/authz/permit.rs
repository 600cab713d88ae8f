use super::Action;
use crate::domain::vocab::Purpose;

/// Proof that Cedar allowed `principal` to perform `action` for `purpose`.
/// Only the policy engine makes one; functions that open cardholder data
/// take one and check it is for their action.
#[derive(Debug)]
pub struct Permit {
    action: Action,
    principal: String,
    purpose: Purpose,
    decision_id: String,
}

impl Permit {
    pub(super) fn new(action: Action, principal: String, purpose: Purpose, decision_id: String) -> Self {
        Self {
            action,
            principal,
            purpose,
            decision_id,
        }
    }

    #[must_use]
    pub fn action(&self) -> Action {
        self.action
    }

    #[must_use]
    pub fn principal(&self) -> &str {
        &self.principal
    }

    #[must_use]
    pub fn purpose(&self) -> Purpose {
        self.purpose
    }

    #[must_use]
    pub fn decision_id(&self) -> &str {
        &self.decision_id
    }

    /// True when this permit is for `action`.
    #[must_use]
    pub fn allows(&self, action: Action) -> bool {
        self.action == action
    }
}
