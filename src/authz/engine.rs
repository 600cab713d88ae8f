use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, PoisonError, RwLock};

use cedar_policy::{
    Authorizer, Effect, EntityId, EntityTypeName, Policy, PolicyId, PolicySet, Request, Schema, ValidationMode,
    Validator,
};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::decide::{authorize, combine, ActionPolicies, Found};
use super::request::CachedPrincipal;
use super::{Action, Permit, PolicySources, RequestContext, Resource};
use crate::domain::principal::Principal;

/// A problem with the policy texts, named by policy id where there is one.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct PolicyProblem {
    pub policy_id: String,
    pub message: String,
    /// 1-based position in the file the policy came from, where Cedar gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

/// The outcome of one authorization.
#[derive(Debug)]
pub struct Decision {
    pub allowed: bool,
    pub decision_id: String,
    /// The policies that determined the decision (empty: default deny).
    pub policies: Vec<String>,
    pub version: u64,
    /// The permit, when allowed.
    pub permit: Option<Permit>,
}

/// The active policy set (floor + editable), validated against the schema.
pub struct PolicyEngine {
    pub(super) schema: Schema,
    set: PolicySet,
    /// For each action, the policies whose scope can apply to it (the floor
    /// is unconstrained, so it is in every one), and those split by whether
    /// they can depend on the resource (`decide.rs`). Deciding against the
    /// subset gives the same answer as the whole set, with less to evaluate.
    pub(super) by_action: HashMap<&'static str, ActionPolicies>,
    /// Each principal's Cedar entities, built once. Keyed by the whole
    /// principal (kind, roles, agency kind, purposes, token hash), so an
    /// entry can only ever be used for exactly the principal it was built from.
    pub(super) entities: RwLock<HashMap<Principal, Arc<CachedPrincipal>>>,
    /// Fact decisions already made by this engine (so under this policy
    /// set only: a new version is a new engine), keyed by every input Cedar
    /// sees — the whole principal (its attributes included), the fact, and
    /// the whole context. A fact entity has no attributes, so the key is
    /// the request. Capped; cleared when full.
    facts_memo: RwLock<super::memo::FactsMemo>,
    authorizer: Authorizer,
    pub version: u64,
    pub digest: String,
    pub(super) types: Types,
}

pub(super) struct Types {
    pub(super) staff: EntityTypeName,
    pub(super) system: EntityTypeName,
    pub(super) role: EntityTypeName,
    pub(super) vault: EntityTypeName,
    pub(super) card: EntityTypeName,
    pub(super) fact: EntityTypeName,
    pub(super) legal_item: EntityTypeName,
    pub(super) action: EntityTypeName,
}

fn type_name(s: &str) -> EntityTypeName {
    // The names are constants of this module, checked by the tests below.
    EntityTypeName::from_str(s).unwrap_or_else(|_| unreachable!("invalid built-in type name {s}"))
}

fn problem(policy_id: &str, message: impl ToString) -> PolicyProblem {
    PolicyProblem {
        policy_id: policy_id.to_owned(),
        message: message.to_string(),
        line: None,
        column: None,
    }
}

/// A problem at the first span a Cedar diagnostic labels in `text`.
fn located(policy_id: &str, d: &dyn miette::Diagnostic, text: &str) -> PolicyProblem {
    let mut p = problem(policy_id, d);
    if let Some(offset) = d.labels().and_then(|mut l| l.next()).map(|l| l.offset()) {
        let (line, column) = line_column(text, offset);
        p.line = Some(line);
        p.column = Some(column);
    }
    p
}

/// 1-based line and column (in characters) of a byte offset.
#[must_use]
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Parses one policy file, giving each policy the id of its `@id` annotation.
/// Texts that nest past [`super::nesting`]'s bounds are refused before Cedar
/// parses them.
fn parse_file(text: &str, file: &str, floor: bool, set: &mut PolicySet, problems: &mut Vec<PolicyProblem>) {
    if let Err(deep) = super::nesting::check(text) {
        let (line, column) = line_column(text, deep.offset);
        problems.push(PolicyProblem {
            policy_id: file.to_owned(),
            message: deep.message,
            line: Some(line),
            column: Some(column),
        });
        return;
    }
    let parsed = match PolicySet::from_str(text) {
        Ok(p) => p,
        Err(e) => {
            problems.extend(e.iter().map(|e| located(file, e, text)));
            return;
        }
    };
    if parsed.templates().next().is_some() {
        problems.push(problem(file, "templates are not supported"));
    }
    let mut policies: Vec<&Policy> = parsed.policies().collect();
    // Keep source order so generated ids are stable.
    policies.sort_by_key(|p| {
        p.id()
            .to_string()
            .trim_start_matches("policy")
            .parse::<usize>()
            .unwrap_or(0)
    });
    for (n, p) in policies.into_iter().enumerate() {
        let id = p
            .annotation("id")
            .map_or_else(|| format!("{file}.policy{n}"), str::to_owned);
        if floor && (!id.starts_with("floor.") || p.effect() != Effect::Forbid) {
            problems.push(problem(
                &id,
                "floor policies must be forbid rules with an id starting \"floor.\"",
            ));
            continue;
        }
        if !floor && id.starts_with("floor.") {
            problems.push(problem(&id, "ids starting \"floor.\" are reserved for the floor"));
            continue;
        }
        if let Err(e) = set.add(p.new_id(PolicyId::new(&id))) {
            problems.push(problem(&id, e));
        }
    }
}

