use std::sync::Arc;

use axum::body::Body;
use axum::extract::Path;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::authz::check::check;
use crate::authz::Action;
use crate::domain::policy_version::{diff_digest, PolicyVersion};
use crate::domain::store::{Change, Store};
use crate::domain::vocab::Purpose;
use crate::http::error::{ApiError, Error};
use crate::http::gate::Gate;
use crate::vault::Vault;

const PURPOSE: Purpose = Purpose::PolicyAdministration;
/// Policy texts are larger than most bodies.
const POLICY_LIMIT: usize = 1024 * 1024;
/// How many recorded decisions a check replays.
const REPLAY: u64 = 10_000;

/// Re-decides the last recorded decisions under `engine`.
async fn impact(v: &Arc<Vault>, engine: Arc<crate::authz::PolicyEngine>) -> Result<Value, ApiError> {
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
    Ok(serde_json::to_value(report).unwrap_or_default())
}

/// `GET /v1/policies`: the active version, its editable text and the floor.
#[utoipa::path(get, path = "/v1/policies", tag = "policies", responses((status = 200, description = "active editable policies, floor, schema, version", body = crate::http::openapi::JsonObject), (status = 400, description = "invalid request (the message names the field)", body = crate::http::openapi::ErrorBody), (status = 401, description = "no valid token", body = crate::http::openapi::ErrorBody), (status = 403, description = "denied by policy (decision_id)", body = crate::http::openapi::ErrorBody), (status = 429, description = "rate limited (Retry-After)", body = crate::http::openapi::ErrorBody), (status = 503, description = "unavailable: fails closed", body = crate::http::openapi::ErrorBody)), security(("bearer" = [])))]
pub async fn get(gate: Gate) -> Result<Json<Value>, ApiError> {
    gate.admit(Action::ReadPolicies, PURPOSE)?;
    let v = &gate.vault;
    let versions = v.read(|v| v.store.policy_versions()).await?;
    let active = v.policy();
    let text = versions.last().map(|p| p.policies.clone()).unwrap_or_default();
    Ok(Json(json!({
        "version": active.version,
        "digest": active.digest,
        "policies": text,
        "floor": v.policy_sources.floor,
        "schema": v.policy_sources.schema,
    })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    policies: String,
}

/// `POST /v1/policies/check`: the report, changing nothing.
#[utoipa::path(post, path = "/v1/policies/check", tag = "policies", request_body = CheckRequest, responses((status = 200, description = "the check report and impact replay; nothing changes", body = crate::http::openapi::JsonObject), (status = 400, description = "invalid request (the message names the field)", body = crate::http::openapi::ErrorBody), (status = 401, description = "no valid token", body = crate::http::openapi::ErrorBody), (status = 403, description = "denied by policy (decision_id)", body = crate::http::openapi::ErrorBody), (status = 413, description = "payload too large", body = crate::http::openapi::ErrorBody), (status = 429, description = "rate limited (Retry-After)", body = crate::http::openapi::ErrorBody), (status = 503, description = "unavailable: fails closed", body = crate::http::openapi::ErrorBody)), security(("bearer" = [])))]
pub async fn check_only(gate: Gate, body: Body) -> Result<Json<Value>, ApiError> {
    gate.admit(Action::CheckPolicies, PURPOSE)?;
    let req: CheckRequest = gate.body(body, POLICY_LIMIT).await?;
    let v = &gate.vault;
    let vault = Arc::clone(v);
    let (mut report, engine) = tokio::task::spawn_blocking(move || check(&vault.policy_sources, &req.policies, 0))
        .await
        .map_err(|e| Error::internal(e.to_string()))?;
    if let Some(engine) = &engine {
        report.prove(engine, &v.proof_settings()).await;
    }
    let mut body = serde_json::to_value(report).unwrap_or_default();
    body["impact"] = match engine {
        Some(engine) => impact(v, Arc::new(engine)).await?,
        None => Value::Null,
    };
    Ok(Json(body))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRequest {
    policies: String,
    #[serde(default)]
    comment: String,
    expected_version: u64,
}

/// `PUT /v1/policies`: check, store as a new version, activate.
#[utoipa::path(put, path = "/v1/policies", tag = "policies", request_body = UpdateRequest, responses((status = 200, description = "the new active version and its report", body = crate::http::openapi::JsonObject), (status = 400, description = "invalid request (the message names the field)", body = crate::http::openapi::ErrorBody), (status = 401, description = "no valid token", body = crate::http::openapi::ErrorBody), (status = 403, description = "denied by policy (decision_id)", body = crate::http::openapi::ErrorBody), (status = 409, description = "conflict", body = crate::http::openapi::ErrorBody), (status = 413, description = "payload too large", body = crate::http::openapi::ErrorBody), (status = 422, description = "unprocessable", body = crate::http::openapi::ErrorBody), (status = 429, description = "rate limited (Retry-After)", body = crate::http::openapi::ErrorBody), (status = 503, description = "unavailable: fails closed", body = crate::http::openapi::ErrorBody)), security(("bearer" = [])))]
pub async fn put(gate: Gate, body: Body) -> Result<Json<Value>, ApiError> {
    let (who, _) = gate.admit(Action::UpdatePolicies, PURPOSE)?;
    let req: UpdateRequest = gate.body(body, POLICY_LIMIT).await?;
    activate(&gate, who.id.clone(), req.policies, req.comment, req.expected_version).await
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
#[utoipa::path(post, path = "/v1/policies/rollback", tag = "policies", request_body = RollbackRequest, responses((status = 200, description = "an earlier version, active as a new version", body = crate::http::openapi::JsonObject), (status = 400, description = "invalid request (the message names the field)", body = crate::http::openapi::ErrorBody), (status = 401, description = "no valid token", body = crate::http::openapi::ErrorBody), (status = 403, description = "denied by policy (decision_id)", body = crate::http::openapi::ErrorBody), (status = 404, description = "not found, to callers allowed to know", body = crate::http::openapi::ErrorBody), (status = 409, description = "conflict", body = crate::http::openapi::ErrorBody), (status = 413, description = "payload too large", body = crate::http::openapi::ErrorBody), (status = 422, description = "unprocessable", body = crate::http::openapi::ErrorBody), (status = 429, description = "rate limited (Retry-After)", body = crate::http::openapi::ErrorBody), (status = 503, description = "unavailable: fails closed", body = crate::http::openapi::ErrorBody)), security(("bearer" = [])))]
pub async fn rollback(gate: Gate, body: Body) -> Result<Json<Value>, ApiError> {
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
    activate(&gate, who.id.clone(), old.policies, comment, req.expected_version).await
}

async fn activate(
    gate: &Gate,
    author: String,
    text: String,
    comment: String,
    expected: u64,
) -> Result<Json<Value>, ApiError> {
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
    let vault = Arc::clone(v);
    let candidate = text.clone();
    let (mut report, engine) = tokio::task::spawn_blocking(move || check(&vault.policy_sources, &candidate, next))
        .await
        .map_err(|e| Error::internal(e.to_string()))?;
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
    let view = json!({
        "version": next,
        "digest": engine.digest,
        "diff_digest": diff_digest,
        "canaries": report.canaries,
        "proof": report.proof,
    });
    gate.commit(vec![Change::PutPolicyVersion(Box::new(version))]).await?;
    // Stored and audited first; from the next request on, this version decides.
    v.activate(engine);
    Ok(Json(view))
}

/// `GET /v1/policies/versions/{version}`: one version, with its text.
#[utoipa::path(get, path = "/v1/policies/versions/{version}", tag = "policies", params(("version" = u64, Path, description = "the version number")), responses((status = 200, description = "one version and its text", body = crate::http::openapi::JsonObject), (status = 400, description = "invalid request (the message names the field)", body = crate::http::openapi::ErrorBody), (status = 401, description = "no valid token", body = crate::http::openapi::ErrorBody), (status = 403, description = "denied by policy (decision_id)", body = crate::http::openapi::ErrorBody), (status = 404, description = "not found, to callers allowed to know", body = crate::http::openapi::ErrorBody), (status = 429, description = "rate limited (Retry-After)", body = crate::http::openapi::ErrorBody), (status = 503, description = "unavailable: fails closed", body = crate::http::openapi::ErrorBody)), security(("bearer" = [])))]
pub async fn version(gate: Gate, Path(wanted): Path<String>) -> Result<Json<Value>, ApiError> {
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
    let mut row = history_row(&p);
    row["policies"] = Value::String(p.policies);
    Ok(Json(row))
}

fn history_row(p: &PolicyVersion) -> Value {
    let at = time::OffsetDateTime::from_unix_timestamp(p.at)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok());
    json!({"version": p.version, "digest": p.digest, "who": p.author, "when": at, "comment": p.comment})
}

/// `GET /v1/policies/versions`: the history.
#[utoipa::path(get, path = "/v1/policies/versions", tag = "policies", responses((status = 200, description = "version history", body = crate::http::openapi::JsonObject), (status = 400, description = "invalid request (the message names the field)", body = crate::http::openapi::ErrorBody), (status = 401, description = "no valid token", body = crate::http::openapi::ErrorBody), (status = 403, description = "denied by policy (decision_id)", body = crate::http::openapi::ErrorBody), (status = 429, description = "rate limited (Retry-After)", body = crate::http::openapi::ErrorBody), (status = 503, description = "unavailable: fails closed", body = crate::http::openapi::ErrorBody)), security(("bearer" = [])))]
pub async fn versions(gate: Gate) -> Result<Json<Value>, ApiError> {
    gate.admit(Action::ReadPolicies, PURPOSE)?;
    let versions = gate.vault.read(|v| v.store.policy_versions()).await?;
    let rows: Vec<Value> = versions.iter().map(history_row).collect();
    Ok(Json(json!({ "versions": rows })))
}
