//! The policy engine's memo of fact decisions: a decision already made by
//! this engine (so under one policy set) for the same principal (its every
//! attribute), fact and context is the same decision, since a fact entity
//! has no attributes and Cedar sees nothing else. Capped; started again
//! when full. The differential test in `decide_tests.rs` checks it
//! against plain Cedar.

use std::collections::HashMap;

use super::{Decision, RequestContext, Resource};
use crate::domain::principal::Principal;

/// Fact decisions remembered at most (then the memo starts again).
const CAP: usize = 65_536;

/// One remembered fact decision.
#[derive(Clone, Debug)]
pub(super) struct Memo {
    pub(super) allowed: bool,
    pub(super) policies: Vec<String>,
}

/// Fact decisions by principal, then context, then fact (each level found
/// by reference, so a lookup allocates nothing).
#[derive(Debug, Default)]
pub(super) struct FactsMemo {
    by: HashMap<Principal, HashMap<RequestContext, HashMap<String, Memo>>>,
    len: usize,
}

impl FactsMemo {
    /// The remembered decisions of every fact in `resources` for `p` in
    /// `cx`, or `None` if any is not remembered.
    pub(super) fn get(&self, p: &Principal, resources: &[Resource], cx: &RequestContext) -> Option<Vec<Memo>> {
        let by_fact = self.by.get(p)?.get(cx)?;
        resources
            .iter()
            .map(|r| match r {
                Resource::Fact(f) => by_fact.get(f.as_str()).cloned(),
                _ => None,
            })
            .collect()
    }

    /// Remembers `decided`, the decisions of `resources` for `p` in `cx`.
    pub(super) fn put(&mut self, p: &Principal, resources: &[Resource], cx: &RequestContext, decided: &[Decision]) {
        if self.len >= CAP {
            *self = Self::default();
        }
        let by_fact = self.by.entry(p.clone()).or_default().entry(cx.clone()).or_default();
        for (r, d) in resources.iter().zip(decided) {
            if let Resource::Fact(f) = r {
                let fresh = Memo {
                    allowed: d.allowed,
                    policies: d.policies.clone(),
                };
                if by_fact.insert(f.clone(), fresh).is_none() {
                    self.len += 1;
                }
            }
        }
    }
}
