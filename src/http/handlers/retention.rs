use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde_json::Value;

use crate::authz::{Action, RequestContext, Resource};
use crate::domain::vocab::Purpose;
use crate::error::ApiError;
use crate::http::audit_layer::AuditSlot;
use crate::server::Vault;

/// `GET /v1/retention`: what is held per data class, and when it goes.
#[utoipa::path(get, path = "/v1/retention", tag = "oversight", responses((status = 200, description = "what is held per data class, next destruction", body = crate::http::openapi::JsonObject), (status = 400, description = "invalid request (the message names the field)", body = crate::http::openapi::ErrorBody), (status = 401, description = "no valid token", body = crate::http::openapi::ErrorBody), (status = 403, description = "denied by policy (decision_id)", body = crate::http::openapi::ErrorBody), (status = 429, description = "rate limited (Retry-After)", body = crate::http::openapi::ErrorBody), (status = 503, description = "unavailable: fails closed", body = crate::http::openapi::ErrorBody)), security(("bearer" = [])))]
pub async fn status(State(v): State<Arc<Vault>>, slot: AuditSlot, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    const PURPOSE: Purpose = Purpose::Oversight;
    slot.begin(Action::ReadRetention, Some(PURPOSE));
    let who = v.authenticate(&slot, &headers)?;
    v.authorize(
        &slot,
        &who,
        Action::ReadRetention,
        &Resource::Vault,
        &RequestContext::purpose(PURPOSE),
    )?;
    Ok(Json(crate::retention::status(&v).await?))
}

/// `POST /v1/retention/sweep`: run a sweep now.
#[utoipa::path(post, path = "/v1/retention/sweep", tag = "oversight", responses((status = 200, description = "the sweep report and its certificates", body = crate::http::openapi::JsonObject), (status = 400, description = "invalid request (the message names the field)", body = crate::http::openapi::ErrorBody), (status = 401, description = "no valid token", body = crate::http::openapi::ErrorBody), (status = 403, description = "denied by policy (decision_id)", body = crate::http::openapi::ErrorBody), (status = 429, description = "rate limited (Retry-After)", body = crate::http::openapi::ErrorBody), (status = 503, description = "unavailable: fails closed", body = crate::http::openapi::ErrorBody)), security(("bearer" = [])))]
pub async fn sweep(State(v): State<Arc<Vault>>, slot: AuditSlot, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    const PURPOSE: Purpose = Purpose::SystemAdministration;
    slot.begin(Action::RunSweep, Some(PURPOSE));
    let who = v.authenticate(&slot, &headers)?;
    v.authorize(
        &slot,
        &who,
        Action::RunSweep,
        &Resource::Vault,
        &RequestContext::purpose(PURPOSE),
    )?;
    let report = crate::retention::sweep(&v, "request", Some(&who.id)).await?;
    Ok(Json(serde_json::to_value(report).unwrap_or_default()))
}
