//! Deciding: one Cedar authorization per resource, with the policies whose
//! outcome cannot depend on the resource evaluated once per request.
//!
//! A fact query asks three facts under one principal, action and context.
//! Of the ~15 policies that apply to `query_fact`, the floor's rules and the
//! bulk guards never name `resource` (their scope leaves it open and their
//! conditions do not mention it), so each evaluates the same for every fact.
//! Those are the *shared* policies of an action; they are evaluated once,
//! and only the rest (the permits naming facts) once per resource.
//!
//! Why the outcome is the same as deciding each resource against the whole
//! set: Cedar's decision is a function of which policies are satisfied and
//! which err — Deny with the satisfied forbids as its reasons if any forbid
//! is satisfied, else Allow with the satisfied permits if any, else Deny
//! with none; an erring policy is skipped and reported. A policy that never
//! names the resource is satisfied (or errs) for one resource exactly when
//! for another, so the satisfied and erring sets of the whole are the unions
//! of the two parts', and [`combine`] applies the same rule to the unions.
//! `split_decisions_equal_whole_set_decisions` in the tests checks it
//! against plain Cedar over the whole shipped set on random requests.
//!
//! Per resource, the policies whose resource scope names another resource
//! (`resource == Fact::"card_valid"` when asking `resident`) are left out
//! too ([`ActionPolicies::for_resource`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, PoisonError, RwLock};

use cedar_policy::{
    ActionConstraint, Authorizer, Decision as CedarDecision, EntityUid, PolicySet, Request, ResourceConstraint,
    Response,
};

/// An action's applicable policies, split by whether they can depend on the
/// resource.
pub(super) struct ActionPolicies {
    /// Every policy whose scope can apply to the action.
    pub(super) all: PolicySet,
    /// Those that never name `resource`: one evaluation serves every resource.
    pub(super) shared: PolicySet,
    /// Those that do.
    pub(super) per_resource: Arc<PolicySet>,
    /// `per_resource` without the policies whose resource scope cannot
    /// match one resource (`resource == Fact::"card_valid"` when asking
    /// `resident`), by resource; only for the closed sets of resources
    /// (facts, legal items, the vault), never per card.
    narrowed: RwLock<HashMap<EntityUid, Arc<PolicySet>>>,
}

/// Narrowed sets kept at most per action (facts and legal items are a few dozen).
const NARROWED_MAX: usize = 256;

impl ActionPolicies {
    /// The policies of `set` whose action scope admits `action`, split.
    pub(super) fn of(set: &PolicySet, action: &EntityUid) -> Self {
        let mut all = PolicySet::new();
        let mut shared = PolicySet::new();
        let mut per_resource = PolicySet::new();
        for p in set.policies() {
            let applies = match p.action_constraint() {
                ActionConstraint::Any => true,
                ActionConstraint::Eq(a) => &a == action,
                ActionConstraint::In(list) => list.contains(action),
            };
            if !applies {
                continue;
            }
            let part = if names_resource(p) {
                &mut per_resource
            } else {
                &mut shared
            };
            // Ids are unique in `set`, so adding to fresh sets cannot clash.
            let _ = part.add(p.clone());
            let _ = all.add(p.clone());
        }
        Self {
            all,
            shared,
            per_resource: Arc::new(per_resource),
            narrowed: RwLock::new(HashMap::new()),
        }
    }

    /// The per-resource policies that can apply to `resource`. Dropped are
    /// only those whose resource scope is `== E` for another `E` or `is T`
    /// for another type: such a policy's condition starts with its scope,
    /// which is false, so it is neither satisfied nor evaluated further (it
    /// cannot err). With `closed` false (a card: one set per card would
    /// grow without bound) the whole per-resource set.
    pub(super) fn for_resource(&self, resource: &EntityUid, closed: bool) -> Arc<PolicySet> {
        if !closed {
            return Arc::clone(&self.per_resource);
        }
        if let Some(set) = self
            .narrowed
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(resource)
        {
            return Arc::clone(set);
        }
        let mut set = PolicySet::new();
        for p in self.per_resource.policies() {
            let can_apply = match p.resource_constraint() {
                ResourceConstraint::Eq(e) => &e == resource,
                ResourceConstraint::Is(t) => &t == resource.type_name(),
                ResourceConstraint::Any | ResourceConstraint::In(_) | ResourceConstraint::IsIn(..) => true,
            };
            if can_apply {
                // Ids are unique in `per_resource`, so adding cannot clash.
                let _ = set.add(p.clone());
            }
        }
        let set = Arc::new(set);
        let mut narrowed = self.narrowed.write().unwrap_or_else(PoisonError::into_inner);
        if narrowed.len() < NARROWED_MAX {
            narrowed.insert(resource.clone(), Arc::clone(&set));
        }
        set
    }
}

/// Whether a policy's scope or conditions name `resource`. When its JSON
/// form cannot be had, it is taken to name it (evaluated per resource: the
/// slow way, never a wrong one).
fn names_resource(p: &cedar_policy::Policy) -> bool {
    if !matches!(p.resource_constraint(), ResourceConstraint::Any) {
        return true;
    }
    match p.to_json() {
        Ok(json) => json.get("conditions").is_none_or(mentions_resource),
        Err(_) => true,
    }
}

/// Whether an expression in Cedar's JSON form holds the variable `resource`
/// anywhere (`{"Var": "resource"}`).
fn mentions_resource(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Object(map) => map
            .iter()
            .any(|(k, v)| (k == "Var" && v.as_str() == Some("resource")) || mentions_resource(v)),
        serde_json::Value::Array(items) => items.iter().any(mentions_resource),
        _ => false,
    }
}

/// What one authorization (or the union of two) found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Found {
    /// Satisfied forbids (when any).
    pub(super) forbids: BTreeSet<String>,
    /// Satisfied permits (only known when no forbid was satisfied, which is
    /// the only case where they matter).
    pub(super) permits: BTreeSet<String>,
    /// Some floor policy erred while evaluating.
    pub(super) floor_error: bool,
}

impl Found {
    pub(super) fn of(response: &Response) -> Self {
        let reasons: BTreeSet<String> = response.diagnostics().reason().map(ToString::to_string).collect();
        let floor_error = response.diagnostics().errors().any(|e| match e {
            cedar_policy::AuthorizationError::PolicyEvaluationError(e) => {
                e.policy_id().to_string().starts_with("floor.")
            }
        });
        let (forbids, permits) = match response.decision() {
            CedarDecision::Allow => (BTreeSet::new(), reasons),
            CedarDecision::Deny => (reasons, BTreeSet::new()),
        };
        Self {
            forbids,
            permits,
            floor_error,
        }
    }
}

/// Cedar's rule over the union of two parts' findings: (allowed, the
/// policies that determined it, a floor policy erred).
pub(super) fn combine(a: &Found, b: &Found) -> (bool, Vec<String>, bool) {
    let floor_error = a.floor_error || b.floor_error;
    if !a.forbids.is_empty() || !b.forbids.is_empty() {
        return (false, a.forbids.union(&b.forbids).cloned().collect(), floor_error);
    }
    let permits: Vec<String> = a.permits.union(&b.permits).cloned().collect();
    (!permits.is_empty(), permits, floor_error)
}

/// One authorization of `request` against `set`.
pub(super) fn authorize(
    authorizer: &Authorizer,
    request: &Request,
    set: &PolicySet,
    entities: &cedar_policy::Entities,
) -> Found {
    Found::of(&authorizer.is_authorized(request, set, entities))
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
