//! The split decision against plain Cedar: every decision of
//! [`PolicyEngine::decide_each`] (shared policies once, the rest per
//! resource) equals deciding each resource alone against the whole shipped
//! set with Cedar's own authorizer — the same allow or deny, the same
//! determining policies — over random principals, actions, resources and
//! contexts.
use cedar_policy::{Authorizer, Decision as CedarDecision, Request};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::super::{LegalContext, PolicySources, RequestContext, Resource};
use crate::authz::{Action, PolicyEngine};
use crate::domain::legal::{Aggregate, Item, Process};
use crate::domain::principal::{Principal, PrincipalStatus};
use crate::domain::vocab::{AgencyKind, PrincipalKind, Purpose, Role};

fn pick<T: Copy>(rng: &mut StdRng, items: &[T]) -> T {
    items[rng.gen_range(0..items.len())]
}

fn some<T>(rng: &mut StdRng, value: T) -> Option<T> {
    rng.gen_bool(0.7).then_some(value)
}

fn principal(rng: &mut StdRng) -> Principal {
    let staff = rng.gen_bool(0.5);
    Principal {
        id: format!("p{}", rng.gen_range(0..4)),
        kind: if staff {
            PrincipalKind::Staff
        } else {
            PrincipalKind::System
        },
        roles: if staff {
            Role::ALL.iter().copied().filter(|_| rng.gen_bool(0.3)).collect()
        } else {
            Vec::new()
        },
        agency_kind: (!staff).then(|| pick(rng, AgencyKind::ALL)),
        purposes: if staff {
            Vec::new()
        } else {
            Purpose::ALL.iter().copied().filter(|_| rng.gen_bool(0.3)).collect()
        },
        token_hash: [0; 32],
        created_at: 0,
        status: PrincipalStatus::Active,
        issued_by: None,
        approved_by: None,
    }
}

fn resources(rng: &mut StdRng, action: Action) -> Vec<Resource> {
    let facts = [
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
    ];
    let items: Vec<&str> = Item::ALL
        .iter()
        .map(|i| i.as_str())
        .chain(Aggregate::ALL.iter().map(|a| a.as_str()))
        .collect();
    (0..rng.gen_range(1..=4))
        .map(|_| match action.resource_kind() {
            "Card" => Resource::Card(format!("hmac-sha256:{:064x}", rng.gen_range(0..3u8))),
            "Fact" => Resource::Fact(pick(rng, &facts).to_owned()),
            "LegalItem" => Resource::LegalItem(pick(rng, &items).to_owned()),
            _ => Resource::Vault,
        })
        .collect()
}

fn context(rng: &mut StdRng) -> RequestContext {
    let counts = [0, 1, 499, 500, 501, 4_999, 5_000, 5_001, 9_000];
    let roles: Vec<&'static str> = Role::ALL
        .iter()
        .map(|r| r.as_str())
        .filter(|_| rng.gen_bool(0.3))
        .collect();
    let legal = LegalContext {
        process: pick(rng, Process::ALL).as_str(),
        signed_by_judge: rng.gen_bool(0.5),
        requester_agency_kind: pick(rng, AgencyKind::ALL).as_str(),
        item: pick(rng, Item::ALL).as_str(),
        subject_kind: pick(rng, &["card", "aggregate"]),
    };
    RequestContext {
        card_status: rng.gen_bool(0.5).then(|| pick(rng, &["active", "revoked", "expired"])),
        distinct_cards_last_hour: rng.gen_bool(0.6).then(|| pick(rng, &counts)),
        requested_by_self: rng.gen_bool(0.5).then(|| rng.gen_bool(0.5)),
        requested_roles: some(rng, roles),
        bulk_ceiling_per_hour: rng.gen_bool(0.6).then(|| pick(rng, &[100, 5_000])),
        duplicate_outcomes_today: rng.gen_bool(0.4).then(|| pick(rng, &counts)),
        legal: rng.gen_bool(0.4).then_some(legal),
        ..RequestContext::purpose(pick(rng, Purpose::ALL))
    }
}

