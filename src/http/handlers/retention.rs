use axum::Json;
use serde_json::Value;

use crate::authz::Action;
use crate::domain::vocab::Purpose;
use crate::http::error::ApiError;
use crate::http::gate::Gate;

/// `GET /v1/retention`: what is held per data class, and when it goes.
#[utoipa::path(get, path = "/v1/retention", tag = "oversight", responses((status = 200, description = "what is held per data class, next destruction", body = crate::http::openapi::JsonObject), (status = 400, description = "invalid request (the message names the field)", body = crate::http::openapi::ErrorBody), (status = 401, description = "no valid token", body = crate::http::openapi::ErrorBody), (status = 403, description = "denied by policy (decision_id)", body = crate::http::openapi::ErrorBody), (status = 429, description = "rate limited (Retry-After)", body = crate::http::openapi::ErrorBody), (status = 503, description = "unavailable: fails closed", body = crate::http::openapi::ErrorBody)), security(("bearer" = [])))]
pub async fn status(gate: Gate) -> Result<Json<Value>, ApiError> {
    gate.admit(Action::ReadRetention, Purpose::Oversight)?;
    Ok(Json(crate::vault::retention::status(&gate.vault).await?))
}

/// `POST /v1/retention/sweep`: run a sweep now.
#[utoipa::path(post, path = "/v1/retention/sweep", tag = "oversight", responses((status = 200, description = "the sweep report and its certificates", body = crate::http::openapi::JsonObject), (status = 400, description = "invalid request (the message names the field)", body = crate::http::openapi::ErrorBody), (status = 401, description = "no valid token", body = crate::http::openapi::ErrorBody), (status = 403, description = "denied by policy (decision_id)", body = crate::http::openapi::ErrorBody), (status = 429, description = "rate limited (Retry-After)", body = crate::http::openapi::ErrorBody), (status = 503, description = "unavailable: fails closed", body = crate::http::openapi::ErrorBody)), security(("bearer" = [])))]
pub async fn sweep(gate: Gate) -> Result<Json<Value>, ApiError> {
    let (who, _) = gate.admit(Action::RunSweep, Purpose::SystemAdministration)?;
    let report = crate::vault::retention::sweep(&gate.vault, "request", Some(&who.id)).await?;
    Ok(Json(serde_json::to_value(report).unwrap_or_default()))
}
