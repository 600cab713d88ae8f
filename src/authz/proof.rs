//! A formal proof, beside the canaries, that a candidate policy set refuses
//! what the floor exists to refuse, and two lints, all by Cedar's symbolic
//! compiler (cedar-policy-symcc) and the cvc5 SMT solver.
//!
//! The property: every well-formed request (every principal type, action
//! and resource type of the schema, any attribute and context values) whose
//! purpose is in the refused family, or whose principal is a System of agency
//! kind `federal_immigration`, or that issues or approves a principal with a
//! role combination separation of duties forbids, is denied by floor + candidate. It is proved as
//! "always denies" of floor + candidate + one extra rule that forbids every
//! request *outside* that family: whatever remains allowed is a counterexample,
//! which the solver synthesises as a concrete request.
//!
//! Lints (warnings, never a rejection): a permit of the candidate that the
//! floor makes inert (floor + that permit alone always denies), and a forbid
//! of the candidate that removes nothing (the set decides the same without it).

use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

use cedar_policy::{ActionConstraint, Effect, EntityUid, Policy, PolicySet, RequestEnv, Schema};
use cedar_policy_symcc::solver::LocalSolver;
use cedar_policy_symcc::{CedarSymCompiler, CompiledPolicySet};
use serde::Serialize;

use super::PolicyEngine;

/// The purposes whose requests must be denied, and the principal that must be.
const SCOPE: &str = r#"@id("civic-vault.proof.outside-scope")
forbid (principal, action, resource)
unless {
  context.purpose == "immigration_enforcement" ||
  context.purpose == "civil_immigration_enforcement" ||
  context.purpose == "bulk_screening" ||
  context.purpose == "data_brokerage" ||
  (principal is CivicVault::System && principal.agency_kind == "federal_immigration") ||
  (context has process &&
   (context.process == "administrative_subpoena" || context.process == "administrative_warrant")) ||
  (action == CivicVault::Action::"disclose" &&
   context has requester_agency_kind && context.requester_agency_kind == "federal_immigration" &&
   !(context has process && context.process == "judicial_warrant" &&
     context has signed_by_judge && context.signed_by_judge &&
     context has item && context.item == "card_status")) ||
  ((action == CivicVault::Action::"issue_principal" || action == CivicVault::Action::"approve_principal") &&
   context has requested_roles &&
   ((context.requested_roles.contains("legal") && context.requested_roles.contains("privacy_officer")) ||
    (context.requested_roles.contains("admin") &&
     context.requested_roles.containsAny(["clerk", "legal", "privacy_officer"])))) ||
  (action == CivicVault::Action::"query_fact" &&
   context has distinct_cards_last_hour && context has bulk_ceiling_per_hour &&
   context.distinct_cards_last_hour > context.bulk_ceiling_per_hour)
};"#;

/// The property, as the report states it.
pub const PROPERTY: &str = "every request whose purpose is immigration_enforcement, \
civil_immigration_enforcement, bulk_screening or data_brokerage, whose principal is a \
federal_immigration system, that rests on administrative process, or that discloses to a federal \
immigration requester anything but card_status on a judge-signed judicial warrant, or that \
issues or approves a principal holding legal with privacy_officer or admin with clerk, legal or \
privacy_officer, or that asks a fact about more distinct cards this hour than the configured \
bulk_ceiling_per_hour, is denied";

/// Where the solver is and how long a proof may take.
#[derive(Clone, Debug)]
pub struct ProofSettings {
    pub solver: PathBuf,
    pub timeout: Duration,
    pub required: bool,
}

impl ProofSettings {
    /// From the configured path, else `$CVC5`, else `cvc5` on the PATH,
    /// else the source tree's `.ci/cvc5` when the vault runs from one (what
    /// `.ci/solver-setup` prepares; the tests use it too).
    #[must_use]
    pub fn new(solver: Option<PathBuf>, timeout: Duration, required: bool) -> Self {
        let solver = solver
            .or_else(|| std::env::var_os("CVC5").map(PathBuf::from))
            .or_else(|| on_path("cvc5"))
            .or_else(|| {
                let tree = PathBuf::from(".ci/cvc5");
                tree.is_file().then_some(tree)
            })
            .unwrap_or_else(|| PathBuf::from("cvc5"));
        Self {
            solver,
            timeout,
            required,
        }
    }
}