/// Plain Cedar: one resource, the whole policy set, the stock authorizer.
fn reference(
    e: &PolicyEngine,
    p: &Principal,
    action: Action,
    r: &Resource,
    cx: &RequestContext,
) -> (bool, Vec<String>) {
    let cached = e.cached_entities(p).unwrap();
    let context = PolicyEngine::context(p, cx).unwrap();
    let request = Request::new(
        cached.uid.clone(),
        PolicyEngine::uid(&e.types.action, action.as_str()),
        e.resource_uid(r),
        context,
        None,
    )
    .unwrap();
    let response = Authorizer::new().is_authorized(&request, e.policy_set(), &cached.entities);
    let mut policies: Vec<String> = response.diagnostics().reason().map(ToString::to_string).collect();
    policies.sort();
    let floor_error = response.diagnostics().errors().any(|e| match e {
        cedar_policy::AuthorizationError::PolicyEvaluationError(e) => e.policy_id().to_string().starts_with("floor."),
    });
    (response.decision() == CedarDecision::Allow && !floor_error, policies)
}

#[test]
fn split_decisions_equal_whole_set_decisions() {
    let e = PolicyEngine::compile(&PolicySources::embedded(), 1).unwrap();
    let mut rng = StdRng::seed_from_u64(18);
    let (mut shared_allowed, mut shared_denied_by_policy, mut compared) = (0, 0, 0);
    for _ in 0..20_000 {
        let p = principal(&mut rng);
        let action = pick(&mut rng, &Action::ALL);
        let rs = resources(&mut rng, action);
        let cx = context(&mut rng);
        let split = e.decide_each(&p, action, &rs, &cx, "dec_test");
        assert_eq!(split.len(), rs.len());
        // Asked again: a fact query's decisions now come from the memo
        // (keyed by every input Cedar sees); both must equal plain Cedar.
        let again = e.decide_each(&p, action, &rs, &cx, "dec_again");
        for (d, r) in again.iter().zip(&rs) {
            let (allowed, policies) = reference(&e, &p, action, r, &cx);
            assert_eq!(
                (d.allowed, &d.policies),
                (allowed, &policies),
                "memo: {} {action:?} {r:?} {cx:?}",
                p.id
            );
            assert_eq!(d.decision_id, "dec_again");
            assert_eq!(d.permit.is_some(), d.allowed);
        }
        for (d, r) in split.iter().zip(&rs) {
            let (allowed, policies) = reference(&e, &p, action, r, &cx);
            assert_eq!(
                (d.allowed, &d.policies),
                (allowed, &policies),
                "{} {action:?} {r:?} {cx:?}",
                p.id
            );
            assert_eq!(d.permit.is_some(), d.allowed);
            compared += 1;
            if rs.len() > 1 {
                if d.allowed {
                    shared_allowed += 1;
                } else if !d.policies.is_empty() {
                    shared_denied_by_policy += 1;
                }
            }
        }
    }
    // The comparison means something: split decisions both ways.
    assert!(compared > 40_000, "{compared}");
    assert!(shared_allowed > 200, "allowed split decisions: {shared_allowed}");
    assert!(
        shared_denied_by_policy > 200,
        "forbidden split decisions: {shared_denied_by_policy}"
    );
}

#[test]
fn the_floor_and_bulk_guards_are_shared_and_fact_permits_are_not() {
    let e = PolicyEngine::compile(&PolicySources::embedded(), 1).unwrap();
    let facts = &e.by_action["query_fact"];
    let ids = |s: &cedar_policy::PolicySet| s.policies().map(|p| p.id().to_string()).collect::<Vec<_>>();
    let shared = ids(&facts.shared);
    let per_resource = ids(&facts.per_resource);
    assert!(shared.iter().any(|id| id == "floor.bulk_ceiling"), "{shared:?}");
    assert!(
        shared.iter().any(|id| id == "facts.bulk_guard_any_system"),
        "{shared:?}"
    );
    assert!(
        per_resource.iter().any(|id| id == "facts.library_services"),
        "{per_resource:?}"
    );
    assert!(
        per_resource.iter().any(|id| id == "facts.identity_check"),
        "{per_resource:?}"
    );
    assert_eq!(shared.len() + per_resource.len(), ids(&facts.all).len());
}
