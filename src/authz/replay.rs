//! Impact replay: re-decide recorded decisions under a candidate policy set
//! and list the ones that would flip. The audit keeps what this needs —
//! principal id, action, resource label, purpose and the extra context
//! (counts and flags) — and no personal data; principal attributes come from
//! the principal records.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use serde::Serialize;

use super::{Action, PolicyEngine, RequestContext, Resource};
use crate::domain::audit::{AuditEntry, Decision};
use crate::domain::principal::Principal;
use crate::domain::vocab::Purpose;

/// How a resource is written in audit entries.
#[must_use]
pub fn resource_label(resource: &Resource) -> String {
    match resource {
        Resource::Vault => "Vault".into(),
        Resource::Card(_) => "Card".into(),
        Resource::Fact(f) => format!("Fact::{f}"),
        Resource::LegalItem(i) => format!("LegalItem::{i}"),
    }
}

fn resource_of(label: &str) -> Option<Resource> {
    match label {
        "Vault" => Some(Resource::Vault),
        "Card" => Some(Resource::Card("replay".into())),
        other => other
            .strip_prefix("Fact::")
            .map(|f| Resource::Fact(f.to_owned()))
            .or_else(|| {
                other
                    .strip_prefix("LegalItem::")
                    .map(|i| Resource::LegalItem(i.to_owned()))
            }),
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Flip {
    pub decision_id: String,
    pub seq: u64,
    pub principal: String,
    pub action: String,
    pub resource: String,
    pub from: Decision,
    pub to: Decision,
}

#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct ImpactReport {
    pub replayed: usize,
    /// Decisions that could not be replayed (principal deleted since, or no
    /// replay inputs recorded).
    pub skipped: usize,
    pub changed: Vec<Flip>,
    /// `principal action` → how many decisions flip.
    pub counts: BTreeMap<String, usize>,
    pub millis: u64,
}

/// What an entry decided, one resource each: a fact query's facts (its
/// `items`, since v1.2: one entry per query), else the entry's resource.
fn targets(e: &AuditEntry) -> Option<Vec<(Resource, Decision)>> {
    if e.action == Action::QueryFact.as_str() && !e.items.is_empty() {
        return Some(
            e.items
                .iter()
                .map(|(fact, d)| (Resource::Fact(fact.clone()), *d))
                .collect(),
        );
    }
    Some(vec![(resource_of(e.resource.as_deref()?)?, e.decision)])
}

/// Re-decides `entries` under `engine`, each decision they record.
#[must_use]
pub fn replay(engine: &PolicyEngine, entries: &[AuditEntry], principals: &HashMap<String, Principal>) -> ImpactReport {
    let started = Instant::now();
    let mut report = ImpactReport::default();
    for e in entries {
        let inputs = (|| {
            let action = Action::ALL.iter().copied().find(|a| a.as_str() == e.action)?;
            e.decision_id.as_ref()?;
            let principal = principals.get(e.principal.as_deref()?)?;
            let purpose: Purpose = e.purpose.as_deref()?.parse().ok()?;
            Some((action, principal, purpose, targets(e)?))
        })();
        let Some((action, principal, purpose, targets)) = inputs else {
            if e.decision_id.is_some() {
                report.skipped += 1;
            }
            continue;
        };
        let extra = e.context.clone().unwrap_or_default();
        let cx = RequestContext {
            distinct_cards_last_hour: extra.distinct_cards_last_hour,
            requested_by_self: extra.requested_by_self,
            requested_roles: extra.requested_roles.as_ref().map(|roles| {
                roles
                    .iter()
                    .filter_map(|r| r.parse::<crate::domain::vocab::Role>().ok())
                    .map(crate::domain::vocab::Role::as_str)
                    .collect()
            }),
            bulk_ceiling_per_hour: extra.bulk_ceiling_per_hour,
            duplicate_outcomes_today: extra.duplicate_outcomes_today,
            ..RequestContext::purpose(purpose)
        };
        let id = e.decision_id.clone().unwrap_or_default();
        let resources: Vec<Resource> = targets.iter().map(|(r, _)| r.clone()).collect();
        let now = engine.decide_each(principal, action, &resources, &cx, &id);
        for ((resource, from), d) in targets.into_iter().zip(now) {
            let to = if d.allowed { Decision::Allow } else { Decision::Deny };
            report.replayed += 1;
            if to != from {
                *report
                    .counts
                    .entry(format!("{} {}", principal.id, action.as_str()))
                    .or_default() += 1;
                report.changed.push(Flip {
                    decision_id: id.clone(),
                    seq: e.seq,
                    principal: principal.id.clone(),
                    action: action.as_str().into(),
                    resource: resource_label(&resource),
                    from,
                    to,
                });
            }
        }
    }
    report.millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    report
}