/// `name` as a file in one of `$PATH`'s directories.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProofStatus {
    /// The property holds for every well-formed request.
    Proved,
    /// The solver found requests that are allowed.
    Counterexample,
    /// The proof could not run (no solver, timeout, solver error).
    NotRun,
}

/// A request the candidate set allows although the property says deny.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Counterexample {
    pub principal: String,
    pub action: String,
    pub resource: String,
    pub context: String,
    /// The principal entity as the solver built it (attributes, parents).
    #[schema(value_type = Option<Object>)]
    pub principal_entity: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Lint {
    /// Permits that can never allow anything: the floor forbids all they match.
    pub inert_permits: Vec<String>,
    /// Forbids whose removal changes no decision.
    pub redundant_forbids: Vec<String>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ProofReport {
    pub status: ProofStatus,
    pub property: &'static str,
    /// Request types (principal type, action, resource type) covered.
    pub request_types: usize,
    pub counterexamples: Vec<Counterexample>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lint: Option<Lint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub elapsed_ms: u64,
}

impl ProofReport {
    fn not_run(reason: String, started: Instant) -> Self {
        Self {
            status: ProofStatus::NotRun,
            property: PROPERTY,
            request_types: 0,
            counterexamples: Vec::new(),
            lint: None,
            reason: Some(reason),
            elapsed_ms: elapsed_ms(started),
        }
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Runs the proof and the lints for a compiled candidate. Never fails: what
/// keeps it from running is the report's `reason`.
pub async fn prove(engine: &PolicyEngine, settings: &ProofSettings) -> ProofReport {
    let started = Instant::now();
    match tokio::time::timeout(settings.timeout, run(engine, settings)).await {
        Ok(Ok((request_types, counterexamples, lint))) => ProofReport {
            status: if counterexamples.is_empty() {
                ProofStatus::Proved
            } else {
                ProofStatus::Counterexample
            },
            property: PROPERTY,
            request_types,
            counterexamples,
            lint: Some(lint),
            reason: None,
            elapsed_ms: elapsed_ms(started),
        },
        Ok(Err(reason)) => ProofReport::not_run(reason, started),
        Err(_) => ProofReport::not_run(
            format!("the proof did not finish within {} s", settings.timeout.as_secs()),
            started,
        ),
    }
}

type Found = (usize, Vec<Counterexample>, Lint);

async fn run(engine: &PolicyEngine, settings: &ProofSettings) -> Result<Found, String> {
    let mut command = tokio::process::Command::new(&settings.solver);
    command.args(["--lang", "smt"]).kill_on_drop(true);
    let solver = LocalSolver::from_command(&mut command)
        .map_err(|e| format!("the solver {} cannot be started: {e}", settings.solver.display()))?;
    let mut symcc = CedarSymCompiler::new(solver).map_err(|e| e.to_string())?;
    let schema = engine.schema();
    let set = engine.policy_set();
    let scope = Policy::from_str(SCOPE).map_err(|e| e.to_string())?;
    let mut scoped = set.clone();
    scoped.add(scope).map_err(|e| e.to_string())?;

    let envs: Vec<RequestEnv> = schema.request_envs().collect();
    let mut counterexamples = Vec::new();
    for env in &envs {
        let compiled = compile(&scoped, env, schema)?;
        let found = symcc
            .check_always_denies_with_counterexample_opt(&compiled)
            .await
            .map_err(|e| format!("solver: {e}"))?;
        if let Some(cex) = found {
            counterexamples.push(render(&cex));
        }
    }

    let mut lint = Lint::default();
    let floor: Vec<Policy> = set.policies().filter(|p| is_floor(p)).cloned().collect();
    for p in set.policies().filter(|p| !is_floor(p)) {
        let relevant: Vec<&RequestEnv> = envs.iter().filter(|env| applies(p, env.action())).collect();
        match p.effect() {
            Effect::Permit => {
                let mut alone = PolicySet::new();
                for f in &floor {
                    alone.add(f.clone()).map_err(|e| e.to_string())?;
                }
                alone.add(p.clone()).map_err(|e| e.to_string())?;
                let mut inert = true;
                for env in &relevant {
                    let compiled = compile(&alone, env, schema)?;
                    if !symcc
                        .check_always_denies_opt(&compiled)
                        .await
                        .map_err(|e| format!("solver: {e}"))?
                    {
                        inert = false;
                        break;
                    }
                }
                if inert {
                    lint.inert_permits.push(p.id().to_string());
                }
            }
            Effect::Forbid => {
                let mut without = PolicySet::new();
                for q in set.policies().filter(|q| q.id() != p.id()) {
                    without.add(q.clone()).map_err(|e| e.to_string())?;
                }
                let mut redundant = true;
                for env in &relevant {
                    let with = compile(set, env, schema)?;
                    let less = compile(&without, env, schema)?;
                    if !symcc
                        .check_equivalent_opt(&with, &less)
                        .await
                        .map_err(|e| format!("solver: {e}"))?
                    {
                        redundant = false;
                        break;
                    }
                }
                if redundant {
                    lint.redundant_forbids.push(p.id().to_string());
                }
            }
        }
    }
    Ok((envs.len(), counterexamples, lint))
}

/// The proof for the set the vault starts with: a counterexample stops
/// startup, as a failing canary does; a proof that cannot run is a warning
/// unless `settings.required`.
///
/// # Errors
/// Why the vault must not start.
pub async fn at_start(engine: &PolicyEngine, settings: &ProofSettings) -> Result<(), String> {
    let proof = prove(engine, settings).await;
    match proof.status {
        ProofStatus::Proved => {
            tracing::info!(
                request_types = proof.request_types,
                elapsed_ms = proof.elapsed_ms,
                "floor proof holds for the active policies"
            );
            Ok(())
        }
        ProofStatus::Counterexample => Err(format!(
            "the floor proof found {} request(s) the active policies allow: {}",
            proof.counterexamples.len(),
            serde_json::to_string(&proof.counterexamples).unwrap_or_default()
        )),
        ProofStatus::NotRun if settings.required => Err(format!(
            "proof.required is set and the floor proof did not run: {}",
            proof.reason.unwrap_or_default()
        )),
        ProofStatus::NotRun => {
            tracing::warn!(
                reason = %proof.reason.unwrap_or_default(),
                "THE FLOOR PROOF CANNOT RUN: no working cvc5 solver (looked for [proof] solver, $CVC5, cvc5 on the PATH, ./.ci/cvc5). \
                 Policy changes are checked by the canary suite alone, and the policy studio says the proof did not run. \
                 From the source tree, run .ci/solver-setup; on Debian, apt-get install cvc5 (the package depends on it); elsewhere set [proof] solver"
            );
            Ok(())
        }
    }
}

fn compile(set: &PolicySet, env: &RequestEnv, schema: &Schema) -> Result<CompiledPolicySet, String> {
    CompiledPolicySet::compile(set, env, schema).map_err(|e| format!("symbolic compilation: {e}"))
}

fn is_floor(p: &Policy) -> bool {
    p.id().to_string().starts_with("floor.")
}

fn applies(p: &Policy, action: &EntityUid) -> bool {
    match p.action_constraint() {
        ActionConstraint::Any => true,
        ActionConstraint::Eq(a) => &a == action,
        ActionConstraint::In(list) => list.contains(action),
    }
}

fn render(cex: &cedar_policy_symcc::Env) -> Counterexample {
    let r = &cex.request;
    let show = |u: Option<&EntityUid>| u.map_or_else(|| "unknown".to_owned(), ToString::to_string);
    Counterexample {
        principal: show(r.principal()),
        action: show(r.action()),
        resource: show(r.resource()),
        context: r.context().map_or_else(String::new, ToString::to_string),
        principal_entity: r
            .principal()
            .and_then(|p| cex.entities.get(p))
            .and_then(|e| e.to_json_value().ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::PolicySources;

    /// The repository's solver (`.ci/cvc5`, cvc5's PyPI package) unless `$CVC5`.
    fn settings() -> ProofSettings {
        let fallback = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(".ci")
            .join("cvc5");
        ProofSettings::new(
            Some(std::env::var_os("CVC5").map_or(fallback, PathBuf::from)),
            Duration::from_secs(120),
            true,
        )
    }

    fn engine(floor: String, editable: String) -> PolicyEngine {
        let sources = PolicySources {
            floor,
            editable,
            ..PolicySources::embedded()
        };
        PolicyEngine::compile(&sources, 1).unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[tokio::test]
    async fn the_shipped_set_is_proved() {
        let base = PolicySources::embedded();
        let report = prove(&engine(base.floor, base.editable), &settings()).await;
        assert_eq!(report.status, ProofStatus::Proved, "{report:?}");
        assert_eq!(report.request_types, 80);
    }

    #[tokio::test]
    async fn without_the_federal_rule_a_reopening_permit_yields_a_counterexample() {
        let base = PolicySources::embedded();
        let rule = "@id(\"floor.federal_immigration_requester\")\nforbid (principal is CivicVault::System, action, resource)\nwhen { principal.agency_kind == \"federal_immigration\" };";
        assert!(base.floor.contains(rule), "the test removes exactly this rule");
        let weakened = base.floor.replace(rule, "");
        let reopen = format!(
            "{}\n@id(\"reopen\") permit (principal is CivicVault::System, action == CivicVault::Action::\"query_fact\", resource) when {{ principal.agency_kind == \"federal_immigration\" }};",
            base.editable
        );
        let report = prove(&engine(weakened.clone(), reopen), &settings()).await;
        assert_eq!(report.status, ProofStatus::Counterexample, "{report:?}");
        let c = &report.counterexamples[0];
        assert!(c.principal.starts_with("CivicVault::System::"), "{c:?}");
        assert_eq!(c.action, "CivicVault::Action::\"query_fact\"");
        let agency = c.principal_entity.as_ref().map(|e| e["attrs"]["agency_kind"].clone());
        assert_eq!(agency, Some(serde_json::json!("federal_immigration")), "{c:?}");
        // The weakened floor alone, with the shipped editable set, still holds:
        // nothing in the shipped policies reopens what the rule closed.
        let report = prove(&engine(weakened, base.editable), &settings()).await;
        assert_eq!(report.status, ProofStatus::Proved, "{report:?}");
    }

    #[tokio::test]
    async fn without_the_administrative_process_rule_the_aggregates_permit_is_a_counterexample() {
        let base = PolicySources::embedded();
        let start = base.floor.find("@id(\"floor.administrative_process\")").unwrap_or(0);
        let end = start + base.floor[start..].find("};").unwrap_or(0) + 2;
        let weakened = format!("{}{}", &base.floor[..start], &base.floor[end..]);
        assert!(!weakened.contains("floor.administrative_process"));
        let report = prove(&engine(weakened, base.editable), &settings()).await;
        assert_eq!(report.status, ProofStatus::Counterexample, "{report:?}");
        assert!(
            report
                .counterexamples
                .iter()
                .any(|c| c.action == "CivicVault::Action::\"disclose\""
                    && c.context.contains("process: \"administrative_")),
            "{report:?}"
        );
    }

    #[tokio::test]
    async fn a_missing_solver_is_reported_not_hidden() {
        let base = PolicySources::embedded();
        let missing = ProofSettings::new(Some(PathBuf::from("/nonexistent/cvc5")), Duration::from_secs(5), false);
        let report = prove(&engine(base.floor, base.editable), &missing).await;
        assert_eq!(report.status, ProofStatus::NotRun);
        assert!(report.reason.unwrap_or_default().contains("cannot be started"));
    }
}
