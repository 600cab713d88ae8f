//! Checking a candidate set of editable policies before it can be active:
//! parse and strict validation (errors named by policy id), then the canary
//! suite — requests that must be denied whatever the editable policies say.
//! Any canary that a candidate set allows rejects the change.

use serde::Serialize;

pub use super::canaries::canaries;
use super::canaries::legal_items;
use super::proof::{prove, ProofReport, ProofSettings, ProofStatus};
use super::{
    new_decision_id, Action, LegalContext, PolicyEngine, PolicyProblem, PolicySources, RequestContext, Resource,
};
use crate::domain::legal::Process;
use crate::domain::principal::Principal;
use crate::domain::vocab::{AgencyKind, PrincipalKind, Purpose, Role};

/// The report `POST /v1/policies/check` returns (and a rejected PUT carries).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CheckReport {
    pub valid: bool,
    pub errors: Vec<PolicyProblem>,
    /// Canary requests the candidate would allow: each one a reason to refuse it.
    pub floor_violations: Vec<String>,
    pub canaries: usize,
    /// The policy tests of `policies/tests/`.
    pub tests: TestsReport,
    /// The symbolic proof and lints (absent when the set did not compile).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proof: Option<ProofReport>,
}

impl CheckReport {
    /// Runs the symbolic proof on a compiled candidate and folds its outcome
    /// into the report: a counterexample makes the set invalid, and so does a
    /// proof that could not run when the configuration requires one.
    pub async fn prove(&mut self, engine: &PolicyEngine, settings: &ProofSettings) {
        let proof = prove(engine, settings).await;
        match proof.status {
            ProofStatus::Counterexample => {
                self.valid = false;
                for c in &proof.counterexamples {
                    self.floor_violations.push(format!(
                        "proof counterexample: {} {} {} allowed with context {}",
                        c.principal, c.action, c.resource, c.context
                    ));
                }
            }
            ProofStatus::NotRun if settings.required => {
                self.valid = false;
                self.errors.push(PolicyProblem {
                    policy_id: "proof".into(),
                    message: format!(
                        "the floor proof is required and did not run: {}",
                        proof.reason.as_deref().unwrap_or("unknown reason")
                    ),
                    line: None,
                    column: None,
                });
            }
            ProofStatus::NotRun | ProofStatus::Proved => {}
        }
        self.proof = Some(proof);
    }
}

