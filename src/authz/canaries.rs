//! The canary suite: concrete requests that must be denied whatever the
//! editable policies say — every refused purpose under every action, fact
//! and legal item, every purpose from a federal immigration system,
//! administrative process, and federal immigration legal process beyond the
//! one opening the floor leaves. Any allowed canary rejects a policy set.

use super::{new_decision_id, Action, LegalContext, PolicyEngine, RequestContext, Resource};
use crate::domain::legal::{Item, Process, AGGREGATE, DOCUMENT_MATCH};
use crate::domain::principal::Principal;
use crate::domain::vocab::{AgencyKind, PrincipalKind, Purpose, Role};

/// The purposes that exist to be refused.
const REFUSED: [Purpose; 4] = [
    Purpose::ImmigrationEnforcement,
    Purpose::CivilImmigrationEnforcement,
    Purpose::BulkScreening,
    Purpose::DataBrokerage,
];

fn resources_for(action: Action) -> Vec<Resource> {
    match action.resource_kind() {
        "Card" => vec![Resource::Card("canary".into())],
        "Fact" => [
            "card_valid",
            "resident",
            "age_over_13",
            "age_over_18",
            "age_over_21",
            "age_over_62",
            "age_over_65",
            "name_matches",
            "birth_date_matches",
            "address_matches",
        ]
        .into_iter()
        .map(|f| Resource::Fact(f.into()))
        .collect(),
        "LegalItem" => legal_items()
            .into_iter()
            .map(|(i, _)| Resource::LegalItem(i.into()))
            .collect(),
        _ => vec![Resource::Vault],
    }
}

/// Every item a legal request can be decided on, with its subject kind.
pub(super) fn legal_items() -> Vec<(&'static str, &'static str)> {
    let mut items: Vec<(&str, &str)> = Item::ALL.iter().map(|i| (i.as_str(), "card")).collect();
    items.push((DOCUMENT_MATCH, "document"));
    items.push((AGGREGATE, "aggregate"));
    items
}

/// The legal contexts a canary is asked under for one purpose: for every
/// agency kind and item, a judge-signed judicial warrant (so a refused
/// purpose or a federal principal is refused even on the strongest process),
/// plus — under `legal_process` — administrative process of both kinds, and
/// every process from a federal immigration requester except the one the
/// floor leaves open (card_status on a judge-signed judicial warrant).
fn legal_contexts(purpose: Purpose) -> Vec<LegalContext> {
    let mut out = Vec::new();
    for agency in AgencyKind::ALL {
        for (item, subject_kind) in legal_items() {
            let cx = |process: Process, signed_by_judge: bool| LegalContext {
                process: process.as_str(),
                signed_by_judge,
                requester_agency_kind: agency.as_str(),
                item,
                subject_kind,
            };
            if purpose != Purpose::LegalProcess {
                out.push(cx(Process::JudicialWarrant, true));
                continue;
            }
            for process in [Process::AdministrativeSubpoena, Process::AdministrativeWarrant] {
                out.push(cx(process, true));
                out.push(cx(process, false));
            }
            if *agency == AgencyKind::FederalImmigration {
                for process in Process::ALL {
                    for signed in [true, false] {
                        let open = *process == Process::JudicialWarrant && signed && item == "card_status";
                        if !open {
                            out.push(cx(*process, signed));
                        }
                    }
                }
            }
        }
    }
    out
}

/// Every principal shape a canary is asked as: staff with every role, and a
/// system of every agency kind registered for every purpose.
fn canary_principals() -> Vec<Principal> {
    let base = Principal {
        id: "canary".into(),
        kind: PrincipalKind::Staff,
        roles: Role::ALL.to_vec(),
        agency_kind: None,
        purposes: Vec::new(),
        token_hash: [0; 32],
        created_at: 0,
        status: crate::domain::principal::PrincipalStatus::Active,
        issued_by: None,
        approved_by: None,
    };
    let mut out = vec![base.clone()];
    for agency in AgencyKind::ALL {
        out.push(Principal {
            id: format!("canary-{}", agency.as_str()),
            kind: PrincipalKind::System,
            roles: Vec::new(),
            agency_kind: Some(*agency),
            purposes: Purpose::ALL.to_vec(),
            ..base.clone()
        });
    }
    out
}

