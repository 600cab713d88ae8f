//! Unit tests of the policy engine.
use super::*;
use crate::domain::vocab::PrincipalKind;
use crate::domain::vocab::{AgencyKind, Purpose, Role};

fn engine() -> PolicyEngine {
    PolicyEngine::compile(&PolicySources::embedded(), 1).unwrap()
}

fn staff(roles: &[Role]) -> Principal {
    Principal {
        id: "s1".into(),
        kind: PrincipalKind::Staff,
        roles: roles.to_vec(),
        agency_kind: None,
        purposes: vec![],
        token_hash: [0; 32],
        created_at: 0,
        status: crate::domain::principal::PrincipalStatus::Active,
        issued_by: None,
        approved_by: None,
    }
}

#[test]
fn shipped_policies_pass_strict_validation() {
    let e = engine();
    assert_eq!(e.floor_ids().count(), 10);
}

#[test]
fn requests_of_every_action_fit_the_schema() {
    let e = engine();
    e.schema_checks_requests(&staff(&[Role::Clerk])).unwrap();
    let system = Principal {
        kind: PrincipalKind::System,
        roles: vec![],
        agency_kind: Some(AgencyKind::CityPartner),
        purposes: vec![Purpose::LibraryServices],
        ..staff(&[])
    };
    e.schema_checks_requests(&system).unwrap();
}

#[test]
fn clerk_enrolls_and_the_decision_names_its_policy() {
    let d = engine().decide(
        &staff(&[Role::Clerk]),
        Action::Enroll,
        &Resource::Vault,
        &RequestContext::purpose(Purpose::CardAdministration),
    );
    assert!(d.allowed);
    assert_eq!(d.policies, vec!["clerk.enroll".to_owned()]);
    assert!(d.permit.is_some_and(|p| p.allows(Action::Enroll)));
}

#[test]
fn default_deny_and_floor() {
    let e = engine();
    let d = e.decide(
        &staff(&[Role::Auditor]),
        Action::Enroll,
        &Resource::Vault,
        &RequestContext::purpose(Purpose::CardAdministration),
    );
    assert!(!d.allowed && d.policies.is_empty());
    let d = e.decide(
        &staff(&[Role::Clerk]),
        Action::Enroll,
        &Resource::Vault,
        &RequestContext::purpose(Purpose::ImmigrationEnforcement),
    );
    assert!(!d.allowed);
    assert_eq!(d.policies, vec!["floor.immigration_enforcement".to_owned()]);
    let ice = Principal {
        kind: PrincipalKind::System,
        roles: vec![],
        agency_kind: Some(AgencyKind::FederalImmigration),
        purposes: vec![Purpose::IdentityCheck],
        ..staff(&[])
    };
    let d = e.decide(
        &ice,
        Action::QueryFact,
        &Resource::Fact("card_valid".into()),
        &RequestContext::purpose(Purpose::IdentityCheck),
    );
    assert_eq!(d.policies, vec!["floor.federal_immigration_requester".to_owned()]);
}

#[test]
fn editable_policies_cannot_claim_floor_ids_or_reopen_the_floor() {
    let mut s = PolicySources::embedded();
    s.editable
        .push_str("\n@id(\"floor.mine\") permit(principal, action, resource);");
    assert!(PolicyEngine::compile(&s, 2).is_err());
    let mut s = PolicySources::embedded();
    s.editable.push_str("\npermit(principal, action, resource);");
    let e = PolicyEngine::compile(&s, 2).unwrap();
    let d = e.decide(
        &staff(&[Role::Clerk]),
        Action::Enroll,
        &Resource::Vault,
        &RequestContext::purpose(Purpose::BulkScreening),
    );
    assert!(!d.allowed);
}
