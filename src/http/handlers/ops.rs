use axum::http::header;
use axum::response::IntoResponse;

use crate::authz::Action;
use crate::domain::vocab::Purpose;
use crate::http::error::ApiError;
use crate::http::gate::Gate;

/// `GET /metrics`: Prometheus text, for admins and auditors.
#[utoipa::path(get, path = "/metrics", tag = "oversight", responses((status = 200, description = "Prometheus text", body = String, content_type = "text/plain"), (status = 400, description = "invalid request (the message names the field)", body = crate::http::openapi::ErrorBody), (status = 401, description = "no valid token", body = crate::http::openapi::ErrorBody), (status = 403, description = "denied by policy (decision_id)", body = crate::http::openapi::ErrorBody), (status = 429, description = "rate limited (Retry-After)", body = crate::http::openapi::ErrorBody), (status = 503, description = "unavailable: fails closed", body = crate::http::openapi::ErrorBody)), security(("bearer" = [])))]
pub async fn metrics(gate: Gate) -> Result<impl IntoResponse, ApiError> {
    gate.admit(Action::ReadMetrics, Purpose::Oversight)?;
    let mut text = gate.vault.metrics.render();
    text.push_str(&gate.vault.store.render_stats());
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

/// `GET /v1/unseal` on a vault whose keys are open. While they are sealed
/// the server's unseal gate answers this route with its progress instead.
#[utoipa::path(get, path = "/v1/unseal", tag = "ops", responses((status = 200, description = "sealed or not; while sealed, how far unsealing has got", body = crate::http::openapi::UnsealStatus)))]
pub async fn unseal_status() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({"sealed": false}))
}

/// `POST /v1/unseal` on a vault whose keys are open: nothing to do. While
/// they are sealed the unseal gate takes a share or the passphrase here.
#[utoipa::path(post, path = "/v1/unseal", tag = "ops", request_body = crate::http::openapi::UnsealRequest, responses((status = 200, description = "share counted, or unsealed", body = crate::http::openapi::UnsealStatus), (status = 400, description = "invalid request (the message names the field)", body = crate::http::openapi::ErrorBody), (status = 422, description = "unprocessable", body = crate::http::openapi::ErrorBody), (status = 429, description = "rate limited (Retry-After)", body = crate::http::openapi::ErrorBody), (status = 503, description = "unavailable: fails closed", body = crate::http::openapi::ErrorBody)))]
pub async fn unseal() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({"sealed": false}))
}