impl PolicyEngine {
    /// Compiles and strictly validates a policy set, on a thread with the
    /// parser's own stack ([`super::nesting::on_parser_stack`]).
    ///
    /// # Errors
    /// Every parse, id and validation problem found.
    pub fn compile(sources: &PolicySources, version: u64) -> Result<Self, Vec<PolicyProblem>> {
        super::nesting::on_parser_stack(|| Self::compile_here(sources, version))
            .map_err(|e| vec![problem("policies", format!("cannot start the policy parser: {e}"))])?
    }

    fn compile_here(sources: &PolicySources, version: u64) -> Result<Self, Vec<PolicyProblem>> {
        let (schema, _) =
            Schema::from_cedarschema_str(&sources.schema).map_err(|e| vec![problem("schema.cedarschema", e)])?;
        let mut set = PolicySet::new();
        let mut problems = Vec::new();
        parse_file(&sources.floor, "floor", true, &mut set, &mut problems);
        parse_file(&sources.editable, "editable", false, &mut set, &mut problems);
        if !problems.is_empty() {
            return Err(problems);
        }
        let result = Validator::new(schema.clone()).validate(&set, ValidationMode::Strict);
        let errors: Vec<PolicyProblem> = result
            .validation_errors()
            .map(|e| {
                let id: &str = e.policy_id().as_ref();
                let text = if id.starts_with("floor.") {
                    &sources.floor
                } else {
                    &sources.editable
                };
                located(id, e, text)
            })
            .collect();
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut digest = Sha256::new();
        digest.update(sources.floor.as_bytes());
        digest.update([0]);
        digest.update(sources.editable.as_bytes());
        let mut by_action = HashMap::new();
        for action in Action::ALL {
            let uid = cedar_policy::EntityUid::from_type_name_and_id(
                type_name("CivicVault::Action"),
                EntityId::new(action.as_str()),
            );
            by_action.insert(action.as_str(), ActionPolicies::of(&set, &uid));
        }
        Ok(Self {
            schema,
            set,
            by_action,
            entities: RwLock::new(HashMap::new()),
            facts_memo: RwLock::new(super::memo::FactsMemo::default()),
            authorizer: Authorizer::new(),
            version,
            digest: format!("sha256:{}", hex::encode(digest.finalize())),
            types: Types {
                staff: type_name("CivicVault::Staff"),
                system: type_name("CivicVault::System"),
                role: type_name("CivicVault::Role"),
                vault: type_name("CivicVault::Vault"),
                card: type_name("CivicVault::Card"),
                fact: type_name("CivicVault::Fact"),
                legal_item: type_name("CivicVault::LegalItem"),
                action: type_name("CivicVault::Action"),
            },
        })
    }

    /// The schema the set was validated against.
    #[must_use]
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The whole set in force: floor and editable, with their ids.
    #[must_use]
    pub fn policy_set(&self) -> &PolicySet {
        &self.set
    }

