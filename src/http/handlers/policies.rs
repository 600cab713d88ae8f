use std::sync::Arc;

use axum::body::Body;
use axum::extract::Path;
use axum::Json;
use serde::Deserialize;

use crate::authz::check::check;
use crate::authz::replay::ImpactReport;
use crate::authz::Action;
use crate::domain::policy_version::{diff_digest, test_changes, PolicyTests, PolicyVersion};
use crate::domain::store::{Change, Store};
use crate::domain::vocab::Purpose;
use crate::http::dto::{
    Activated, ActivePolicies, CheckAnswer, PolicyVersionList, PolicyVersionRow, PolicyVersionText,
};
use crate::http::error::{ApiError, Error};
use crate::http::gate::Gate;
use crate::http::openapi::{BadRequest, Conflict, NotFound, PayloadTooLarge, Refused, Unprocessable};
use crate::vault::Vault;

const PURPOSE: Purpose = Purpose::PolicyAdministration;
/// Policy texts are larger than most bodies.
const POLICY_LIMIT: usize = 1024 * 1024;
/// How many recorded decisions a check replays.
const REPLAY: u64 = 10_000;

/// Re-decides the last recorded decisions under `engine`.
async fn impact(v: &Arc<Vault>, engine: Arc<crate::authz::PolicyEngine>) -> Result<ImpactReport, ApiError> {
    let vault = Arc::clone(v);
    let report = tokio::task::spawn_blocking(move || {
        let last = vault.store.audit_last_seq()?;
        let mut entries = Vec::new();
        vault.store.audit_each(last.saturating_sub(REPLAY), &mut |e| {
            if e.seq <= last {
                entries.push(e);
            }
        })?;
        let principals = vault
            .store
            .principals()?
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        Ok::<_, crate::domain::store::StoreError>(crate::authz::replay::replay(&engine, &entries, &principals))
    })
    .await
    .map_err(|e| Error::internal(e.to_string()))??;
    Ok(report)
}