/// Runs the canary suite; returns the canaries that were allowed.
#[must_use]
pub fn canaries(engine: &PolicyEngine) -> (usize, Vec<String>) {
    let mut asked = 0;
    let mut allowed = Vec::new();
    let id = new_decision_id();
    for p in canary_principals() {
        let federal = p.agency_kind == Some(AgencyKind::FederalImmigration);
        for action in Action::ALL {
            let resources = resources_for(action);
            // Refused purposes, for everyone; every purpose for federal
            // immigration; for staff, legal process under refused contexts.
            let mut purposes: Vec<Purpose> = if federal {
                Purpose::ALL.to_vec()
            } else {
                REFUSED.to_vec()
            };
            if action == Action::Disclose && !federal {
                purposes.push(Purpose::LegalProcess);
            }
            for purpose in purposes {
                let base = RequestContext {
                    distinct_cards_last_hour: Some(1),
                    bulk_ceiling_per_hour: Some(5000),
                    requested_by_self: Some(false),
                    ..RequestContext::purpose(purpose)
                };
                let contexts: Vec<RequestContext> = if action == Action::Disclose {
                    legal_contexts(purpose)
                        .into_iter()
                        .map(|l| RequestContext {
                            legal: Some(l),
                            ..base.clone()
                        })
                        .collect()
                } else {
                    vec![base]
                };
                for cx in contexts {
                    // A legal context names its item: decide that item only.
                    let asked_for: Vec<Resource> = match &cx.legal {
                        Some(l) => vec![Resource::LegalItem(l.item.to_owned())],
                        None => resources.clone(),
                    };
                    for (resource, d) in asked_for
                        .iter()
                        .zip(engine.decide_each(&p, action, &asked_for, &cx, &id))
                    {
                        asked += 1;
                        if d.allowed {
                            allowed.push(format!(
                                "{} {} {} for {}{} allowed by {}",
                                p.agency_kind.map_or("staff", AgencyKind::as_str),
                                action.as_str(),
                                match resource {
                                    Resource::Fact(f) | Resource::LegalItem(f) => f.as_str(),
                                    Resource::Card(_) => "a card",
                                    Resource::Vault => "the vault",
                                },
                                purpose.as_str(),
                                cx.legal.as_ref().map_or(String::new(), |l| format!(
                                    " ({} from {}, signed by a judge: {})",
                                    l.process, l.requester_agency_kind, l.signed_by_judge
                                )),
                                d.policies.join(",")
                            ));
                        }
                    }
                }
            }
        }
    }
    separation_of_duties(engine, &id, &mut asked, &mut allowed);
    (asked, allowed)
}

/// Issuing or approving a principal with a forbidden role pair, and an
/// issuer approving its own principal, asked as a staff principal holding
/// every role for the purpose admins work under.
fn separation_of_duties(engine: &PolicyEngine, id: &str, asked: &mut usize, allowed: &mut Vec<String>) {
    let principals = canary_principals();
    let Some(p) = principals.first() else {
        return;
    };
    let mut cases: Vec<(Action, RequestContext, String)> = Vec::new();
    for (a, b) in crate::domain::principal::FORBIDDEN_PAIRS {
        for action in [Action::IssuePrincipal, Action::ApprovePrincipal] {
            for extra in [None, Some(Role::Auditor)] {
                let mut roles = vec![a.as_str(), b.as_str()];
                roles.extend(extra.map(Role::as_str));
                cases.push((
                    action,
                    RequestContext {
                        requested_by_self: Some(false),
                        requested_roles: Some(roles),
                        ..RequestContext::purpose(Purpose::SystemAdministration)
                    },
                    format!("{} with roles {} and {}", action.as_str(), a.as_str(), b.as_str()),
                ));
            }
        }
    }
    for self_approval in [Some(true), None] {
        cases.push((
            Action::ApprovePrincipal,
            RequestContext {
                requested_by_self: self_approval,
                requested_roles: Some(vec!["privacy_officer"]),
                ..RequestContext::purpose(Purpose::SystemAdministration)
            },
            "approve_principal by its issuer".to_owned(),
        ));
    }
    // Past the configured ceiling, whatever the editable guards say.
    for (distinct, ceiling) in [(2, 1), (5001, 5000), (i64::MAX, 1_000_000)] {
        cases.push((
            Action::QueryFact,
            RequestContext {
                distinct_cards_last_hour: Some(distinct),
                bulk_ceiling_per_hour: Some(ceiling),
                ..RequestContext::purpose(Purpose::LibraryServices)
            },
            format!("query_fact over the bulk ceiling ({distinct} > {ceiling})"),
        ));
    }
    for (action, cx, what) in cases {
        let resource = if action == Action::QueryFact {
            Resource::Fact("card_valid".into())
        } else {
            Resource::Vault
        };
        // Fact queries come from systems: ask as every system shape too.
        for who in principals
            .iter()
            .filter(|q| action == Action::QueryFact || q.id == p.id)
        {
            *asked += 1;
            let d = engine.decide_each(who, action, std::slice::from_ref(&resource), &cx, id);
            if let Some(d) = d.first().filter(|d| d.allowed) {
                allowed.push(format!("{} {what} allowed by {}", who.id, d.policies.join(",")));
            }
        }
    }
}