    /// Ids of the floor policies in force.
    pub fn floor_ids(&self) -> impl Iterator<Item = String> + '_ {
        self.set
            .policies()
            .map(|p| p.id().to_string())
            .filter(|id| id.starts_with("floor."))
    }

    /// Decides one request. Fails closed: a request that cannot be built,
    /// or a floor rule that errors while evaluating, is a deny.
    #[must_use]
    pub fn decide(&self, p: &Principal, action: Action, resource: &Resource, cx: &RequestContext) -> Decision {
        let id = new_decision_id();
        let mut all = self.decide_each(p, action, std::slice::from_ref(resource), cx, &id);
        all.pop().unwrap_or_else(|| Decision {
            allowed: false,
            decision_id: id,
            policies: Vec::new(),
            version: self.version,
            permit: None,
        })
    }

    /// One Cedar decision per resource, sharing the principal's entities,
    /// the context and one decision id (the request's). With more than one
    /// resource, the policies that never name the resource are evaluated
    /// once for all of them (`decide.rs` says why that is the same decision).
    /// A fact query's decisions already made by this engine come from its
    /// memo (see `facts_memo`).
    #[must_use]
    pub fn decide_each(
        &self,
        p: &Principal,
        action: Action,
        resources: &[Resource],
        cx: &RequestContext,
        decision_id: &str,
    ) -> Vec<Decision> {
        let facts = action == Action::QueryFact && resources.iter().all(|r| matches!(r, Resource::Fact(_)));
        if facts {
            let memo = self.facts_memo.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(known) = memo.get(p, resources, cx) {
                let permit = |allowed: bool| {
                    allowed.then(|| Permit::new(action, p.id.clone(), cx.purpose, decision_id.to_owned()))
                };
                return known
                    .into_iter()
                    .map(|m| Decision {
                        allowed: m.allowed,
                        decision_id: decision_id.to_owned(),
                        permit: permit(m.allowed),
                        policies: m.policies,
                        version: self.version,
                    })
                    .collect();
            }
        }
        let decided = self.decide_fresh(p, action, resources, cx, decision_id);
        if facts {
            let mut memo = self.facts_memo.write().unwrap_or_else(PoisonError::into_inner);
            memo.put(p, resources, cx, &decided);
        }
        decided
    }

    /// [`Self::decide_each`] by Cedar, without the memo.
    fn decide_fresh(
        &self,
        p: &Principal,
        action: Action,
        resources: &[Resource],
        cx: &RequestContext,
        decision_id: &str,
    ) -> Vec<Decision> {
        let deny = |policies: Vec<String>| Decision {
            allowed: false,
            decision_id: decision_id.to_owned(),
            policies,
            version: self.version,
            permit: None,
        };
        let Some(cached) = self.cached_entities(p) else {
            return resources.iter().map(|_| deny(Vec::new())).collect();
        };
        let context = match Self::context(p, cx) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(action = action.as_str(), error = %e, "cedar context could not be built; denying");
                return resources.iter().map(|_| deny(Vec::new())).collect();
            }
        };
        let Some(policies) = self.by_action.get(action.as_str()) else {
            // Every action has its subset (built from Action::ALL at compile).
            return resources.iter().map(|_| deny(Vec::new())).collect();
        };
        let action_uid = Self::uid(&self.types.action, action.as_str());
        // Not re-validated against the schema per request: the context is
        // built from typed values above, the policies were strictly validated
        // at load, and `schema_checks_requests` in the tests checks every
        // action's request shape against the schema.
        let request = |uid: &cedar_policy::EntityUid| {
            Request::new(
                cached.uid.clone(),
                action_uid.clone(),
                uid.clone(),
                context.clone(),
                None,
            )
            .map_err(|e| {
                tracing::error!(action = action.as_str(), error = %e, "cedar request does not fit the schema; denying");
            })
            .ok()
        };
        let entities = &cached.entities;
        let split = resources.len() > 1;
        // The shared part, once: evaluated with the first resource, which
        // none of its policies names.
        let shared = match resources.first() {
            Some(first) if split => match request(&self.resource_uid(first)) {
                Some(r) => Some(authorize(&self.authorizer, &r, &policies.shared, entities)),
                None => return resources.iter().map(|_| deny(Vec::new())).collect(),
            },
            _ => None,
        };
        resources
            .iter()
            .map(|resource| {
                let uid = self.resource_uid(resource);
                let Some(r) = request(&uid) else {
                    return deny(Vec::new());
                };
                let (allowed, reasons, floor_error) = match &shared {
                    Some(shared) => {
                        let closed = !matches!(resource, Resource::Card(_));
                        let set = policies.for_resource(&uid, closed);
                        combine(shared, &authorize(&self.authorizer, &r, &set, entities))
                    }
                    None => combine(
                        &Found::default(),
                        &authorize(&self.authorizer, &r, &policies.all, entities),
                    ),
                };
                if floor_error {
                    tracing::error!(action = action.as_str(), "a floor policy failed to evaluate; denying");
                    return deny(reasons);
                }
                if allowed {
                    Decision {
                        allowed: true,
                        decision_id: decision_id.to_owned(),
                        policies: reasons,
                        version: self.version,
                        permit: Some(Permit::new(action, p.id.clone(), cx.purpose, decision_id.to_owned())),
                    }
                } else {
                    deny(reasons)
                }
            })
            .collect()
    }
}

/// A fresh, unguessable decision id.
#[must_use]
pub fn new_decision_id() -> String {
    let mut b = [0u8; 16];
    // The thread's CSPRNG (ChaCha, seeded and reseeded from the OS): one
    // id per request without a system call for each.
    rand::thread_rng().fill_bytes(&mut b);
    format!("dec_{}", hex::encode(b))
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
