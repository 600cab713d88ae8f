use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::IntoResponse;

use crate::authz::{Action, RequestContext, Resource};
use crate::domain::vocab::Purpose;
use crate::error::ApiError;
use crate::http::audit_layer::AuditSlot;
use crate::server::Vault;

/// `GET /metrics`: Prometheus text, for admins and auditors.
#[utoipa::path(get, path = "/metrics", tag = "oversight", responses((status = 200, description = "Prometheus text", body = String, content_type = "text/plain"), (status = 400, description = "invalid request (the message names the field)", body = crate::http::openapi::ErrorBody), (status = 401, description = "no valid token", body = crate::http::openapi::ErrorBody), (status = 403, description = "denied by policy (decision_id)", body = crate::http::openapi::ErrorBody), (status = 429, description = "rate limited (Retry-After)", body = crate::http::openapi::ErrorBody), (status = 503, description = "unavailable: fails closed", body = crate::http::openapi::ErrorBody)), security(("bearer" = [])))]
pub async fn metrics(
    State(v): State<Arc<Vault>>,
    slot: AuditSlot,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    const PURPOSE: Purpose = Purpose::Oversight;
    slot.begin(Action::ReadMetrics, Some(PURPOSE));
    let who = v.authenticate(&slot, &headers)?;
    v.authorize(
        &slot,
        &who,
        Action::ReadMetrics,
        &Resource::Vault,
        &RequestContext::purpose(PURPOSE),
    )?;
    let mut text = v.metrics.render();
    text.push_str(&v.store.render_stats());
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}

/// `GET /healthz`: liveness. No token, not audited.
#[utoipa::path(get, path = "/healthz", tag = "ops",
    responses((status = 200, description = "the vault answers", body = crate::http::openapi::Health)))]
pub async fn healthz() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({"status": "ok"}))
}

/// `GET /v1/openapi.json`: this API's OpenAPI 3.1 document. No token, not audited.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "ops",
    responses((status = 200, description = "the OpenAPI 3.1 document", body = crate::http::openapi::JsonObject)))]
pub async fn openapi() -> axum::response::Response {
    crate::http::openapi::serve().await
}

/// `GET|POST /v1/unseal` on a vault whose keys are open.
pub async fn not_sealed() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({"sealed": false}))
}