/// Outcome of the policy tests.
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct TestsReport {
    pub passed: usize,
    pub failed: Vec<TestFailure>,
    /// Against the active version's tests: what the candidate's tests add,
    /// remove and change (empty when the tests are the active ones).
    #[serde(flatten)]
    pub changes: crate::domain::policy_version::TestChanges,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct TestFailure {
    pub file: String,
    pub name: String,
    pub expected: String,
    pub got: String,
    pub policies: Vec<String>,
}

/// One policy test case (`policies/tests/*.json` holds an array of them).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyTest {
    name: String,
    principal: TestPrincipal,
    action: String,
    /// `vault`, `card`, or a fact name.
    resource: String,
    purpose: Purpose,
    #[serde(default)]
    context: TestContext,
    expect: Expect,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TestPrincipal {
    kind: PrincipalKind,
    #[serde(default)]
    roles: Vec<Role>,
    #[serde(default)]
    agency_kind: Option<AgencyKind>,
    #[serde(default)]
    purposes: Vec<Purpose>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TestContext {
    distinct_cards_last_hour: Option<i64>,
    /// The configured ceiling (facts.bulk_ceiling_per_hour) the floor compares against.
    bulk_ceiling_per_hour: Option<i64>,
    requested_by_self: Option<bool>,
    /// Enrollment: the clerk's duplicate outcomes today.
    duplicate_outcomes_today: Option<i64>,
    /// Issuing or approving a principal: the roles it would hold.
    #[serde(default)]
    requested_roles: Option<Vec<Role>>,
    /// Legal requests (action `disclose`, whose resource names the item).
    process: Option<Process>,
    #[serde(default)]
    signed_by_judge: bool,
    requester_agency_kind: Option<AgencyKind>,
    subject_kind: Option<SubjectKind>,
}

#[derive(Debug, Clone, Copy, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum SubjectKind {
    Card,
    Document,
    Aggregate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum Expect {
    Allow,
    Deny,
}

/// Runs every test file against `engine`. A file that does not parse, or a
/// case naming an unknown action, is a failure, never a silent skip.
#[must_use]
pub fn run_tests(engine: &PolicyEngine, files: &[(String, String)]) -> TestsReport {
    let mut report = TestsReport::default();
    let id = new_decision_id();
    for (file, text) in files {
        let cases: Vec<PolicyTest> = match serde_json::from_str(text) {
            Ok(c) => c,
            Err(e) => {
                report.failed.push(TestFailure {
                    file: file.clone(),
                    name: "(file)".into(),
                    expected: "a JSON array of test cases".into(),
                    got: e.to_string(),
                    policies: Vec::new(),
                });
                continue;
            }
        };
        for case in cases {
            let failure = |expected: &str, got: String, policies: Vec<String>| TestFailure {
                file: file.clone(),
                name: case.name.clone(),
                expected: expected.to_owned(),
                got,
                policies,
            };
            let (principal, action, resource, cx) = match request_of(&case) {
                Ok(request) => request,
                Err((expected, got)) => {
                    report.failed.push(failure(expected, got, Vec::new()));
                    continue;
                }
            };
            let d = engine.decide_each(&principal, action, std::slice::from_ref(&resource), &cx, &id);
            let allowed = d.first().is_some_and(|d| d.allowed);
            if allowed == (case.expect == Expect::Allow) {
                report.passed += 1;
            } else {
                let expected = format!("{:?}", case.expect).to_lowercase();
                let got = if allowed { "allow" } else { "deny" }.to_owned();
                report.failed.push(failure(
                    &expected,
                    got,
                    d.into_iter().flat_map(|d| d.policies).collect(),
                ));
            }
        }
    }
    report
}

/// The Cedar request a test case describes, or what is wrong with it
/// (expected, got).
fn request_of(case: &PolicyTest) -> Result<(Principal, Action, Resource, RequestContext), (&'static str, String)> {
    let action = Action::ALL
        .iter()
        .copied()
        .find(|a| a.as_str() == case.action)
        .ok_or_else(|| ("a known action", case.action.clone()))?;
    let item = legal_items()
        .into_iter()
        .find(|(i, _)| *i == case.resource)
        .map(|(i, _)| i);
    let resource = match (action, case.resource.as_str(), item) {
        (Action::Disclose, _, Some(item)) => Resource::LegalItem(item.to_owned()),
        (Action::Disclose, other, None) => return Err(("a legal item as the resource", other.to_owned())),
        (_, "vault", _) => Resource::Vault,
        (_, "card", _) => Resource::Card("test".into()),
        (_, fact, _) => Resource::Fact(fact.to_owned()),
    };
    let legal = case.context.process.map(|process| LegalContext {
        process: process.as_str(),
        signed_by_judge: case.context.signed_by_judge,
        requester_agency_kind: case.context.requester_agency_kind.map_or("", AgencyKind::as_str),
        item: item.unwrap_or(""),
        subject_kind: match case.context.subject_kind {
            Some(SubjectKind::Document) => "document",
            Some(SubjectKind::Aggregate) => "aggregate",
            Some(SubjectKind::Card) | None => "card",
        },
    });
    let principal = Principal {
        id: "policy-test".into(),
        kind: case.principal.kind,
        roles: case.principal.roles.clone(),
        agency_kind: case.principal.agency_kind,
        purposes: case.principal.purposes.clone(),
        token_hash: [0; 32],
        created_at: 0,
        status: crate::domain::principal::PrincipalStatus::Active,
        issued_by: None,
        approved_by: None,
    };
    let cx = RequestContext {
        distinct_cards_last_hour: case.context.distinct_cards_last_hour,
        requested_by_self: case.context.requested_by_self,
        bulk_ceiling_per_hour: case.context.bulk_ceiling_per_hour,
        duplicate_outcomes_today: case.context.duplicate_outcomes_today,
        requested_roles: case
            .context
            .requested_roles
            .as_ref()
            .map(|r| r.iter().map(|x| x.as_str()).collect()),
        legal,
        ..RequestContext::purpose(case.purpose)
    };
    Ok((principal, action, resource, cx))
}

/// Checks a candidate editable set against the schema and floor in `base`.
/// Returns the report and, whenever it compiled, the engine (activate it
/// only when `report.valid`).
#[must_use]
pub fn check(base: &PolicySources, editable: &str, version: u64) -> (CheckReport, Option<PolicyEngine>) {
    let sources = PolicySources {
        editable: editable.to_owned(),
        ..base.clone()
    };
    match PolicyEngine::compile(&sources, version) {
        Err(errors) => (
            CheckReport {
                valid: false,
                errors,
                floor_violations: Vec::new(),
                canaries: 0,
                tests: TestsReport::default(),
                proof: None,
            },
            None,
        ),
        Ok(engine) => {
            let (asked, violations) = canaries(&engine);
            let tests = run_tests(&engine, &base.tests);
            let valid = violations.is_empty() && tests.failed.is_empty();
            (
                CheckReport {
                    valid,
                    errors: Vec::new(),
                    floor_violations: violations,
                    canaries: asked,
                    tests,
                    proof: None,
                },
                Some(engine),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_policies_pass_every_canary() {
        let base = PolicySources::embedded();
        let (report, engine) = check(&base, &base.editable, 1);
        assert!(report.valid, "{report:?}");
        assert!(report.canaries > 1_000);
        assert!(
            report.tests.passed >= 45 && report.tests.failed.is_empty(),
            "{:?}",
            report.tests
        );
        assert!(engine.is_some());
    }

    #[test]
    fn a_permit_for_immigration_enforcement_cannot_pass_because_the_floor_forbids_it() {
        // The floor makes such a permit inert; the canaries prove it.
        let base = PolicySources::embedded();
        let text = format!(
            "{}\npermit(principal, action, resource) when {{ context.purpose == \"immigration_enforcement\" }};",
            base.editable
        );
        let (report, _) = check(&base, &text, 2);
        assert!(report.valid, "{report:?}");
    }

    #[test]
    fn a_schema_error_is_named_by_policy_id() {
        let base = PolicySources::embedded();
        let text = "@id(\"bad\") permit(principal, action, resource) when { context.no_such_thing == 1 };";
        let (report, engine) = check(&base, text, 2);
        assert!(!report.valid && engine.is_none(), "it does not compile");
        assert_eq!(report.errors[0].policy_id, "bad");
    }
}