/// `GET /v1/policies`: the active version, its editable text and the floor.
#[utoipa::path(
    get,
    path = "/v1/policies",
    tag = "policies",
    description = "The active version: its number and digest, the editable policies' text, the \
        floor's text and the Cedar schema.\n\n\
        Permissions: privacy officer or auditor (Cedar action `read_policies`, purpose \
        `policy_administration`).",
    responses(
        (status = 200, description = "active editable policies, floor, schema, version", body = ActivePolicies),
        BadRequest,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn get(gate: Gate) -> Result<Json<ActivePolicies>, ApiError> {
    gate.admit(Action::ReadPolicies, PURPOSE)?;
    let v = &gate.vault;
    let versions = v.read(|v| v.store.policy_versions()).await?;
    let active = v.policy();
    let text = versions.last().map(|p| p.policies.clone()).unwrap_or_default();
    Ok(Json(ActivePolicies {
        version: active.version,
        digest: active.digest.clone(),
        policies: text,
        floor: v.policy_sources.floor.clone(),
        schema: v.policy_sources.schema.clone(),
        tests: (*v.active_tests()).clone(),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    policies: String,
    /// Replaces the active version's policy tests (omitted: they are kept).
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    tests: Option<PolicyTests>,
}

/// `POST /v1/policies/check`: the report, changing nothing.
#[utoipa::path(
    post,
    path = "/v1/policies/check",
    tag = "policies",
    description = "Checks a candidate text of the editable policies and changes nothing: parse and \
        strict validation, the canary requests the floor must deny, the policy tests, the symbolic \
        proof, and a replay of the last recorded decisions under the candidate (`impact`, null when \
        the candidate does not compile).\n\n\
        Permissions: privacy officer (Cedar action `check_policies`, purpose `policy_administration`).",
    request_body = CheckRequest,
    responses(
        (status = 200, description = "the check report and impact replay; nothing changes", body = CheckAnswer),
        BadRequest,
        PayloadTooLarge,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn check_only(gate: Gate, body: Body) -> Result<Json<CheckAnswer>, ApiError> {
    gate.admit(Action::CheckPolicies, PURPOSE)?;
    let req: CheckRequest = gate.body(body, POLICY_LIMIT).await?;
    let v = &gate.vault;
    let (mut report, engine, _) = checked(v, req.policies, req.tests, 0).await?;
    if let Some(engine) = &engine {
        report.prove(engine, &v.proof_settings()).await;
    }
    let replayed = match engine {
        Some(engine) => Some(impact(v, Arc::new(engine)).await?),
        None => None,
    };
    Ok(Json(CheckAnswer {
        report,
        impact: replayed,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRequest {
    policies: String,
    #[serde(default)]
    comment: String,
    expected_version: u64,
    /// Replaces the active version's policy tests (omitted: they are kept).
    /// A change of a tested decision passes only with the test it changes.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    tests: Option<PolicyTests>,
}

/// `PUT /v1/policies`: check, store as a new version, activate.
#[utoipa::path(
    put,
    path = "/v1/policies",
    tag = "policies",
    description = "Checks a new text of the editable policies, stores it as the next version and \
        activates it. 409 when `expected_version` is not the active version; 422 with the check \
        report when the text is rejected.\n\n\
        Permissions: privacy officer (Cedar action `update_policies`, purpose `policy_administration`).",
    request_body = UpdateRequest,
    responses(
        (status = 200, description = "the new active version and its report", body = Activated),
        BadRequest,
        Conflict,
        PayloadTooLarge,
        Unprocessable,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn put(gate: Gate, body: Body) -> Result<Json<Activated>, ApiError> {
    let (who, _) = gate.admit(Action::UpdatePolicies, PURPOSE)?;
    let req: UpdateRequest = gate.body(body, POLICY_LIMIT).await?;
    let candidate = Candidate {
        text: req.policies,
        tests: req.tests,
        comment: req.comment,
        expected: req.expected_version,
    };
    activate(&gate, who.id.clone(), candidate).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    to_version: u64,
    expected_version: u64,
    #[serde(default)]
    comment: String,
}

/// `POST /v1/policies/rollback`: an earlier version's text, as a new version.
#[utoipa::path(
    post,
    path = "/v1/policies/rollback",
    tag = "policies",
    description = "Activates an earlier version's text as a new version, checked like any new text. \
        404 for an unknown `to_version`; 409 when `expected_version` is not the active version.\n\n\
        Permissions: privacy officer (Cedar action `update_policies`, purpose `policy_administration`).",
    request_body = RollbackRequest,
    responses(
        (status = 200, description = "an earlier version, active as a new version", body = Activated),
        BadRequest,
        NotFound,
        Conflict,
        PayloadTooLarge,
        Unprocessable,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn rollback(gate: Gate, body: Body) -> Result<Json<Activated>, ApiError> {
    let (who, _) = gate.admit(Action::UpdatePolicies, PURPOSE)?;
    let req: RollbackRequest = gate.body(body, POLICY_LIMIT).await?;
    let versions = gate.vault.read(|v| v.store.policy_versions()).await?;
    let old = versions
        .into_iter()
        .find(|p| p.version == req.to_version)
        .ok_or(Error::NotFound)?;
    let comment = if req.comment.is_empty() {
        format!("rollback to version {}", req.to_version)
    } else {
        req.comment
    };
    // The version's own tests, when it has them (versions from before tests
    // travelled with the policies keep the active ones).
    let to = req.to_version;
    let tests = gate
        .vault
        .read(move |v| v.store.policy_tests())
        .await?
        .remove(&to)
        .and_then(|json| serde_json::from_slice(&json).ok());
    let candidate = Candidate {
        text: old.policies,
        tests,
        comment,
        expected: req.expected_version,
    };
    activate(&gate, who.id.clone(), candidate).await
}

/// A candidate version: its text, its tests (`None`: the active ones), the
/// comment and the version it replaces.
struct Candidate {
    text: String,
    tests: Option<PolicyTests>,
    comment: String,
    expected: u64,
}

/// Checks `text` with `tests` (the active ones when `None`) as version
/// `version`; the report lists what the tests add, remove and change.
async fn checked(
    v: &Arc<crate::vault::Vault>,
    text: String,
    tests: Option<PolicyTests>,
    version: u64,
) -> Result<
    (
        crate::authz::check::CheckReport,
        Option<crate::authz::PolicyEngine>,
        PolicyTests,
    ),
    ApiError,
> {
    let active = v.active_tests();
    let tests = tests.unwrap_or_else(|| (*active).clone());
    let sources = v.sources_with(&tests);
    let (mut report, engine) = tokio::task::spawn_blocking(move || check(&sources, &text, version))
        .await
        .map_err(|e| Error::internal(e.to_string()))?;
    report.tests.changes = test_changes(&active, &tests);
    Ok((report, engine, tests))
}

async fn activate(gate: &Gate, author: String, candidate: Candidate) -> Result<Json<Activated>, ApiError> {
    let Candidate {
        text,
        tests,
        comment,
        expected,
    } = candidate;
    if comment.chars().count() > 500 {
        return Err(ApiError::invalid("comment", "at most 500 characters"));
    }
    // Newlines are fine in a comment; nothing else hidden is.
    if comment.chars().any(|c| c != '\n' && crate::domain::text::is_hidden(c)) {
        return Err(ApiError::invalid(
            "comment",
            "must not hold control, bidirectional or invisible characters",
        ));
    }
    let v = &gate.vault;
    let _one_at_a_time = v.policy_update.lock().await;
    let current = v.policy().version;
    if expected != current {
        return Err(Error::VersionConflict.into());
    }
    let next = current + 1;
    let (mut report, engine, tests) = checked(v, text.clone(), tests, next).await?;
    if let Some(engine) = &engine {
        report.prove(engine, &v.proof_settings()).await;
    }
    let engine = match engine {
        Some(engine) if report.valid => engine,
        _ => {
            return Err(Error::PolicyRejected {
                report: Box::new(serde_json::to_value(report).unwrap_or_default()),
            }
            .into())
        }
    };
    let version = PolicyVersion {
        version: next,
        digest: engine.digest.clone(),
        author,
        at: v.clock.now().unix_timestamp(),
        comment,
        policies: text,
    };
    let previous = v
        .read(|v| v.store.policy_versions())
        .await?
        .pop()
        .map(|p| p.policies)
        .unwrap_or_default();
    let diff_digest = diff_digest(&previous, &version.policies, current, next);
    gate.slot.subject(engine.digest.clone());
    gate.slot.digest("version", engine.digest.clone());
    gate.slot.digest("diff", diff_digest.clone());
    let view = Activated {
        version: next,
        digest: engine.digest.clone(),
        diff_digest,
        canaries: report.canaries,
        proof: report.proof,
    };
    let stored_tests = serde_json::to_vec(&tests).map_err(|e| Error::internal(e.to_string()))?;
    gate.commit(vec![
        Change::PutPolicyVersion(Box::new(version)),
        Change::PutPolicyTests {
            version: next,
            tests: stored_tests,
        },
    ])
    .await?;
    // Stored and audited first; from the next request on, this version decides.
    v.activate(engine, tests);
    Ok(Json(view))
}

/// `GET /v1/policies/versions/{version}`: one version, with its text.
#[utoipa::path(
    get,
    path = "/v1/policies/versions/{version}",
    tag = "policies",
    description = "One version of the editable policies, with its text.\n\n\
        Permissions: privacy officer or auditor (Cedar action `read_policies`, purpose \
        `policy_administration`).",
    params(("version" = u64, Path, description = "the version number")),
    responses(
        (status = 200, description = "one version and its text", body = PolicyVersionText),
        BadRequest,
        NotFound,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn version(gate: Gate, Path(wanted): Path<String>) -> Result<Json<PolicyVersionText>, ApiError> {
    gate.admit(Action::ReadPolicies, PURPOSE)?;
    let v = &gate.vault;
    let wanted: u64 = wanted
        .parse()
        .map_err(|_| ApiError::invalid("version", "must be a version number"))?;
    let versions = v.read(|v| v.store.policy_versions()).await?;
    let p = versions
        .into_iter()
        .find(|p| p.version == wanted)
        .ok_or(Error::NotFound)?;
    Ok(Json(PolicyVersionText {
        row: PolicyVersionRow::from(&p),
        policies: p.policies,
    }))
}

/// `GET /v1/policies/versions`: the history.
#[utoipa::path(
    get,
    path = "/v1/policies/versions",
    tag = "policies",
    description = "Every version of the editable policies: number, digest, who, when, comment.\n\n\
        Permissions: privacy officer or auditor (Cedar action `read_policies`, purpose \
        `policy_administration`).",
    responses(
        (status = 200, description = "version history", body = PolicyVersionList),
        BadRequest,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn versions(gate: Gate) -> Result<Json<PolicyVersionList>, ApiError> {
    gate.admit(Action::ReadPolicies, PURPOSE)?;
    let versions = gate.vault.read(|v| v.store.policy_versions()).await?;
    Ok(Json(PolicyVersionList {
        versions: versions.iter().map(PolicyVersionRow::from).collect(),
    }))
}
