use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;

use crate::authz::Action;
use crate::domain::vocab::Purpose;
use crate::http::dto::{Health, OpenApiDocument, Readiness, UnsealStatus};
use crate::http::error::ApiError;
use crate::http::gate::Gate;
use crate::http::openapi::{BadRequest, Busy, Refused, Unprocessable, UnsealRequest};

/// `GET /metrics`: Prometheus text, for admins and auditors.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "oversight",
    description = "Operational metrics in the Prometheus text format: counts only, never personal data.\n\n\
        Permissions: admin or auditor (Cedar action `read_metrics`, purpose `oversight`).",
    responses(
        (status = 200, description = "Prometheus text", body = String, content_type = "text/plain"),
        BadRequest,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn metrics(gate: Gate) -> Result<impl IntoResponse, ApiError> {
    gate.admit(Action::ReadMetrics, Purpose::Oversight)?;
    let mut text = gate.vault.metrics.render();
    text.push_str(&gate.vault.store.render_stats());
    if let Some(w) = &gate.vault.witness {
        text.push_str(&w.render());
    }
    if let Some(c) = gate.vault.cluster.get() {
        text.push_str(&c.render_metrics());
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}

/// `GET /v1/status`: the operations figures of this node, and what needs action.
#[utoipa::path(
    get,
    path = "/v1/status",
    tag = "oversight",
    description = "This node's operations figures: readiness and role, store, seal, the audit chain's \
        head, checkpoint and witness, the retention sweeps, key ages and rotations due, the cluster's \
        backlog, unauthenticated-refusal tallies, disk use and version; and, derived from them, what \
        needs action, most urgent first. Counts, times and key ids only, never personal data.\n\n\
        Permissions: admin or auditor (Cedar action `read_metrics`, purpose `oversight`).",
    responses(
        (status = 200, description = "the figures and what needs action", body = crate::vault::ops_status::OpsStatus),
        BadRequest,
        Refused,
    ),
    security(("bearer" = []))
)]
pub async fn status(gate: Gate) -> Result<Json<crate::vault::ops_status::OpsStatus>, ApiError> {
    gate.admit(Action::ReadMetrics, Purpose::Oversight)?;
    Ok(Json(crate::vault::ops_status::status(&gate.vault).await?))
}

/// `GET /healthz`: liveness. No token, not audited.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "ops",
    description = "Liveness: answers whenever the process serves, sealed or not (then with `sealed`). \
        Not audited.\n\nPermissions: none (public).",
    responses(
        (status = 200, description = "the vault answers", body = Health),
        Busy,
    )
)]
pub async fn healthz() -> Json<Health> {
    Json(Health::ok())
}

/// `GET /readyz`: readiness for load balancers. No token, not audited.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "ops",
    description = "Readiness: 200 `{\"ready\": true, \"role\": \"active\"}` only when this node's keys are \
        open, its store writable and it is the active node; otherwise 503 with `ready: false` and the \
        role (`standby`, `sealed`, `starting`) or, for an active node that fails closed, a `reason`. \
        Load balancers route on it. Not audited.\n\nPermissions: none (public).",
    responses(
        (status = 200, description = "this node serves", body = Readiness),
        (status = 503, description = "this node does not serve now", body = Readiness),
    )
)]
pub async fn readyz(
    axum::extract::State(vault): axum::extract::State<std::sync::Arc<crate::vault::Vault>>,
) -> axum::response::Response {
    let r = vault.readiness();
    let answer = Readiness {
        ready: r.ready,
        role: r.role.to_owned(),
        reason: r.reason.map(str::to_owned),
    };
    let status = if answer.ready {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(answer)).into_response()
}

/// `GET /v1/openapi.json`: this API's OpenAPI 3.1 document. No token, not audited.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "ops",
    description = "This API's OpenAPI 3.1 document. Not audited.\n\nPermissions: none (public).",
    responses(
        (status = 200, description = "the OpenAPI 3.1 document", body = OpenApiDocument),
        Busy,
    )
)]
pub async fn openapi() -> axum::response::Response {
    crate::http::openapi::serve().await
}

/// `GET /v1/unseal` on a vault whose keys are open. While they are sealed
/// the server's unseal gate answers this route with its progress instead.
#[utoipa::path(
    get,
    path = "/v1/unseal",
    tag = "ops",
    description = "Whether the keys are sealed; while they are, the seal's mode and how many shares \
        have been received. Not audited.\n\nPermissions: none (public).",
    responses(
        (status = 200, description = "sealed or not; while sealed, how far unsealing has got", body = UnsealStatus),
        Busy,
    )
)]
pub async fn unseal_status() -> Json<UnsealStatus> {
    Json(UnsealStatus::unsealed())
}

/// `POST /v1/unseal` on a vault whose keys are open: nothing to do. While
/// they are sealed the unseal gate takes a share or the passphrase here.
#[utoipa::path(
    post,
    path = "/v1/unseal",
    tag = "ops",
    description = "While the keys are sealed: one operator's share, or the seal's passphrase. A share \
        is counted until the threshold is reached, then the vault opens; a failed combination \
        discards the shares received (422). On an unsealed vault: nothing to do.\n\n\
        Permissions: none (public; holding a share or the passphrase is the credential).",
    request_body = UnsealRequest,
    responses(
        (status = 200, description = "share counted, or unsealed", body = UnsealStatus),
        BadRequest,
        Unprocessable,
        Busy,
    )
)]
pub async fn unseal() -> Json<UnsealStatus> {
    Json(UnsealStatus::unsealed())
}
